"""Generated media: RFC 7741 packetization, the schedule, the VP8 test picture, silence."""

from __future__ import annotations

import struct

import av
import pytest
import trio

from wcs_trio.core.media.generator import (
    VIDEO_CLOCK,
    Generator,
    GeneratorClock,
    Silence,
    UnsupportedGeneratorCodec,
    VideoPattern,
    matches_user_agent,
    run_generator,
    silence_payload,
    vp8_frame_of,
    vp8_payloads,
)
from wcs_trio.core.media.outbound import Outbound
from wcs_trio.core.sdp.plan import CodecChoice


def rtp_fields(packet: bytes) -> tuple[int, bool, int, int, int, int]:
    """(version, marker, pt, seq, ts, ssrc)."""
    first, second, seq, ts, ssrc = struct.unpack_from("!BBHII", packet)
    return first >> 6, bool(second & 0x80), second & 0x7F, seq, ts, ssrc


@pytest.mark.parametrize(("agent", "entries", "expected"), [
    ("Asterisk PBX 18.2", ("asterisk",), True),
    ("baresip v3.20.0 (x86_64/linux)", ("Asterisk", "BARESIP"), True),
    ("FreeSWITCH", ("asterisk",), False),
    ("anything", ("all",), True),
    ("", ("all",), True),
    ("Asterisk", ("none",), False),
    ("Asterisk", (), False),
    ("Asterisk", ("", " "), False),
])
def test_user_agent_matching(agent: str, entries: tuple[str, ...], expected: bool) -> None:
    assert matches_user_agent(agent, entries) is expected


# ------------------------------------------------------------------ RFC 7741


def test_vp8_descriptor_one_packet() -> None:
    [payload] = vp8_payloads(b"\x10\x02\x00abc", picture_id=0x1234)
    # X=1, S=1, PID=0; I=1; M=1 with the 15-bit PictureID.
    assert payload[:4] == bytes((0x90, 0x80, 0x80 | 0x12, 0x34))
    assert payload[4:] == b"\x10\x02\x00abc"


