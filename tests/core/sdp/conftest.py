from __future__ import annotations

from pathlib import Path

import pytest

VECTORS = Path(__file__).parent / "vectors"


def vector(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


@pytest.fixture
def chromium_offer() -> bytes:
    return vector("chromium_offer_audio_video.sdp")
