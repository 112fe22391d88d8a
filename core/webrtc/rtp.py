"""RTP and RTCP packets: first-byte demultiplexing, parsing and building.

The hot path reads fields straight out of the receive buffer with
`struct.unpack_from` and rewrites them with `struct.pack_into`; nothing here
copies a packet unless the caller asks for an object (`parse_rtp`) or builds
a new packet.

References: RFC 3550 (RTP/RTCP), RFC 5761 (RTP and RTCP on one port),
RFC 7983 (demultiplexing STUN, DTLS and SRTP by first byte), RFC 8285 (RTP
header extensions), RFC 8843 §15.2 (the MID header extension), RFC 4585 and
RFC 5104 (feedback messages).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator, Sequence

import attrs

from wcs_trio.core.webrtc.errors import PacketError

RTP_HEADER_LENGTH = 12
RTCP_HEADER_LENGTH = 8

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_RTP_FIXED = struct.Struct("!BBHII")
_RTCP_FIXED = struct.Struct("!BBHI")
_EXT_HEADER = struct.Struct("!HH")

#: RFC 8285 §4.2: "defined by profile" value of the one-byte header form.
ONE_BYTE_PROFILE = 0xBEDE
#: RFC 8285 §4.3: the two-byte form; the low 4 bits ("appbits") are free.
TWO_BYTE_PROFILE = 0x1000
TWO_BYTE_PROFILE_MASK = 0xFFF0


class PacketClass(enum.IntEnum):
    """What a datagram on the shared port is, judged by its first byte.

    RFC 7983 §7 (updating RFC 5764 §5.1.2): 0-3 STUN, 16-19 ZRTP, 20-63 DTLS,
    64-79 TURN channel data, 128-191 RTP/RTCP; everything else is dropped.
    """

    DROP = 0
    STUN = 1
    ZRTP = 2
    DTLS = 3
    TURN_CHANNEL = 4
    RTP = 5


def _class_table() -> tuple[PacketClass, ...]:
    table = [PacketClass.DROP] * 256
    for value, kind in (
        (range(0, 4), PacketClass.STUN),
        (range(16, 20), PacketClass.ZRTP),
        (range(20, 64), PacketClass.DTLS),
        (range(64, 80), PacketClass.TURN_CHANNEL),
        (range(128, 192), PacketClass.RTP),
    ):
        for byte in value:
            table[byte] = kind
    return tuple(table)


#: Indexed by the first byte; a tuple, so it cannot be changed at run time.
PACKET_CLASS_BY_FIRST_BYTE: tuple[PacketClass, ...] = _class_table()


def classify(first_byte: int) -> PacketClass:
    """Return the RFC 7983 class of a datagram whose first byte is given."""
    return PACKET_CLASS_BY_FIRST_BYTE[first_byte]


def is_rtcp(buf: bytes | bytearray | memoryview) -> bool:
    """True if an RTP-range datagram is RTCP rather than RTP.

    RFC 5761 §4: with rtcp-mux the second byte tells them apart; RTCP packet
    types 192-223 fall where RTP would carry marker + payload type 64-95,
    which RTP payload types must therefore avoid.
    """
    return len(buf) >= 2 and 192 <= buf[1] <= 223


# --------------------------------------------------------------------- RTP


def rtp_header_length(buf: bytes | bytearray | memoryview, length: int | None = None) -> int:
    """Validate the RTP header in `buf[:length]` and return its length in bytes
    (fixed header, CSRC list and header extension), i.e. the payload offset.

    Raises `PacketError` for a short packet, a version other than 2
    (RFC 3550 §5.1), or a CSRC list / extension running past the end.
    """
    n = len(buf) if length is None else length
    if n < RTP_HEADER_LENGTH:
        raise PacketError(f"RTP packet of {n} bytes is shorter than 12", reason="short")
    first = buf[0]
    if first >> 6 != 2:
        raise PacketError(f"RTP version {first >> 6}, expected 2", reason="version")
    offset = RTP_HEADER_LENGTH + 4 * (first & 0x0F)
    if first & 0x10:
        # RFC 3550 §5.3.1: 16-bit profile word, then length in 32-bit words.
        if offset + 4 > n:
            raise PacketError("RTP extension header past end of packet", reason="extension")
        words = _U16.unpack_from(buf, offset + 2)[0]
        offset += 4 + 4 * words
    if offset > n:
        raise PacketError("RTP header past end of packet", reason="short")
    if first & 0x20:
        # RFC 3550 §5.1: the last octet counts the padding, itself included.
        pad = buf[n - 1]
        if pad == 0 or offset + pad > n:
            raise PacketError("RTP padding count is invalid", reason="padding")
    return offset


def rtp_ssrc(buf: bytes | bytearray | memoryview) -> int:
    """SSRC of an RTP packet already validated by `rtp_header_length`."""
    return _U32.unpack_from(buf, 8)[0]


def rtp_payload_type(buf: bytes | bytearray | memoryview) -> int:
    return buf[1] & 0x7F


def rtp_sequence(buf: bytes | bytearray | memoryview) -> int:
    return _U16.unpack_from(buf, 2)[0]


def rewrite_rtp(
    buf: bytearray | memoryview,
    *,
    payload_type: int | None = None,
    sequence: int | None = None,
    timestamp: int | None = None,
    ssrc: int | None = None,
) -> None:
    """Rewrite fixed-header fields of an RTP packet in place (the media
    bridge keeps SSRC, sequence and timestamp continuous across re-INVITEs)."""
    if payload_type is not None:
        buf[1] = (buf[1] & 0x80) | (payload_type & 0x7F)
    if sequence is not None:
        _U16.pack_into(buf, 2, sequence & 0xFFFF)
    if timestamp is not None:
        _U32.pack_into(buf, 4, timestamp & 0xFFFFFFFF)
    if ssrc is not None:
        _U32.pack_into(buf, 8, ssrc)


@attrs.frozen
class RtpHeader:
    """An RTP header as an object, for code off the hot path and for tests.

    `extension_profile` / `extension_data` keep the header extension exactly
    as received (RFC 8285 elements we do not understand are relayed intact).
    """

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension_profile: int | None = None
    extension_data: bytes = b""
    padding: int = 0
    payload_offset: int = RTP_HEADER_LENGTH


def parse_rtp(buf: bytes | bytearray | memoryview) -> RtpHeader:
    """Parse and validate the header of one RTP packet."""
    offset = rtp_header_length(buf)
    first, second, sequence, timestamp, ssrc = _RTP_FIXED.unpack_from(buf, 0)
    count = first & 0x0F
    csrcs = struct.unpack_from(f"!{count}I", buf, RTP_HEADER_LENGTH) if count else ()
    profile = None
    data = b""
    if first & 0x10:
        ext = RTP_HEADER_LENGTH + 4 * count
        profile, words = _EXT_HEADER.unpack_from(buf, ext)
        data = bytes(buf[ext + 4 : ext + 4 + 4 * words])
    return RtpHeader(
        payload_type=second & 0x7F,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        marker=bool(second & 0x80),
        csrcs=tuple(csrcs),
        extension_profile=profile,
        extension_data=data,
        padding=buf[len(buf) - 1] if first & 0x20 else 0,
        payload_offset=offset,
    )


def build_rtp(header: RtpHeader, payload: bytes) -> bytes:
    """Serialise `header` and `payload` into one RTP packet (no padding)."""
    if len(header.extension_data) % 4:
        raise ValueError("RTP header extension data must be a multiple of 4 bytes")
    has_ext = header.extension_profile is not None
    first = 0x80 | (0x10 if has_ext else 0) | len(header.csrcs)
    parts = [
        _RTP_FIXED.pack(
            first,
            (0x80 if header.marker else 0) | header.payload_type,
            header.sequence & 0xFFFF,
            header.timestamp & 0xFFFFFFFF,
            header.ssrc,
        )
    ]
    parts.extend(_U32.pack(c) for c in header.csrcs)
    if has_ext:
        parts.append(
            _EXT_HEADER.pack(header.extension_profile, len(header.extension_data) // 4)
        )
        parts.append(header.extension_data)
    parts.append(payload)
    return b"".join(parts)


# ----------------------------------------------------- header extensions


def _extension_block(buf: bytes | bytearray | memoryview) -> tuple[int, int, int] | None:
    """(profile, start, end) of the extension data of a validated packet."""
    first = buf[0]
    if not first & 0x10:
        return None
    ext = RTP_HEADER_LENGTH + 4 * (first & 0x0F)
    profile, words = _EXT_HEADER.unpack_from(buf, ext)
    return profile, ext + 4, ext + 4 + 4 * words


def iter_extensions(buf: bytes | bytearray | memoryview) -> Iterator[tuple[int, bytes]]:
    """Yield `(id, value)` for each RFC 8285 element of a validated packet.

    Elements of an unknown profile are not yielded (RFC 8285 §4.1 allows
    other profiles; we relay them untouched). Raises `PacketError` if an
    element runs past the extension block.
    """
    block = _extension_block(buf)
    if block is None:
        return
    profile, pos, end = block
    if profile == ONE_BYTE_PROFILE:
        while pos < end:
            byte = buf[pos]
            if byte == 0:  # RFC 8285 §4.2: padding between elements
                pos += 1
                continue
            ext_id, size = byte >> 4, (byte & 0x0F) + 1
            if ext_id == 15:  # reserved: stop processing, §4.2
                return
            if pos + 1 + size > end:
                raise PacketError("one-byte extension element too long", reason="extension")
            yield ext_id, bytes(buf[pos + 1 : pos + 1 + size])
            pos += 1 + size
    elif profile & TWO_BYTE_PROFILE_MASK == TWO_BYTE_PROFILE:
        while pos < end:
            ext_id = buf[pos]
            if ext_id == 0:  # padding, RFC 8285 §4.3
                pos += 1
                continue
            if pos + 2 > end:
                raise PacketError("two-byte extension element truncated", reason="extension")
            size = buf[pos + 1]
            if pos + 2 + size > end:
                raise PacketError("two-byte extension element too long", reason="extension")
            yield ext_id, bytes(buf[pos + 2 : pos + 2 + size])
            pos += 2 + size


def get_extension(buf: bytes | bytearray | memoryview, ext_id: int) -> bytes | None:
    """Value of the header extension element `ext_id`, or None."""
    for found, value in iter_extensions(buf):
        if found == ext_id:
            return value
    return None


def read_mid(buf: bytes | bytearray | memoryview, mid_ext_id: int) -> str | None:
    """The BUNDLE media identification (RFC 8843 §15.2) carried in the
    extension negotiated as `urn:ietf:params:rtp-hdrext:sdes:mid`."""
    value = get_extension(buf, mid_ext_id)
    if value is None:
        return None
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise PacketError("MID extension is not ASCII", reason="extension") from None


def build_extensions(elements: Sequence[tuple[int, bytes]]) -> tuple[int, bytes]:
    """Encode elements into `(profile, data)` for `RtpHeader`.

    Uses the one-byte form when every id is 1-14 and every value 1-16 bytes
    long, otherwise the two-byte form (RFC 8285 §4.2, §4.3). Data is
    zero-padded to a 32-bit boundary.
    """
    one_byte = all(1 <= i <= 14 and 1 <= len(v) <= 16 for i, v in elements)
    out = bytearray()
    for ext_id, value in elements:
        if one_byte:
            out.append((ext_id << 4) | (len(value) - 1))
        else:
            if not 1 <= ext_id <= 255 or len(value) > 255:
                raise ValueError(f"extension {ext_id} cannot be encoded")
            out += bytes((ext_id, len(value)))
        out += value
    out += bytes(-len(out) % 4)
    return (ONE_BYTE_PROFILE if one_byte else TWO_BYTE_PROFILE), bytes(out)


# -------------------------------------------------------------------- RTCP


class RtcpType(enum.IntEnum):
    """RTCP packet types: RFC 3550 §12.1 (200-204), RFC 4585 §6.1 (205-206),
    RFC 3611 (207)."""

    SR = 200
    RR = 201
    SDES = 202
    BYE = 203
    APP = 204
    RTPFB = 205
    PSFB = 206
    XR = 207


class PsfbFormat(enum.IntEnum):
    """Payload-specific feedback FMT values: RFC 4585 §6.3 (PLI = 1),
    RFC 5104 §4.3.1 (FIR = 4), RFC 4585 §6.4 (AFB = 15, REMB)."""

    PLI = 1
    FIR = 4
    AFB = 15


@attrs.frozen
class RtcpHeader:
    """One packet of a compound RTCP packet: where it sits and what it is.

    `count` is the 5-bit RC/SC/FMT field; `ssrc` is the first 32-bit word
    after the header (the sender's SSRC for SR, RR, RTPFB, PSFB, XR; the first
    chunk's or source's SSRC for SDES and BYE; 0 if absent).
    """

    packet_type: int
    count: int
    offset: int
    length: int
    ssrc: int


def iter_rtcp(buf: bytes | bytearray | memoryview) -> Iterator[RtcpHeader]:
    """Walk a (compound) RTCP packet, validating each header.

    RFC 3550 §6.4.1 / appendix A.2: version 2 and lengths summing exactly
    to the datagram. The first-packet-is-SR/RR rule is not enforced, as
    reduced-size RTCP (RFC 5506) relaxes it.
    """
    total = len(buf)
    if total < 4:
        raise PacketError(f"RTCP packet of {total} bytes is too short", reason="short")
    pos = 0
    while pos < total:
        if pos + 4 > total:
            raise PacketError("RTCP header past end of packet", reason="short")
        first, packet_type, words = struct.unpack_from("!BBH", buf, pos)
        if first >> 6 != 2:
            raise PacketError(f"RTCP version {first >> 6}, expected 2", reason="version")
        size = 4 * (words + 1)
        if pos + size > total:
            raise PacketError("RTCP length field past end of packet", reason="length")
        ssrc = _U32.unpack_from(buf, pos + 4)[0] if size >= RTCP_HEADER_LENGTH else 0
        yield RtcpHeader(
            packet_type=packet_type, count=first & 0x1F, offset=pos, length=size, ssrc=ssrc
        )
        pos += size


def rtcp_sender_ssrc(buf: bytes | bytearray | memoryview) -> int:
    """The SSRC of the first packet of a compound RTCP packet (hot path)."""
    if len(buf) < RTCP_HEADER_LENGTH:
        raise PacketError("RTCP packet too short for an SSRC", reason="short")
    return _U32.unpack_from(buf, 4)[0]


def _rtcp(packet_type: int, count: int, body: bytes) -> bytes:
    if len(body) % 4:
        raise ValueError("RTCP body must be a multiple of 4 bytes")
    return struct.pack("!BBH", 0x80 | count, packet_type, len(body) // 4) + body


def build_rr(sender_ssrc: int) -> bytes:
    """An empty receiver report (RFC 3550 §6.4.2), e.g. to open a compound."""
    return _rtcp(RtcpType.RR, 0, _U32.pack(sender_ssrc))


def build_pli(sender_ssrc: int, media_ssrc: int) -> bytes:
    """Picture Loss Indication, RFC 4585 §6.3.1 (no FCI)."""
    return _rtcp(RtcpType.PSFB, PsfbFormat.PLI, struct.pack("!II", sender_ssrc, media_ssrc))


def build_fir(sender_ssrc: int, media_ssrc: int, sequence: int) -> bytes:
    """Full Intra Request, RFC 5104 §4.3.1: media SSRC 0, one FCI entry."""
    body = struct.pack("!IIIB3x", sender_ssrc, 0, media_ssrc, sequence & 0xFF)
    return _rtcp(RtcpType.PSFB, PsfbFormat.FIR, body)


def build_bye(ssrcs: Sequence[int]) -> bytes:
    """BYE for the given sources, RFC 3550 §6.6 (no reason text)."""
    return _rtcp(RtcpType.BYE, len(ssrcs), b"".join(_U32.pack(s) for s in ssrcs))
