"""Issue 7 "Done when", failures: 404, busy, CANCEL while ringing, WebSocket closed mid-call.

(Wrong password: tests/e2e/test_registration.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.e2e.phone import call, click, phone_page, register, text_is
from tests.support.lab import Phone, running_lab
from tests.support.netns import HOST_A, HOST_B

pytestmark = pytest.mark.peers


async def test_unknown_callee_fails_with_404(tmp_path: Path) -> None:
    async with running_lab(tmp_path, []) as rig, phone_page(rig, "10030") as page:
        await register(page)
        await call(page, "10099")
        await text_is(page, "callStatus", "FAILED")
        info = await page.text("#callInfo")
        assert "404" in info, info
        await rig.until_none_left("CallInfo")


async def test_busy_callee_gives_busy(tmp_path: Path) -> None:
    async with running_lab(tmp_path, [Phone("10005", answer="manual")]) as rig:
        phone = rig.phones["10005"]
        async with phone_page(rig, "10031") as page:
            await register(page)
            await call(page, "10005")
            await phone.control.wait_event("CALL_INCOMING")
            await phone.control.command("hangup", "486 Busy Here")
            await text_is(page, "callStatus", "BUSY")
            info = await page.text("#callInfo")
            assert "486" in info, info
            assert rig.sip_seen("REPLY 486", source=HOST_B), rig.logs()
            await rig.until_none_left("CallInfo")


async def test_browser_hangs_up_while_ringing_sends_cancel(tmp_path: Path) -> None:
    async with running_lab(tmp_path, [Phone("10005", answer="manual")]) as rig:
        phone = rig.phones["10005"]
        async with phone_page(rig, "10032") as page:
            await register(page)
            await call(page, "10005")
            await phone.control.wait_event("CALL_INCOMING")
            await text_is(page, "callStatus", "RING")
            await click(page, "#callBtn")  # Hangup while the callee rings
            await text_is(page, "callStatus", "FINISH")
            await phone.control.wait_event("CALL_CLOSED")
            assert rig.sip_seen("REQ CANCEL", source=HOST_A), rig.logs()
            with trio.fail_after(5):  # the 487 reaches the gateway, which ACKs it
                while not rig.sip_seen("REPLY 487", source=HOST_B):
                    await trio.sleep(0.1)
            await rig.until_none_left("CallInfo")
            assert not rig.bound_media_ports()


async def test_websocket_closed_mid_call_hangs_up_within_2_s(tmp_path: Path) -> None:
    async with running_lab(tmp_path, [Phone("10005")]) as rig:
        phone = rig.phones["10005"]
        async with phone_page(rig, "10033") as page:
            await register(page)
            await call(page, "10005")
            await text_is(page, "callStatus", "ESTABLISHED", timeout_s=15)
            await phone.control.wait_event("CALL_ESTABLISHED")
            # Leaving the page closes the WebSocket without a hangup frame (no keepAlive).
            await page.goto("about:blank")
            left = trio.current_time()
            await phone.control.wait_event("CALL_CLOSED", timeout=5)
            assert trio.current_time() - left <= 2.0, rig.logs()
            assert rig.sip_seen("REQ BYE", source=HOST_A), rig.logs()
            await rig.until_none_left("CallInfo", "SessionInfo")
            assert not rig.bound_media_ports()
