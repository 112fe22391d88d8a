from __future__ import annotations

import json

import pytest

from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.lines import Direction, Origin
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sdp.plan import CodecPlan, MediaState
from wcs_trio.core.sdp.translate import (
    SipMedia,
    WebRtcMedia,
    answer_sip_reoffer,
    browser_answer_to_sip,
    browser_offer_to_sip,
    hold_reoffer,
    media_targets,
    sip_answer_to_browser,
    sip_offer_to_browser,
)

from .conftest import vector

SIP = SipMedia("192.0.2.1", {"audio": 20000, "video": 20002})
ORIGIN = Origin("wcs-trio", "42", 1, address="192.0.2.1")
WEBRTC = WebRtcMedia(
    ice_ufrag="gw01",
    ice_pwd="0123456789abcdefghijklmn",
    fingerprint="sha-256 " + ":".join(["AB"] * 32),
    address="192.0.2.1",
    port=30000,
    candidates=("1 1 udp 2130706431 192.0.2.1 30000 typ host",),
)
WEBRTC_ONLY_ATTRS = {
    "ice-ufrag", "ice-pwd", "ice-options", "candidate", "fingerprint", "setup", "mid",
    "group", "msid", "msid-semantic", "ssrc", "ssrc-group", "extmap", "extmap-allow-mixed",
    "rtcp-mux", "rtcp-rsize", "rtcp", "rtcp-xr",
}
SIP_HEAD = "v=0\r\no=pbx 77 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"


def chromium() -> SessionDescription:
    return SessionDescription.parse(vector("chromium_offer_audio_video.sdp"))


def all_attribute_names(sdp: SessionDescription) -> set[str]:
    return {a.name for a in sdp.attributes} | {a.name for m in sdp.media for a in m.attributes}


@pytest.mark.parametrize("name", ["chromium_offer_audio_video.sdp", "firefox_offer_audio_video.sdp"])
def test_browser_offer_to_sip_drops_webrtc_only_lines(name: str) -> None:
    sip, plan = browser_offer_to_sip(SessionDescription.parse(vector(name)), SIP, ORIGIN)
    assert not all_attribute_names(sip) & WEBRTC_ONLY_ATTRS
    assert [(m.kind, m.port, m.proto) for m in sip.media] == [
        ("audio", 20000, "RTP/AVP"),
        ("video", 20002, "RTP/AVP"),
    ]
    assert sip.connection.address == "192.0.2.1" and sip.origin == ORIGIN
    text = sip.to_text()
    for gone in ("rtx/", "red/", "ulpfec", "goog-remb", "transport-cc", "a=rtcp-fb:96 nack\r\n"):
        assert gone not in text
    # every video format had the same kept feedback: one wildcard line each (RFC 4585 §4.2)
    assert "a=rtcp-fb:* nack pli\r\n" in text and "a=rtcp-fb:* ccm fir\r\n" in text
    for media in sip.media:  # no payload type listed twice, each has its rtpmap
        assert len(media.formats) == len(set(media.formats))
        assert all(media.rtpmap(pt) for pt in media.formats)
    assert [(m.browser_index, m.sip_index) for m in plan.media] == [(0, 0), (1, 1)]
    assert SessionDescription.parse(text) == sip


def test_outgoing_audio_video_answered_audio_only_rejects_video() -> None:
    offer = chromium()
    sip_offer, plan = browser_offer_to_sip(offer, SIP, ORIGIN)
    sip_answer = SessionDescription.parse(vector("asterisk_answer_audio.sdp"))
    answer, plan = sip_answer_to_browser(offer, sip_offer, sip_answer, plan, WEBRTC, ORIGIN)
    audio, video = answer.media
    assert (audio.port, audio.proto, audio.formats) == (30000, "UDP/TLS/RTP/SAVPF", ["8", "126"])
    assert audio.get("mid") == "0" and audio.get("setup") == "passive"
    assert audio.get("ice-ufrag") == "gw01" and audio.get("fingerprint") == WEBRTC.fingerprint
    assert audio.has("rtcp-mux") and audio.has("end-of-candidates")
    assert audio.get("candidate") == WEBRTC.candidates[0]
    assert audio.direction is Direction.SENDRECV and audio.has("msid")
    assert answer.has("ice-lite") and answer.get("group") == "BUNDLE 0"
    assert (video.port, video.get("mid"), len(video.formats)) == (0, "1", 1)
    a, v = plan.media
    assert plan.negotiated and not plan.transcoding
    assert a.state is MediaState.ACTIVE and v.state is MediaState.REJECTED
    assert (a.browser.name, a.browser.send_pt, a.sip.name, a.sip.send_pt) == ("PCMA", 8, "PCMA", 8)
    assert (a.browser_dtmf.send_pt, a.sip_dtmf.send_pt, a.sip_dtmf.recv_pt) == (126, 101, 126)
    # The answer parses again (what Chromium gets is well-formed SDP).
    assert SessionDescription.parse(answer.to_text()) == answer


