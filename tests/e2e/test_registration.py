"""Issue 4 item 8 in the lab: our Phone page registers through the gateway at Kamailio."""

from pathlib import Path

import pytest

from tests.e2e.phone import phone_page, register, text_is
from tests.support.lab import running_lab

pytestmark = pytest.mark.peers
SDKS = pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])


@SDKS
async def test_phone_page_registers_through_the_gateway(tmp_path: Path, official: bool) -> None:
    async with running_lab(tmp_path, []) as rig, phone_page(rig, "10010", official=official) as page:
        await register(page)
        assert await rig.entities_with("SessionInfo") and await rig.entities_with("RegistrationState")
        assert "registration REGISTERED (200" in rig.gateway().log()
        assert "10010pw" not in rig.gateway().log()


@SDKS
async def test_wrong_password_shows_failed_with_the_sip_status(tmp_path: Path, official: bool) -> None:
    async with running_lab(tmp_path, []) as rig:
        async with phone_page(rig, "10011", "wrong", official=official) as page:
            # ours reports WARN then FAILED; the official SDK WARN then DISCONNECTED (PROTOCOL.md §3)
            await text_is(page, "connectionStatus", "DISCONNECTED" if official else "FAILED")
            info = await page.text("#sessionInfo")
            events = await page.evaluate("phone.events.join(' / ')")
            assert "RegistrationStatusEvent" in info and ("401" in info or "403" in info), (info, events)
        await rig.until_none_left("SessionInfo", "RegistrationState")
