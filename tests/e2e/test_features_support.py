"""Helpers shared by the issue 8 feature tests (no tests here)."""

from __future__ import annotations

import socket
import wave
from pathlib import Path

import attrs
import numpy as np
import trio

from tests.e2e.phone import BROWSER_TONE_HZ, call, register, text_is
from tests.support.baresip import Baresip
from tests.support.browser import ChromiumPage, Spectrum, dominant_frequency
from tests.support.lab import Rig

SOFTPHONE_HZ = 440
WINDOW = 0.25


async def established_call(rig: Rig, page: ChromiumPage, phone: Baresip, callee: str = "10005") -> None:
    """Register the page, call ``callee`` (auto-answering), wait for ESTABLISHED on both ends."""
    await register(page)
    await call(page, callee)
    await text_is(page, "callStatus", "ESTABLISHED", timeout_s=15)
    await phone.control.wait_event("CALL_ESTABLISHED")


async def browser_hears(page: ChromiumPage, seconds: float) -> Spectrum:
    """What the page's remote audio plays for ``seconds`` (WebAudio)."""
    with trio.fail_after(seconds + 3.0):
        return await dominant_frequency(page, "#remoteDisplay video", seconds)


async def recording_after_call(phone: Baresip, timeout: float = 3.0) -> Path:
    """baresip's newest ``dec`` recording, once the call ended and its header is written."""
    with trio.fail_after(timeout):
        while True:
            recordings = phone.recordings()
            if recordings:
                try:
                    with wave.open(str(recordings[-1])) as wav:
                        if wav.getnframes() > 0:
                            return recordings[-1]
                except (EOFError, wave.Error):
                    pass
            await trio.sleep(0.1)


def tone_windows(path: Path, hz: float = BROWSER_TONE_HZ, *, window: float = WINDOW,
                 tolerance: float = 30.0, min_rms: float = 0.01) -> list[bool]:
    """For each ``window`` seconds of the recording: does it carry the ``hz`` tone?"""
    with wave.open(str(path)) as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")[::channels]
    step = int(rate * window)
    out = []
    for start in range(0, len(samples) - step + 1, step):
        x = samples[start:start + step].astype(float) / 32768.0
        rms = float(np.sqrt(np.mean(x * x)))
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        spectrum[:3] = 0.0
        dominant = float(np.argmax(spectrum)) * rate / len(x)
        out.append(rms >= min_rms and abs(dominant - hz) <= tolerance)
    return out


# ---------------------------------------------------------------- RTP seen on the wire
#
# baresip 1.0's sndfile filter stops recording at the first re-INVITE of a call (checked with
# baresip <-> baresip hold/resume: both recordings end at the hold), so what a softphone
# receives after a hold, resume or transfer is checked on the wire instead: a packet socket in
# the lab's namespace sees the RTP the gateway sends, and PyAV's libopus (or a G.711 table)
# turns it back into sound, stamped with its arrival time.

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


@attrs.frozen
class Heard:
    at: float  # trio clock, arrival of the packet
    pt: int
    pcm: np.ndarray  # mono int16 at ``rate``
    rate: int


def _g711(payload: bytes, alaw: bool) -> np.ndarray:
    """G.711 to linear PCM (ITU-T G.711 tables, computed)."""
    x = np.frombuffer(payload, dtype=np.uint8).astype(np.int32)
    if alaw:
        x ^= 0x55
        seg = (x & 0x70) >> 4
        mant = ((x & 0x0F) << 4) + 8
        mag = np.where(seg == 0, mant, (mant + 0x100) << np.maximum(seg - 1, 0))
        return np.where(x & 0x80, mag, -mag).astype(np.int16)
    x = ~x & 0xFF
    seg = (x & 0x70) >> 4
    mag = (((x & 0x0F) << 3) + 0x84) << seg
    return np.where(x & 0x80, 0x84 - mag, mag - 0x84).astype(np.int16)


