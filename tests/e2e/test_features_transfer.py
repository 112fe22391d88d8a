"""Issue 8: blind transfer from the browser (REFER) and a REFER received from baresip."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.e2e.phone import click, phone_page, text_is
from tests.e2e.test_features_support import (
    SOFTPHONE_HZ,
    established_call,
    recording_after_call,
    tone_windows,
)
from tests.support.lab import Phone, running_lab
from tests.support.netns import HOST_A

pytestmark = pytest.mark.peers
TARGET_HZ = 1000


async def test_blind_transfer_from_the_browser(tmp_path: Path) -> None:
    phones = [Phone("10005", SOFTPHONE_HZ), Phone("10006", TARGET_HZ)]
    async with running_lab(tmp_path, phones) as rig:
        transferee, target = rig.phones["10005"], rig.phones["10006"]
        async with phone_page(rig, "10060") as page:
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
