"""Issue 8: hold and unhold from the browser and from baresip, with audio resuming after.

Lab as in test_calls.py: the browser's fake microphone plays 1500 Hz, baresip 10005 plays
440 Hz. What baresip receives is checked on the wire (:class:`RtpTap`, decoded by time of
arrival), because baresip 1.0 stops recording at a call's first re-INVITE.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import trio

from tests.e2e.phone import click, phone_page, text_is
from tests.e2e.test_features_support import (
    SOFTPHONE_HZ,
    RtpTap,
    assert_tone,
    browser_hears,
    established_call,
    opus_pt,
    sip_codec,
)
from tests.support.browser import ChromiumPage
from tests.support.lab import BARESIP_RTP_BASE, Phone, running_lab
from tests.support.netns import HOST_A

pytestmark = pytest.mark.peers


async def inbound_packets(page: ChromiumPage) -> int:
    """Audio packets the page's RTCPeerConnection received so far (getStats, as the page shows)."""
    return int(await page.evaluate(
        "new Promise((ok) => window.phone.call.getStats((s) => ok(s.inboundStream.audio.packetsReceived)))"))


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_hold_and_unhold_from_the_browser(tmp_path: Path, official: bool) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)]) as rig, trio.open_nursery() as nursery:
        phone = rig.phones["10005"]
        tap = RtpTap((BARESIP_RTP_BASE, BARESIP_RTP_BASE + 99))
        await nursery.start(tap.run)
        async with phone_page(rig, "10030", official=official) as page:
            await established_call(rig, page, phone)
            pt = opus_pt(await sip_codec(rig))
            talk_at = trio.current_time()
            await trio.sleep(2.0)
            hold_at = trio.current_time()
            await click(page, "#holdBtn")
            await text_is(page, "callStatus", "HOLD")
            held_at = trio.current_time()
            assert await page.text("#holdBtn") == "Unhold"
            # While held, the browser gets nothing from baresip (its answer was recvonly).
            # (Chromium's packet-loss concealment plays the last tone on for a moment.)
            await trio.sleep(0.8)
            before = await inbound_packets(page)
            quiet = await browser_hears(page, 1.0)
            assert quiet.rms < 0.005, (quiet, rig.logs())
            assert await inbound_packets(page) - before <= 1
            unhold_at = trio.current_time()
            await click(page, "#holdBtn")
            await text_is(page, "callStatus", "ESTABLISHED")
            resumed_at = trio.current_time()
            heard = await browser_hears(page, 1.5)
            assert abs(heard.frequency - SOFTPHONE_HZ) < 15 and heard.rms > 0.01, (heard, rig.logs())
            await trio.sleep(1.0)
            end_at = trio.current_time()
            await click(page, "#callBtn")  # Hangup
            await text_is(page, "callStatus", "FINISH")
        await phone.control.wait_event("CALL_CLOSED")
        nursery.cancel_scope.cancel()
        assert len(rig.sip_seen("REQ INVITE", source=HOST_A)) == 3, rig.logs()  # call, hold, unhold
        assert_tone(tap, talk_at + 0.5, hold_at, pt, "before hold")
        _, _, during = tap.tone_between(held_at + 0.3, unhold_at, opus_pt=pt)
        assert during == 0, f"{during} packets reached baresip while held"
        assert_tone(tap, resumed_at + 0.3, end_at, pt, "after unhold")
        # RFC 3550 §5.1: one SSRC and consecutive sequence numbers across the pause.
        media = [rtp for _, rtp in tap.packets if (rtp[1] & 0x7F) == pt]
        assert len({rtp[8:12] for rtp in media}) == 1
        seqs = [int.from_bytes(rtp[2:4], "big") for rtp in media]
        assert all((b - a) % 65536 in (1, 2) for a, b in itertools.pairwise(seqs)), seqs


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_hold_and_resume_from_baresip(tmp_path: Path, official: bool) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)]) as rig, trio.open_nursery() as nursery:
        phone = rig.phones["10005"]
        tap = RtpTap((BARESIP_RTP_BASE, BARESIP_RTP_BASE + 99))
        await nursery.start(tap.run)
        async with phone_page(rig, "10031", official=official) as page:
            await established_call(rig, page, phone)
            pt = opus_pt(await sip_codec(rig))
            await trio.sleep(1.0)
            reply = await phone.control.command("hold")
            assert reply["ok"], reply
            await text_is(page, "callStatus", "HOLD")
            await trio.sleep(1.5)
            reply = await phone.control.command("resume")
            assert reply["ok"], reply
            await text_is(page, "callStatus", "ESTABLISHED")
            resumed_at = trio.current_time()
            heard = await browser_hears(page, 1.5)
            assert abs(heard.frequency - SOFTPHONE_HZ) < 15 and heard.rms > 0.01, (heard, rig.logs())
            await trio.sleep(1.0)
            end_at = trio.current_time()
            events = await page.evaluate("window.phone.events")
            held = events.index("call HOLD")
            assert "call ESTABLISHED" in events[held:], events
            await click(page, "#callBtn")
            await text_is(page, "callStatus", "FINISH")
        await phone.control.wait_event("CALL_CLOSED")
        nursery.cancel_scope.cancel()
        assert_tone(tap, resumed_at + 0.3, end_at, pt, "after resume")
