"""Exceptions raised by the WebRTC transport for a peer's mistakes.

Each class names what the peer got wrong. Where the protocol has a wire reply
(a STUN error response) the exception carries its code, so the caller can send
it without guessing. None of them escapes the endpoint's receive loop: there
they become drop counters.
"""

from __future__ import annotations


class WebRtcError(Exception):
    """Base class for every error in `wcs_trio.core.webrtc`."""


class PacketError(WebRtcError):
    """A datagram is not a well-formed RTP, RTCP, SRTP or SRTCP packet.

    `reason` is a short, stable token usable as a counter name ("short",
    "version", "extension", ...).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class StunError(WebRtcError):
    """A STUN request we must reject; `code` is the ERROR-CODE to answer with.

    RFC 5389 §15.6 and RFC 8445 §7.3.1.1 define the codes we use: 400 Bad
    Request, 401 Unauthorized, 487 Role Conflict. `code` is None when the
    request must be dropped silently (RFC 5389 §10.1.2: a request whose
    credentials we cannot check gets no answer that would help an attacker).
    """

    def __init__(self, message: str, *, code: int | None) -> None:
        super().__init__(message)
        self.code = code


class DtlsError(WebRtcError):
    """The DTLS handshake failed: bad records, an alert, a timeout or a wrong
    certificate fingerprint. The leg that owns the endpoint fails with it."""


class FingerprintMismatch(DtlsError):
    """The peer's certificate does not hash to the SDP `a=fingerprint`
    (RFC 5763 §5: the association MUST then be torn down)."""


class SrtpError(WebRtcError):
    """An SRTP or SRTCP packet failed authentication, was replayed, or could
    not be protected; `reason` is a counter name."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class LegUsageError(WebRtcError):
    """The owner called a leg method out of order (e.g. `set_remote` on a
    leg that did not offer, or twice): a bug on our side, not the peer's."""
