"""What the demo endpoints say, sans-IO: tones, the IVR prompt, beeps, and RTP framing.

Audio is 16-bit native-endian mono PCM at the codec's sample rate, cut in 20 ms frames
(the packet time WebRTC and most SIP devices use, RFC 7587 §4.2 / RFC 3551 §4.5), and
encoded by the codec layer (:mod:`wcs_trio.core.media.transcode`). Nothing here
sleeps or reads a clock: the trio side asks for the next frame every 20 ms.
"""

from __future__ import annotations

import array
import math
import struct
from collections import deque

import attrs

FRAME_MS = 20
DEFAULT_TONE_HZ = 440.0
LEVEL = 0.3  # of full scale: loud and clear, far from clipping after G.711

#: RFC 4733 §3.2 events and the ITU-T Q.23 frequency pairs their tones use.
DTMF_PAIRS: dict[str, tuple[float, float]] = {
    digit: (low, high)
    for row, low in zip(("123A", "456B", "789C", "*0#D"), (697.0, 770.0, 852.0, 941.0), strict=True)
    for digit, high in zip(row, (1209.0, 1336.0, 1477.0, 1633.0), strict=True)
}

_RTP = struct.Struct("!BBHII")


@attrs.frozen
class Segment:
    """A stretch of sound: the sum of ``freqs`` (Hz; none = silence) for ``ms`` milliseconds."""

    freqs: tuple[float, ...]
    ms: int
    level: float = LEVEL


#: The IVR greeting: a rising three-note chime, then four "syllables" of varying pitch that
#: sound like a short spoken phrase through a phone, then a pause (MISSION.md: an IVR
#: greeting must start at once).
PROMPT: tuple[Segment, ...] = (
    Segment((523.25,), 180), Segment((659.25,), 180), Segment((783.99,), 300), Segment((), 250),
    Segment((330.0, 660.0), 160, 0.2), Segment((), 60), Segment((392.0, 784.0), 220, 0.2),
    Segment((), 60), Segment((349.0, 698.0), 140, 0.2), Segment((), 60),
    Segment((294.0, 588.0), 260, 0.2), Segment((), 400),
)
BEEP_MS = 150


def beep_for(digit: str) -> Segment:
    """The echo of a received digit: its own DTMF tone pair, short (so it is recognisable)."""
    return Segment(DTMF_PAIRS.get(digit.upper(), (1000.0,)), BEEP_MS, 0.25)


@attrs.define
class ToneSource:
    """A phase-continuous sum of sines; plays ``segments`` in turn, then ``then`` (or silence)."""

    sample_rate: int
    then: tuple[float, ...] = ()
    level: float = LEVEL
    _queue: deque[tuple[Segment, int]] = attrs.field(factory=deque)  # (segment, samples left)
    _phases: list[float] = attrs.field(factory=list)

    @property
    def frame_samples(self) -> int:
        return self.sample_rate * FRAME_MS // 1000

    def play(self, *segments: Segment) -> None:
        for segment in segments:
            self._queue.append((segment, self.sample_rate * segment.ms // 1000))

    def clear(self) -> None:
        self._queue.clear()

    @property
    def busy(self) -> bool:
        return bool(self._queue)

    def next_frame(self) -> bytes:
        """The next 20 ms of PCM."""
        out = array.array("h")
        wanted = self.frame_samples
        while len(out) < wanted:
            if self._queue:
                segment, left = self._queue[0]
                take = min(left, wanted - len(out))
                self._synth(out, segment.freqs, segment.level, take)
                if left - take:
                    self._queue[0] = (segment, left - take)
                else:
                    self._queue.popleft()
                    self._phases = []
            else:
                self._synth(out, self.then, self.level, wanted - len(out))
        return out.tobytes()

    def _synth(self, out: array.array[int], freqs: tuple[float, ...], level: float, count: int) -> None:
        if not freqs:
            out.extend([0] * count)
            return
        if len(self._phases) != len(freqs):
            self._phases = [0.0] * len(freqs)
        steps = [2 * math.pi * f / self.sample_rate for f in freqs]
        amplitude = 32767 * level / len(freqs)
        phases = self._phases
        for _ in range(count):
            out.append(int(amplitude * sum(math.sin(p) for p in phases)))
            for i, step in enumerate(steps):
                phases[i] = (phases[i] + step) % (2 * math.pi)


def tone_frequency(name: str, default: float = DEFAULT_TONE_HZ) -> float | None:
    """``tone`` -> 440, ``tone-1000`` -> 1000; ``None`` if the suffix is not a usable frequency."""
    _, dash, suffix = name.partition("-")
    if not dash:
        return default
    if not suffix.isdigit() or not MIN_TONE_HZ <= int(suffix) <= MAX_TONE_HZ:
        return None
    return float(suffix)


MIN_TONE_HZ = 50
MAX_TONE_HZ = 4000  # below G.711's Nyquist frequency (RFC 3551 §4.5.14: 8 kHz sampling)


@attrs.define
class RtpFramer:
    """Our RTP stream (RFC 3550 §5.1): one SSRC, sequence and timestamp going up by the frame."""

    ssrc: int
    sequence: int
    timestamp: int

    def packet(self, payload_type: int, payload: bytes, ticks: int, *, marker: bool = False) -> bytes:
        """The next packet; the timestamp then advances by ``ticks`` (the frame's duration)."""
        header = _RTP.pack(0x80, (0x80 if marker else 0) | payload_type, self.sequence & 0xFFFF,
                           self.timestamp & 0xFFFFFFFF, self.ssrc)
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + ticks) & 0xFFFFFFFF
        return header + payload
