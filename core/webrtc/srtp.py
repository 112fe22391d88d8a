"""SRTP/SRTCP for one leg through pylibsrtp (RFC 3711, RFC 7714 for GCM).

A leg has two libsrtp sessions: one that unprotects what the peer sends,
keyed with the peer's write key, and one that protects what we send, keyed
with ours. Both keys come from the DTLS-SRTP exporter (RFC 5764 §4.2).
"""

from __future__ import annotations

import enum

import attrs
import pylibsrtp
from pylibsrtp._binding import ffi as _ffi
from pylibsrtp._binding import lib as _lib

from wcs_trio.core.webrtc.errors import SrtpError

Buffer = bytes | bytearray | memoryview

_memmove = _ffi.memmove
_protect = _lib.srtp_protect
_protect_rtcp = _lib.srtp_protect_rtcp
_unprotect = _lib.srtp_unprotect
_unprotect_rtcp = _lib.srtp_unprotect_rtcp


class SrtpProfile(enum.IntEnum):
    """DTLS-SRTP protection profiles: RFC 5764 §4.1.2 (0x0001) and
    RFC 7714 §14.2 (0x0007). Values are the wire identifiers."""

    AES128_CM_SHA1_80 = 0x0001
    AEAD_AES_128_GCM = 0x0007


@attrs.frozen
class ProfileInfo:
    """Key sizes and per-packet overhead of a profile.

    `auth_tag` is 10 bytes for HMAC-SHA1-80 (RFC 3711 §5.2) and 16 for the
    GCM tag (RFC 7714 §7); SRTCP adds the 4-byte E flag + index word
    (RFC 3711 §3.4).
    """

    openssl_name: bytes
    key_length: int
    salt_length: int
    auth_tag: int
    libsrtp_profile: int

    @property
    def min_srtp_length(self) -> int:
        return 12 + self.auth_tag

    @property
    def min_srtcp_length(self) -> int:
        return 8 + 4 + self.auth_tag


PROFILES: dict[SrtpProfile, ProfileInfo] = {
    SrtpProfile.AES128_CM_SHA1_80: ProfileInfo(
        b"SRTP_AES128_CM_SHA1_80", 16, 14, 10,
        pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    ),
    SrtpProfile.AEAD_AES_128_GCM: ProfileInfo(
        b"SRTP_AEAD_AES_128_GCM", 16, 12, 16,
        pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    ),
}


def profile_from_openssl_name(name: bytes) -> SrtpProfile:
    for profile, info in PROFILES.items():
        if info.openssl_name == name:
            return profile
    raise SrtpError(f"unsupported SRTP profile {name!r}", reason="profile")


#: libsrtp's srtp_err_status_t values we turn into counter names
#: (srtp.h: 7 auth_fail, 9 replay_fail, 10 replay_old).
_REASONS_BY_STATUS = {7: "auth", 9: "replay", 10: "replay"}
#: Room libsrtp may append when protecting: tag + MKI (SRTP_MAX_TRAILER_LEN)
#: and, for SRTCP, the 4-byte E + index word as well.
_MAX_TRAILER = 16 + 128 + 4
#: Largest packet we handle; a datagram on the shared port is at most this.
MAX_PACKET = 2048


def _session(policy: pylibsrtp.Policy) -> tuple[object, object]:
    """A libsrtp session made straight from the C API: (owner, srtp_t).

    pylibsrtp's `Session` checks `isinstance(packet, bytes)`, allocates an
    `int *` and copies in and out on every call; the hot path instead keeps
    one buffer and one length cell per direction and calls libsrtp directly
    through the same CFFI binding. `Policy` (public API) still builds the
    policy, and libsrtp copies what it needs in `srtp_create`.
    """
    holder = _ffi.new("srtp_t *")
    status = _lib.srtp_create(holder, policy._policy)
    if status != _lib.srtp_err_status_ok:
        raise SrtpError(f"srtp_create failed with status {status}", reason="srtp")
    owner = _ffi.gc(holder, lambda h: _lib.srtp_dealloc(h[0]))
    return owner, owner[0]


