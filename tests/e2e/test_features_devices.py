"""Issue 8: devices during a call on the Phone Video page, and holdForTransfer from the browser.

Chromium's fake devices (``--use-fake-device-for-media-stream``, checked with Chromium 156):
three microphones ("Fake Default Audio Input" with id ``default``, "Fake Audio Input 1" and 2,
all playing the WAV of ``--use-file-for-fake-audio-capture``), three speakers (``default``,
"Fake Audio Output 1" and 2) and one camera, ``fake_device_0``; ``device-count=3`` adds
``fake_device_1`` (Y16, a depth format Chromium's encoder stops on after replaceTrack: no frame
is encoded, checked with a bare RTCPeerConnection) and ``fake_device_2`` (sends normally). The
official SDK refuses switchCam/switchMic with fewer than two devices (``CAN_NOT_SWITCH_CAM``:
its webrtc-media-provider.js), so the switching test runs with three cameras and another
checks the refusal with one.

Switching must replace the track without renegotiation: Kamailio sees no new INVITE, and the
page's WebSocket carries no new ``call``/``setRemoteSDP``, while baresip goes on receiving the
browser's tone and video.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from tests.e2e.phone import BROWSER_TONE_HZ, click, text_is, use_official_sdk
from tests.e2e.test_features_support import (
    ETH_P_ALL,
    PACKET_OUTGOING,
    SOFTPHONE_HZ,
    RtpTap,
    assert_tone,
    established_call,
    opus_pt,
    sip_codec,
)
from tests.support.audio import write_tone_wav
from tests.support.browser import ChromiumPage, open_browser
from tests.support.lab import BARESIP_RTP_BASE, VP8, Phone, Rig, running_lab
from tests.support.netns import HOST_A

pytestmark = pytest.mark.peers

# Every WebSocket frame's message name, both ways, whatever SDK the page runs.
RECORD_FRAMES_JS = """
(() => {
  const Native = window.WebSocket;
  window.wsFrames = [];
  const name = (d) => { try { return JSON.parse(d).message; } catch (e) { return '?'; } };
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => window.wsFrames.push('in ' + name(e.data)));
    }
    send(data) { window.wsFrames.push('out ' + name(data)); return super.send(data); }
  };
})();
"""
STATS_JS = "new Promise((ok) => window.phone.call.getStats(ok))"
LOCAL_TRACK_JS = """(kind) => {
  const v = document.querySelector('#localDisplay video');
  const t = v && v.srcObject && v.srcObject.getTracks().find((x) => x.kind === kind && x.readyState === 'live');
  return t ? t.getSettings().deviceId : null;
}"""
DEVICES_JS = """Flashphoner.getMediaDevices(null, true, Flashphoner.constants.MEDIA_DEVICE_KIND.ALL)
  .then((l) => [...l.audio, ...l.video])"""
SETTLE_JS = """(f) => Promise.resolve().then(f).then((v) => 'resolved ' + v,
                                             (e) => 'rejected ' + ((e && e.message) || e))"""


@asynccontextmanager
async def video_phone(rig: Rig, user: str, *, official: bool, cameras: int) -> AsyncIterator[ChromiumPage]:
    """Chromium on the Phone Video page (fake camera(s), fake mic playing the browser tone),
    recording WebSocket frames, sending 320x240, Connect clicked."""
    wav = write_tone_wav(rig.workdir / "mic.wav", BROWSER_TONE_HZ, seconds=20.0, channels=2)
    extra = [f"--use-fake-device-for-media-stream=device-count={cameras}"]
    async with open_browser(fake_audio_wav=wav, extra_args=extra) as page:
        if official:
            await use_official_sdk(page)
        await page.run(lambda p: p.add_init_script(RECORD_FRAMES_JS))
        await page.goto(rig.phone_url(user, page="phone-video"))
        await page.wait_for("document.getElementById('connectBtn').textContent === 'Connect'")
        await page.wait_for("(n) => document.getElementById('cameraList').options.length === n", cameras)
        await page.run(lambda p: p.fill("#videoWidth", "320"))
        await page.run(lambda p: p.fill("#videoHeight", "240"))
        await click(page, "#connectBtn")
        yield page


async def devices(page: ChromiumPage, kind: str) -> list[str]:
    return [d["id"] for d in await page.evaluate(DEVICES_JS) if d["type"] == kind]


async def settle(page: ChromiumPage, script: str) -> str:
    """Run ``script`` (a JS function body returning a value or promise): 'resolved X' or 'rejected Y'."""
    return str(await page.evaluate(f"({SETTLE_JS})(() => {script})"))


def grew(before: dict[str, Any], after: dict[str, Any], side: str, kind: str, *keys: str) -> None:
    for key in keys:
        old, new = before[side][kind].get(key), after[side][kind].get(key)
        assert isinstance(old, int | float) and isinstance(new, int | float) and new > old, \
            f"{side}.{kind}.{key}: {old} -> {new}"


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_devices_stats_and_size_during_a_video_call(tmp_path: Path, official: bool) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ, video=VP8)]) as rig, \
            trio.open_nursery() as nursery:
        phone = rig.phones["10005"]
        tap = RtpTap((BARESIP_RTP_BASE, BARESIP_RTP_BASE + 99))
        await nursery.start(tap.run)
        async with video_phone(rig, "10060", official=official, cameras=3) as page:
            await established_call(rig, page, phone)
            pt = opus_pt(await sip_codec(rig))
            video_pt = int(str((await sip_codec(rig, "video"))["send_pt"]))
            invites = len(rig.sip_seen("REQ INVITE"))
            frames = len(await page.evaluate("window.wsFrames"))

            # getStats: the fields the page shows, growing; the size asked in the constraints.
            await trio.sleep(1.0)
            first = await page.evaluate(STATS_JS)
            await trio.sleep(1.5)
            second = await page.evaluate(STATS_JS)
            grew(first, second, "outboundStream", "audio", "bytesSent", "packetsSent")
            grew(first, second, "outboundStream", "video", "bytesSent", "packetsSent")
            grew(first, second, "inboundStream", "audio", "bytesReceived", "packetsReceived")
            grew(first, second, "inboundStream", "video", "bytesReceived", "packetsReceived")
            if not official:  # the official SDK copies only bytes*/packets*/*Count* keys
                grew(first, second, "outboundStream", "video", "framesEncoded")
                grew(first, second, "inboundStream", "video", "framesDecoded")
            assert (second["outboundStream"]["video"]["width"],
                    second["outboundStream"]["video"]["height"]) == (320, 240), second
            assert await page.evaluate(
                "[0, 1].map((i) => document.querySelector('#localDisplay video')['video' + "
                "['Width', 'Height'][i]])") == [320, 240]

            # muteVideo / unmuteVideo
            assert await page.evaluate("window.phone.call.isVideoMuted()") is False
            await page.evaluate("window.phone.call.muteVideo()")
            assert await page.evaluate("window.phone.call.isVideoMuted()") is True
            await page.evaluate("window.phone.call.unmuteVideo()")
            assert await page.evaluate("window.phone.call.isVideoMuted()") is False

            # setAudioOutputId with a speaker from getMediaDevices
            speaker = next(i for i in await devices(page, "speaker") if i != "default")
            assert await settle(page, f"window.phone.call.setAudioOutputId({speaker!r})") == "resolved undefined"
            assert await page.evaluate("document.querySelector('#remoteDisplay video').sinkId") == speaker

            # switchMic / switchCam: the promise gives the new device, now the local track's
            mics, cams = await devices(page, "mic"), await devices(page, "camera")
            assert len(mics) == 3 and len(cams) == 3, (mics, cams)
            assert await page.evaluate("document.getElementById('micList').value") == mics[0]
            assert await settle(page, "window.phone.call.switchMic()") == f"resolved {mics[1]}"
            assert await settle(page, f"window.phone.call.switchMic({mics[2]!r})") == f"resolved {mics[2]}"
            if not official:  # the official SDK sends its mic through a WebAudio gain node
                assert await page.evaluate(LOCAL_TRACK_JS, "audio") == mics[2]
            assert await page.evaluate(LOCAL_TRACK_JS, "video") == cams[0]
            assert await settle(page, "window.phone.call.switchCam()") == f"resolved {cams[1]}"
            assert await page.evaluate(LOCAL_TRACK_JS, "video") == cams[1]
            # fake_device_1 delivers Y16 (a depth format) that Chromium's encoder does not send:
            # media is checked on fake_device_2.
            assert await settle(page, f"window.phone.call.switchCam({cams[2]!r})") == f"resolved {cams[2]}"
            assert await page.evaluate(LOCAL_TRACK_JS, "video") == cams[2]
            switched_at = trio.current_time()
            after_switch = await page.evaluate(STATS_JS)
            await trio.sleep(2.0)
            later = await page.evaluate(STATS_JS)
            end_at = trio.current_time()
            grew(after_switch, later, "outboundStream", "video", "bytesSent", "packetsSent")
            grew(after_switch, later, "outboundStream", "audio", "bytesSent", "packetsSent")

            # No renegotiation: no new INVITE through Kamailio, no new offer/answer on the socket.
            assert len(rig.sip_seen("REQ INVITE")) == invites, rig.sip_seen("REQ INVITE")
            new_frames = (await page.evaluate("window.wsFrames"))[frames:]
            assert not {"in setRemoteSDP", "out call", "out answer"} & set(new_frames), new_frames
            await click(page, "#callBtn")
            await text_is(page, "callStatus", "FINISH")
        await phone.control.wait_event("CALL_CLOSED")
        nursery.cancel_scope.cancel()
        # Media kept flowing to baresip from the new devices: the tone, and video packets.
        assert_tone(tap, switched_at + 0.5, end_at, pt, "after the switches")
        video = [at for at, rtp in tap.packets if (rtp[1] & 0x7F) == video_pt and switched_at + 0.5 <= at <= end_at]
        assert len(video) > 20, f"{len(video)} video packets reached baresip after switchCam"


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_switch_cam_with_one_camera_is_refused(tmp_path: Path, official: bool) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ, video=VP8)]) as rig:
        phone = rig.phones["10005"]
        async with video_phone(rig, "10061", official=official, cameras=1) as page:
            await established_call(rig, page, phone)
            (cam,) = await devices(page, "camera")
            refusal = "rejected Number of cams is less than 2 or camera is already used by other application"
            assert await settle(page, "window.phone.call.switchCam()") == refusal
            assert await settle(page, f"window.phone.call.switchCam({cam!r})") == refusal
            assert await page.evaluate(LOCAL_TRACK_JS, "video") == cam
            assert await page.text("#callStatus") == "ESTABLISHED"
            await click(page, "#callBtn")
            await text_is(page, "callStatus", "FINISH")
        await phone.control.wait_event("CALL_CLOSED")


# ---------------------------------------------------------------- holdForTransfer


@attrs.define
class SipTap:
    """SIP requests sent to UDP ``port`` from ``source`` (an address), as text."""

    port: int
    source: str
    requests: list[str] = attrs.field(factory=list)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        sock = trio.socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        with sock:
            task_status.started()
            while True:
                frame, address = await sock.recvfrom(65536)
                ip = frame[14:]
                if address[2] == PACKET_OUTGOING or frame[12:14] != b"\x08\x00" or len(ip) < 28 \
                        or ip[9] != 17 or socket.inet_ntoa(ip[12:16]) != self.source:
                    continue
                header = (ip[0] & 0x0F) * 4
                if int.from_bytes(ip[header + 2:header + 4], "big") == self.port:
                    self.requests.append(ip[header + 8:].decode(errors="replace"))

    def invites(self) -> list[str]:
        return [r for r in self.requests if r.startswith("INVITE ")]


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_hold_for_transfer_from_the_browser(tmp_path: Path, official: bool) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)]) as rig, trio.open_nursery() as nursery:
        phone = rig.phones["10005"]
        sip = SipTap(rig.sip_port, HOST_A)
        await nursery.start(sip.run)
        async with video_phone(rig, "10062", official=official, cameras=1) as page:
            await established_call(rig, page, phone)
            (first,) = sip.invites()
            assert "a=sendrecv" in first or "a=send" not in first, first
            await page.evaluate("window.phone.call.holdForTransfer()")
            await text_is(page, "callStatus", "HOLD")
            assert await page.text("#holdBtn") == "Unhold"
            _, hold = sip.invites()
            sdp = hold.split("\r\n\r\n", 1)[1]
            audio = sdp.split("m=audio", 1)[1].split("m=", 1)[0]
            assert "a=sendonly" in audio, hold
            await click(page, "#holdBtn")
            await text_is(page, "callStatus", "ESTABLISHED")
            assert "a=sendrecv" in sip.invites()[2].split("m=audio", 1)[1], sip.invites()[2]
            await click(page, "#callBtn")
            await text_is(page, "callStatus", "FINISH")
        await phone.control.wait_event("CALL_CLOSED")
        nursery.cancel_scope.cancel()
        assert len(rig.sip_seen("REQ INVITE", source=HOST_A)) == 3, rig.logs()
