"""Built-in plugin: the SDK's per-call ``sipSDP`` lines (MISSION.md "SDP rules").

The lines go into the SDP we send to the SIP side — the INVITE's offer for an
outgoing call, the 200 OK's answer for an incoming one — after the session-level
``c=`` line and before ``t=``. The product we replace accepts ``b-TIAS:2500000``
for ``b=TIAS:2500000``, so a ``-`` right after the type letter stands for ``=``.

Only session-level lines that may stand there are accepted: bandwidth ``b=``
(RFC 8866 §5.8, e.g. ``b=AS:3000``, ``b=TIAS:2500000`` of RFC 3890) and
attributes ``a=``. Anything else, or a malformed one, refuses the call with an
:class:`SdpError` naming the entry. Applying the same lines twice (a re-INVITE
built from the previous SDP) adds nothing.
"""

from __future__ import annotations

import re
from typing import Any

from wcs_trio.core.hookspecs import hookimpl
from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.lines import Attribute, Bandwidth
from wcs_trio.core.sdp.model import SessionDescription

_DASH_FORM = re.compile(r"^([a-z])-")
_PARSERS = {"b": Bandwidth.parse, "a": Attribute.parse}


def normalize_line(entry: object, position: int) -> str:
    """One ``sipSDP`` entry as the SDP line to write; :class:`SdpError` if invalid."""
    if not isinstance(entry, str):
        raise SdpError(f"sipSDP entry {position} is not a string", line=repr(entry))
    line = _DASH_FORM.sub(r"\1=", entry.strip(), count=1)
    if len(line) < 3 or line[1] != "=" or line[0] not in _PARSERS:
        raise SdpError(
            f"sipSDP entry {position} is not a session-level b= or a= SDP line", line=entry
        )
    if any(c in line for c in "\r\n\0"):
        raise SdpError(f"sipSDP entry {position} contains a line break", line=entry)
    try:
        _PARSERS[line[0]](line[2:])
    except SdpError as exc:
        raise SdpError(f"sipSDP entry {position}: {exc.message}", line=entry) from None
    return line


def sip_sdp_lines(call_options: dict[str, Any]) -> list[str]:
    """Every ``sipSDP`` entry of the call options, validated and normalised."""
    entries = call_options.get("sipSDP") or []
    if isinstance(entries, str):
        entries = [entries]
    return [normalize_line(entry, n) for n, entry in enumerate(entries, start=1)]


def apply_sip_sdp(sdp: SessionDescription, lines: list[str]) -> None:
    """Place ``lines`` after ``c=`` and before ``t=``, skipping ones already there."""
    present = set(sdp.lines())
    for line in lines:
        if line not in present:
            sdp.extra.append(line)
            present.add(line)


@hookimpl
def wcs_rewrite_sip_offer(
    sdp: SessionDescription, call_options: dict[str, Any], settings: Any
) -> None:
    apply_sip_sdp(sdp, sip_sdp_lines(call_options))


@hookimpl
def wcs_rewrite_sip_answer(
    sdp: SessionDescription, call_options: dict[str, Any], settings: Any
) -> None:
    apply_sip_sdp(sdp, sip_sdp_lines(call_options))
