"""RTP/RTCP parse and build, RFC 8285 extensions, RFC 7983 demultiplexing."""

from __future__ import annotations

import struct

import pytest

from wcs_trio.core.webrtc.errors import PacketError
from wcs_trio.core.webrtc.rtp import (
    ONE_BYTE_PROFILE,
    TWO_BYTE_PROFILE,
    PacketClass,
    PsfbFormat,
    RtcpType,
    RtpHeader,
    build_bye,
    build_extensions,
    build_fir,
    build_pli,
    build_rr,
    build_rtp,
    classify,
    get_extension,
    is_rtcp,
    iter_extensions,
    iter_rtcp,
    parse_rtp,
    read_mid,
    rewrite_rtp,
    rtcp_sender_ssrc,
    rtp_header_length,
    rtp_payload_type,
    rtp_sequence,
    rtp_ssrc,
)


@pytest.mark.parametrize(
    ("byte", "kind"),
    [
        (0, PacketClass.STUN),
        (3, PacketClass.STUN),
        (4, PacketClass.DROP),
        (16, PacketClass.ZRTP),
        (20, PacketClass.DTLS),
        (22, PacketClass.DTLS),
        (63, PacketClass.DTLS),
        (64, PacketClass.TURN_CHANNEL),
        (79, PacketClass.TURN_CHANNEL),
        (80, PacketClass.DROP),
        (127, PacketClass.DROP),
        (128, PacketClass.RTP),
        (191, PacketClass.RTP),
        (192, PacketClass.DROP),
        (255, PacketClass.DROP),
    ],
)
def test_rfc7983_first_byte(byte: int, kind: PacketClass) -> None:
    assert classify(byte) is kind


def test_rtcp_told_from_rtp_by_second_byte() -> None:
    # RFC 5761 §4: RTCP types 192-223 share the second byte with M+PT 64-95.
    assert is_rtcp(bytes([0x80, 200]))
    assert is_rtcp(bytes([0x81, 206]))
    assert not is_rtcp(bytes([0x80, 111]))
    assert not is_rtcp(bytes([0x80, 0x80 | 96]))  # marker + PT 96 = 224
    assert not is_rtcp(b"\x80")


def test_parse_minimal_rtp() -> None:
    packet = bytes.fromhex("80e0 1234 00000064 deadbeef") + b"payload"
    header = parse_rtp(packet)
    assert header == RtpHeader(
        payload_type=96, sequence=0x1234, timestamp=100, ssrc=0xDEADBEEF, marker=True
    )
    assert packet[header.payload_offset :] == b"payload"
    assert (rtp_payload_type(packet), rtp_sequence(packet), rtp_ssrc(packet)) == (
        96,
        0x1234,
        0xDEADBEEF,
    )


def test_build_parse_round_trip_with_csrcs_and_extension() -> None:
    profile, data = build_extensions([(1, b"0"), (3, b"\x01\x02\x03")])
    header = RtpHeader(
        payload_type=111,
        sequence=65535,
        timestamp=2**32 - 1,
        ssrc=7,
        csrcs=(1, 2),
        extension_profile=profile,
        extension_data=data,
    )
    packet = build_rtp(header, b"opus")
    parsed = parse_rtp(packet)
    assert attrs_without_offset(parsed) == attrs_without_offset(header)
    assert parsed.payload_offset == 12 + 8 + 4 + len(data)
    assert packet[parsed.payload_offset :] == b"opus"
    assert list(iter_extensions(packet)) == [(1, b"0"), (3, b"\x01\x02\x03")]
    assert read_mid(packet, 1) == "0"
    assert read_mid(packet, 2) is None


def attrs_without_offset(h: RtpHeader) -> tuple:
    return (h.payload_type, h.sequence, h.timestamp, h.ssrc, h.csrcs, h.extension_profile,
            h.extension_data, h.marker)


