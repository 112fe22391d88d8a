"""RTCP pieces the bridge takes apart and rebuilds when it moves reports between legs.

The bridge does not forward compound packets byte for byte: a BUNDLEd browser sends one
compound for audio and video while a SIP device has an RTCP port per stream, and every
SSRC and sequence number in a report refers to the rewritten streams. So reports are
parsed into sender info and report blocks (RFC 3550 §6.4.1, §6.4.2), mapped, and put
back into a fresh compound: SR or RR first, then SDES with a CNAME (RFC 3550 §6.1 asks
for both in every compound), then feedback (RFC 4585 §3.1).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Sequence

import attrs

from wcs_trio.core.webrtc.rtp import RtcpHeader, RtcpType

_U32 = struct.Struct("!I")
_BLOCK = struct.Struct("!I4sIIII")  # SSRC, fraction+cumulative lost, ext seq, jitter, LSR, DLSR
SENDER_INFO_LENGTH = 20  # NTP (8), RTP timestamp (4), packet count (4), octet count (4)
BLOCK_LENGTH = 24
MAX_BLOCKS = 31  # the 5-bit report count (RFC 3550 §6.4.1)


class RtpfbFormat(enum.IntEnum):
    """Transport-layer feedback FMT values: RFC 4585 §6.2.1 (Generic NACK = 1)."""

    NACK = 1


@attrs.frozen
class Feedback:
    """The RTCP feedback a leg negotiated for one kind (RFC 4585 §4.2 ``a=rtcp-fb``:
    ``nack``, ``nack pli``; RFC 5104 §7.1 ``ccm fir``)."""

    nack: bool = False
    pli: bool = False
    fir: bool = False

    @classmethod
    def from_rtcp_fb(cls, values: Iterable[str]) -> Feedback:
        found = {" ".join(v.lower().split()) for v in values}
        return cls(nack="nack" in found, pli="nack pli" in found, fir="ccm fir" in found)


#: What a browser's WebRTC stack always understands for video.
BROWSER_FEEDBACK = Feedback(nack=True, pli=True, fir=True)


@attrs.frozen
class Report:
    """One SR or RR as parts: ``sender_info`` is ``None`` for an RR."""

    ssrc: int
    sender_info: bytes | None
    blocks: tuple[bytes, ...]


def parse_report(buf: bytes | bytearray | memoryview, header: RtcpHeader) -> Report:
    """Split an SR or RR (already located by ``iter_rtcp``) into its parts."""
    pos = header.offset + 8
    end = header.offset + header.length
    sender_info = None
    if header.packet_type == RtcpType.SR:
        sender_info = bytes(buf[pos : pos + SENDER_INFO_LENGTH])
        pos += SENDER_INFO_LENGTH
    blocks = []
    for _ in range(header.count):
        if pos + BLOCK_LENGTH > end:
            break  # a count larger than the packet: keep what is really there
        blocks.append(bytes(buf[pos : pos + BLOCK_LENGTH]))
        pos += BLOCK_LENGTH
    return Report(header.ssrc, sender_info, tuple(blocks))


def block_ssrc(block: bytes) -> int:
    return int(_U32.unpack_from(block, 0)[0])


def map_block(block: bytes, ssrc: int, seq_offset: int) -> bytes:
    """A report block about a rewritten stream, made to speak of the original: the
    original SSRC, and the extended highest sequence number less the offset we added."""
    _, lost, ext_seq, jitter, lsr, dlsr = _BLOCK.unpack(block)
    # The offset is modulo 2^16; as a signed step it keeps the cycle count right.
    step = seq_offset - 0x10000 if seq_offset >= 0x8000 else seq_offset
    return _BLOCK.pack(ssrc, lost, (ext_seq - step) & 0xFFFFFFFF, jitter, lsr, dlsr)


def map_sender_info(info: bytes, ts_offset: int) -> bytes:
    """Sender info with its RTP timestamp moved like the stream's (RFC 3550 §6.4.1:
    it must correspond to the NTP time for lip-sync to work)."""
    ntp, rtp_ts, packets, octets = struct.unpack("!QIII", info)
    return struct.pack("!QIII", ntp, (rtp_ts + ts_offset) & 0xFFFFFFFF, packets, octets)


def _packet(packet_type: int, count: int, body: bytes) -> bytes:
    return struct.pack("!BBH", 0x80 | count, packet_type, len(body) // 4) + body


def build_report(ssrc: int, sender_info: bytes | None, blocks: Sequence[bytes]) -> bytes:
    """An SR (with ``sender_info``) or RR carrying at most 31 report blocks."""
    blocks = list(blocks)[:MAX_BLOCKS]
    body = _U32.pack(ssrc) + (sender_info or b"") + b"".join(blocks)
    kind = RtcpType.SR if sender_info is not None else RtcpType.RR
    return _packet(kind, len(blocks), body)


def build_sdes(ssrc: int, cname: bytes) -> bytes:
    """SDES with one chunk holding a CNAME item (RFC 3550 §6.5, §6.5.1)."""
    item = bytes((1, len(cname))) + cname
    chunk = _U32.pack(ssrc) + item
    chunk += bytes(4 - len(chunk) % 4)  # the null item ending the list, then padding
    return _packet(RtcpType.SDES, 1, chunk)


def parse_nack(buf: bytes | bytearray | memoryview, header: RtcpHeader) -> tuple[int, list[tuple[int, int]]]:
    """(media SSRC, [(PID, BLP), ...]) of a Generic NACK (RFC 4585 §6.2.1)."""
    media = int(_U32.unpack_from(buf, header.offset + 8)[0])
    pairs = []
    for pos in range(header.offset + 12, header.offset + header.length - 3, 4):
        pid, blp = struct.unpack_from("!HH", buf, pos)
        pairs.append((pid, blp))
    return media, pairs


def build_nack(sender: int, media: int, pairs: Sequence[tuple[int, int]]) -> bytes:
    body = struct.pack("!II", sender, media) + b"".join(
        struct.pack("!HH", pid & 0xFFFF, blp) for pid, blp in pairs)
    return _packet(RtcpType.RTPFB, RtpfbFormat.NACK, body)


def psfb_media_ssrc(buf: bytes | bytearray | memoryview, header: RtcpHeader) -> int:
    """The media source of a PLI (RFC 4585 §6.1)."""
    return int(_U32.unpack_from(buf, header.offset + 8)[0]) if header.length >= 12 else 0


def fir_targets(buf: bytes | bytearray | memoryview, header: RtcpHeader) -> list[int]:
    """The SSRCs asked for a key frame by a FIR's FCI entries (RFC 5104 §4.3.1.1)."""
    return [int(_U32.unpack_from(buf, pos)[0])
            for pos in range(header.offset + 12, header.offset + header.length - 7, 8)]