def test_outgoing_audio_only_opus_pass_through_declares_the_devices_fmtp() -> None:
    offer = chromium()
    del offer.media[1]
    sip_offer, plan = browser_offer_to_sip(offer, SIP, ORIGIN)
    assert len(sip_offer.media) == 1
    sip_answer = SessionDescription.parse(
        SIP_HEAD + "m=audio 7000 RTP/AVP 111 126\r\na=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 stereo=0;useinbandfec=1\r\na=rtpmap:126 telephone-event/8000\r\n"
    )
    answer, plan = sip_answer_to_browser(offer, sip_offer, sip_answer, plan, WEBRTC, ORIGIN)
    assert answer.media[0].fmtp("111") == "stereo=0;useinbandfec=1"
    # telephone-event at opus' clock rate on the browser side, 8000 on the SIP side
    assert answer.media[0].formats == ["111", "110"]
    assert plan.media[0].browser_dtmf.clock_rate == 48000 and plan.media[0].sip_dtmf.clock_rate == 8000
    assert not plan.transcoding


def test_sip_answer_with_codec_the_browser_lacks_flags_transcoding() -> None:
    offer = chromium()
    sip_offer, plan = browser_offer_to_sip(offer, SIP, ORIGIN)
    sip_offer.media[0].formats.append("18")  # as the codec policy adds it
    sip_offer.media[0].add("rtpmap", "18 G729/8000")
    sip_answer = SessionDescription.parse(
        SIP_HEAD + "m=audio 7000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
        "m=video 7002 RTP/AVP 108\r\na=rtpmap:108 H264/90000\r\n"
        "a=fmtp:108 profile-level-id=42e01f;packetization-mode=1\r\n"
    )
    answer, plan = sip_answer_to_browser(
        offer, sip_offer, sip_answer, plan, WEBRTC, ORIGIN, transcodable={"pcma", "opus"}
    )
    audio, video = plan.media
    assert audio.transcode and (audio.browser.name, audio.sip.name) == ("opus", "G729")
    assert answer.media[0].formats == ["111"]  # no DTMF: the SIP side has none
    assert not video.transcode and video.browser.send_pt == 108
    assert plan.transcoding and plan.as_json()["transcoding"] is True


def test_h264_pass_through_picks_the_browsers_matching_variant() -> None:
    offer = chromium()
    sip_offer, plan = browser_offer_to_sip(offer, SIP, ORIGIN)
    sip_answer = SessionDescription.parse(
        SIP_HEAD + "m=audio 7000 RTP/AVP 0\r\n"
        "m=video 7002 RTP/AVP 114\r\na=rtpmap:114 H264/90000\r\n"
        "a=fmtp:114 profile-level-id=42e00d\r\na=rtcp-fb:114 nack pli\r\n"
    )
    answer, plan = sip_answer_to_browser(offer, sip_offer, sip_answer, plan, WEBRTC, ORIGIN)
    video = answer.media[1]
    assert video.formats == ["114"]  # 42e01f with packetization-mode 0
    assert video.fmtp("114") == "profile-level-id=42e00d"
    assert video.rtcp_fb("114") == ["nack pli"]  # what the device answered
    assert not plan.transcoding


