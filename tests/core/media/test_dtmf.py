import struct

import pytest

from wcs_trio.core.media.dtmf import BadDigit, EventReceiver, check_digits, digit_packets


def fields(payload: bytes) -> tuple[int, bool, int, int]:
    code, flags, duration = struct.unpack("!BBH", payload)
    return code, bool(flags & 0x80), flags & 0x3F, duration


def test_one_digit_is_start_updates_and_three_ends() -> None:
    packets = digit_packets("5", duration_ms=100, packet_ms=20)
    decoded = [fields(p.payload) for p in packets]
    assert [d[3] for d in decoded] == [160, 320, 480, 640, 800, 800, 800]
    assert [d[1] for d in decoded] == [False] * 4 + [True] * 3
    assert {d[0] for d in decoded} == {5} and {d[2] for d in decoded} == {10}
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert all(p.timestamp_offset == 0 for p in packets)


@pytest.mark.parametrize(("digit", "code"), [("0", 0), ("9", 9), ("*", 10), ("#", 11), ("a", 12), ("D", 15)])
def test_event_codes(digit: str, code: int) -> None:
    assert fields(digit_packets(digit)[0].payload)[0] == code


def test_bad_digits_are_refused_naming_them() -> None:
    with pytest.raises(BadDigit, match="'x'"):
        check_digits("12x")
    assert check_digits("12ab#") == "12AB#"


def test_receiver_reports_each_event_once() -> None:
    receiver = EventReceiver()
    seen = []
    for timestamp, digit in ((1000, "1"), (3000, "2"), (5000, "2"), (7000, "#")):
        for packet in digit_packets(digit):
            result = receiver.receive(packet.payload, timestamp)
            if result:
                seen.append(result)
    assert seen == ["1", "2", "2", "#"]
    assert receiver.receive(b"\x01", 9000) is None
