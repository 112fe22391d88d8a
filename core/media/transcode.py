"""Audio transcoding for calls whose legs share no codec (e.g. browser Opus, device PCMU).

Per packet: decode to 16-bit mono PCM at the source codec's rate, resample to the
target's rate (PyAV's swresample), collect the samples and cut them into 20 ms frames
of the target codec, encode each. The bridge gives those frames new sequence numbers
and timestamps (:meth:`Outbound.generate`): the output is a stream of our own, so it
needs no mapping to the input's numbers. Resampling adds a few milliseconds of delay.

Codecs share a small interface (:class:`AudioCodec`): ``name``, ``clock_rate``,
``channels``, ``sample_rate``, ``encode(pcm) -> bytes``, ``decode(payload) -> pcm``.
G.711 is ours (:mod:`wcs_trio.codecs.g711`), Opus comes from :mod:`wcs_trio.codecs.opus`.
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs

from wcs_trio.codecs.g711 import G711, PCMA, PCMU
from wcs_trio.codecs.opus import Opus
from wcs_trio.core.sdp.plan import CodecChoice

FRAME_MS = 20


class UnsupportedCodec(Exception):
    """No transcoder for this codec: the call layer should not have chosen it (488)."""

    status = 488  # RFC 3261 §21.4.26 Not Acceptable Here


class AudioCodec(Protocol):
    name: str
    clock_rate: int  # RTP clock (RFC 3551 §4.5)
    channels: int
    sample_rate: int  # of the PCM it takes and gives

    def encode(self, pcm: bytes | bytearray | memoryview) -> bytes: ...
    def decode(self, payload: bytes | bytearray | memoryview) -> bytes: ...


@attrs.define(eq=False)
class G711Codec:
    """G.711 in the common interface (the tables are shared, the object is stateless)."""

    law: G711
    name: str = "PCMU"
    clock_rate: int = 8000
    channels: int = 1
    sample_rate: int = 8000

    def encode(self, pcm: bytes | bytearray | memoryview) -> bytes:
        return self.law.encode(pcm)

    def decode(self, payload: bytes | bytearray | memoryview) -> bytes:
        return self.law.decode(payload)


#: Encodings (lower-case SDP names) :func:`audio_codec` can encode and decode: the only ones
#: the gateway may offer to one side when the other side lacks them.
TRANSCODABLE = frozenset({"pcmu", "pcma", "opus"})


def audio_codec(choice: CodecChoice) -> AudioCodec:
    """A fresh codec object for a plan's codec choice (one per direction: Opus has state)."""
    key = choice.name.lower()
    if key == "pcmu":
        return G711Codec(PCMU, "PCMU")
    if key == "pcma":
        return G711Codec(PCMA, "PCMA")
    if key == "opus":
        return Opus()
    raise UnsupportedCodec(f"no transcoder for {choice.name}/{choice.clock_rate}")


@attrs.define(eq=False)
class AudioTranscoder:
    """One direction of one call: ``source`` payloads in, ``target`` frames out."""

    source: AudioCodec
    target: AudioCodec
    _resampler: Any = None
    _pending: bytearray = attrs.Factory(bytearray)
    _pts: int = 0
    decode_errors: int = 0

    @property
    def frame_bytes(self) -> int:
        return 2 * self.target.sample_rate * FRAME_MS // 1000

    @property
    def frame_ticks(self) -> int:
        return self.target.clock_rate * FRAME_MS // 1000

    def _resample(self, pcm: bytes) -> bytes:
        if self.source.sample_rate == self.target.sample_rate or not pcm:
            return pcm
        import av

        if self._resampler is None:
            self._resampler = av.AudioResampler(format="s16", layout="mono",
                                                rate=self.target.sample_rate)
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
        frame.planes[0].update(pcm)
        frame.sample_rate = self.source.sample_rate
        frame.pts = self._pts
        self._pts += len(pcm) // 2
        return b"".join(bytes(f.planes[0])[: 2 * f.samples] for f in self._resampler.resample(frame))

    def transcode(self, payload: bytes | memoryview) -> list[tuple[bytes, int]]:
        """Encoded 20 ms frames (with their length in target clock ticks) for one packet."""
        try:
            pcm = self.source.decode(payload)
        except Exception:
            # A packet the decoder rejects is lost audio, not a reason to end the call.
            self.decode_errors += 1
            return []
        self._pending += self._resample(pcm)
        out = []
        size, ticks = self.frame_bytes, self.frame_ticks
        while len(self._pending) >= size:
            frame = bytes(self._pending[:size])
            del self._pending[:size]
            out.append((self.target.encode(frame), ticks))
        return out


def make_transcoder(source: CodecChoice, target: CodecChoice) -> AudioTranscoder:
    """The bridge's transcoder factory: raises :class:`UnsupportedCodec` (e.g. for video)."""
    return AudioTranscoder(audio_codec(source), audio_codec(target))
