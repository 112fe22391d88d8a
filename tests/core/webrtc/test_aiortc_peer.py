"""Real peer: aiortc (in a subprocess) against our endpoint on loopback.

aiortc offers audio (Opus) and video (VP8) with BUNDLE and rtcp-mux; we
answer as ICE-lite from the shared port; ICE and DTLS complete in both DTLS
roles; every RTP packet we decrypt is echoed back re-protected under our own
SSRC, and aiortc must *decode* frames from it. Then the other way round, as
for an incoming SIP call: we offer (a=setup:actpass) and aiortc answers,
active or passive.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from wcs_trio.core.webrtc.dtls import DtlsRole
from wcs_trio.core.webrtc.endpoint import WebRtcEndpoint
from wcs_trio.core.webrtc.leg import LegConnected, LegFailed, WebRtcLeg
from wcs_trio.core.webrtc.rtp import read_mid, rewrite_rtp, rtp_header_length, rtp_payload_type

PEER = Path(__file__).resolve().parents[2] / "support" / "aiortc_peer.py"
AUDIO_SSRC, VIDEO_SSRC = 0x11110001, 0x22220002

pytestmark = pytest.mark.peers


# ------------------------------------------------- test-local SDP helpers


def parse_offer(sdp: str) -> dict:
    """The few things we need from aiortc's offer, per m-line and session."""
    offer: dict = {"media": [], "fingerprints": []}
    current: dict | None = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            kind = line[2:].split()[0]
            current = {"kind": kind, "mid": None, "pts": {}}
            offer["media"].append(current)
        elif line.startswith("a=rtpmap:") and current is not None:
            pt, codec = line[len("a=rtpmap:") :].split(" ", 1)
            current["pts"][codec.split("/")[0].lower()] = int(pt)
        elif line.startswith("a=mid:") and current is not None:
            current["mid"] = line[len("a=mid:") :]
        elif line.startswith("a=ice-ufrag:"):
            offer["ufrag"] = line.split(":", 1)[1]
        elif line.startswith("a=ice-pwd:"):
            offer["pwd"] = line.split(":", 1)[1]
        elif line.startswith("a=fingerprint:"):
            value = line.split(":", 1)[1]
            if value not in offer["fingerprints"]:
                offer["fingerprints"].append(value)
        elif line.startswith("a=setup:"):
            offer["setup"] = line.split(":", 1)[1]
    return offer


def build_answer(offer: dict, leg: WebRtcLeg, port: int) -> str:
    local = leg.local
    mids = " ".join(m["mid"] for m in offer["media"])
    lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=ice-lite",
             f"a=group:BUNDLE {mids}", "a=msid-semantic:WMS *"]
    for media in offer["media"]:
        if media["kind"] == "audio":
            pt, ssrc, rtpmap = media["pts"]["opus"], AUDIO_SSRC, "opus/48000/2"
        else:
            pt, ssrc, rtpmap = media["pts"]["vp8"], VIDEO_SSRC, "VP8/90000"
        lines += [
            f"m={media['kind']} {port} UDP/TLS/RTP/SAVPF {pt}",
            "c=IN IP4 127.0.0.1",
            "a=sendrecv",
            "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
            f"a=mid:{media['mid']}",
            f"a=msid:wcs wcs-{media['kind']}",
            "a=rtcp-mux",
            f"a=ssrc:{ssrc} cname:wcs-trio",
            f"a=rtpmap:{pt} {rtpmap}",
            f"a=ice-ufrag:{local.ice_ufrag}",
            f"a=ice-pwd:{local.ice_pwd}",
            f"a=fingerprint:{local.fingerprint}",
            f"a=setup:{local.setup}",
            *(f"a={c.to_sdp()}" for c in local.candidates),
            "a=end-of-candidates",
        ]
    return "\r\n".join(lines) + "\r\n"


OFFER_PTS = {"audio": (111, "opus/48000/2"), "video": (96, "VP8/90000")}


