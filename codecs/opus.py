"""Opus (RFC 6716) through PyAV's libopus, for calls the bridge must transcode.

RFC 7587 §4.1: the RTP clock of Opus is always 48 kHz and the SDP always says ``/2``
whatever is really sent; a decoder can always produce mono. We work in 16-bit
native-endian mono PCM at 48 kHz, 20 ms (960 samples) per packet, like WebRTC does.
PyAV is imported when a codec object is created, never by packet code.
"""

from __future__ import annotations

from typing import Any

import attrs

SAMPLE_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms


class OpusError(Exception):
    """libopus refused a packet or a frame."""


@attrs.define(eq=False)
class Opus:
    """One direction's Opus state: an encoder and a decoder, created on first use."""

    bitrate: int = 32000
    name: str = "opus"
    clock_rate: int = SAMPLE_RATE
    channels: int = 1  # of the PCM we exchange (the SDP still says 2, RFC 7587 §7)
    sample_rate: int = SAMPLE_RATE
    _encoder: Any = None
    _decoder: Any = None
    _to_s16: Any = None
    _pts: int = 0

    def _open_encoder(self) -> Any:
        import av

        encoder = av.CodecContext.create("libopus", "w")
        encoder.sample_rate = SAMPLE_RATE
        encoder.layout = "mono"
        encoder.format = "s16"
        encoder.bit_rate = self.bitrate
        encoder.open()
        return encoder

    def _open_decoder(self) -> Any:
        import av

        decoder = av.CodecContext.create("opus", "r")
        decoder.sample_rate = SAMPLE_RATE
        decoder.layout = "mono"  # libopus downmixes a stereo stream for us
        decoder.open()
        return decoder

    def encode(self, pcm: bytes | bytearray | memoryview) -> bytes:
        """Exactly 20 ms of mono s16 PCM (1920 bytes) -> one Opus packet."""
        import av

        if len(pcm) != 2 * FRAME_SAMPLES:
            raise OpusError(f"Opus frames are {2 * FRAME_SAMPLES} bytes here, got {len(pcm)}")
        if self._encoder is None:
            self._encoder = self._open_encoder()
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(bytes(pcm))
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        self._pts += FRAME_SAMPLES
        packets = self._encoder.encode(frame)
        return b"".join(bytes(p) for p in packets)

    def decode(self, payload: bytes | bytearray | memoryview) -> bytes:
        """One Opus packet -> mono s16 PCM at 48 kHz (empty if libopus rejects it)."""
        import av

        if self._decoder is None:
            self._decoder = self._open_decoder()
        try:
            frames = self._decoder.decode(av.Packet(bytes(payload)))
        except av.error.FFmpegError as error:
            raise OpusError(f"undecodable Opus packet: {error}") from None
        out = bytearray()
        for frame in frames:
            if frame.format.name == "s16" and frame.layout.name == "mono":
                out += bytes(frame.planes[0])[: 2 * frame.samples]
                continue
            # libopus decodes to float planes: convert (same rate, so nothing is buffered).
            if self._to_s16 is None:
                self._to_s16 = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for converted in self._to_s16.resample(frame):
                out += bytes(converted.planes[0])[: 2 * converted.samples]
        return bytes(out)
