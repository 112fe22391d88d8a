from __future__ import annotations

import attrs
import pluggy
import pytest

from wcs_trio.core.config import Settings
from wcs_trio.core.pluginmanager import make_plugin_manager
from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.lines import Origin
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sdp.translate import WebRtcMedia, sip_offer_to_browser

from .conftest import encodings, sip_offer_from, vector

CHROMIUM_AUDIO = [
    "opus/48000", "PCMA/8000", "PCMU/8000", "G722/8000",
    "telephone-event/48000", "telephone-event/8000",
]


def rewrite(pm: pluggy.PluginManager, sdp: SessionDescription, settings: Settings, **options: object) -> SessionDescription:
    pm.hook.wcs_rewrite_sip_offer(sdp=sdp, call_options=dict(options), settings=settings)
    return sdp


def test_default_policy_on_a_chromium_offer(pm: pluggy.PluginManager, settings: Settings) -> None:
    sdp = rewrite(pm, sip_offer_from(), settings)
    audio, video = sdp.media
    # `codecs` order; G729 and speex16 (not in the browser, not transcodable) left
    # out; CN (outside `codecs`) dropped; telephone-event kept.
    assert encodings(audio) == CHROMIUM_AUDIO
    assert audio.formats[:4] == ["111", "8", "0", "9"]
    # H.264 only in the configured profiles (42e01f constrained baseline, 640028
    # high); VP8 after it; no VP9/AV1/red/rtx.
    assert encodings(video) == ["H264/90000/42e01f/1", "H264/90000/42e01f/0", "VP8/90000"]
    assert len(set(audio.formats + video.formats)) == len(audio.formats + video.formats)


def test_lean_chromium_sip_offer_fits_one_udp_datagram(pm: pluggy.PluginManager, settings: Settings) -> None:
    sdp = rewrite(pm, sip_offer_from(), settings, sipSDP=["b=AS:3000", "b-TIAS:2500000"])
    size = len(sdp.to_bytes())
    # The INVITE around it (headers ~ 500 bytes) must stay under 1300 (RFC 3261 §18.1.1).
    assert size < 800, size


def test_codecs_order_and_membership(pm: pluggy.PluginManager, settings: Settings) -> None:
    custom = attrs.evolve(settings, codecs=("ulaw", "alaw", "vp8", "h264"))
    audio, video = rewrite(pm, sip_offer_from(), custom).media
    # telephone-event kept although not listed
    assert encodings(audio) == ["PCMU/8000", "PCMA/8000", "telephone-event/48000", "telephone-event/8000"]
    assert encodings(video)[0] == "VP8/90000"


def test_codecs_exclude_sip(pm: pluggy.PluginManager, settings: Settings) -> None:
    custom = attrs.evolve(settings, codecs_exclude_sip=("opus", "g729", "speex16", "vp8"))
    audio, video = rewrite(pm, sip_offer_from(), custom).media
    assert "opus/48000" not in encodings(audio) and "G729/8000" not in encodings(audio)
    assert "VP8/90000" not in encodings(video)


def test_allow_outside_codecs_keeps_the_browsers_extra_codecs(pm: pluggy.PluginManager, settings: Settings) -> None:
    custom = attrs.evolve(settings, allow_outside_codecs=True)
    audio, video = rewrite(pm, sip_offer_from(), custom).media
    assert "CN/8000" in encodings(audio)
    assert encodings(video)[3:] == ["AV1/90000", "VP9/90000", "VP9/90000"]
    assert not any("4d001f" in e or "42001f" in e for e in encodings(video))  # profiles still apply
    assert encodings(audio)[-2:] == ["telephone-event/48000", "telephone-event/8000"]


@pytest.mark.parametrize(
    ("strip", "gone"),
    [
        ("PCMA,g722, Opus", {"PCMA/8000", "G722/8000", "opus/48000"}),
        ("alaw,ULAW", {"PCMA/8000", "PCMU/8000"}),
        ("telephone-event", {"telephone-event/48000", "telephone-event/8000"}),
        ("G729,speex", {"G729/8000", "speex/16000"}),
        ("SILK,G722", {"G722/8000"}),
    ],
)
def test_strip_codecs_is_case_insensitive(pm: pluggy.PluginManager, settings: Settings, strip: str, gone: set[str]) -> None:
    audio = rewrite(pm, sip_offer_from(), settings, stripCodecs=strip).media[0]
    assert encodings(audio) == [e for e in CHROMIUM_AUDIO if e not in gone]


