"""SrtpContext: our direct libsrtp calls agree with pylibsrtp's own Session,
take any bytes-like input, and turn failures into counted reasons."""

from __future__ import annotations

import pylibsrtp
import pytest

from wcs_trio.core.webrtc.errors import SrtpError
from wcs_trio.core.webrtc.srtp import MAX_PACKET, PROFILES, SrtpContext, SrtpProfile

RTP = bytes.fromhex("80 6f 0001 00000001 0000abcd") + bytes(range(160))
RTCP = bytes.fromhex("80c80006 0000abcd") + bytes(20)  # a sender report


def keys(profile: SrtpProfile) -> tuple[bytes, bytes]:
    info = PROFILES[profile]
    size = info.key_length + info.salt_length
    return bytes(range(1, size + 1)), bytes(range(100, 100 + size))


def reference(profile: SrtpProfile, key: bytes, inbound: bool) -> pylibsrtp.Session:
    kind = pylibsrtp.Policy.SSRC_ANY_INBOUND if inbound else pylibsrtp.Policy.SSRC_ANY_OUTBOUND
    return pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=kind,
                                              srtp_profile=PROFILES[profile].libsrtp_profile))


@pytest.mark.parametrize("profile", list(SrtpProfile))
def test_interoperates_with_pylibsrtp_session(profile: SrtpProfile) -> None:
    ours_key, theirs_key = keys(profile)
    ours = SrtpContext(profile, ours_key, theirs_key)
    their_tx = reference(profile, theirs_key, inbound=False)
    their_rx = reference(profile, ours_key, inbound=True)
    protected = ours.protect_rtp(RTP)
    assert len(protected) == len(RTP) + PROFILES[profile].auth_tag
    assert their_rx.unprotect(protected) == RTP
    assert their_rx.unprotect_rtcp(ours.protect_rtcp(RTCP)) == RTCP
    assert ours.unprotect_rtp(their_tx.protect(RTP)) == RTP
    assert ours.unprotect_rtcp(their_tx.protect_rtcp(RTCP)) == RTCP


def test_accepts_a_prefix_of_a_receive_buffer_and_any_bytes_like() -> None:
    a_key, b_key = keys(SrtpProfile.AES128_CM_SHA1_80)
    a = SrtpContext(SrtpProfile.AES128_CM_SHA1_80, a_key, b_key)
    b = SrtpContext(SrtpProfile.AES128_CM_SHA1_80, b_key, a_key)
    protected = a.protect_rtp(memoryview(bytearray(RTP)))
    buffer = bytearray(2048)
    buffer[: len(protected)] = protected
    buffer[len(protected)] = 0xFF  # trailing garbage beyond n is ignored
    packet = b.unprotect_rtp(buffer, len(protected))
    assert packet == RTP and type(packet) is bytes
    # The result is a copy: reusing the working buffer leaves it intact.
    b.unprotect_rtp(a.protect_rtp(RTP[:2] + b"\x00\x02" + RTP[4:]))
    assert packet == RTP


def test_failures_are_srtp_errors_with_counter_reasons() -> None:
    a_key, b_key = keys(SrtpProfile.AEAD_AES_128_GCM)
    a = SrtpContext(SrtpProfile.AEAD_AES_128_GCM, a_key, b_key)
    b = SrtpContext(SrtpProfile.AEAD_AES_128_GCM, b_key, a_key)
    protected = a.protect_rtp(RTP)
    cases = [
        (protected[:-1] + bytes([protected[-1] ^ 1]), "auth"),
        (protected, None),
        (protected, "replay"),
        (protected[:20], "short"),
        (bytes(MAX_PACKET + 1), "long"),
    ]
    for data, reason in cases:
        if reason is None:
            assert b.unprotect_rtp(data) == RTP
            continue
        with pytest.raises(SrtpError) as caught:
            b.unprotect_rtp(data)
        assert caught.value.reason == reason
    with pytest.raises(SrtpError) as caught:
        b.unprotect_rtcp(b"\x80\xc8\x00\x01")
    assert caught.value.reason == "short"
    with pytest.raises(SrtpError) as caught:
        a.protect_rtp(bytes(MAX_PACKET + 1))
    assert caught.value.reason == "protect"