def test_codec_plan_is_json_and_round_trips() -> None:
    offer = chromium()
    sip_offer, plan = browser_offer_to_sip(offer, SIP, ORIGIN)
    answer = SessionDescription.parse(vector("asterisk_answer_audio.sdp"))
    _, plan = sip_answer_to_browser(offer, sip_offer, answer, plan, WEBRTC, ORIGIN)
    data = json.loads(json.dumps(plan.as_json()))
    assert data["media"][0]["sip"]["name"] == "PCMA" and data["media"][1]["state"] == "rejected"
    assert CodecPlan.from_json(data) == plan


LINPHONE_BROWSER_ANSWER = (
    "v=0\r\no=- 8 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 96 100\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n"
    "a=rtpmap:96 opus/48000/2\r\na=fmtp:96 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:100 telephone-event/8000\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF {vp8}\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=recvonly\r\n"
    "a=rtpmap:{vp8} VP8/90000\r\na=rtcp-fb:{vp8} nack pli\r\n"
)


def test_incoming_call_sip_offer_to_browser_and_back() -> None:
    sip_offer = SessionDescription.parse(vector("linphone_offer_audio_video.sdp"))
    offer, plan = sip_offer_to_browser(sip_offer, WEBRTC, ORIGIN)
    audio, video = offer.media
    assert offer.has("ice-lite") and offer.get("group") == "BUNDLE 0 1"
    assert audio.get("setup") == "actpass" and audio.proto == "UDP/TLS/RTP/SAVPF"
    assert audio.formats == ["96", "97", "98", "0", "8", "18", "101", "99", "100"]
    # Linphone's video 96 (VP8) and 97 (H264) collide with audio 96 (opus) and
    # 97 (speex) inside the bundle: renumbered, fmtp following the number.
    vp8 = next(pt for pt in video.formats if video.rtpmap(pt).encoding == "VP8")
    assert not set(video.formats) & set(audio.formats)
    assert video.fmtp(video.formats[1]) == "profile-level-id=42801F"
    assert video.rtcp_fb(vp8) == ["nack pli", "ccm fir"]
    assert not any(a.name in ("rtcp", "rtcp-xr") for a in audio.attributes)

    browser_answer = SessionDescription.parse(LINPHONE_BROWSER_ANSWER.format(vp8=vp8))
    sip_answer, plan = browser_answer_to_sip(sip_offer, offer, browser_answer, plan, SIP, ORIGIN)
    a, v = sip_answer.media
    # telephone-event at the clock of the codec on each leg (RFC 4733 §2.1)
    assert (a.port, a.proto, a.formats) == (20000, "RTP/AVP", ["96", "101"])
    assert (v.port, v.formats, v.direction) == (20002, ["96"], Direction.RECVONLY)
    assert v.rtcp_fb("96") == ["nack pli"]
    assert (plan.media[0].browser_dtmf.clock_rate, plan.media[0].sip_dtmf.clock_rate) == (8000, 48000)
    pv = plan.media[1]
    assert (pv.browser.send_pt, pv.sip.send_pt, pv.browser_direction) == (int(vp8), 96, "recvonly")
    assert not all_attribute_names(sip_answer) & WEBRTC_ONLY_ATTRS
    assert media_targets(sip_answer) == [("audio", "192.0.2.1", 20000), ("video", "192.0.2.1", 20002)]


def test_incoming_offer_with_t38_and_second_audio_rejects_them() -> None:
    sip_offer = SessionDescription.parse(
        SIP_HEAD + "m=audio 7000 RTP/AVP 8\r\nm=image 7004 udptl t38\r\n"
        "m=audio 7006 RTP/AVP 0\r\nm=audio 7008 RTP/SAVP 0\r\n"
    )
    offer, plan = sip_offer_to_browser(sip_offer, WEBRTC, ORIGIN)
    assert len(offer.media) == 1
    answer = SessionDescription.parse(
        "v=0\r\no=- 8 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 8\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
    )
    sip_answer, plan = browser_answer_to_sip(sip_offer, offer, answer, plan, SIP, ORIGIN)
    assert [m.port for m in sip_answer.media] == [20000, 0, 0, 0]
    assert [m.kind for m in sip_answer.media] == ["audio", "image", "audio", "audio"]
    assert [m.state.value for m in plan.media] == ["active", "rejected", "rejected", "rejected"]


