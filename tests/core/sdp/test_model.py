from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.lines import Direction, RtpMap
from wcs_trio.core.sdp.model import SessionDescription

VECTORS = sorted((Path(__file__).parent / "vectors").glob("*.sdp"))


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_unchanged_vector_round_trips_byte_for_byte(path: Path) -> None:
    body = path.read_bytes()
    sdp = SessionDescription.parse(body)
    assert sdp.to_bytes() == body
    # Parsing the output again gives an equal model.
    assert SessionDescription.parse(sdp.to_bytes()) == sdp


def test_vectors_cover_every_user_agent_we_name() -> None:
    stems = " ".join(p.stem for p in VECTORS)
    for agent in ("chromium", "firefox", "baresip", "linphone", "asterisk", "kamailio"):
        assert agent in stems


def test_chromium_offer_structure(chromium_offer: bytes) -> None:
    sdp = SessionDescription.parse(chromium_offer)
    assert [m.kind for m in sdp.media] == ["audio", "video"]
    audio, video = sdp.media
    assert audio.proto == "UDP/TLS/RTP/SAVPF"
    assert audio.formats[0] == "111"
    assert audio.rtpmap("111") == RtpMap(111, "opus", 48000, 2)
    assert audio.fmtp_params("111") == {"minptime": "10", "useinbandfec": "1"}
    assert audio.mid == "0" and video.mid == "1"
    assert sdp.get("group") == "BUNDLE 0 1"
    assert sdp.direction_of(video) is Direction.SENDRECV
    assert "nack pli" in video.rtcp_fb("96")
    assert sdp.connection_of(audio).address == "0.0.0.0"


def test_attribute_order_and_unknown_attributes_are_kept() -> None:
    body = (
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n"
        "m=audio 5 RTP/AVP 0\r\na=x-zzz:1\r\na=rtpmap:0 PCMU/8000\r\na=aaa\r\n"
    )
    sdp = SessionDescription.parse(body)
    assert [a.name for a in sdp.media[0].attributes] == ["x-zzz", "rtpmap", "aaa"]
    sdp.media[0].port = 6
    assert sdp.to_text() == body.replace("audio 5 ", "audio 6 ")


def test_edited_values_are_written_canonically() -> None:
    sdp = SessionDescription.parse((Path(__file__).parent / "vectors" / "lf_noncanonical.sdp").read_text())
    assert sdp.origin.sess_id == "7"
    text = sdp.to_text()
    assert "o=-  7 1 IN IP4 10.0.0.1\n" in text  # unchanged: original spacing kept
    sdp.origin = attrs.evolve(sdp.origin, sess_version=2)
    assert "o=- 7 2 IN IP4 10.0.0.1\n" in sdp.to_text()
    assert sdp.eol == "\n" and sdp.to_text().endswith("PCMU/8000\n")


def test_direction_setter_replaces_in_place() -> None:
    sdp = SessionDescription.parse(Path(__file__).parent.joinpath("vectors/asterisk_answer_audio.sdp").read_bytes())
    audio = sdp.media[0]
    audio.direction = Direction.SENDONLY
    names = [a.name for a in audio.attributes]
    assert names[-1] == "sendonly" and "sendrecv" not in names
    assert sdp.media[1].rejected and sdp.media[1].direction is None


def test_keep_formats_drops_their_attributes(chromium_offer: bytes) -> None:
    video = SessionDescription.parse(chromium_offer).media[1]
    video.keep_formats(["102", "96"])
    assert video.formats == ["102", "96"]
    pts = {a.value.split()[0] for a in video.attributes if a.name in ("rtpmap", "fmtp", "rtcp-fb")}
    assert pts == {"102", "96"}


BAD = [
    ("", None, "empty SDP body"),
    ("o=- 1 1 IN IP4 h\r\n", 1, "must start with v="),
    ("v=1\r\n", 1, "unsupported SDP version"),
    ("v=0\r\ns=-\r\nt=0 0\r\n", None, "no o= line"),
    ("v=0\r\no=- 1 1 IN IP4\r\n", 2, "o= needs 6 fields"),
    ("v=0\r\no=- 1 x IN IP4 h\r\n", 2, "sess-version"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n", 5, "m= port"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP\r\n", 5, "m= needs"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\nt=0 0\r\n", 6, "not allowed in a media"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nx=1\r\n", 4, "unknown SDP line type x="),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\na sendrecv\r\n", 5, "not an SDP"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n\r\nt=0 0\r\n", 4, "not an SDP"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nb=AS\r\n", 4, "b= must be"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4\r\n", 4, "c= needs 3"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\ns=-\r\n", 4, "second s="),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nr=1\r\n", 4, "r= before any t="),
    (b"v=0\r\no=\xff\r\n", None, "not UTF-8"),
]


@pytest.mark.parametrize(("body", "line_no", "message"), BAD)
def test_malformed_sdp_names_the_line(body: str, line_no: int | None, message: str) -> None:
    with pytest.raises(SdpError) as info:
        SessionDescription.parse(body)
    err = info.value
    assert message in err.reason
    assert err.line_no == line_no
    assert err.status == 488
    if line_no is not None:
        lines = body.split("\r\n") if isinstance(body, str) else []
        assert err.line == lines[line_no - 1]
        assert f"line {line_no}" in err.reason


def test_copy_is_independent(chromium_offer: bytes) -> None:
    sdp = SessionDescription.parse(chromium_offer)
    other = sdp.copy()
    other.media[0].remove("candidate")
    assert sdp.media[0].has("candidate") and not other.media[0].has("candidate")
