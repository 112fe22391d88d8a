from __future__ import annotations

import itertools
import socket
import struct
from collections.abc import Callable
from functools import partial

import attrs
import pytest
import trio
import trio.testing

from tests.support.ports import free_port
from wcs_trio.core.media import rtcpmap
from wcs_trio.core.media.bridge import Direction, MediaBridge, NoTelephoneEvent
from wcs_trio.core.media.ports import PortPool
from wcs_trio.core.media.sipstream import SipRtpStream
from wcs_trio.core.sdp.plan import CodecChoice, CodecPlan, MediaPlan, MediaState
from wcs_trio.core.webrtc.rtp import (
    PsfbFormat,
    RtcpType,
    RtpHeader,
    build_fir,
    build_pli,
    build_rtp,
    iter_rtcp,
    parse_rtp,
)

OPUS_B = CodecChoice("opus", 48000, 2, "", 111, 111)
OPUS_S = CodecChoice("opus", 48000, 2, "", 107, 107)
TE_B = CodecChoice("telephone-event", 48000, 1, "", 126, 126)
TE_S = CodecChoice("telephone-event", 48000, 1, "", 101, 101)
VP8_B = CodecChoice("VP8", 90000, 1, "", 96, 96)
VP8_S = CodecChoice("VP8", 90000, 1, "", 100, 100)


def plan(audio_sip: CodecChoice = OPUS_S, *, video: bool = True, sip_dtmf: CodecChoice | None = TE_S,
         browser_dtmf: CodecChoice | None = TE_B, audio_browser: CodecChoice = OPUS_B) -> CodecPlan:
    media = [MediaPlan("audio", 0, 0, MediaState.ACTIVE, audio_browser, audio_sip, browser_dtmf,
                       sip_dtmf)]
    if video:
        media.append(MediaPlan("video", 1, 1, MediaState.ACTIVE, VP8_B, VP8_S))
    return CodecPlan(media, negotiated=True)


def rtp(pt: int, seq: int, ts: int, ssrc: int, payload: bytes = b"\x01" * 20, *,
        marker: bool = False) -> bytes:
    return build_rtp(RtpHeader(pt, seq, ts, ssrc, marker), payload)


@attrs.define
class FakeLeg:
    rtp: list[bytes] = attrs.Factory(list)
    rtcp: list[bytes] = attrs.Factory(list)
    on_rtp: Callable[..., None] | None = None
    on_rtcp: Callable[..., None] | None = None
    connected: bool = True

    def send_rtp(self, packet: bytes) -> bool:
        assert isinstance(packet, bytes)  # pylibsrtp takes bytes only
        if not self.connected:
            return False
        self.rtp.append(packet)
        return True

    def send_rtcp(self, packet: bytes) -> bool:
        assert isinstance(packet, bytes)
        self.rtcp.append(packet)
        return True


@attrs.define
class FakeStream:
    kind: str
    rtp: list[object] = attrs.Factory(list)
    rtcp: list[bytes] = attrs.Factory(list)
    times: list[float] = attrs.Factory(list)
    rtcp_mux: bool = False
    remote: object = None
    on_rtp: Callable[..., None] | None = None
    on_rtcp: Callable[..., None] | None = None

    def send_rtp(self, packet: bytes) -> bool:
        self.rtp.append(packet)
        self.times.append(trio.current_time() if _in_trio() else 0.0)
        return True

    def send_rtcp(self, packet: bytes) -> bool:
        self.rtcp.append(bytes(packet))
        return True

    def set_remote(self, rtp: object, rtcp: object = None, *, rtcp_mux: bool = False) -> None:
        self.remote = rtp


def _in_trio() -> bool:
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        return False
    return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup() -> tuple[MediaBridge, FakeLeg, FakeStream, FakeStream, Clock]:
    leg, audio, video, clock = FakeLeg(), FakeStream("audio"), FakeStream("video"), Clock()
    bridge = MediaBridge(leg, plan(), {"audio": audio, "video": video}, clock=clock,  # type: ignore[arg-type]
                         sip_feedback={"video": rtcpmap.Feedback(fir=True)})
    return bridge, leg, audio, video, clock


def headers(packets: list) -> list[RtpHeader]:
    return [parse_rtp(bytes(p)) for p in packets]


