"""CallMedia without sockets: generated media (generate_av_for_ua) and the REFER target's offer/answer.

A fake gateway holds real settings, a fake WebRTC endpoint whose leg records what it is
asked to send, and fake SIP streams; the bridge and generators run on trio's fake clock.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import av
import pytest
import trio

from wcs_trio.core.calls.media import CallMedia
from wcs_trio.core.config import Settings
from wcs_trio.core.media.generator import vp8_frame_of
from wcs_trio.core.media.transcode import TRANSCODABLE
from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.lines import Direction
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sdp.plan import MediaState
from wcs_trio.core.sdp.rtpcodec import codecs_of

VECTORS = Path(__file__).resolve().parents[1] / "sdp" / "vectors"
CHROMIUM_OFFER = (VECTORS / "chromium_offer_audio_video.sdp").read_text()
SIP_AUDIO_ONLY = (VECTORS / "asterisk_answer_audio.sdp").read_text()  # PCMA + telephone-event, video 0


@attrs.frozen
class FakeCandidate:
    host: str = "127.0.0.1"
    port: int = 31000

    def to_sdp(self) -> str:
        return f"candidate:1 1 udp 2130706431 {self.host} {self.port} typ host"


@attrs.define(eq=False)
class FakeLeg:
    local: Any = attrs.Factory(lambda: SimpleNamespace(
        ice_ufrag="gwuf", ice_pwd="gatewaypassword0123456", fingerprint="sha-256 AA:BB",
        candidates=[FakeCandidate()], setup="passive"))
    on_rtp: Any = None
    on_rtcp: Any = None
    sent: list[bytes] = attrs.Factory(list)

    def send_rtp(self, packet: bytes) -> bool:
        self.sent.append(bytes(packet))
        return True

    def send_rtcp(self, packet: bytes) -> bool:
        return True

    def set_remote(self, *args: object) -> None:
        pass


@attrs.define(eq=False)
class FakeEndpoint:
    leg: FakeLeg = attrs.Factory(FakeLeg)

    def create_leg(self, **_: object) -> FakeLeg:
        return self.leg

    def create_offer_leg(self, **_: object) -> FakeLeg:
        return self.leg

    def close_leg(self, leg: FakeLeg) -> None:
        pass


@attrs.define(eq=False)
class FakeStream:
    kind: str
    local_port: int
    on_rtp: Any = None
    on_rtcp: Any = None
    rtcp_mux: bool = False
    remote: Any = None
    sent: list[bytes] = attrs.Factory(list)

    def set_remote(self, rtp: Any, rtcp: Any = None, *, rtcp_mux: bool = False) -> None:
        self.remote = rtp

    def send_rtp(self, packet: Any) -> bool:
        self.sent.append(bytes(packet))
        return True

    def send_rtcp(self, packet: Any) -> bool:
        return True

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep_forever()

    def close(self) -> None:
        pass


def _noop(**_: object) -> None:
    return None


def make_media(generate: tuple[str, ...] = ("all",), timeout_ms: int = 500) -> tuple[CallMedia, FakeLeg]:
    settings = Settings(ip="127.0.0.1", generate_av_for_ua=generate, rtp_generator_start_timeout=timeout_ms)
    endpoint = FakeEndpoint()
    hook = SimpleNamespace(wcs_rewrite_sip_offer=_noop, wcs_rewrite_browser_offer=_noop,
                           wcs_rewrite_sip_answer=_noop, wcs_codec_plan_chosen=_noop)
    gateway = SimpleNamespace(settings=settings, plugins=SimpleNamespace(hook=hook),
                              services={"webrtc": endpoint, "transcodable": TRANSCODABLE, "port_pool": None})
    media = CallMedia(gateway, {"callId": "c1"}, clock=trio.current_time)  # type: ignore[arg-type]
    media.streams.update(audio=FakeStream("audio", 40000), video=FakeStream("video", 40002))
    return media, endpoint.leg


@pytest.fixture
async def nursery() -> AsyncIterator[trio.Nursery]:
    async with trio.open_nursery() as nursery:
        yield nursery
        nursery.cancel_scope.cancel()


def by_pt(packets: list[bytes], pt: int) -> list[bytes]:
    return [p for p in packets if p[1] & 0x7F == pt]


def rtp(pt: int, seq: int, ts: int, ssrc: int, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, ts, ssrc) + payload


# ------------------------------------------------------------------ generated media


async def test_browser_answer_keeps_video_and_generators_fill_the_gaps(
        nursery: trio.Nursery, autojump_clock: trio.abc.Clock) -> None:
    media, leg = make_media()
    media.attach(nursery)
    media.outgoing_offer(CHROMIUM_OFFER)
    answer = media.outgoing_answer(SIP_AUDIO_ONLY, remote_user_agent="Asterisk PBX 18")
    audio, video = answer.media
    assert not video.rejected and video.mid == "1" and video.formats == ["96"]
    assert video.rtpmap("96").encoding == "VP8" and answer.direction_of(video) is Direction.SENDONLY
    for name in ("ice-ufrag", "ice-pwd", "fingerprint", "setup", "candidate"):
        assert video.get(name) == audio.get(name), name
    assert video.has("rtcp-mux") and video.get("msid")
    assert answer.get("group") == "BUNDLE 0 1"
    assert SessionDescription.parse(answer.to_text()).media[1].port == audio.port
    # The plan still says the SIP side has no video: nothing is relayed there.
    assert media.plan.by_kind("video").state is MediaState.REJECTED

    await trio.sleep(0.49)
    assert leg.sent == []
    await trio.sleep(0.5)  # t = 0.99: silence every 20 ms, VP8 every 100 ms, since 0.5
    silence = by_pt(leg.sent, 8)
    assert 24 <= len(silence) <= 26 and {p[12:] for p in silence} == {b"\xd5" * 160}
    frames: dict[int, list[bytes]] = {}
    for packet in by_pt(leg.sent, 96):
        frames.setdefault(struct.unpack_from("!I", packet, 4)[0], []).append(packet[12:])
    assert len(frames) == 5
    decoder = av.CodecContext.create("vp8", "r")
    decoded = [f for payloads in frames.values() for f in decoder.decode(av.Packet(vp8_frame_of(payloads)))]
    assert [(f.width, f.height) for f in decoded] == [(320, 240)] * 5

    # The SIP side's audio starts: silence stops, the relay continues its SSRC and numbers.
    last = silence[-1]
    stream = media.streams["audio"]
    stream.on_rtp(stream, memoryview(rtp(8, 100, 5000, 0xABC, b"\x55" * 160)))
    await trio.sleep(0.5)
    audio_after = by_pt(leg.sent, 8)[len(silence):]
    assert [p[12:] for p in audio_after] == [b"\x55" * 160]
    assert audio_after[0][8:12] == last[8:12]  # same SSRC
    assert struct.unpack_from("!H", audio_after[0], 2)[0] == (struct.unpack_from("!H", last, 2)[0] + 1) & 0xFFFF
    assert audio_after[0][1] & 0x80  # marker: a new talkspurt
    assert len(by_pt(leg.sent, 96)) > 5  # video goes on: the SIP side never sends any
    assert [g.kind for g in media.generators] == ["audio", "video"]
    assert media.generators[0].clock.stopped and not media.generators[1].clock.stopped


async def test_user_agent_not_selected_keeps_video_rejected_and_sends_nothing(
        nursery: trio.Nursery, autojump_clock: trio.abc.Clock) -> None:
    media, leg = make_media(generate=("freeswitch",))
    media.attach(nursery)
    media.outgoing_offer(CHROMIUM_OFFER)
    answer = media.outgoing_answer(SIP_AUDIO_ONLY, remote_user_agent="Asterisk PBX 18")
    assert answer.media[1].rejected and answer.get("group") == "BUNDLE 0"
    await trio.sleep(3.0)
    assert leg.sent == [] and media.generators == []


async def test_sip_audio_before_the_timeout_means_no_silence(
        nursery: trio.Nursery, autojump_clock: trio.abc.Clock) -> None:
    media, leg = make_media()
    media.attach(nursery)
    media.outgoing_offer(CHROMIUM_OFFER)
    media.outgoing_answer(SIP_AUDIO_ONLY)
    stream = media.streams["audio"]
    await trio.sleep(0.2)
    stream.on_rtp(stream, memoryview(rtp(8, 1, 0, 0xABC, b"\x55" * 160)))
    await trio.sleep(0.95)
    assert [p[12:] for p in by_pt(leg.sent, 8)] == [b"\x55" * 160]
    assert len(by_pt(leg.sent, 96)) == 7  # 0.5 .. 1.1 s (now 1.15): the SIP side has no video


async def test_incoming_call_gets_silence_until_sip_audio(
        nursery: trio.Nursery, autojump_clock: trio.abc.Clock) -> None:
    sip_offer = SIP_AUDIO_ONLY.replace("m=video 0 RTP/AVP 96\n", "")
    media, leg = make_media(generate=("asterisk",), timeout_ms=1000)
    media.attach(nursery)
    offer = media.incoming_offer(sip_offer, remote_user_agent="Asterisk PBX 18")
    pt = offer.media[0].formats[0]
    browser_answer = CHROMIUM_OFFER.split("m=video")[0].replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0")
    browser_answer = browser_answer.replace("111 63 9 0 8 13 110 126", pt).replace("a=setup:actpass", "a=setup:active")
    media.incoming_answer(browser_answer)
    await trio.sleep(0.99)
    assert leg.sent == []
    await trio.sleep(0.1)
    assert len(by_pt(leg.sent, int(pt))) in (5, 6)


# ------------------------------------------------------------------ REFER target


async def established(nursery: trio.Nursery) -> CallMedia:
    media, _ = make_media(generate=("none",))
    media.attach(nursery)
    media.outgoing_offer(CHROMIUM_OFFER)
    media.outgoing_answer(SIP_AUDIO_ONLY)
    return media


def target_answer(offer: SessionDescription, audio: str, video_port: int = 0) -> bytes:
    return (f"v=0\r\no=target 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n"
            f"m=audio 30000 RTP/AVP {audio}\r\na=sendrecv\r\n"
            f"m=video {video_port} RTP/AVP 96\r\n").encode()


async def test_transfer_offer_has_only_the_calls_codec(nursery: trio.Nursery) -> None:
    media = await established(nursery)
    offer = media.transfer_offer()
    audio, video = offer.media
    assert audio.formats == ["8", "126"]  # PCMA and telephone-event/8000, the browser's numbers
    assert audio.port == 40000 and video.port == 0
    assert offer.direction_of(audio) is Direction.SENDRECV


async def test_transfer_answered_with_same_codec_follows_the_target(nursery: trio.Nursery) -> None:
    media = await established(nursery)
    offer = media.transfer_offer()
    media.transfer_answered(offer, target_answer(offer, "8 126\r\na=rtpmap:126 telephone-event/8000"))
    audio = media.plan.by_kind("audio")
    assert audio.state is MediaState.ACTIVE and not audio.transcode and audio.sip_dtmf is not None
    assert media.streams["audio"].remote == ("192.0.2.20", 30000)
    assert media.sip_sent is offer


async def test_transfer_answered_with_other_codec_is_transcoded(nursery: trio.Nursery) -> None:
    media = await established(nursery)
    offer = media.transfer_offer()
    pcmu = offer.copy()
    pcmu.media[0].formats = ["0"]
    media.transfer_answered(pcmu, target_answer(pcmu, "0"))
    audio = media.plan.by_kind("audio")
    assert audio.transcode and audio.sip.name == "PCMU" and audio.sip_dtmf is None


async def test_transfer_answered_with_unbridgeable_codec_is_refused(nursery: trio.Nursery) -> None:
    media = await established(nursery)
    plan_before = media.plan
    offer = media.transfer_offer()
    g722 = offer.copy()
    g722.media[0].formats = ["9"]
    g722.media[0].remove("rtpmap")
    with pytest.raises(SdpError, match="G722"):
        media.transfer_answered(g722, target_answer(g722, "9"))
    with pytest.raises(SdpError, match="none of the call's streams"):
        media.transfer_answered(offer, target_answer(offer, "8").replace(b"audio 30000", b"audio 0"))
    assert media.plan is plan_before


# ------------------------------------------------------------------ offerless INVITE


BROWSER_RTPMAPS = {"96": "opus/48000/2", "8": "PCMA/8000", "0": "PCMU/8000", "9": "G722/8000",
                   "97": "telephone-event/8000"}


def browser_answer(pts: str) -> str:
    """What a browser answers to the offer made from the virtual SIP offer."""
    rtpmaps = "".join(f"a=rtpmap:{pt} {BROWSER_RTPMAPS[pt]}\r\n" for pt in pts.split())
    return ("v=0\r\no=- 42 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
            f"m=audio 9 UDP/TLS/RTP/SAVPF {pts}\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
            "a=ice-ufrag:brow\r\na=ice-pwd:browserpassword0123456\r\na=fingerprint:sha-256 CC:DD\r\n"
            f"a=setup:active\r\na=sendrecv\r\na=rtcp-mux\r\n{rtpmaps}")


def ack_answer(formats: str, rtpmaps: str = "", port: int = 30000) -> bytes:
    return (f"v=0\r\no=caller 7 7 IN IP4 192.0.2.30\r\ns=-\r\nc=IN IP4 192.0.2.30\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {formats}\r\n{rtpmaps}a=sendrecv\r\n").encode()


async def offered(nursery: trio.Nursery, pts: str = "96 97") -> tuple[CallMedia, FakeLeg, SessionDescription]:
    """An offerless call whose browser answered with ``pts``: the media and our 200 OK offer."""
    media, leg = make_media(generate=("none",))
    media.attach(nursery)
    media.incoming_offerless(remote_user_agent="SIPp")
    return media, leg, media.incoming_answer(browser_answer(pts))


def test_virtual_offer_has_the_configured_browser_audio_codecs() -> None:
    media, _ = make_media(generate=("none",))
    offer = media.incoming_offerless()
    virtual = media.virtual_offer
    assert virtual is not None and media.sip_offer is virtual
    assert [m.kind for m in virtual.media] == ["audio"] and virtual.connection.address == "0.0.0.0"
    # codecs=opus,alaw,ulaw,g729,speex16,g722,...: only what browsers decode, in that order.
    assert [(pt, c.name) for pt, c in codecs_of(virtual.media[0])] == [
        ("96", "opus"), ("8", "PCMA"), ("0", "PCMU"), ("9", "G722"), ("97", "telephone-event")]
    (audio,) = offer.media
    assert audio.proto == "UDP/TLS/RTP/SAVPF" and audio.formats == ["96", "8", "0", "9", "97"]
    assert audio.get("ice-ufrag") == "gwuf" and audio.get("setup") == "actpass" and audio.has("rtcp-mux")
    assert offer.direction_of(audio) is Direction.SENDRECV
    assert media.plan.media[0].state is MediaState.OFFERED


def test_virtual_offer_follows_the_codecs_setting() -> None:
    media, _ = make_media(generate=("none",))
    media.gateway.settings = attrs.evolve(media.gateway.settings, codecs=("g729", "ulaw", "h264"))
    media.incoming_offerless()
    assert media.virtual_offer.media[0].formats == ["0", "96"]  # PCMU, telephone-event
    media.gateway.settings = attrs.evolve(media.gateway.settings, codecs=("g729", "vp8"))
    with pytest.raises(SdpError, match="no browser audio codec"):
        media.incoming_offerless()


async def test_200_ok_offers_the_browsers_codec_then_what_we_transcode(nursery: trio.Nursery) -> None:
    media, _, offer = await offered(nursery, "96 97")
    (audio,) = offer.media
    assert audio.port == 40000 and offer.connection.address == "127.0.0.1"
    assert [(pt, c.name) for pt, c in codecs_of(audio)] == [
        ("96", "opus"), ("8", "PCMA"), ("0", "PCMU"), ("97", "telephone-event")]
    assert offer.direction_of(audio) is Direction.SENDRECV and media.sip_sent is offer
    # Not negotiated yet: the SIP stream has no address, so nothing can be sent.
    assert media.plan.negotiated is False and media.streams["audio"].remote is None
    assert media.bridge is not None


async def test_200_ok_offer_with_an_untranscodable_browser_codec_has_no_alternatives(
        nursery: trio.Nursery) -> None:
    _, _, offer = await offered(nursery, "9 97")
    assert offer.media[0].formats == ["9", "97"]


async def test_ack_answer_with_the_same_codec_points_the_bridge_at_the_caller(nursery: trio.Nursery) -> None:
    media, _, _ = await offered(nursery)
    media.offerless_ack(ack_answer("96 97", "a=rtpmap:96 opus/48000/2\r\na=rtpmap:97 telephone-event/8000\r\n"))
    audio = media.plan.by_kind("audio")
    assert media.plan.negotiated and audio.state is MediaState.ACTIVE and not audio.transcode
    assert (audio.sip.send_pt, audio.sip.recv_pt) == (96, 96) and audio.sip_dtmf.send_pt == 97
    assert media.streams["audio"].remote == ("192.0.2.30", 30000)
    assert media.sip_answer is not None and audio.sip_direction == "sendrecv"


async def test_ack_answer_renumbering_is_followed(nursery: trio.Nursery) -> None:
    media, leg, _ = await offered(nursery)
    media.offerless_ack(ack_answer("111 101", "a=rtpmap:111 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n"))
    audio = media.plan.by_kind("audio")
    # RFC 3264 §6.1: we send with the caller's numbers and receive on ours.
    assert (audio.sip.send_pt, audio.sip.recv_pt) == (111, 96)
    assert (audio.sip_dtmf.send_pt, audio.sip_dtmf.recv_pt) == (101, 97)
    leg.on_rtp(leg, rtp(96, 1, 960, 0x1234, b"\xfc\xff\xfe"))
    sent = media.streams["audio"].sent
    assert len(sent) == 1 and sent[0][1] & 0x7F == 111 and sent[0][12:] == b"\xfc\xff\xfe"


async def test_ack_answer_with_another_codec_is_transcoded(nursery: trio.Nursery) -> None:
    media, _, _ = await offered(nursery)
    media.offerless_ack(ack_answer("0"))
    audio = media.plan.by_kind("audio")
    assert audio.transcode and audio.browser.name == "opus" and audio.sip.name == "PCMU"
    assert audio.sip.send_pt == 0 and audio.sip_dtmf is None


async def test_ack_answer_without_a_common_codec_is_refused(nursery: trio.Nursery) -> None:
    media, _, _ = await offered(nursery)
    plan_before = media.plan
    with pytest.raises(SdpError, match="no codec from the offer"):
        media.offerless_ack(ack_answer("18", "a=rtpmap:18 G729/8000\r\n"))
    with pytest.raises(SdpError, match="none of the call's streams"):
        media.offerless_ack(ack_answer("96", "a=rtpmap:96 opus/48000/2\r\n", port=0))
    with pytest.raises(SdpError):
        media.offerless_ack(b"v=0\r\nnot sdp\r\n")
    assert media.plan is plan_before and media.streams["audio"].remote is None
