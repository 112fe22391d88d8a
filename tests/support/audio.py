"""Hearing audio in tests: the dominant frequency and level of a recording."""

from __future__ import annotations

import wave
from pathlib import Path

import attrs
import numpy as np


@attrs.frozen
class Heard:
    rate: int
    seconds: float
    rms: float  # 0..1 of full scale
    dominant_hz: float

    def is_tone(self, hz: float, *, tolerance: float = 20.0, min_rms: float = 0.01) -> bool:
        return abs(self.dominant_hz - hz) <= tolerance and self.rms >= min_rms


def analyse_samples(samples: np.ndarray, rate: int) -> Heard:
    if samples.size == 0:
        return Heard(rate, 0.0, 0.0, 0.0)
    x = samples.astype(float) / 32768.0
    rms = float(np.sqrt(np.mean(x * x)))
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    spectrum[:3] = 0.0  # DC and the lowest bins say nothing about a tone
    dominant = float(np.argmax(spectrum)) * rate / len(x)
    return Heard(rate, len(x) / rate, rms, dominant)


def analyse_wav(path: Path, *, skip_seconds: float = 0.0, max_seconds: float | None = None) -> Heard:
    """Analyse the first channel of a 16-bit PCM WAV (baresip's sndfile dumps)."""
    with wave.open(str(path)) as wav:
        rate, channels, frames = wav.getframerate(), wav.getnchannels(), wav.getnframes()
        raw = wav.readframes(frames)
    samples = np.frombuffer(raw, dtype="<i2")[::channels]
    start = int(skip_seconds * rate)
    end = None if max_seconds is None else start + int(max_seconds * rate)
    return analyse_samples(samples[start:end], rate)


def loud_seconds(path: Path, *, min_rms: float = 0.01, window: float = 0.1) -> float:
    """How many seconds of the recording carry sound above ``min_rms``."""
    with wave.open(str(path)) as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")[::channels]
    step = int(rate * window)
    loud = 0
    for start in range(0, len(samples) - step + 1, step):
        chunk = samples[start:start + step].astype(float) / 32768.0
        if np.sqrt(np.mean(chunk * chunk)) >= min_rms:
            loud += 1
    return loud * window


def write_tone_wav(path: Path, hz: float, *, seconds: float = 10.0, rate: int = 48000,
                   channels: int = 1, amplitude: float = 0.5) -> Path:
    """A sine tone as 16-bit PCM (Chromium's fake microphone plays such a file)."""
    t = np.arange(int(seconds * rate)) / rate
    tone = (amplitude * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    data = np.repeat(tone[:, None], channels, axis=1).tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data)
    return path