def test_one_byte_extension_as_chrome_sends_it() -> None:
    # ext id 4 (mid "1"), padding byte, id 1 (audio level, 1 byte), id 2 (abs-send-time, 3)
    ext = bytes([0x40, ord("1"), 0x00, 0x10, 0xAA, 0x22, 1, 2, 3]) + bytes(3)
    packet = (
        bytes.fromhex("90 6f 0001 00000000 00000001")
        + struct.pack("!HH", ONE_BYTE_PROFILE, len(ext) // 4)
        + ext
        + b"x"
    )
    assert list(iter_extensions(packet)) == [(4, b"1"), (1, b"\xaa"), (2, b"\x01\x02\x03")]
    assert read_mid(packet, 4) == "1"
    # Relayed intact: parse then build gives the same bytes.
    header = parse_rtp(packet)
    assert build_rtp(header, packet[header.payload_offset :]) == packet


def test_two_byte_extension() -> None:
    profile, data = build_extensions([(20, b"long-mid-value-over-16-bytes!")])
    assert profile == TWO_BYTE_PROFILE
    packet = build_rtp(
        RtpHeader(payload_type=96, sequence=1, timestamp=1, ssrc=1,
                  extension_profile=profile, extension_data=data), b"")
    assert get_extension(packet, 20) == b"long-mid-value-over-16-bytes!"
    assert read_mid(packet, 20) == "long-mid-value-over-16-bytes!"


def test_unknown_extension_profile_is_skipped_but_kept() -> None:
    header = RtpHeader(payload_type=0, sequence=1, timestamp=1, ssrc=1,
                       extension_profile=0x1234, extension_data=b"abcd")
    packet = build_rtp(header, b"p")
    assert list(iter_extensions(packet)) == []
    assert parse_rtp(packet).extension_data == b"abcd"


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (b"", "short"),
        (bytes.fromhex("80 00 0001 00000000 000000"), "short"),
        (bytes.fromhex("40 00 0001 00000000 00000001"), "version"),
        (bytes.fromhex("82 00 0001 00000000 00000001 00000002"), "short"),  # 2 CSRCs, 1 given
        (bytes.fromhex("90 00 0001 00000000 00000001 bede"), "extension"),
        (bytes.fromhex("90 00 0001 00000000 00000001 bede0002 00000000"), "short"),
        (bytes.fromhex("a0 00 0001 00000000 00000001 aa00"), "padding"),
        (bytes.fromhex("a0 00 0001 00000000 00000001 aa05"), "padding"),
    ],
)
def test_bad_rtp_raises_packet_error_with_reason(packet: bytes, reason: str) -> None:
    with pytest.raises(PacketError) as info:
        rtp_header_length(packet)
    assert info.value.reason == reason


def test_truncated_extension_element() -> None:
    packet = bytes.fromhex("90 00 0001 00000000 00000001 bede0001 3f000000")
    assert rtp_header_length(packet) == 20
    with pytest.raises(PacketError):
        list(iter_extensions(packet))


def test_padding_accepted_and_header_length_on_memoryview_prefix() -> None:
    packet = bytes.fromhex("a0 00 0001 00000000 00000001 dddd0002")
    buf = bytearray(1500)
    buf[: len(packet)] = packet
    assert rtp_header_length(memoryview(buf), len(packet)) == 12
    assert parse_rtp(packet).padding == 2


def test_rewrite_in_place() -> None:
    buf = bytearray(build_rtp(RtpHeader(payload_type=8, sequence=5, timestamp=6, ssrc=7,
                                        marker=True), b"pcma"))
    rewrite_rtp(buf, payload_type=0, sequence=70000, timestamp=2**32 + 3, ssrc=9)
    header = parse_rtp(buf)
    assert (header.payload_type, header.marker, header.sequence, header.timestamp,
            header.ssrc) == (0, True, 70000 & 0xFFFF, 3, 9)
    assert buf.endswith(b"pcma")


def test_compound_rtcp_walk() -> None:
    compound = build_rr(0x11) + build_pli(0x11, 0x22) + build_fir(0x11, 0x33, 7) + build_bye([0x11])
    headers = list(iter_rtcp(compound))
    assert [(h.packet_type, h.count, h.ssrc) for h in headers] == [
        (RtcpType.RR, 0, 0x11),
        (RtcpType.PSFB, PsfbFormat.PLI, 0x11),
        (RtcpType.PSFB, PsfbFormat.FIR, 0x11),
        (RtcpType.BYE, 1, 0x11),
    ]
    assert sum(h.length for h in headers) == len(compound)
    assert [h.offset for h in headers] == [0, 8, 20, 40]
    fir = compound[20:40]
    assert struct.unpack_from("!IB", fir, 12) == (0x33, 7)
    assert rtcp_sender_ssrc(compound) == 0x11
    assert is_rtcp(compound)


@pytest.mark.parametrize(
    "packet",
    [
        b"\x80\xc9",
        build_rr(1)[:-1],
        bytes([0x40]) + build_rr(1)[1:],
        build_rr(1) + b"\x80\xc9\x00\x05\x00\x00\x00\x01",  # second length overruns
    ],
)
def test_bad_rtcp(packet: bytes) -> None:
    with pytest.raises(PacketError):
        list(iter_rtcp(packet))
