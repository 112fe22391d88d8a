"""One stream we send toward one leg: a stable SSRC with continuous sequence numbers
and timestamps, whatever happens to the stream feeding it.

A receiver resets or drops audio when the SSRC changes, when sequence numbers jump
(RFC 3550 A.1 treats a jump beyond MAX_DROPOUT as a restart) or when timestamps run
backwards. The other leg's SSRC, sequence and timestamp change after a re-INVITE, a
transfer, or hold (packets stop); so each outgoing stream keeps an offset that maps
the current source's numbers to ours, recomputed when the source changes or after a
pause: the next sequence number follows the last one sent, and the timestamp advances
by the wall-clock time elapsed (RFC 3550 §5.1: timestamps track sampling time), at
least one 20 ms frame, with the marker bit set on that first packet (RFC 3551 §4.1:
the start of a talkspurt lets the receiver re-adjust its playout).

The first source's SSRC is kept as ours and its offsets are zero, so a plain
pass-through call rewrites nothing (and copies nothing). Sans-IO: ``now`` comes in.
"""

from __future__ import annotations

import secrets

import attrs

_SEQ_MOD = 1 << 16
_TS_MOD = 1 << 32


@attrs.define
class Outbound:
    clock_rate: int = 8000
    ssrc: int | None = None
    source: int | None = None  # the input SSRC currently mapped onto ``ssrc``
    seq_offset: int = 0
    ts_offset: int = 0
    last_seq: int | None = None  # last sequence number sent (ours)
    last_ts: int = 0  # timestamp of the newest media packet sent (ours)
    last_time: float = 0.0  # when it was sent
    resync: bool = False  # recompute offsets at the next packet (after hold, re-INVITE)
    mark: bool = False  # set the marker bit on the next packet
    _last_ticks: int = 0  # length of the last generated packet

    @property
    def frame_ticks(self) -> int:
        return self.clock_rate // 50  # 20 ms

    def _start(self, now: float) -> None:
        # RFC 3550 §5.1: initial sequence number and timestamp should be random.
        if self.ssrc is None:
            self.ssrc = secrets.randbits(32)
        self.last_seq = secrets.randbits(16)
        self.last_ts = secrets.randbits(32)
        self.last_time = now

    def position(self, now: float) -> int:
        """Our timestamp for a sample taken ``now`` (used to place DTMF events)."""
        if self.last_seq is None:
            self._start(now)
        ticks = round((now - self.last_time) * self.clock_rate)
        return (self.last_ts + max(0, ticks)) % _TS_MOD

    def switch(self, ssrc: int, seq: int, ts: int, now: float) -> None:
        """Map a new (or resumed) source so its next packet continues our stream."""
        if self.ssrc is None:
            self.ssrc = ssrc
            self.seq_offset = self.ts_offset = 0
        else:
            if self.last_seq is None:
                self._start(now)
                next_seq, next_ts = self.last_seq, self.last_ts  # type: ignore[assignment]
            else:
                next_seq = self.last_seq + 1
                elapsed = round((now - self.last_time) * self.clock_rate)
                next_ts = self.last_ts + max(elapsed, self.frame_ticks)
            self.seq_offset = (next_seq - seq) % _SEQ_MOD
            self.ts_offset = (next_ts - ts) % _TS_MOD
            self.mark = True
        self.source = ssrc
        self.resync = False

    def sent(self, seq: int, ts: int, now: float) -> None:
        """Remember the newest packet sent (a late packet does not move us back)."""
        last = self.last_seq
        if last is None or (seq - last) % _SEQ_MOD < 0x8000:
            self.last_seq = seq
            self.last_ts = ts
            self.last_time = now

    def insert(self, now: float) -> int:
        """A sequence number for a packet of our own (DTMF) between relayed ones;
        the relayed packets that follow shift by one so nothing collides."""
        if self.last_seq is None:
            self._start(now)
        seq = (self.last_seq + 1) % _SEQ_MOD  # type: ignore[operator]
        self.last_seq = seq
        self.seq_offset = (self.seq_offset + 1) % _SEQ_MOD
        return seq

    def generate(self, ticks: int, now: float) -> tuple[int, int]:
        """(sequence, timestamp) for a packet we produce ourselves (transcoding),
        ``ticks`` long. After a pause longer than two frames the timestamp jumps by
        the time elapsed so the receiver's clock stays right."""
        if self.last_seq is None:
            self._start(now)
            ts = self.last_ts
        else:
            ts = self.last_ts + self._last_ticks
            elapsed = round((now - self.last_time) * self.clock_rate)
            if self.resync or elapsed > 3 * ticks:
                ts = self.last_ts + max(elapsed, ticks)
                self.mark = True
                self.resync = False
        seq = (self.last_seq + 1) % _SEQ_MOD  # type: ignore[operator]
        ts %= _TS_MOD
        self.last_seq, self.last_ts, self.last_time = seq, ts, now
        self._last_ticks = ticks
        return seq, ts
