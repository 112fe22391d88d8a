from __future__ import annotations

import pytest

from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sdp.rtpcodec import Codec, codecs_of, config_name_of, h264_profile, same_codec


@pytest.mark.parametrize(
    ("plid", "profile"),
    [
        ("42e01f", "constrained-baseline"),
        ("42C01F", "constrained-baseline"),
        ("4d801f", "constrained-baseline"),
        ("42001f", "baseline"),
        ("42801F", "baseline"),
        ("4d001f", "main"),
        ("640028", "high"),
        ("640c1f", "constrained-high"),
        (None, "baseline"),  # RFC 6184 §8.1 default 420010
        ("zz", "invalid:zz"),
    ],
)
def test_h264_profile(plid: str | None, profile: str) -> None:
    assert h264_profile(plid) == profile


def h264(params: str) -> Codec:
    return Codec("H264", 90000, 1, params)


def test_h264_same_needs_profile_and_packetization_mode() -> None:
    a = h264("profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1")
    assert same_codec(a, h264("packetization-mode=1;profile-level-id=42e00d"))  # level differs
    assert not same_codec(a, h264("profile-level-id=42e01f"))  # mode 0 by default
    assert not same_codec(a, h264("profile-level-id=640028;packetization-mode=1"))


def test_other_codecs() -> None:
    assert same_codec(Codec("opus", 48000, 2, "stereo=1"), Codec("OPUS", 48000, 2, ""))
    assert same_codec(Codec("VP8", 90000, 1, "max-fs=3600"), Codec("vp8", 90000))
    assert not same_codec(Codec("telephone-event", 8000), Codec("telephone-event", 48000))
    assert not same_codec(Codec("L16", 48000, 2), Codec("L16", 48000, 1))
    assert not same_codec(Codec("VP9", 90000, 1, "profile-id=0"), Codec("VP9", 90000, 1, "profile-id=2"))
    assert not same_codec(Codec("PCMA", 8000), Codec("PCMU", 8000))


def test_static_payload_types_without_rtpmap() -> None:
    sdp = SessionDescription.parse(
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0 18 101 77\r\n"
        "a=fmtp:18 annexb=no\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
    got = codecs_of(sdp.media[0])
    assert got == [
        ("0", Codec("PCMU", 8000)),
        ("18", Codec("G729", 8000, 1, "annexb=no")),
        ("101", Codec("telephone-event", 8000)),
    ]  # 77 has no rtpmap and is not static: unknown, left out
    assert [config_name_of(c) for _, c in got] == ["ulaw", "g729", "telephone-event"]
