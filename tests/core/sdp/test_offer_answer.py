from __future__ import annotations

import pytest

from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.lines import Direction as D
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sdp.offer_answer import (
    answer_direction,
    hold_direction,
    is_on_hold,
    negotiate,
    select_codecs,
    with_next_version,
)
from wcs_trio.core.sdp.rtpcodec import Codec

from .conftest import vector

HEAD = "v=0\r\no=- 5 7 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
OFFER = HEAD + (
    "m=audio 4000 RTP/AVP 96 8 0 101\r\na=rtpmap:96 opus/48000/2\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "m=video 4002 RTP/AVP 100 102\r\na=rtpmap:100 VP8/90000\r\na=rtpmap:102 H264/90000\r\n"
    "a=fmtp:102 profile-level-id=42e01f;packetization-mode=1\r\n"
)


@pytest.mark.parametrize(
    ("offered", "local", "answer"),
    [
        (D.SENDRECV, D.SENDRECV, D.SENDRECV),
        (D.SENDONLY, D.SENDRECV, D.RECVONLY),
        (D.RECVONLY, D.SENDRECV, D.SENDONLY),
        (D.INACTIVE, D.SENDRECV, D.INACTIVE),
        (D.SENDRECV, D.RECVONLY, D.RECVONLY),
        (D.SENDONLY, D.SENDONLY, D.INACTIVE),
    ],
)
def test_answer_direction_rfc3264_6_1(offered: D, local: D, answer: D) -> None:
    assert answer_direction(offered, local) is answer


@pytest.mark.parametrize(
    ("current", "hold", "new"),
    [
        (D.SENDRECV, True, D.SENDONLY),
        (D.RECVONLY, True, D.INACTIVE),
        (D.SENDONLY, False, D.SENDRECV),
        (D.INACTIVE, False, D.RECVONLY),
    ],
)
def test_hold_direction_rfc3264_8_4(current: D, hold: bool, new: D) -> None:
    assert hold_direction(current, hold) is new


def test_select_codecs_uses_offer_numbers_in_our_order() -> None:
    audio = SessionDescription.parse(OFFER).media[0]
    got = select_codecs(audio, [Codec("PCMA", 8000), Codec("opus", 48000, 2), Codec("G729", 8000)])
    assert [pt for pt, _ in got] == ["8", "96"]


def test_negotiate_pairs_renumbered_answer_and_rejected_video() -> None:
    answer = SessionDescription.parse(
        HEAD + "m=audio 5000 RTP/AVP 8 98\r\na=rtpmap:98 telephone-event/8000\r\na=sendonly\r\n"
        "m=video 0 RTP/AVP 100\r\n"
    )
    audio, video = negotiate(SessionDescription.parse(OFFER), answer)
    assert audio.accepted and audio.direction is D.SENDONLY
    assert audio.codec == ("8", "8", Codec("PCMA", 8000))
    assert audio.dtmf(8000) == ("101", "98", Codec("telephone-event", 8000))
    assert not video.accepted


@pytest.mark.parametrize(
    ("answer_media", "message"),
    [
        ("m=audio 5000 RTP/AVP 8\r\nm=video 0 RTP/AVP 1\r\nm=audio 0 RTP/AVP 8\r\n",
         "has 3 m= lines, the offer had 2"),
        ("m=video 5000 RTP/AVP 8\r\nm=video 0 RTP/AVP 1\r\n", "is video, offered audio"),
        ("m=audio 5000 RTP/AVP 18\r\nm=video 0 RTP/AVP 1\r\n", "no codec from the offer"),
    ],
)
def test_negotiate_refuses_answers_breaking_rfc3264_6(answer_media: str, message: str) -> None:
    with pytest.raises(SdpError, match=message):
        negotiate(SessionDescription.parse(OFFER), SessionDescription.parse(HEAD + answer_media))


def test_missing_trailing_lines_are_taken_as_rejected() -> None:
    # An IVR answering an audio+video offer with its audio line only.
    results = negotiate(SessionDescription.parse(OFFER), SessionDescription.parse(HEAD + "m=audio 5000 RTP/AVP 8\r\n"))
    assert [(r.kind, r.accepted) for r in results] == [("audio", True), ("video", False)]


def test_hold_recognised_by_direction_and_by_zero_address() -> None:
    old = SessionDescription.parse(vector("old_style_hold.sdp"))
    assert is_on_hold(old, old.media[0])
    held = SessionDescription.parse(vector("asterisk_answer_hold.sdp"))
    assert is_on_hold(held, held.media[0])
    live = SessionDescription.parse(vector("asterisk_answer_audio.sdp"))
    assert not is_on_hold(live, live.media[0])


def test_next_version_bumps_only_when_changed() -> None:
    previous = SessionDescription.parse(OFFER)
    same = SessionDescription.parse(OFFER.replace("o=- 5 7", "o=- 9 1"))
    assert with_next_version(same, previous).origin.text() == "- 5 7 IN IP4 192.0.2.1"
    changed = SessionDescription.parse(OFFER)
    changed.media[0].direction = D.SENDONLY
    new = with_next_version(changed, previous)
    assert (new.origin.sess_id, new.origin.sess_version) == ("5", 8)
    assert with_next_version(changed, None) is changed