# ------------------------------------------------------------------ RTP


def test_wiring_and_untouched_pass_through(setup) -> None:
    bridge, leg, audio, _, _ = setup
    assert leg.on_rtp == bridge.browser_rtp and audio.on_rtcp == bridge.sip_rtcp
    same = MediaBridge(FakeLeg(), plan(OPUS_B, sip_dtmf=TE_B), {"audio": audio})  # type: ignore[arg-type]
    packet = rtp(111, 5, 960, 0xAAAA)
    same.browser_rtp(None, packet)
    assert audio.rtp[-1] is packet  # same PT, first source: no copy at all


def test_browser_to_sip_rewrites_pt_and_keeps_ssrc_seq_ts_across_source_change(setup) -> None:
    bridge, _, audio, _, clock = setup
    for i in range(3):
        bridge.browser_rtp(None, rtp(111, 1000 + i, 48000 + 960 * i, 0xAAAA))
        clock.now += 0.02
    clock.now += 0.02  # 40 ms after the last packet the browser's source changes
    bridge.browser_rtp(None, rtp(111, 7, 5, 0xBBBB))
    bridge.browser_rtp(None, rtp(111, 8, 965, 0xBBBB))
    got = headers(audio.rtp)
    assert [h.payload_type for h in got] == [107] * 5
    assert {h.ssrc for h in got} == {0xAAAA}
    assert [h.sequence for h in got] == [1000, 1001, 1002, 1003, 1004]
    assert [h.timestamp for h in got] == [48000, 48960, 49920, 49920 + 1920, 49920 + 1920 + 960]
    assert [h.marker for h in got] == [False, False, False, True, False]
    assert bridge.to_sip["audio"].source == 0xBBBB


def test_sip_to_browser_follows_a_reinvite_with_new_pt_ssrc_and_address(setup) -> None:
    bridge, leg, audio, _, clock = setup
    for i in range(2):
        bridge.sip_rtp(audio, memoryview(rtp(107, 60000 + i, 3000 + 960 * i, 0xD1)))
        clock.now += 0.02
    renumbered = attrs.evolve(OPUS_S, send_pt=109, recv_pt=109)
    bridge.update_plan(plan(renumbered), {"audio": ("10.0.0.9", 7000)})
    assert audio.remote == ("10.0.0.9", 7000)
    bridge.sip_rtp(audio, memoryview(rtp(107, 1, 1, 0xD2)))  # old PT: no longer in the plan
    bridge.sip_rtp(audio, memoryview(rtp(109, 65535, 10, 0xD2)))
    bridge.sip_rtp(audio, memoryview(rtp(109, 0, 970, 0xD2)))
    got = headers(leg.rtp)
    assert [h.payload_type for h in got] == [111] * 4
    assert {h.ssrc for h in got} == {0xD1}
    assert [h.sequence for h in got] == [60000, 60001, 60002, 60003]
    assert [h.timestamp for h in got] == [3000, 3960, 3960 + 960, 3960 + 1920]
    assert bridge.counters.unknown_pt == 1
    # Sending toward the browser went on with PT 109 -> and back: browser packets now use 109.
    bridge.browser_rtp(None, rtp(111, 1, 1, 0xAAAA))
    assert parse_rtp(audio.rtp[-1]).payload_type == 109


def test_media_before_the_browser_connects_is_played_once_it_does(setup) -> None:
    # An IVR speaks as soon as it answers, before the browser's DTLS is done.
    bridge, leg, audio, _, clock = setup
    leg.connected = False
    for i in range(200):
        bridge.sip_rtp(audio, memoryview(rtp(107, 100 + i, 960 * i, 0xD1)))
        clock.now += 0.02
    assert leg.rtp == []
    leg.connected = True
    bridge.browser_connected()
    got = headers(leg.rtp)
    # The newest 3 s (150 packets) are kept, in order; later packets go straight out.
    assert [h.sequence for h in got] == list(range(150, 300))
    bridge.sip_rtp(audio, memoryview(rtp(107, 300, 960 * 200, 0xD1)))
    assert headers(leg.rtp)[-1].sequence == 300 and len(leg.rtp) == 151
    bridge.browser_connected()  # once only
    assert len(leg.rtp) == 151


