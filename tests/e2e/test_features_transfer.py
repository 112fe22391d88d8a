"""Issue 8: blind transfer from the browser (REFER) and a REFER received from baresip."""

from __future__ import annotations

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
    recording_after_call,
    tone_windows,
)
from tests.support.lab import BARESIP_RTP_BASE, Phone, running_lab
from tests.support.netns import HOST_A, HOST_B

pytestmark = pytest.mark.peers
TARGET_HZ = 1000


def opus_pt_of_tap(tap: RtpTap) -> int | None:
    """The dynamic payload type carrying audio (not the 4-byte telephone-events) on the tap."""
    sizes: dict[int, int] = {}
    for _, rtp in tap.packets:
        pt = rtp[1] & 0x7F
        if pt >= 96 and len(rtp) > 20:
            sizes[pt] = sizes.get(pt, 0) + 1
    return max(sizes, key=sizes.__getitem__) if sizes else None


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_blind_transfer_from_the_browser(tmp_path: Path, official: bool) -> None:
    phones = [Phone("10005", SOFTPHONE_HZ), Phone("10006", TARGET_HZ)]
    async with running_lab(tmp_path, phones) as rig:
        transferee, target = rig.phones["10005"], rig.phones["10006"]
        async with phone_page(rig, "10060", official=official) as page:
            await page.evaluate("""() => {
                window.transfers = [];
                const call = () => window.phone.call;
                const watch = setInterval(() => {
                    if (!call()) return;
                    call().on('TRANSFER', (c, e) => window.transfers.push(e && e.status));
                    clearInterval(watch);
                }, 20);
            }""")
            await established_call(rig, page, transferee)
            await trio.sleep(1.0)
            await page.run(lambda p: p.fill("#transferTarget", "10006"))
            await click(page, "#transferBtn")
            await text_is(page, "callStatus", "FINISH", timeout_s=15)
            transfers = await page.evaluate("window.transfers")
            if official:
                # The official SDK has no public transfer event (PROTOCOL.md §4.7): the
                # progress is the transferee's NOTIFYs the gateway received.
                assert rig.sip_seen("REQ NOTIFY", source=HOST_B), rig.logs()
            else:
                assert transfers[0] == "ACCEPTED" and transfers[-1] == "COMPLETED", transfers
            assert await page.evaluate("window.phone.call") is None
            # The transferee called the target, which answered; the gateway left with a BYE.
            await target.control.wait_event("CALL_ESTABLISHED")
            assert rig.sip_seen("REQ REFER", source=HOST_A), rig.logs()
            assert rig.sip_seen("REQ BYE", source=HOST_A), rig.logs()
            await trio.sleep(2.5)
            await target.control.command("hangup")
            await target.control.wait_event("CALL_CLOSED")
        await rig.until_none_left("CallInfo")
        # The target heard the transferee's tone: the transferred call carries media.
        windows = tone_windows(await recording_after_call(target), SOFTPHONE_HZ)
        assert windows.count(True) >= 6, windows


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_refer_from_baresip_moves_the_browser_to_the_target(tmp_path: Path, official: bool) -> None:
    phones = [Phone("10005", SOFTPHONE_HZ), Phone("10006", TARGET_HZ)]
    async with running_lab(tmp_path, phones) as rig, trio.open_nursery() as nursery:
        transferor, target = rig.phones["10005"], rig.phones["10006"]
        tap = RtpTap((BARESIP_RTP_BASE + 100, BARESIP_RTP_BASE + 199))  # the target's RTP
        await nursery.start(tap.run)
        async with phone_page(rig, "10061", official=official) as page:
            await established_call(rig, page, transferor)
            await trio.sleep(1.0)
            reply = await transferor.control.command("transfer", rig.uri("10006"))
            assert reply["ok"], reply
            await target.control.wait_event("CALL_ESTABLISHED")
            moved_at = trio.current_time()
            await transferor.control.wait_event("CALL_CLOSED")
            assert rig.sip_seen("REQ INVITE sip:10006", source=HOST_A), rig.logs()
            assert rig.sip_seen("REQ REFER", source=HOST_B), rig.logs()
            assert rig.sip_seen("REPLY 202", source=HOST_A), rig.logs()
            assert len(rig.sip_seen("REQ NOTIFY", source=HOST_A)) >= 2, rig.logs()  # 100, then 200
            await trio.sleep(0.5)
            heard = await browser_hears(page, 1.5)
            assert abs(heard.frequency - TARGET_HZ) < 15 and heard.rms > 0.01, (heard, rig.logs())
            events = await page.evaluate("window.phone.events")
            assert events[-1] == "call ESTABLISHED" and "call FINISH" not in events, events
            end_at = trio.current_time()
            await click(page, "#callBtn")
            await text_is(page, "callStatus", "FINISH")
            await target.control.wait_event("CALL_CLOSED")
        nursery.cancel_scope.cancel()
        await rig.until_none_left("CallInfo")
        assert_tone(tap, moved_at + 0.5, end_at, opus_pt_of_tap(tap), "the target, after the REFER")