class SrtpContext:
    """Protect/unprotect for one leg (all SSRCs, RTP and RTCP).

    Every method takes any bytes-like object (`bytes`, `bytearray`,
    `memoryview`) and returns new `bytes`: one copy into libsrtp's working
    buffer, one copy out, and nothing else allocated on success.
    """

    def __init__(self, profile: SrtpProfile, local_key: bytes, remote_key: bytes) -> None:
        info = PROFILES[profile]
        self.profile = profile
        self.info = info
        inbound = pylibsrtp.Policy(
            key=remote_key,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
            srtp_profile=info.libsrtp_profile,
        )
        outbound = pylibsrtp.Policy(
            key=local_key,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
            srtp_profile=info.libsrtp_profile,
        )
        # A relay may legitimately resend a packet it already protected
        # (e.g. a NACK answered from a cache), so repeated sequence numbers
        # on transmit are allowed.
        outbound.allow_repeat_tx = True
        self._rx_owner, self._rx = _session(inbound)
        self._tx_owner, self._tx = _session(outbound)
        # Separate working buffers: a packet unprotected in a callback may be
        # protected for another leg before the callback returns.
        self._rx_buf = _ffi.new("char[]", MAX_PACKET)
        self._rx_bytes = _ffi.buffer(self._rx_buf)
        self._rx_len = _ffi.new("int *")
        self._tx_buf = _ffi.new("char[]", MAX_PACKET + _MAX_TRAILER)
        self._tx_bytes = _ffi.buffer(self._tx_buf)
        self._tx_len = _ffi.new("int *")
        self._min_rtp = info.min_srtp_length
        self._min_rtcp = info.min_srtcp_length

    def unprotect_rtp(self, packet: Buffer, n: int = -1) -> bytes:
        """The RTP packet in the first `n` bytes of `packet` (all if -1)."""
        if n < 0:
            n = len(packet)
        if n < self._min_rtp:
            raise SrtpError("SRTP packet shorter than header + tag", reason="short")
        if n > MAX_PACKET:
            raise SrtpError("SRTP packet too long", reason="long")
        _memmove(self._rx_buf, packet, n)
        length = self._rx_len
        length[0] = n
        status = _unprotect(self._rx, self._rx_buf, length)
        if status:
            raise SrtpError(f"srtp_unprotect: status {status}",
                            reason=_REASONS_BY_STATUS.get(status, "srtp"))
        return self._rx_bytes[0 : length[0]]

    def unprotect_rtcp(self, packet: Buffer, n: int = -1) -> bytes:
        if n < 0:
            n = len(packet)
        if n < self._min_rtcp:
            raise SrtpError("SRTCP packet shorter than header + index + tag", reason="short")
        if n > MAX_PACKET:
            raise SrtpError("SRTCP packet too long", reason="long")
        _memmove(self._rx_buf, packet, n)
        length = self._rx_len
        length[0] = n
        status = _unprotect_rtcp(self._rx, self._rx_buf, length)
        if status:
            raise SrtpError(f"srtp_unprotect_rtcp: status {status}",
                            reason=_REASONS_BY_STATUS.get(status, "srtp"))
        return self._rx_bytes[0 : length[0]]

    def protect_rtp(self, packet: Buffer) -> bytes:
        n = len(packet)
        if n > MAX_PACKET:
            raise SrtpError("RTP packet too long to protect", reason="protect")
        _memmove(self._tx_buf, packet, n)
        length = self._tx_len
        length[0] = n
        status = _protect(self._tx, self._tx_buf, length)
        if status:
            raise SrtpError(f"srtp_protect: status {status}", reason="protect")
        return self._tx_bytes[0 : length[0]]

    def protect_rtcp(self, packet: Buffer) -> bytes:
        n = len(packet)
        if n > MAX_PACKET:
            raise SrtpError("RTCP packet too long to protect", reason="protect")
        _memmove(self._tx_buf, packet, n)
        length = self._tx_len
        length[0] = n
        status = _protect_rtcp(self._tx, self._tx_buf, length)
        if status:
            raise SrtpError(f"srtp_protect_rtcp: status {status}", reason="protect")
        return self._tx_bytes[0 : length[0]]