def test_bundle_demux_by_payload_type(setup) -> None:
    bridge, _, audio, video, _ = setup
    bridge.browser_rtp(None, rtp(96, 1, 90000, 0xCCCC, b"\x10" * 50))
    bridge.browser_rtp(None, rtp(111, 1, 960, 0xAAAA))
    bridge.browser_rtp(None, rtp(97, 1, 90000, 0xCCCD))  # rtx: WebRTC-only
    bridge.browser_rtp(None, b"\x80\x60")
    assert [parse_rtp(p).payload_type for p in video.rtp] == [100]
    assert [parse_rtp(p).payload_type for p in audio.rtp] == [107]
    assert (bridge.counters.unknown_pt, bridge.counters.bad_packets) == (1, 1)


def test_hold_pauses_the_right_direction_and_resumes_without_jumps(setup) -> None:
    bridge, leg, audio, _, clock = setup
    seq = ts = 0
    for _ in range(2):
        bridge.sip_rtp(audio, memoryview(rtp(107, seq, ts, 0xD1)))
        bridge.browser_rtp(None, rtp(111, seq, ts, 0xAAAA))
        seq, ts = seq + 1, ts + 960
        clock.now += 0.02
    bridge.hold(Direction.SENDONLY)  # we hold: the device must not be heard
    for _ in range(50):  # one second of device audio the browser must not get
        bridge.sip_rtp(audio, memoryview(rtp(107, seq, ts, 0xD1)))
        bridge.browser_rtp(None, rtp(111, seq, ts, 0xAAAA))
        seq, ts = seq + 1, ts + 960
        clock.now += 0.02
    assert len(leg.rtp) == 2 and len(audio.rtp) == 52 and bridge.counters.held == 50
    bridge.hold("sendrecv")
    bridge.sip_rtp(audio, memoryview(rtp(107, seq, ts, 0xD1)))
    got = headers(leg.rtp)
    assert [h.sequence for h in got] == [0, 1, 2]  # no gap of 50
    assert got[2].timestamp == 960 + 48960 and got[2].marker  # 1.02 s later
    bridge.hold("inactive")
    bridge.browser_rtp(None, rtp(111, seq, ts, 0xAAAA))
    assert len(audio.rtp) == 52


def test_same_ssrc_on_both_sip_streams_is_split_toward_the_browser(setup) -> None:
    bridge, leg, audio, video, _ = setup
    bridge.sip_rtp(audio, memoryview(rtp(107, 1, 1, 0x5555)))
    bridge.sip_rtp(video, memoryview(rtp(100, 1, 1, 0x5555)))
    a, v = headers(leg.rtp)
    assert a.ssrc == 0x5555 and v.ssrc != 0x5555 and v.payload_type == 96


def test_stats_and_activity(setup) -> None:
    bridge, _, audio, _, clock = setup
    assert bridge.activity.from_browser is None
    for seq in (1, 2, 4):
        bridge.browser_rtp(None, rtp(111, seq, seq * 960, 0xAAAA))
        clock.now += 0.02
    bridge.sip_rtp(audio, memoryview(rtp(107, 9, 9, 0xD1)))
    snap = bridge.stats.snapshot()
    assert snap["browser.audio"]["packets_received"] == 3 and snap["browser.audio"]["lost"] == 1
    assert snap["browser.audio"]["bytes_received"] == 96 and snap["browser.audio"]["packets_sent"] == 1
    assert snap["sip.audio"]["packets_sent"] == 3 and snap["sip.audio"]["packets_received"] == 1
    assert bridge.activity.from_browser == pytest.approx(100.04)
    assert bridge.activity.from_sip == pytest.approx(100.06)


# ------------------------------------------------------------------ DTMF


def test_dtmf_from_the_sip_side_is_reported_once_per_digit(setup) -> None:
    bridge, leg, audio, _, _ = setup
    digits: list[str] = []
    bridge.on_dtmf = digits.append
    bridge.update_plan(bridge.plan)  # routes pick up the new callback
    seq = 0
    for digit, ts in (("1", 1000), ("#", 9000)):
        code = "0123456789*#".index(digit)
        for duration, end in ((960, 0), (1920, 0), (2880, 0x80), (2880, 0x80), (2880, 0x80)):
            payload = struct.pack("!BBH", code, end | 10, duration)
            bridge.sip_rtp(audio, memoryview(rtp(101, seq, ts, 0xD1, payload, marker=duration == 960)))
            seq += 1
    assert digits == ["1", "#"]
    # Both sides negotiated telephone-event at one rate: relayed with the browser's PT.
    assert {parse_rtp(p).payload_type for p in leg.rtp} == {126} and len(leg.rtp) == 10