def test_stripping_every_video_codec_disables_video(pm: pluggy.PluginManager, settings: Settings) -> None:
    sdp = rewrite(pm, sip_offer_from(), settings, stripCodecs="h264,VP8")
    assert sdp.media[1].port == 0 and len(sdp.media[1].formats) == 1
    assert sdp.media[0].port == 20000
    SessionDescription.parse(sdp.to_text())  # still valid SDP


def test_h264_profiles_and_packetization_mode_1_only(pm: pluggy.PluginManager, settings: Settings) -> None:
    custom = attrs.evolve(settings, proxy_use_h264_packetization_mode_1_only=True)
    video = rewrite(pm, sip_offer_from(), custom).media[1]
    assert encodings(video) == ["H264/90000/42e01f/1", "VP8/90000"]
    main = attrs.evolve(settings, profiles=("4d001f",))
    video = rewrite(pm, sip_offer_from(), main).media[1]
    assert encodings(video) == ["H264/90000/4d001f/1", "H264/90000/4d001f/0", "VP8/90000"]


def test_codecs_nobody_can_produce_are_not_offered(pm: pluggy.PluginManager, settings: Settings) -> None:
    # The browser offers VP8 only: H.264 cannot be transcoded, so it is not offered to SIP.
    firefox = sip_offer_from("firefox_offer_audio_video.sdp")
    firefox.media[1].keep_formats(["120"])
    video = rewrite(pm, firefox, settings).media[1]
    assert encodings(video) == ["VP8/90000"]
    # The browser offers PCMA only: PCMU and Opus are transcodable, so they are offered too.
    chromium = sip_offer_from()
    chromium.media[0].keep_formats(["8"])
    audio = rewrite(pm, chromium, settings).media[0]
    assert encodings(audio) == ["opus/48000", "PCMA/8000", "PCMU/8000"]


# -- the 200 OK answer to an incoming call ------------------------------------


def _answer() -> SessionDescription:
    return SessionDescription.parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 20000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    )


def test_answer_strip_removes_dtmf_and_refuses_removing_the_chosen_codec(pm: pluggy.PluginManager, settings: Settings) -> None:
    sdp = _answer()
    pm.hook.wcs_rewrite_sip_answer(sdp=sdp, call_options={"stripCodecs": "Telephone-Event"}, settings=settings)
    assert sdp.media[0].formats == ["8"]
    gateway_pm = make_plugin_manager(load_entry_points=False)  # SdpError is a Refusal
    with pytest.raises(SdpError, match="stripCodecs=pcma") as info:
        gateway_pm.hook.wcs_rewrite_sip_answer(sdp=_answer(), call_options={"stripCodecs": "PCMA"}, settings=settings)
    assert info.value.status == 488


# -- the browser offer of an incoming call -----------------------------------

WEBRTC = WebRtcMedia("u", "p" * 22, "sha-256 " + ":".join(["00"] * 32), "192.0.2.1", 30000)


def browser_offer(sip: SessionDescription, settings: Settings, pm: pluggy.PluginManager) -> SessionDescription:
    offer, _ = sip_offer_to_browser(sip, WEBRTC, Origin("-", "1", 1))
    pm.hook.wcs_rewrite_browser_offer(sdp=offer, call_options={}, settings=settings)
    return offer


def test_browser_offer_filtered_and_ordered_by_codecs(pm: pluggy.PluginManager, settings: Settings) -> None:
    audio = browser_offer(vector("linphone_offer_audio_video.sdp"), settings, pm).media[0]
    assert encodings(audio) == [
        "opus/48000", "PCMA/8000", "PCMU/8000", "G729/8000", "speex/16000",
        "telephone-event/48000", "telephone-event/16000", "telephone-event/8000",
    ]  # speex/8000 is outside `codecs`
    outside = attrs.evolve(settings, allow_outside_codecs=True)
    audio = browser_offer(vector("linphone_offer_audio_video.sdp"), outside, pm).media[0]
    assert "speex/8000" in encodings(audio)


def test_browser_offer_gets_browser_codecs_when_sip_offers_none(pm: pluggy.PluginManager, settings: Settings) -> None:
    g729_only = SessionDescription.parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
        "m=audio 7000 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
    audio = browser_offer(g729_only, settings, pm).media[0]
    assert encodings(audio) == [
        "G729/8000", "telephone-event/8000", "opus/48000", "PCMA/8000", "PCMU/8000", "G722/8000",
    ]
