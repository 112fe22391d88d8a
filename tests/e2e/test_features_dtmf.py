"""Issue 8: DTMF between the browser and baresip, both ways, in RFC 4733 events and SIP INFO."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from tests.e2e.phone import click, phone_page
from tests.e2e.test_features_support import SOFTPHONE_HZ, established_call
from tests.support.baresip import Baresip
from tests.support.lab import Phone, running_lab
from tests.support.netns import HOST_A

pytestmark = pytest.mark.peers


async def digits_heard(phone: Baresip, count: int, timeout: float = 10.0) -> tuple[str, list[dict[str, Any]]]:
    """The keys of baresip's next ``count`` DTMF_START events (its event log)."""
    events = [await phone.control.wait_event("CALL_DTMF_START", timeout=timeout) for _ in range(count)]
    return "".join(str(e.get("param", "")) for e in events), events


@pytest.mark.parametrize("kind", ["RFC2833", "INFO"])
@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_browser_dtmf_reaches_baresip(tmp_path: Path, official: bool, kind: str) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)]) as rig:
        phone = rig.phones["10005"]
        async with phone_page(rig, "10040", official=official) as page:
            await established_call(rig, page, phone)
            await page.run(lambda p: p.select_option("#dtmfType", kind))
            await page.run(lambda p: p.fill("#dtmfInput", "123#"))
            await click(page, "#dtmfSendBtn")
            keys, events = await digits_heard(phone, 4)
            assert keys == "123#", events
            infos = rig.sip_seen("REQ INFO", source=HOST_A)
            assert len(infos) == (4 if kind == "INFO" else 0), rig.logs()
            await click(page, "#callBtn")
            await phone.control.wait_event("CALL_CLOSED")


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_baresip_dtmf_reaches_the_page(tmp_path: Path, official: bool) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)]) as rig:
        phone = rig.phones["10005"]
        async with phone_page(rig, "10041", official=official) as page:
            await page.evaluate("""() => {
                window.appData = [];
                window.phone.session.on(Flashphoner.constants.SESSION_STATUS.APP_DATA,
                                        (data) => window.appData.push(data));
            }""")
            await established_call(rig, page, phone)
            reply = await phone.control.command("sndcode", "5")
            assert reply["ok"], reply
            await trio.sleep(0.5)
            reply = await phone.control.command("sndcode", "9")
            assert reply["ok"], reply
            data = await page.wait_for(
                "window.appData.length >= 2 && window.appData", timeout_s=5)
            call_id = await page.evaluate("window.phone.call.id()")
            payloads = [d["payload"] for d in data]
            assert [p["dtmf"] for p in payloads] == ["5", "9"], data
            assert all(p["event"] == "DTMF" and p["callId"] == call_id for p in payloads), data
            assert payloads[0]["type"] in ("RFC2833", "INFO"), data
            await click(page, "#callBtn")
            await phone.control.wait_event("CALL_CLOSED")
