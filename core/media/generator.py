"""Generated media toward the browser: a test-pattern VP8 video and comfort silence.

The product we replace leaves the browser without sound or picture when the SIP side of an
audio+video call answers audio-only (an IVR) or starts its audio late (MISSION.md, known
weakness 3). For SIP user agents listed in ``generate_av_for_ua`` the gateway fills the gap:
after ``rtp_generator_start_timeout`` ms without the SIP side's media of a kind it sends its
own, and stops as soon as the real media arrives, so the browser's tracks start at once.

Pieces, from pure to I/O:

- :func:`vp8_payloads`: an encoded VP8 frame cut into RTP payloads with the RFC 7741 §4.2
  payload descriptor (pure);
- :class:`GeneratorClock`: when the next packet is due, when to give up (sans-IO: ``now``
  in, a deadline out);
- :class:`VideoPattern` and :class:`Silence`: packet sources; the first encodes a dark
  320x240 picture with a moving bar through PyAV's libvpx, the second one frame of silence
  in the browser's audio codec;
- :func:`run_generator`: the trio task (in the call's nursery) that sleeps until the clock's
  deadline and sends through the WebRTC leg's ``send_rtp``, so SRTP applies.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any, Protocol

import attrs
import trio

from wcs_trio.core.media.outbound import Outbound
from wcs_trio.core.sdp.plan import CodecChoice

_HEAD = struct.Struct("!BBHII")
#: RTP clock of every video payload format in use (RFC 7741 §6.1 for VP8).
VIDEO_CLOCK = 90000
#: Room for the RTP header, SRTP's tag and the IP/UDP headers under a 1200-byte path MTU.
MAX_PAYLOAD = 1100
WIDTH, HEIGHT, FPS = 320, 240, 10
#: A key frame at least this often: the browser may join late or lose one, and we do not
#: answer its PLI (the generator has no route in the bridge).
KEYFRAME_INTERVAL = 2 * FPS


class UnsupportedGeneratorCodec(Exception):
    """The browser's codec for this kind is one the generator cannot produce."""


def matches_user_agent(user_agent: str, entries: Iterable[str]) -> bool:
    """Whether ``generate_av_for_ua`` selects this SIP User-Agent/Server header value:
    an entry is a case-insensitive substring; ``all`` selects every agent, ``none`` none."""
    agent = user_agent.lower()
    for entry in entries:
        word = entry.strip().lower()
        if word == "none" or not word:
            continue
        if word == "all" or word in agent:
            return True
    return False


# ---------------------------------------------------------------------------
# RFC 7741: VP8 payload format
# ---------------------------------------------------------------------------