def test_browser_answer_with_codec_missing_from_sip_offer_transcodes() -> None:
    sip_offer = SessionDescription.parse(SIP_HEAD + "m=audio 7000 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n")
    offer, plan = sip_offer_to_browser(sip_offer, WEBRTC, ORIGIN)
    offer.media[0].formats.insert(0, "111")  # as the browser policy adds opus
    offer.media[0].add("rtpmap", "111 opus/48000/2")
    answer = SessionDescription.parse(
        "v=0\r\no=- 8 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n"
    )
    sip_answer, plan = browser_answer_to_sip(sip_offer, offer, answer, plan, SIP, ORIGIN)
    assert sip_answer.media[0].formats == ["18"]
    assert plan.media[0].transcode


def test_offers_without_usable_streams_are_refused() -> None:
    offer = chromium()
    for media in offer.media:
        media.port = 0
    with pytest.raises(SdpError, match="no audio or video"):
        browser_offer_to_sip(offer, SIP, ORIGIN)
    with pytest.raises(SdpError, match="no audio or video"):
        sip_offer_to_browser(SessionDescription.parse(SIP_HEAD + "m=image 7004 udptl t38\r\n"), WEBRTC, ORIGIN)


def test_hold_and_unhold_reoffers_bump_the_version() -> None:
    first, _ = browser_offer_to_sip(chromium(), SIP, ORIGIN)
    held = hold_reoffer(first, hold=True)
    assert [m.direction for m in held.media] == [Direction.SENDONLY] * 2
    assert (held.origin.sess_id, held.origin.sess_version) == ("42", 2)
    resumed = hold_reoffer(held, hold=False)
    assert [m.direction for m in resumed.media] == [Direction.SENDRECV] * 2
    assert resumed.origin.sess_version == 3
    assert first.media[0].direction is Direction.SENDRECV  # the original is untouched


def _incoming_call() -> tuple[SessionDescription, SessionDescription, CodecPlan]:
    sip_offer = SessionDescription.parse(vector("kamailio_rtpengine_offer.sdp"))
    offer, plan = sip_offer_to_browser(sip_offer, WEBRTC, ORIGIN)
    browser_answer = SessionDescription.parse(
        "v=0\r\no=- 8 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 8 101\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
        "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
    answer, plan = browser_answer_to_sip(sip_offer, offer, browser_answer, plan, SIP, ORIGIN)
    assert answer.media[0].get("ptime") == "20"
    return sip_offer, answer, plan


@pytest.mark.parametrize(
    ("change", "direction", "held"),
    [
        (("a=sendrecv", "a=sendonly"), Direction.RECVONLY, True),
        (("a=sendrecv", "a=inactive"), Direction.INACTIVE, True),
        (("c=IN IP4 203.0.113.5", "c=IN IP4 0.0.0.0"), Direction.SENDRECV, True),
        (("a=ptime:20", "a=ptime:20"), Direction.SENDRECV, False),
    ],
)
def test_answering_sip_reoffers(change: tuple[str, str], direction: Direction, held: bool) -> None:
    sip_offer, answer, plan = _incoming_call()
    reoffer = SessionDescription.parse(sip_offer.to_text().replace(*change))
    new, new_plan = answer_sip_reoffer(reoffer, answer, plan)
    assert new.media[0].direction is direction
    assert new_plan.media[0].held is held and plan.media[0].held is False
    bumped = direction is not Direction.SENDRECV
    assert new.origin.sess_version == answer.origin.sess_version + bumped
    assert new.origin.sess_id == answer.origin.sess_id


def test_reoffer_dropping_the_negotiated_codec_is_refused() -> None:
    sip_offer, answer, plan = _incoming_call()
    reoffer = SessionDescription.parse(sip_offer.to_text().replace("RTP/AVP 8 0 101", "RTP/AVP 0 101"))
    with pytest.raises(SdpError, match="drops the negotiated PCMA") as info:
        answer_sip_reoffer(reoffer, answer, plan)
    assert info.value.status == 488
    grown = SessionDescription.parse(sip_offer.to_text() + "m=video 30050 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n")
    new, _ = answer_sip_reoffer(grown, answer, plan)
    assert [m.port for m in new.media] == [20000, 0]
