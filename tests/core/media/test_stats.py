from __future__ import annotations

import json

import attrs
import pytest

from wcs_trio.core.media.stats import MediaCounters, MediaStats


def feed(c: MediaCounters, seqs: list[int], *, ssrc: int = 1, start: float = 0.0) -> None:
    for seq in seqs:
        c.received(ssrc, seq, seq * 160, 172, start + seq * 0.020)


def test_in_order_no_loss_no_jitter() -> None:
    c = MediaCounters(clock_rate=8000)
    feed(c, list(range(100, 150)))
    assert (c.packets_received, c.bytes_received, c.lost, c.jitter) == (50, 50 * 172, 0, 0.0)


def test_gaps_count_as_lost_and_late_packets_repair() -> None:
    c = MediaCounters()
    feed(c, [1, 2, 5, 6])  # 3 and 4 missing
    assert c.lost == 2
    feed(c, [3])  # late
    assert c.lost == 1 and c.extended_max_seq == 6


def test_wrap_around() -> None:
    c = MediaCounters()
    for seq in [65534, 65535, 0, 2]:
        c.received(7, seq, 0, 10, 0.0)
    assert c.extended_max_seq == 65536 + 2 and c.lost == 1 and c.cycles == 65536


def test_new_ssrc_and_big_jump_restart_but_keep_losses() -> None:
    c = MediaCounters()
    feed(c, [10, 12])
    assert c.lost == 1
    feed(c, [500, 501], ssrc=2)
    assert c.lost == 1 and c.base_seq == 500
    feed(c, [30000, 30002], ssrc=2)  # beyond MAX_DROPOUT: a restart, not 29499 losses
    assert c.lost == 2


def test_jitter_matches_rfc3550_a8() -> None:
    c = MediaCounters(clock_rate=8000)
    # Packets 20 ms apart in media time, arriving alternately 0 and 10 ms late.
    expected = 0.0
    for index in range(20):
        late = 0.010 if index % 2 else 0.0
        c.received(1, index, index * 160, 172, index * 0.020 + late)
        if index:
            expected += (80 - expected) / 16
    assert c.jitter == pytest.approx(expected)
    assert c.jitter_ms == pytest.approx(expected / 8)


def test_snapshot_and_asdict_are_json() -> None:
    stats = MediaStats()
    audio = stats.get("sip", "audio", 8000)
    feed(audio, [1, 3])
    audio.sent(172)
    stats.get("browser", "video", 90000)
    snap = stats.snapshot()
    assert list(snap) == ["browser.video", "sip.audio"]
    assert snap["sip.audio"] == {"clock_rate": 8000, "packets_received": 2, "bytes_received": 344,
                                 "packets_sent": 1, "bytes_sent": 172, "lost": 1, "jitter_ms": 0.0}
    json.dumps(snap)
    json.dumps(attrs.asdict(stats))
    assert stats.get("sip", "audio") is audio