def test_browser_dtmf_is_relayed_with_pt_rewrite_and_reported(setup) -> None:
    bridge, _, audio, _, _ = setup
    digits: list[str] = []
    bridge.on_browser_dtmf = digits.append
    bridge.update_plan(bridge.plan)
    bridge.browser_rtp(None, rtp(111, 10, 4800, 0xAAAA))
    event = struct.pack("!BBH", 5, 10, 960)
    bridge.browser_rtp(None, rtp(126, 11, 5760, 0xAAAA, event, marker=True))
    bridge.browser_rtp(None, rtp(111, 12, 5760, 0xAAAA))
    got = headers(audio.rtp)
    assert [(h.payload_type, h.sequence, h.timestamp) for h in got] == [
        (107, 10, 4800), (101, 11, 5760), (107, 12, 5760)]
    assert digits == ["5"]


def test_no_telephone_event_means_info(setup) -> None:
    bridge, _, _, _, _ = setup
    bridge.update_plan(plan(sip_dtmf=None))
    with pytest.raises(NoTelephoneEvent):
        bridge.dtmf_event(None, None)  # type: ignore[arg-type]


async def test_send_dtmf_paced_and_interleaved_with_audio(
        autojump_clock: trio.testing.MockClock) -> None:
    leg, audio = FakeLeg(), FakeStream("audio")
    pcmu = CodecChoice("PCMU", 8000, 1, "", 0, 0)
    te8 = CodecChoice("telephone-event", 8000, 1, "", 101, 101)
    bridge = MediaBridge(leg, plan(pcmu, video=False, sip_dtmf=te8, browser_dtmf=None, audio_browser=pcmu),  # type: ignore[arg-type]
                         {"audio": audio}, clock=trio.current_time)  # type: ignore[arg-type]

    async def browser_audio() -> None:
        # PCMU from the browser every 20 ms, starting 10 ms out of phase with DTMF.
        await trio.sleep(0.010)
        for i in range(40):
            bridge.browser_rtp(None, rtp(0, 500 + i, 160 * i, 0xAAAA, bytes(160)))
            await trio.sleep(0.020)

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(browser_audio)
        await trio.sleep(0.1)
        nursery.start_soon(partial(bridge.send_dtmf, "12", duration_ms=100, gap_ms=40))
    got = headers(audio.rtp)
    times = [t - start for t in audio.times]
    seqs = [h.sequence for h in got]
    assert seqs == list(range(500, 500 + len(got)))  # one sequence space, no collisions
    assert {h.ssrc for h in got} == {0xAAAA}
    events = [(h, t) for h, t in zip(got, times, strict=True) if h.payload_type == 101]
    assert len(events) == 14 and len(got) == 54
    first, second = events[:7], events[7:]
    for digit, group in ((1, first), (2, second)):
        payloads = [struct.unpack("!BBH", bytes(audio.rtp[got.index(h)])[12:]) for h, _ in group]
        assert [p[0] for p in payloads] == [digit] * 7
        assert [p[2] for p in payloads] == [160, 320, 480, 640, 800, 800, 800]
        assert [bool(p[1] & 0x80) for p in payloads] == [False] * 4 + [True] * 3
        assert [h.marker for h, _ in group] == [True] + [False] * 6
        assert len({h.timestamp for h, _ in group}) == 1
        steps = [round(b - a, 6) for (_, a), (_, b) in itertools.pairwise(group)]
        assert steps == [0.02] * 6
    # The event starts where the audio is: 100 ms in, the audio at 90 ms carried ts 4*160.
    assert first[0][0].timestamp == 4 * 160 + 80
    assert round(second[0][1] - first[-1][1], 6) == 0.04


# ------------------------------------------------------------------ RTCP


def sr(ssrc: int, rtp_ts: int, blocks: list[bytes]) -> bytes:
    info = struct.pack("!QIII", 0x1122334455667788, rtp_ts, 10, 1000)
    return rtcpmap.build_report(ssrc, info, blocks)


