from __future__ import annotations

import numpy as np
import pytest

from wcs_trio.codecs.opus import FRAME_SAMPLES, Opus, OpusError


def tone(freq: float, seconds: float, rate: int = 48000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (8000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def peak(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(float) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def test_round_trip_keeps_the_tone() -> None:
    codec = Opus()
    pcm = tone(440, 1.0)
    decoded = bytearray()
    for start in range(0, len(pcm), FRAME_SAMPLES):
        packet = codec.encode(pcm[start:start + FRAME_SAMPLES].tobytes())
        assert 0 < len(packet) < 400
        decoded += codec.decode(packet)
    out = np.frombuffer(bytes(decoded), dtype=np.int16)
    assert len(out) == len(pcm)  # 20 ms out for every 20 ms in
    assert peak(out[4800:], 48000) == pytest.approx(440, abs=2)
    assert np.abs(out[4800:]).max() > 4000  # not attenuated to nothing


def test_interface_and_errors() -> None:
    codec = Opus()
    assert (codec.name, codec.clock_rate, codec.channels, codec.sample_rate) == ("opus", 48000, 1, 48000)
    with pytest.raises(OpusError, match="1920 bytes"):
        codec.encode(bytes(100))
