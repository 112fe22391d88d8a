import pytest

from wcs_trio.core.calls.status import (
    REQUEST_TIMEOUT,
    CallStatus,
    established,
    for_final_failure,
    for_provisional,
)


@pytest.mark.parametrize(
    ("code", "reason", "has_sdp", "status"),
    [
        (180, "Ringing", False, CallStatus.RING),
        (181, "Call Is Being Forwarded", False, CallStatus.RING),
        (180, "Ringing", True, CallStatus.RING_MEDIA),
        (183, "Session Progress", True, CallStatus.RING_MEDIA),
        (183, "Session Progress", False, CallStatus.SESSION_PROGRESS),
    ],
)
def test_provisional(code: int, reason: str, has_sdp: bool, status: CallStatus) -> None:
    notice = for_provisional(code, reason, has_sdp=has_sdp)
    assert notice is not None and notice.message == "ring" and notice.status is status
    assert notice.body("c1") == {"callId": "c1", "status": status.value, "sipStatus": code, "sipMessage": reason}


def test_trying_says_nothing_new() -> None:
    assert for_provisional(100, "Trying", has_sdp=False) is None


@pytest.mark.parametrize(
    ("code", "reason", "status", "info"),
    [
        (486, "Busy Here", CallStatus.BUSY, "486 Busy Here"),
        (600, "Busy Everywhere", CallStatus.BUSY, "600 Busy Everywhere"),
        (404, "Not Found", CallStatus.FAILED, "404 Not Found"),
        (480, "Temporarily Unavailable", CallStatus.FAILED, "480 Temporarily Unavailable"),
        (487, "Request Terminated", CallStatus.FAILED, "487 Request Terminated"),
        (488, "Not Acceptable Here", CallStatus.FAILED, "488 Not Acceptable Here"),
        (503, "Service Unavailable", CallStatus.FAILED, "503 Service Unavailable"),
        (403, "Forbidden", CallStatus.FAILED, "403 Forbidden"),
        (408, "Request Timeout", CallStatus.FAILED, REQUEST_TIMEOUT),
    ],
)
def test_final_failures(code: int, reason: str, status: CallStatus, info: str) -> None:
    notice = for_final_failure(code, reason)
    assert (notice.message, notice.status, notice.info) == ("finish", status, info)
    assert notice.status.final
    assert notice.body("x")["sipStatus"] == code


def test_established_is_talk() -> None:
    notice = established()
    assert notice.message == "talk" and notice.status is CallStatus.ESTABLISHED and not notice.status.final