@attrs.define
class RtpTap:
    """RTP sent to UDP ports ``ports`` (inclusive; a softphone's range), decoded to sound.

    Any destination address: the gateway latches onto the address baresip's RTP comes from,
    which in the lab is 10.99.0.1 rather than the 10.99.0.2 of its SDP (tests/support/netns.py).
    """

    ports: tuple[int, int]
    packets: list[tuple[float, bytes]] = attrs.field(factory=list)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        sock = trio.socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        seen: set[bytes] = set()
        with sock:
            task_status.started()
            while True:
                frame, address = await sock.recvfrom(65536)
                if address[2] == PACKET_OUTGOING:
                    continue  # the same packet also arrives on its way in
                if frame[12:14] != b"\x08\x00":
                    continue  # not IPv4 (lo and veth both carry an Ethernet header)
                ip = frame[14:]
                if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
                    continue
                header = (ip[0] & 0x0F) * 4
                port = int.from_bytes(ip[header + 2:header + 4], "big")
                rtp = ip[header + 8:]
                if not self.ports[0] <= port <= self.ports[1] or len(rtp) < 12 or rtp[0] >> 6 != 2:
                    continue
                if 72 <= rtp[1] & 0x7F <= 76:
                    continue  # RTCP (RFC 5761 §4)
                key = rtp[:12]
                if key in seen:
                    continue
                seen.add(key)
                self.packets.append((trio.current_time(), rtp))

    def decoded(self, opus_pt: int | None = None) -> list[Heard]:
        """Every packet's sound; ``opus_pt``: the payload type that carries Opus (else G.711 only)."""
        import av

        opus = av.CodecContext.create("libopus", "r")
        out = []
        for at, rtp in self.packets:
            pt = rtp[1] & 0x7F
            cc = rtp[0] & 0x0F
            payload = rtp[12 + 4 * cc:]
            if pt in (0, 8):
                out.append(Heard(at, pt, _g711(payload, pt == 8), 8000))
            elif pt == opus_pt:
                for frame in opus.decode(av.Packet(payload)):
                    pcm = frame.to_ndarray()
                    # planar (channels, samples) or packed (1, samples*channels)
                    channels = len(frame.layout.channels)
                    mono = pcm[0] if frame.format.is_planar else pcm.reshape(-1)[::channels]
                    if pcm.dtype.kind == "f":
                        mono = (np.clip(mono, -1, 1) * 32767).astype(np.int16)
                    out.append(Heard(at, pt, np.asarray(mono, dtype=np.int16), frame.sample_rate))
        return out

    def tone_between(self, start: float, end: float, hz: float = BROWSER_TONE_HZ,
                     opus_pt: int | None = None) -> tuple[float, float, int]:
        """(dominant Hz, RMS 0..1, packets) of what arrived between ``start`` and ``end``."""
        heard = [h for h in self.decoded(opus_pt) if start <= h.at <= end]
        if not heard:
            return 0.0, 0.0, 0
        from tests.support.audio import analyse_samples

        result = analyse_samples(np.concatenate([h.pcm for h in heard]), heard[0].rate)
        return result.dominant_hz, result.rms, len(heard)


async def sip_codec(rig: Rig, kind: str = "audio") -> dict[str, object]:
    """The SIP side's codec of the (only) call's plan, read from the gateway's world."""
    with trio.fail_after(5):
        while True:
            for entity in await rig.entities_with("CodecPlan"):
                for media in entity["components"]["CodecPlan"]["media"]:
                    if media["kind"] == kind and media.get("sip"):
                        return dict(media["sip"])
            await trio.sleep(0.2)


def opus_pt(codec: dict[str, object]) -> int | None:
    return int(codec["send_pt"]) if str(codec["name"]).lower() == "opus" else None  # type: ignore[call-overload]


def assert_tone(tap: RtpTap, start: float, end: float, pt: int | None, what: str) -> None:
    hz, rms, packets = tap.tone_between(start, end, opus_pt=pt)
    assert packets > 0.6 * 50 * (end - start), f"{what}: {packets} packets in {end - start:.1f} s"
    assert abs(hz - BROWSER_TONE_HZ) < 20 and rms > 0.01, f"{what}: {hz:.0f} Hz, rms {rms:.3f}"