def test_vp8_frame_split_sets_start_bit_on_first_only() -> None:
    frame = bytes(range(256)) * 10
    payloads = vp8_payloads(frame, picture_id=0x8001, max_payload=500)  # id wraps to 15 bits
    assert len(payloads) == -(-len(frame) // 496)
    assert all(len(p) <= 500 for p in payloads)
    assert [bool(p[0] & 0x10) for p in payloads] == [True] + [False] * (len(payloads) - 1)
    assert {p[2:4] for p in payloads} == {b"\x80\x01"}
    assert vp8_frame_of(payloads) == frame


def test_vp8_frame_of_reads_other_descriptors() -> None:
    # No extension; 7-bit PictureID with TL0PICIDX and TID bytes (RFC 7741 §4.2).
    assert vp8_frame_of([b"\x10abc"]) == b"abc"
    assert vp8_frame_of([bytes((0x90, 0xE0, 0x05, 0x07, 0x40)) + b"xyz"]) == b"xyz"
    assert vp8_payloads(b"", 1) == []


# ------------------------------------------------------------------ schedule


def test_clock_waits_then_paces_and_skips_late_frames() -> None:
    clock = GeneratorClock(start_at=2.0, interval=0.1)
    assert clock.get_timer() == 2.0
    assert not clock.poll(1.99, real_media=False)
    assert clock.poll(2.0, real_media=False)
    assert clock.get_timer() == pytest.approx(2.1)
    assert not clock.poll(2.05, real_media=False)
    assert clock.poll(2.1, real_media=False)
    # Woken 0.35 s late: one frame now, the next on the original grid.
    assert clock.poll(2.55, real_media=False)
    assert clock.get_timer() == pytest.approx(2.6)
    assert clock.frames == 3


def test_clock_stops_for_good_when_real_media_arrives() -> None:
    clock = GeneratorClock(start_at=0.0, interval=0.02)
    assert not clock.poll(1.0, real_media=True)
    assert clock.stopped and clock.get_timer() is None
    assert not clock.poll(2.0, real_media=False)


# ------------------------------------------------------------------ sources


def test_video_pattern_is_vp8_rtp_that_decodes_to_320x240() -> None:
    source = VideoPattern(pt=96, ssrc=0x01020304)
    decoder = av.CodecContext.create("vp8", "r")
    decoded = []
    last_seq = None
    first_ts = 0
    for index in range(12):
        packets = source.packets(10.0 + index / source.fps)
        fields = [rtp_fields(p) for p in packets]
        assert {f[0] for f in fields} == {2} and {f[2] for f in fields} == {96}
        assert {f[5] for f in fields} == {0x01020304}
        assert [f[1] for f in fields] == [False] * (len(fields) - 1) + [True]  # marker on the last
        assert len({f[4] for f in fields}) == 1  # one timestamp per frame
        if last_seq is not None:
            assert fields[0][3] == (last_seq + 1) & 0xFFFF
        last_seq = fields[-1][3]
        if index == 1:
            assert (fields[0][4] - first_ts) % (1 << 32) == VIDEO_CLOCK // source.fps
        if index == 0:
            first_ts = fields[0][4]
            assert packets[0][12] & 0x10  # S bit
        frame = vp8_frame_of(p[12:] for p in packets)
        decoded += decoder.decode(av.Packet(frame))
    assert len(decoded) == 12
    assert {(f.width, f.height) for f in decoded} == {(320, 240)}
    assert decoded[0].key_frame
    # The bar moves: two frames a second apart differ.
    assert bytes(decoded[0].planes[0]) != bytes(decoded[10].planes[0])


@pytest.mark.parametrize(("name", "rate", "expected"), [
    ("PCMU", 8000, b"\xff" * 160), ("PCMA", 8000, b"\xd5" * 160)])
def test_g711_silence(name: str, rate: int, expected: bytes) -> None:
    assert silence_payload(CodecChoice(name, rate, 1, "", 0, 0)) == expected


def test_opus_silence_decodes_to_20ms_of_zeros() -> None:
    payload = silence_payload(CodecChoice("opus", 48000, 2, "", 111, 111))
    decoder = av.CodecContext.create("opus", "r")
    [frame] = decoder.decode(av.Packet(payload))
    assert frame.samples == 960
    assert max(abs(x) for x in frame.to_ndarray().flatten()) < 1e-3


def test_no_silence_for_other_codecs() -> None:
    with pytest.raises(UnsupportedGeneratorCodec):
        silence_payload(CodecChoice("G722", 8000, 1, "", 9, 9))


def test_silence_numbers_continue_into_the_relay() -> None:
    outbound = Outbound(clock_rate=8000)
    silence = Silence(pt=0, outbound=outbound, payload=b"\xff" * 160)
    packets = [silence.packets(1.0 + i * 0.02)[0] for i in range(3)]
    fields = [rtp_fields(p) for p in packets]
    assert [f[3] for f in fields] == [(fields[0][3] + i) & 0xFFFF for i in range(3)]
    assert [(f[4] - fields[0][4]) % (1 << 32) for f in fields] == [0, 160, 320]
    # The SIP side's first packet maps onto the same SSRC, next sequence number, marked.
    outbound.switch(ssrc=777, seq=5000, ts=123, now=1.06)
    assert outbound.ssrc == fields[0][5] and outbound.mark
    assert (5000 + outbound.seq_offset) & 0xFFFF == (fields[-1][3] + 1) & 0xFFFF
    assert (123 + outbound.ts_offset) % (1 << 32) == (fields[-1][4] + 160) % (1 << 32)


# ------------------------------------------------------------------ the task


class Counting:
    interval = 0.1

    def __init__(self) -> None:
        self.times: list[float] = []

    def packets(self, now: float) -> list[bytes]:
        self.times.append(now)
        return [b"frame"]


async def test_task_starts_after_timeout_and_stops_on_real_media(autojump_clock: trio.abc.Clock) -> None:
    source = Counting()
    generator = Generator.starting("video", source, trio.current_time(), 2.0)
    sent: list[bytes] = []
    real = False
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_generator, generator, sent.append, lambda: real, trio.current_time)
        await trio.sleep(1.99)
        assert sent == [] and not generator.running
        await trio.sleep(0.5)  # t = 2.49: frames at 2.0 .. 2.4
        assert len(sent) == 5 and generator.running
        real = True
        await trio.sleep(1.0)
    assert len(sent) == 5 and generator.clock.stopped
    assert [round(t, 6) for t in source.times] == [2.0, 2.1, 2.2, 2.3, 2.4]
    assert generator.packets_sent == generator.frames_sent == 5


async def test_task_sends_nothing_while_paused(autojump_clock: trio.abc.Clock) -> None:
    generator = Generator.starting("audio", Counting(), trio.current_time(), 0.0)
    sent: list[bytes] = []
    held = True
    with trio.move_on_after(1.0):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_generator, generator, sent.append, lambda: False,
                               trio.current_time, lambda: held)
            await trio.sleep(0.5)
            assert sent == []
            held = False
            await trio.sleep(0.45)
    assert 4 <= len(sent) <= 6