def block(ssrc: int, ext_seq: int) -> bytes:
    return struct.pack("!I4sIIII", ssrc, b"\x01\x00\x00\x02", ext_seq, 30, 0xABCD, 0x10)


def test_browser_rtcp_split_per_kind_mapped_and_pli_becomes_fir(setup) -> None:
    bridge, _, audio, video, clock = setup
    # Media both ways first, with a source change on the SIP audio so offsets are nonzero.
    bridge.browser_rtp(None, rtp(111, 100, 9600, 0xAAAA))
    bridge.browser_rtp(None, rtp(96, 7, 90000, 0xCCCC))
    bridge.sip_rtp(audio, memoryview(rtp(107, 50, 500, 0xD1)))
    clock.now += 0.02
    bridge.sip_rtp(audio, memoryview(rtp(107, 9000, 7, 0xD2)))
    bridge.sip_rtp(video, memoryview(rtp(100, 1, 1, 0xE1)))
    out_audio = bridge.to_browser["audio"]
    assert (out_audio.ssrc, out_audio.source) == (0xD1, 0xD2)
    compound = (sr(0xAAAA, 9600, [block(0xD1, 51), block(0xE1, 1)])
                + rtcpmap.build_sdes(0xAAAA, b"chrome")
                + build_pli(0xAAAA, 0xE1) + build_fir(0xCCCC, 0xD1, 3))
    bridge.browser_rtcp(None, compound)
    [to_audio], [to_video] = audio.rtcp, video.rtcp
    a = list(iter_rtcp(to_audio))
    assert [h.packet_type for h in a] == [RtcpType.SR, RtcpType.SDES]
    report = rtcpmap.parse_report(to_audio, a[0])
    assert report.ssrc == 0xAAAA and report.sender_info == struct.pack(
        "!QIII", 0x1122334455667788, 9600, 10, 1000)
    # The block about our 0xD1 toward the browser speaks of the device's 0xD2, in its numbers.
    assert report.blocks == (block(0xD2, 9000),)  # our 51 was its 9000
    v = list(iter_rtcp(to_video))
    assert [(h.packet_type, h.count) for h in v] == [
        (RtcpType.RR, 1), (RtcpType.SDES, 1), (RtcpType.PSFB, PsfbFormat.FIR)]
    assert rtcpmap.parse_report(to_video, v[0]).ssrc == 0xCCCC
    assert rtcpmap.fir_targets(to_video, v[2]) == [0xE1]
    # The FIR asked for the audio SSRC too, but audio negotiated no feedback: dropped.
    assert (bridge.counters.keyframes_to_sip, bridge.counters.keyframes_unsupported) == (1, 1)
    bridge.browser_rtcp(None, build_pli(0xAAAA, 0xD1))
    assert bridge.counters.keyframes_unsupported == 2 and len(audio.rtcp) == 1


def test_sip_rtcp_to_browser_maps_sr_pli_and_nack(setup) -> None:
    bridge, leg, _, video, clock = setup
    bridge.browser_rtp(None, rtp(96, 10, 90000, 0xCCCC))
    clock.now += 0.1
    bridge.browser_rtp(None, rtp(96, 500, 1234, 0xCCCD))  # the browser switched camera
    bridge.sip_rtp(video, memoryview(rtp(100, 1, 1000, 0xE1)))
    to_sip = bridge.to_sip["video"]
    assert to_sip.ssrc == 0xCCCC and to_sip.seq_offset == (11 - 500) % 65536
    nack = rtcpmap.build_nack(0xE1, 0xCCCC, [(12, 0b1)])
    bridge.sip_rtcp(video, memoryview(sr(0xE1, 1000, [block(0xCCCC, 12)]) + build_pli(0xE1, 0xCCCC)
                                      + nack))
    [compound] = leg.rtcp
    parts = list(iter_rtcp(compound))
    assert [(h.packet_type, h.count) for h in parts] == [
        (RtcpType.SR, 1), (RtcpType.SDES, 1), (RtcpType.PSFB, PsfbFormat.PLI), (RtcpType.RTPFB, 1)]
    report = rtcpmap.parse_report(compound, parts[0])
    assert report.ssrc == 0xE1 and report.blocks == (block(0xCCCD, 501),)
    assert rtcpmap.psfb_media_ssrc(compound, parts[2]) == 0xCCCD
    assert rtcpmap.parse_nack(compound, parts[3]) == (0xCCCD, [(501, 1)])
    assert bridge.counters.nacks == 1 and bridge.counters.keyframes_to_browser == 1


