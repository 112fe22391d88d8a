"""SRTP/SRTCP for one leg through pylibsrtp (RFC 3711, RFC 7714 for GCM).

A leg has two libsrtp sessions: one that unprotects what the peer sends,
keyed with the peer's write key, and one that protects what we send, keyed
with ours. Both keys come from the DTLS-SRTP exporter (RFC 5764 §4.2).
"""

from __future__ import annotations

import enum

import attrs
import pylibsrtp

from wcs_trio.core.webrtc.errors import SrtpError


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


def _reason(error: pylibsrtp.Error) -> str:
    text = str(error)
    for reason in ("replay", "auth"):
        if reason in text:
            return reason
    return "srtp"


class SrtpContext:
    """Protect/unprotect for one leg (all SSRCs, RTP and RTCP).

    pylibsrtp takes and returns `bytes`; callers holding a memoryview of a
    receive buffer pay one copy here, which is the cheapest available.
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
        self._rx = pylibsrtp.Session(inbound)
        self._tx = pylibsrtp.Session(outbound)
        self._min_rtp = info.min_srtp_length
        self._min_rtcp = info.min_srtcp_length

    def unprotect_rtp(self, packet: bytes) -> bytes:
        if len(packet) < self._min_rtp:
            raise SrtpError("SRTP packet shorter than header + tag", reason="short")
        try:
            return self._rx.unprotect(packet)
        except pylibsrtp.Error as error:
            raise SrtpError(str(error), reason=_reason(error)) from None

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        if len(packet) < self._min_rtcp:
            raise SrtpError("SRTCP packet shorter than header + index + tag", reason="short")
        try:
            return self._rx.unprotect_rtcp(packet)
        except pylibsrtp.Error as error:
            raise SrtpError(str(error), reason=_reason(error)) from None

    def protect_rtp(self, packet: bytes) -> bytes:
        try:
            return self._tx.protect(packet)
        except (pylibsrtp.Error, ValueError) as error:
            raise SrtpError(str(error), reason="protect") from None

    def protect_rtcp(self, packet: bytes) -> bytes:
        try:
            return self._tx.protect_rtcp(packet)
        except (pylibsrtp.Error, ValueError) as error:
            raise SrtpError(str(error), reason="protect") from None
