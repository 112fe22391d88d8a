"""What the page is told for each SIP event of a call (PROTOCOL.md §4.2–4.4).

Pure functions: a SIP status code (and whether it carried SDP) in, the SDK message
name, CALL_STATUS and reason out. The SDK raises the CALL_STATUS named by ``status``;
the message name only routes it.
"""

from __future__ import annotations

import enum

import attrs


class CallStatus(enum.StrEnum):
    """The SDK's CALL_STATUS values (each equals its name)."""

    NEW = "NEW"
    RING = "RING"
    RING_MEDIA = "RING_MEDIA"
    HOLD = "HOLD"
    ESTABLISHED = "ESTABLISHED"
    FINISH = "FINISH"
    BUSY = "BUSY"
    SESSION_PROGRESS = "SESSION_PROGRESS"
    FAILED = "FAILED"
    PENDING = "PENDING"
    TRYING = "TRYING"

    @property
    def final(self) -> bool:
        return self in (CallStatus.FINISH, CallStatus.FAILED, CallStatus.BUSY)


# CALL_STATUS_INFO values of the SDK, for failures without a SIP reply of their own.
NORMAL_CLEARING = "Normal call clearing"
REQUEST_TIMEOUT = "Failed by request timeout"
NO_COMMON_CODECS = "No common codecs"
TRANSPORT_FAILURE = "SIP transport failure"


@attrs.frozen
class Notice:
    """One server → page message about a call."""

    message: str  # notifyTryingResponse, ring, talk, hold, finish
    status: CallStatus
    sip_status: int | None = None
    sip_message: str = ""
    info: str = ""

    def body(self, call_id: str, **extra: object) -> dict[str, object]:
        out: dict[str, object] = {"callId": call_id, "status": self.status.value, **extra}
        if self.sip_status is not None:
            out["sipStatus"] = self.sip_status
            out["sipMessage"] = self.sip_message
        if self.info:
            out["info"] = self.info
        return out


def for_provisional(code: int, reason: str, *, has_sdp: bool) -> Notice | None:
    """A 1xx to our INVITE. 100 says nothing new (TRYING was sent with the call)."""
    if code == 100:
        return None
    if has_sdp:  # early media (RFC 3960): the page plays what the callee sends
        return Notice("ring", CallStatus.RING_MEDIA, code, reason)
    if code == 183:
        return Notice("ring", CallStatus.SESSION_PROGRESS, code, reason)
    return Notice("ring", CallStatus.RING, code, reason)


def for_final_failure(code: int, reason: str) -> Notice:
    """A final non-2xx to our INVITE: BUSY for 486 and 600, FAILED otherwise."""
    status = CallStatus.BUSY if code in (486, 600) else CallStatus.FAILED
    info = REQUEST_TIMEOUT if code == 408 else f"{code} {reason}".strip()
    return Notice("finish", status, code, reason, info)


def established(code: int = 200, reason: str = "OK") -> Notice:
    return Notice("talk", CallStatus.ESTABLISHED, code, reason)


def finished(info: str = NORMAL_CLEARING) -> Notice:
    return Notice("finish", CallStatus.FINISH, info=info)


def failed(info: str, code: int | None = None, reason: str = "") -> Notice:
    return Notice("finish", CallStatus.FAILED, code, reason, info)
