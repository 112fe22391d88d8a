"""DTMF as RFC 4733 telephone-events: building them to send, recognising them received.

Sans-IO. The sender turns a digit into the payloads of one event (RFC 4733 §2.5.1): a
first packet with the marker bit, updates every packet interval with a growing
duration, and the end packet sent three times (§2.5.1.4: redundancy against loss), all
with the timestamp of the event's start. The receiver reports each event once, on its
first packet, however many updates and end retransmissions follow.
"""

from __future__ import annotations

import struct

import attrs

#: RFC 4733 §3.2: event codes 0-9, *, #, A-D.
EVENTS = "0123456789*#ABCD"
_EVENT = struct.Struct("!BBH")


class BadDigit(ValueError):
    """A DTMF string holds something that is not 0-9, *, #, A-D."""


def event_code(digit: str) -> int:
    index = EVENTS.find(digit.upper())
    if index < 0 or len(digit) != 1:
        raise BadDigit(f"{digit!r} is not a DTMF digit (0-9, *, #, A-D)")
    return index


def check_digits(digits: str) -> str:
    for digit in digits:
        event_code(digit)
    return digits.upper()


@attrs.frozen
class EventPacket:
    """One telephone-event payload and how the RTP header around it must look."""

    payload: bytes
    marker: bool
    timestamp_offset: int  # from the first packet of the digit, in clock ticks (always 0)
    end: bool


def digit_packets(digit: str, *, clock_rate: int = 8000, duration_ms: int = 160,
                  packet_ms: int = 20, volume: int = 10) -> list[EventPacket]:
    """Every payload of one digit, in sending order (one per ``packet_ms``, then 2 more ends)."""
    code = event_code(digit)
    step = clock_rate * packet_ms // 1000
    total = clock_rate * duration_ms // 1000
    packets = []
    duration = step
    while duration < total:
        packets.append(EventPacket(_EVENT.pack(code, volume & 0x3F, duration), duration == step, 0, False))
        duration += step
    end = _EVENT.pack(code, 0x80 | (volume & 0x3F), min(total, 0xFFFF))
    packets += [EventPacket(end, not packets, 0, True)] + [EventPacket(end, False, 0, True)] * 2
    return packets


@attrs.define
class EventReceiver:
    """Recognises digits in received telephone-event payloads (one report per event)."""

    _last_timestamp: int | None = None

    def receive(self, payload: bytes | memoryview, timestamp: int) -> str | None:
        """The digit when this packet starts a new event, else ``None``."""
        if len(payload) < 4:
            return None
        code, _flags, _duration = _EVENT.unpack_from(payload)
        if code >= len(EVENTS) or timestamp == self._last_timestamp:
            return None  # an update or a repeated end of the event already reported
        self._last_timestamp = timestamp
        return EVENTS[code]
