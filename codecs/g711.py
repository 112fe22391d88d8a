"""G.711 µ-law (PCMU) and A-law (PCMA), ITU-T G.711, written here.

Both directions go through lookup tables built once per process on first use: a 256-entry
table for decoding and a 65536-entry table (indexed by the 16-bit sample) for encoding,
so a 20 ms frame costs one table pass and no arithmetic per sample.
"""

from __future__ import annotations

import array
from functools import cache

import attrs

_BIAS = 0x84  # G.711 µ-law bias in the 16-bit domain (33 in the 14-bit one)


def _ulaw_encode_sample(sample: int) -> int:
    # The reference coder works on 14-bit samples (floor shift, so -1 stays negative),
    # clips at 8159 and adds a bias of 33 before the segment search.
    value = sample >> 2
    sign = 0x80 if value < 0 else 0
    magnitude = min(-value if value < 0 else value, 8159) + 0x21
    if magnitude > 0x1FFF:  # beyond the last segment: the largest code word
        exponent, mantissa = 7, 0x0F
    else:
        exponent = max(0, magnitude.bit_length() - 6)
        mantissa = (magnitude >> (exponent + 1)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _ulaw_decode_byte(byte: int) -> int:
    byte = ~byte & 0xFF
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return -magnitude if sign else magnitude


def _alaw_encode_sample(sample: int) -> int:
    # A-law works on 13-bit magnitudes; even bits are inverted on the wire (0x55).
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(-sample - 1 if sample < 0 else sample, 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = min(magnitude.bit_length() - 5, 7)
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


def _alaw_decode_byte(byte: int) -> int:
    byte ^= 0x55
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    if exponent == 0:
        magnitude = (mantissa << 4) + 8
    else:
        magnitude = ((mantissa << 4) + 0x108) << (exponent - 1)
    return magnitude if sign else -magnitude


@cache
def _tables(law: str) -> tuple[bytes, array.array]:  # type: ignore[type-arg]
    encode_one, decode_one = {
        "ulaw": (_ulaw_encode_sample, _ulaw_decode_byte),
        "alaw": (_alaw_encode_sample, _alaw_decode_byte),
    }[law]
    encode = bytes(encode_one(value - 65536 if value >= 32768 else value) for value in range(65536))
    decode = array.array("h", (decode_one(byte) for byte in range(256)))
    return encode, decode


@attrs.frozen
class G711:
    """One G.711 law as a codec: 8 kHz mono, one byte per sample."""

    law: str  # "ulaw" or "alaw"

    @property
    def encoding(self) -> str:
        return "PCMU" if self.law == "ulaw" else "PCMA"

    @property
    def payload_type(self) -> int:
        return 0 if self.law == "ulaw" else 8  # RFC 3551 static payload types

    clock_rate = 8000
    channels = 1

    def encode(self, pcm: bytes | bytearray | memoryview) -> bytes:
        """16-bit native-endian PCM samples -> G.711 bytes."""
        encode, _ = _tables(self.law)
        samples = array.array("h")
        samples.frombytes(bytes(pcm))
        return bytes(encode[s & 0xFFFF] for s in samples)

    def decode(self, payload: bytes | bytearray | memoryview) -> bytes:
        """G.711 bytes -> 16-bit native-endian PCM samples."""
        _, decode = _tables(self.law)
        return array.array("h", (decode[b] for b in bytes(payload))).tobytes()


PCMU = G711("ulaw")
PCMA = G711("alaw")
