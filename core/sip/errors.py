"""Errors of the SIP core.

A peer's mistake is never a plain ``ValueError``: the parser raises
:class:`SipParseError`, which carries the status the stack answers with (or
``None`` when no answer can be formed and the message is dropped).
"""

from __future__ import annotations

from typing import Any


class SipError(Exception):
    """Base class of every error raised by ``wcs_trio.core.sip``."""


class SipParseError(SipError):
    """A message (or one of its parts) does not follow RFC 3261's grammar.

    ``reason`` names the problem and becomes the reason phrase of the reply;
    ``status`` is the reply's code (400 unless a more precise one exists, 505
    for an unknown SIP version), or ``None`` when the stack must drop the
    message silently (an unparseable response, a start line that is not a
    request). ``raw`` holds what could be read of the message (start line and
    header fields) so the stack can still copy Via/From/To/Call-ID/CSeq into
    its reply.
    """

    def __init__(self, reason: str, status: int | None = 400, *, raw: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.raw = raw

    @property
    def drop(self) -> bool:
        """True when no response can be formed: the message is discarded."""
        return self.status is None

    def __repr__(self) -> str:
        return f"SipParseError({self.reason!r}, status={self.status!r})"


class SipAccountError(SipError, ValueError):
    """An account setting is unusable; ``field`` is the SDK's name for it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TransportError(SipError):
    """A message could not be sent (connection refused, reset, TLS failure...)."""


class SipTimeout(SipError):
    """A client transaction ended without a final response (Timer B or F)."""