def build_offer(leg: WebRtcLeg, port: int) -> str:
    """What the gateway offers a browser: ICE-lite, BUNDLE, actpass."""
    local = leg.local
    lines = ["v=0", "o=- 2 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=ice-lite",
             "a=group:BUNDLE 0 1", "a=msid-semantic:WMS *"]
    for mid, kind in enumerate(("audio", "video")):
        pt, rtpmap = OFFER_PTS[kind]
        ssrc = AUDIO_SSRC if kind == "audio" else VIDEO_SSRC
        lines += [
            f"m={kind} {port} UDP/TLS/RTP/SAVPF {pt}",
            "c=IN IP4 127.0.0.1",
            "a=sendrecv",
            "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
            f"a=mid:{mid}",
            f"a=msid:wcs wcs-{kind}",
            "a=rtcp-mux",
            f"a=ssrc:{ssrc} cname:wcs-trio",
            f"a=rtpmap:{pt} {rtpmap}",
            f"a=ice-ufrag:{local.ice_ufrag}",
            f"a=ice-pwd:{local.ice_pwd}",
            f"a=fingerprint:{local.fingerprint}",
            f"a=setup:{local.setup}",
            *(f"a={c.to_sdp()}" for c in local.candidates),
            "a=end-of-candidates",
        ]
    return "\r\n".join(lines) + "\r\n"


# --------------------------------------------------------- the harness


class Echo:
    """Media-bridge stand-in: echo RTP back under our SSRC; record events."""

    def __init__(self, offer: dict) -> None:
        self.kind_by_pt = {}
        for media in offer["media"]:
            codec = "opus" if media["kind"] == "audio" else "vp8"
            self.kind_by_pt[media["pts"][codec]] = media["kind"]
        self.received = {"audio": 0, "video": 0}
        self.mids: set[str] = set()
        self.rtcp = 0
        self.events: list = []
        self.connected = trio.Event()
        self.done = trio.Event()

    def on_rtp(self, leg: WebRtcLeg, packet: bytes) -> None:
        rtp_header_length(packet)  # raises if we decrypted garbage
        kind = self.kind_by_pt.get(rtp_payload_type(packet))
        if kind is None:
            return  # rtx and anything not negotiated
        self.received[kind] += 1
        mid = read_mid(packet, 1)
        if mid is not None:
            self.mids.add(mid)
        buf = bytearray(packet)
        rewrite_rtp(buf, ssrc=AUDIO_SSRC if kind == "audio" else VIDEO_SSRC)
        leg.send_rtp(bytes(buf))

    def on_rtcp(self, leg: WebRtcLeg, packet: bytes) -> None:
        self.rtcp += 1

    def on_state(self, leg: WebRtcLeg, event) -> None:
        self.events.append(event)
        if isinstance(event, LegConnected):
            self.connected.set()
        else:
            self.done.set()


async def read_json_line(stream, buffer: bytearray) -> dict:
    while b"\n" not in buffer:
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise AssertionError(f"aiortc peer exited early; output so far {buffer[:500]!r}")
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return json.loads(line)


