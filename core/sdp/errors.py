"""Errors raised for SDP a peer (or the SDK) got wrong.

The call layer never lets one of these escape a call's task: it turns a
:class:`SdpError` into a ``488 Not Acceptable Here`` on the SIP side (RFC 3261
§21.4.26) or a FAILED call event carrying :meth:`SdpError.reason` on the browser
side.
"""

from __future__ import annotations

from wcs_trio.core.errors import Refusal


class SdpError(Refusal):
    """An SDP body, or one line of it, is malformed or cannot be negotiated.

    ``line_no`` is the 1-based line number inside the body (``None`` when the
    fault is not one line, e.g. "no common codec"); ``line`` is the offending
    text as received; ``status`` is the SIP reply the call layer should send.
    A :class:`Refusal`, so the plugin manager lets it through a hook call.
    """

    def __init__(
        self,
        message: str,
        *,
        line_no: int | None = None,
        line: str | None = None,
        status: int = 488,
    ) -> None:
        self.message = message
        self.line_no = line_no
        self.line = line
        self.status = status
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        """One human-readable sentence naming the line, for logs and FAILED events."""
        if self.line is None:
            return self.message
        where = f"line {self.line_no}" if self.line_no is not None else "line"
        return f"{self.message} ({where}: {self.line!r})"
