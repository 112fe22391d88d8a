"""Issue 8: calls without a microphone (constraints {audio: false, video: false}) and
``rtp_activity_detecting``: such a call lasts when detection is off; with it on, a call whose
media stops both ways is ended with a reason."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import trio

from tests.e2e.phone import phone_page, register
from tests.support.browser import ChromiumPage
from tests.support.lab import Phone, running_lab

pytestmark = pytest.mark.peers

# Places a call with no local media through the SDK (the Phone page always asks for a microphone);
# every status is kept in window.statuses as "STATUS info".
CALL_WITHOUT_MIC = """(callee) => {
    const C = Flashphoner.constants.CALL_STATUS;
    window.statuses = [];
    const call = window.phone.session.createCall({
        callee, constraints: {audio: false, video: false}, receiveAudio: true, receiveVideo: false,
        localVideoDisplay: document.getElementById('localDisplay'),
        remoteVideoDisplay: document.getElementById('remoteDisplay'),
    });
    for (const s of Object.values(C)) call.on(s, (c) => window.statuses.push(s + ' ' + (c.getInfo() || '')));
    window.noMicCall = call;
    call.call();
}"""


async def statuses(page: ChromiumPage) -> list[str]:
    return list(await page.evaluate("window.statuses"))


async def established_without_mic(page: ChromiumPage, callee: str) -> None:
    await register(page)
    await page.evaluate(CALL_WITHOUT_MIC, callee)
    await page.wait_for("window.statuses.some((s) => s.startsWith('ESTABLISHED'))", timeout_s=15)


async def test_call_without_microphone_lasts_with_detection_off(tmp_path: Path) -> None:
    settings = ["rtp_activity_detecting=false"]
    async with running_lab(tmp_path, [Phone("10005", 440)], settings=settings) as rig:
        phone = rig.phones["10005"]
        async with phone_page(rig, "10070") as page:
            await established_without_mic(page, "10005")
            await phone.control.wait_event("CALL_ESTABLISHED")
            await trio.sleep(10.0)
            # No microphone: the gateway got no audio from the browser, only baresip's.
            [entity] = await rig.entities_with("MediaStats")
            stats = entity["components"]["MediaStats"]
            assert stats["browser.audio"]["packets_received"] == 0, stats
            assert stats["sip.audio"]["packets_received"] > 400, stats
            assert (await statuses(page))[-1].startswith("ESTABLISHED"), await statuses(page)
            assert not any(e.get("type") == "CALL_CLOSED" for e in phone.control.events)
            await page.evaluate("window.noMicCall.hangup()")
            await page.wait_for("window.statuses.some((s) => s.startsWith('FINISH'))")
            await phone.control.wait_event("CALL_CLOSED")
        await rig.until_none_left("CallInfo")


async def test_silent_call_is_ended_by_activity_detection(tmp_path: Path) -> None:
    settings = ["rtp_activity_detecting=true,3"]
    async with running_lab(tmp_path, [Phone("10005", 440)], settings=settings) as rig:
        phone = rig.phones["10005"]
        async with phone_page(rig, "10071") as page:
            await established_without_mic(page, "10005")
            await phone.control.wait_event("CALL_ESTABLISHED")
            await trio.sleep(1.0)
            # The browser sends nothing; stopping baresip stops the other direction too.
            phone.process.send_signal(signal.SIGSTOP)
            stopped_at = trio.current_time()
            try:
                await page.wait_for("window.statuses.some((s) => s.startsWith('FINISH'))", timeout_s=10)
                ended_after = trio.current_time() - stopped_at
            finally:
                phone.process.send_signal(signal.SIGCONT)
            final = (await statuses(page))[-1]
            assert "RTP activity timeout" in final, final
            assert 2.5 <= ended_after <= 6.0, ended_after
        await rig.until_none_left("CallInfo")