async def run_call(*, prefer_role: DtlsRole, seconds: float = 4.0, tamper_fingerprint=False):
    endpoint = WebRtcEndpoint("127.0.0.1", 0)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(endpoint.run)
        process = await trio.lowlevel.open_process(
            [sys.executable, str(PEER), "--seconds", str(seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        try:
            with trio.fail_after(seconds + 20):
                buffer = bytearray()
                offer = parse_offer((await read_json_line(process.stdout, buffer))["offer"])
                assert offer["setup"] == "actpass"
                fingerprints = offer["fingerprints"]
                if tamper_fingerprint:
                    fingerprints = [f"{fp.split()[0]} " + ":".join(["00"] * (len(fp.split()[1]) // 3 + 1))
                                    for fp in fingerprints]
                echo = Echo(offer)
                leg = endpoint.create_leg(
                    remote_ufrag=offer["ufrag"], remote_pwd=offer["pwd"],
                    remote_fingerprints=fingerprints, remote_setup=offer["setup"],
                    on_rtp=echo.on_rtp, on_rtcp=echo.on_rtcp, on_state=echo.on_state,
                    prefer_role=prefer_role,
                )
                answer = build_answer(offer, leg, port)
                await process.stdin.send_all((json.dumps({"answer": answer}) + "\n").encode())
                result = (await read_json_line(process.stdout, buffer))["result"]
                await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            nursery.cancel_scope.cancel()
    return echo, leg, result, endpoint


async def run_offered_call(*, answer_setup: str, seconds: float = 4.0):
    """We offer, aiortc answers with `answer_setup`; the same echo runs."""
    endpoint = WebRtcEndpoint("127.0.0.1", 0)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(endpoint.run)
        process = await trio.lowlevel.open_process(
            [sys.executable, str(PEER), "--seconds", str(seconds), "--answer", answer_setup],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        try:
            with trio.fail_after(seconds + 20):
                echo_box: list[Echo] = []
                leg = endpoint.create_offer_leg(
                    on_rtp=lambda leg, p: echo_box[0].on_rtp(leg, p),
                    on_rtcp=lambda leg, p: echo_box[0].on_rtcp(leg, p),
                    on_state=lambda leg, e: echo_box[0].on_state(leg, e),
                )
                offer_sdp = build_offer(leg, port)
                await process.stdin.send_all((json.dumps({"offer": offer_sdp}) + "\n").encode())
                buffer = bytearray()
                answer = parse_offer((await read_json_line(process.stdout, buffer))["answer"])
                echo_box.append(Echo(answer))
                # aiortc's checks may already have been answered; the answer
                # now fixes the DTLS role and starts the handshake.
                leg.set_remote(answer["ufrag"], answer["pwd"], answer["fingerprints"],
                               answer["setup"], trio.current_time())
                result = (await read_json_line(process.stdout, buffer))["result"]
                await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            nursery.cancel_scope.cancel()
    return echo_box[0], leg, result, answer


@pytest.mark.parametrize(
    ("answer_setup", "our_role"),
    [("active", DtlsRole.SERVER), ("passive", DtlsRole.CLIENT)],
    ids=["aiortc-active-we-serve", "aiortc-passive-we-connect"],
)
async def test_we_offer_aiortc_answers_media_echo(answer_setup: str, our_role: DtlsRole) -> None:
    echo, leg, result, answer = await run_offered_call(answer_setup=answer_setup)
    assert answer["setup"] == answer_setup
    assert leg.local.setup == "actpass" and leg.role is our_role
    assert isinstance(echo.events[0], LegConnected), echo.events
    assert "connected" in result["states"], result
    assert echo.received["audio"] > 50 and echo.received["video"] > 10, echo.received
    assert echo.mids == {"0", "1"}
    assert result["frames"]["audio"] > 50, result
    assert result["frames"]["video"] > 10, result
    assert result["video_sizes"] == [[640, 480]]
    assert leg.stats.rtp_out == echo.received["audio"] + echo.received["video"]


@pytest.mark.parametrize(
    ("prefer_role", "our_setup"),
    [(DtlsRole.CLIENT, "active"), (DtlsRole.SERVER, "passive")],
    ids=["we-are-dtls-client", "we-are-dtls-server"],
)
async def test_aiortc_call_media_echo(prefer_role: DtlsRole, our_setup: str) -> None:
    echo, leg, result, _endpoint = await run_call(prefer_role=prefer_role)
    assert leg.local.setup == our_setup
    assert isinstance(echo.events[0], LegConnected), echo.events
    assert "connected" in result["states"], result
    # We decrypted aiortc's audio and video, demultiplexed on one BUNDLE port.
    assert echo.received["audio"] > 50 and echo.received["video"] > 10, echo.received
    assert echo.mids == {"0", "1"}
    assert echo.rtcp > 0
    # aiortc decoded what we re-protected and sent back.
    assert result["frames"]["audio"] > 50, result
    assert result["frames"]["video"] > 10, result
    assert result["video_sizes"] == [[640, 480]]
    assert leg.stats.dropped == {} or set(leg.stats.dropped) <= {"no_keys"}
    assert leg.stats.rtp_out == echo.received["audio"] + echo.received["video"]


async def test_aiortc_wrong_fingerprint_fails_the_leg() -> None:
    echo, _leg, result, _ = await run_call(prefer_role=DtlsRole.CLIENT, seconds=3.0,
                                          tamper_fingerprint=True)
    failures = [e for e in echo.events if isinstance(e, LegFailed)]
    assert failures and "fingerprint" in failures[0].reason, echo.events
    assert not any(isinstance(e, LegConnected) for e in echo.events)
    assert echo.received == {"audio": 0, "video": 0}
    assert result["frames"] == {"audio": 0, "video": 0}
    assert "connected" not in result["states"]
