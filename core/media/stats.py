"""Per-leg, per-kind media counters: packets, bytes, losses and interarrival jitter.

Receive statistics follow RFC 3550 appendix A: the extended highest sequence number
(A.1, with wrap-around counted in ``cycles``), the expected and lost packet counts
(A.3: expected = highest - base + 1, lost = expected - received) and the interarrival
jitter estimate (A.8: J += (|D| - J) / 16, in timestamp units). A new SSRC or a jump
too large to be loss (A.1's MAX_DROPOUT) restarts the sequence base, keeping the
losses counted so far.

Sans-IO: the caller passes arrival time in seconds. :class:`MediaCounters` is an attrs
class of plain numbers, so it can live in the ECS world as is and serialise to JSON.
"""

from __future__ import annotations

from typing import Any

import attrs

#: RFC 3550 A.1: a forward jump up to this many sequence numbers is loss; more is a restart.
MAX_DROPOUT = 3000
#: RFC 3550 A.1: this far behind is a late or duplicate packet, not a restart.
MAX_MISORDER = 100
_SEQ_MOD = 1 << 16


@attrs.define
class MediaCounters:
    """What one leg sent us and what we sent it, for one media kind."""

    clock_rate: int = 8000
    packets_received: int = 0
    bytes_received: int = 0
    packets_sent: int = 0
    bytes_sent: int = 0
    lost: int = 0
    jitter: float = 0.0  # RFC 3550 A.8, timestamp units
    ssrc: int | None = None
    # RFC 3550 A.1 state for the current source.
    base_seq: int = 0
    max_seq: int = 0
    cycles: int = 0
    received_since_base: int = 0
    lost_before: int = 0
    last_transit: int | None = None

    def received(self, ssrc: int, seq: int, timestamp: int, size: int, now: float) -> None:
        """Account one received RTP packet (hot path: plain arithmetic only)."""
        self.packets_received += 1
        self.bytes_received += size
        if ssrc != self.ssrc:
            self._restart(ssrc, seq)
        else:
            delta = (seq - self.max_seq) % _SEQ_MOD
            if delta < MAX_DROPOUT:
                if seq < self.max_seq:
                    self.cycles += _SEQ_MOD
                self.max_seq = seq
            elif delta <= _SEQ_MOD - MAX_MISORDER:
                self._restart(ssrc, seq)
            # else: late or duplicate, counted as received only
        self.received_since_base += 1
        expected = self.cycles + self.max_seq - self.base_seq + 1
        self.lost = self.lost_before + max(0, expected - self.received_since_base)
        # RFC 3550 A.8: transit time in timestamp units; only its changes matter.
        transit = int(now * self.clock_rate + 0.5) - timestamp
        last = self.last_transit
        self.last_transit = transit
        if last is not None:
            d = transit - last
            if d < 0:
                d = -d
            if d < (1 << 31):  # a timestamp wrap or jump is not jitter
                self.jitter += (d - self.jitter) / 16.0

    def _restart(self, ssrc: int, seq: int) -> None:
        self.lost_before = self.lost
        self.ssrc = ssrc
        self.base_seq = self.max_seq = seq
        self.cycles = 0
        self.received_since_base = 0
        self.last_transit = None

    def sent(self, size: int) -> None:
        self.packets_sent += 1
        self.bytes_sent += size

    @property
    def jitter_ms(self) -> float:
        return 1000.0 * self.jitter / self.clock_rate if self.clock_rate else 0.0

    @property
    def extended_max_seq(self) -> int:
        return self.cycles + self.max_seq

    def snapshot(self) -> dict[str, Any]:
        """The public figures as a JSON-ready dict."""
        return {
            "clock_rate": self.clock_rate,
            "packets_received": self.packets_received,
            "bytes_received": self.bytes_received,
            "packets_sent": self.packets_sent,
            "bytes_sent": self.bytes_sent,
            "lost": self.lost,
            "jitter_ms": round(self.jitter_ms, 3),
        }


@attrs.define
class MediaStats:
    """Every counter of one call, keyed ``"<leg>.<kind>"`` (leg: ``browser`` or ``sip``)."""

    counters: dict[str, MediaCounters] = attrs.Factory(dict)

    def get(self, leg: str, kind: str, clock_rate: int = 8000) -> MediaCounters:
        key = f"{leg}.{kind}"
        found = self.counters.get(key)
        if found is None:
            found = self.counters[key] = MediaCounters(clock_rate=clock_rate)
        return found

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {key: c.snapshot() for key, c in sorted(self.counters.items())}

    def as_json(self) -> dict[str, dict[str, Any]]:
        """The ECS snapshot form (this object is a call entity's live stats component)."""
        return self.snapshot()