# ------------------------------------------------------------------ real sockets


async def test_relay_over_loopback_udp_both_ways() -> None:
    base = free_port(socket.SOCK_DGRAM)
    pool = PortPool("127.0.0.1", base, base + 40)
    device = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    device.bind(("127.0.0.1", 0))
    device.setblocking(False)
    stream = SipRtpStream.open(pool, "audio")
    stream.set_remote(("127.0.0.1", 9))  # the SDP lies (NAT): latching must fix it
    leg = FakeLeg()
    bridge = MediaBridge(leg, plan(video=False), {"audio": stream})  # type: ignore[arg-type]
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(bridge.run)
            device.sendto(rtp(107, 1, 960, 0xD1), ("127.0.0.1", stream.local_port))
            with trio.fail_after(2):
                while not leg.rtp:
                    await trio.sleep(0.005)
            device.sendto(rtrr := rtcpmap.build_report(0xD1, None, []), ("127.0.0.1", stream.local_port + 1))
            with trio.fail_after(2):
                while stream.counters.rtcp_in < 1:
                    await trio.sleep(0.005)
            assert rtrr and stream.remote_rtcp == device.getsockname()
            bridge.browser_rtp(leg, rtp(111, 5, 960, 0xAAAA))
            with trio.fail_after(2):
                await trio.lowlevel.wait_readable(device)
            data = device.recv(2048)
            bridge.browser_rtcp(leg, sr(0xAAAA, 960, []))
            with trio.fail_after(2):
                await trio.lowlevel.wait_readable(device)
            rtcp_data, source = device.recvfrom(2048)
            bridge.close()
    finally:
        device.close()
    assert parse_rtp(leg.rtp[0]).payload_type == 111
    assert parse_rtp(data).payload_type == 107 and parse_rtp(data).ssrc == 0xAAAA
    assert rtcp_data[1] == RtcpType.SR and source[1] == stream.local_port + 1
    assert pool.in_use == frozenset() and stream.closed
    assert leg.on_rtp != bridge.browser_rtp  # detached from the leg
    assert not stream.send_rtp(rtp(107, 2, 1, 1))  # a closed stream sends nothing


SIP_SDP = """v=0\r
o=dev 1 2 IN IP4 192.0.2.10\r
s=-\r
c=IN IP4 192.0.2.10\r
t=0 0\r
m=audio 4000 RTP/AVP 107 101\r
a=rtpmap:107 opus/48000/2\r
a=rtpmap:101 telephone-event/48000\r
a=rtcp:4011 IN IP4 192.0.2.11\r
m=video 5000 RTP/AVPF 100\r
c=IN IP4 0.0.0.0\r
a=rtpmap:100 VP8/90000\r
a=rtcp-fb:100 ccm fir\r
a=rtcp-fb:* nack\r
"""


def test_apply_sip_sdp_sets_addresses_rtcp_and_feedback() -> None:
    from wcs_trio.core.media.negotiated import sip_targets
    from wcs_trio.core.sdp.model import SessionDescription

    sdp = SessionDescription.parse(SIP_SDP)
    targets = sip_targets(plan(), sdp)
    assert targets["audio"].rtp == ("192.0.2.10", 4000)
    assert targets["audio"].rtcp == ("192.0.2.11", 4011)
    assert targets["audio"].feedback == rtcpmap.Feedback()
    assert targets["video"].rtp == ("0.0.0.0", 5000)  # the stream turns it into "no sending"
    assert targets["video"].feedback == rtcpmap.Feedback(nack=True, fir=True)
    leg, audio, video = FakeLeg(), FakeStream("audio"), FakeStream("video")
    bridge = MediaBridge(leg, plan(), {"audio": audio, "video": video})  # type: ignore[arg-type]
    bridge.apply_sip_sdp(plan(), sdp)
    assert audio.remote == ("192.0.2.10", 4000)
    assert bridge.sip_feedback["video"] == rtcpmap.Feedback(nack=True, fir=True)