def vp8_payloads(frame: bytes, picture_id: int, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """RTP payloads carrying one encoded VP8 frame (RFC 7741 §4.2, §4.4).

    Each payload starts with the descriptor: X=1 (an extension byte follows), N=0 (the
    frame is a reference), S=1 only on the first packet of the frame (partition 0 starts
    there, PID=0), then I=1 with a 15-bit PictureID (M=1): receivers use it to spot a lost
    frame. The RTP marker bit belongs on the packet with the last payload (§4.1).
    """
    if not frame:
        return []
    head = struct.pack("!H", 0x8000 | (picture_id & 0x7FFF))
    room = max_payload - 4
    out = []
    for offset in range(0, len(frame), room):
        first = 0x10 if offset == 0 else 0x00  # S bit, PID 0
        out.append(bytes((0x80 | first, 0x80)) + head + frame[offset:offset + room])
    return out


def vp8_frame_of(payloads: Iterable[bytes]) -> bytes:
    """The encoded frame in payloads of one timestamp (the inverse of :func:`vp8_payloads`,
    for any descriptor RFC 7741 §4.2 allows)."""
    out = bytearray()
    for payload in payloads:
        pos = 1
        if payload[0] & 0x80:  # X: extension byte
            ext = payload[1]
            pos = 2
            if ext & 0x80:  # I: PictureID, 7 or 15 bits
                pos += 2 if payload[pos] & 0x80 else 1
            if ext & 0x40:  # L: TL0PICIDX
                pos += 1
            if ext & 0x30:  # T or K: TID/Y/KEYIDX byte
                pos += 1
        out += payload[pos:]
    return bytes(out)


# ---------------------------------------------------------------------------
# the sans-IO schedule
# ---------------------------------------------------------------------------


@attrs.define
class GeneratorClock:
    """When a generator sends: nothing before ``start_at``; then one frame per ``interval``
    until the real media arrives (then never again: the bridge's relay takes over)."""

    start_at: float
    interval: float
    next_at: float | None = None
    stopped: bool = False
    frames: int = 0

    def poll(self, now: float, real_media: bool) -> bool:
        """Whether a frame is due at ``now``; ``real_media`` stops the generator for good."""
        if real_media:
            self.stopped = True
        if self.stopped or now < self.start_at:
            return False
        due = self.next_at if self.next_at is not None else self.start_at
        if now < due:
            return False
        # Late wakeups skip frames instead of bursting them (the receiver plays in real time).
        missed = int((now - due) / self.interval)
        self.next_at = due + (missed + 1) * self.interval
        self.frames += 1
        return True

    def get_timer(self) -> float | None:
        """The next deadline (``None`` once stopped)."""
        if self.stopped:
            return None
        return self.next_at if self.next_at is not None else self.start_at


# ---------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------


class PacketSource(Protocol):
    interval: float

    def packets(self, now: float) -> list[bytes]:
        """The RTP packets of the frame due at ``now``."""
        ...


def _picture(index: int, width: int, height: int) -> Any:
    """A dark frame with a light vertical bar that crosses it every two seconds."""
    import av
    import numpy

    y = numpy.full((height, width), 32, dtype=numpy.uint8)
    bar = width // 16
    x = (index * (width - bar) // (2 * FPS)) % (width - bar)
    y[:, x:x + bar] = 200
    uv = numpy.full((height // 2, width), 128, dtype=numpy.uint8)
    frame = av.VideoFrame.from_ndarray(numpy.concatenate([y, uv]), format="yuv420p")
    frame.pts = index
    return frame


@attrs.define(eq=False)
class VideoPattern:
    """VP8 frames of a test picture as RTP packets with payload type ``pt``."""

    pt: int
    width: int = WIDTH
    height: int = HEIGHT
    fps: int = FPS
    ssrc: int = attrs.Factory(lambda: secrets.randbits(32))
    _seq: int = attrs.Factory(lambda: secrets.randbits(16))
    _ts0: int = attrs.Factory(lambda: secrets.randbits(32))
    _t0: float | None = None
    _index: int = 0
    _encoder: Any = None

    @property
    def interval(self) -> float:
        return 1.0 / self.fps

    def _open(self) -> Any:
        import av

        encoder = av.CodecContext.create("libvpx", "w")
        encoder.width, encoder.height = self.width, self.height
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = Fraction(1, self.fps)
        encoder.framerate = Fraction(self.fps, 1)
        encoder.bit_rate = 300_000
        encoder.gop_size = KEYFRAME_INTERVAL
        # Real time, no look-ahead: each frame comes out of the encoder as it goes in.
        encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        encoder.open()
        return encoder

    def encode(self) -> bytes:
        """The next encoded frame (a key frame every :data:`KEYFRAME_INTERVAL`)."""
        if self._encoder is None:
            self._encoder = self._open()
        frame = _picture(self._index, self.width, self.height)
        if self._index % KEYFRAME_INTERVAL == 0:
            from av.video.frame import PictureType

            frame.pict_type = PictureType.I
        self._index += 1
        return b"".join(bytes(p) for p in self._encoder.encode(frame))

    def packets(self, now: float) -> list[bytes]:
        if self._t0 is None:
            self._t0 = now
        # RFC 7741 §4.1: the 90 kHz timestamp is the frame's sampling instant.
        ts = (self._ts0 + round((now - self._t0) * VIDEO_CLOCK)) & 0xFFFFFFFF
        payloads = vp8_payloads(self.encode(), self._index - 1)
        out = []
        for number, payload in enumerate(payloads):
            marker = 0x80 if number == len(payloads) - 1 else 0
            out.append(_HEAD.pack(0x80, marker | self.pt, self._seq, ts, self.ssrc) + payload)
            self._seq = (self._seq + 1) & 0xFFFF
        return out


def silence_payload(choice: CodecChoice) -> bytes:
    """20 ms of silence in the browser's audio codec (PCMU, PCMA or Opus)."""
    name = choice.name.lower()
    if name == "pcmu":
        return b"\xff" * 160  # G.711 µ-law of 0
    if name == "pcma":
        return b"\xd5" * 160  # G.711 A-law of 0
    if name == "opus":
        from wcs_trio.codecs.opus import FRAME_SAMPLES, Opus

        return Opus().encode(bytes(2 * FRAME_SAMPLES))
    raise UnsupportedGeneratorCodec(f"no silence for {choice.name}")


@attrs.define(eq=False)
class Silence:
    """Comfort silence toward the browser on the bridge's own outgoing audio stream.

    Numbers come from the bridge's :class:`Outbound` for audio toward the browser, so when
    the SIP side's audio starts the relay continues the same SSRC and sequence numbers
    (its first packet carries the marker bit), and the browser's track never restarts.
    """

    pt: int
    outbound: Outbound
    payload: bytes
    interval: float = 0.020

    def packets(self, now: float) -> list[bytes]:
        ticks = round(self.outbound.clock_rate * self.interval)
        seq, ts = self.outbound.generate(ticks, now)
        if self.outbound.ssrc is None:
            self.outbound.ssrc = secrets.randbits(32)
        return [_HEAD.pack(0x80, self.pt, seq, ts, self.outbound.ssrc) + self.payload]


# ---------------------------------------------------------------------------
# the trio task
# ---------------------------------------------------------------------------


@attrs.define(eq=False)
class Generator:
    """One generated stream of a call: its source, schedule and counters."""

    kind: str
    source: PacketSource
    clock: GeneratorClock
    packets_sent: int = 0
    frames_sent: int = 0

    @classmethod
    def starting(cls, kind: str, source: PacketSource, now: float, timeout_s: float) -> Generator:
        return cls(kind, source, GeneratorClock(now + timeout_s, source.interval))

    @property
    def running(self) -> bool:
        return self.frames_sent > 0 and not self.clock.stopped

    def step(self, now: float, real_media: bool, send: Callable[[bytes], object]) -> float | None:
        """Send what is due at ``now``; the next deadline (``None``: done)."""
        if self.clock.poll(now, real_media):
            for packet in self.source.packets(now):
                send(packet)
                self.packets_sent += 1
            self.frames_sent += 1
        return self.clock.get_timer()


async def run_generator(generator: Generator, send: Callable[[bytes], object],
                        real_media: Callable[[], bool], clock: Callable[[], float],
                        paused: Callable[[], bool] = lambda: False) -> None:
    """Drive ``generator`` until the real media arrives (or the call's nursery ends).

    ``paused`` (the call on hold) skips frames without stopping the generator.
    """
    while True:
        if paused() and not real_media():
            # Nothing is generated (so no sequence numbers are used) while the call is held.
            await trio.sleep(generator.source.interval)
            continue
        deadline = generator.step(clock(), real_media(), send)
        if deadline is None:
            return
        await trio.sleep(max(0.0, deadline - clock()))
