import array
import math

import pytest

from wcs_trio.codecs.g711 import G711, PCMA, PCMU


def pcm(values: list[int]) -> bytes:
    return array.array("h", values).tobytes()


def samples(data: bytes) -> list[int]:
    out = array.array("h")
    out.frombytes(data)
    return list(out)


def test_known_code_words() -> None:
    # G.711: silence is 0xFF in µ-law and 0xD5 in A-law; full scale saturates.
    assert PCMU.encode(pcm([0, 32767, -32768])) == bytes([0xFF, 0x80, 0x00])
    assert PCMA.encode(pcm([0, 32767, -32768])) == bytes([0xD5, 0xAA, 0x2A])
    assert samples(PCMU.decode(bytes([0xFF, 0x7F, 0x80, 0x00]))) == [0, 0, 32124, -32124]
    assert samples(PCMA.decode(bytes([0xD5, 0x55, 0xAA, 0x2A]))) == [8, -8, 32256, -32256]


@pytest.mark.parametrize("codec", [PCMU, PCMA])
def test_round_trip_error_is_within_a_quantisation_step(codec: G711) -> None:
    values = list(range(-32768, 32768, 37))
    decoded = samples(codec.decode(codec.encode(pcm(values))))
    for original, back in zip(values, decoded, strict=True):
        # Logarithmic steps: the error grows with the magnitude, about 1/16 of it at most.
        assert abs(original - back) <= max(16, abs(original) // 15), (original, back)


@pytest.mark.parametrize("codec", [PCMU, PCMA])
def test_a_tone_survives(codec: G711) -> None:
    tone = [int(10000 * math.sin(2 * math.pi * 1000 * n / 8000)) for n in range(160)]
    decoded = samples(codec.decode(codec.encode(pcm(tone))))
    error = math.sqrt(sum((a - b) ** 2 for a, b in zip(tone, decoded, strict=True)) / len(tone))
    assert error < 200 and len(codec.encode(pcm(tone))) == 160


def test_identity() -> None:
    assert (PCMU.encoding, PCMU.payload_type, PCMA.encoding, PCMA.payload_type) == ("PCMU", 0, "PCMA", 8)
