"""Issue 7 "Done when": calls between our Phone page (Chromium) and baresip through the gateway.

Everything runs in the lab (tests/support/lab.py): Kamailio and the gateway on 10.99.0.1,
baresip on 10.99.0.2, Chromium on the page served by the gateway. The browser's fake
microphone plays 1500 Hz; baresip 10005 plays 440 Hz and records what it hears.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.e2e.phone import BROWSER_TONE_HZ, call, click, phone_page, register, text_is
from tests.support.audio import analyse_wav, loud_seconds
from tests.support.baresip import Baresip
from tests.support.browser import ChromiumPage, dominant_frequency
from tests.support.lab import Phone, Rig, running_lab
from tests.support.netns import HOST_A, HOST_B

pytestmark = pytest.mark.peers
SOFTPHONE_HZ = 440


async def hears_each_other(rig: Rig, page: ChromiumPage, phone: Baresip) -> None:
    """Within 3 s of ESTABLISHED: the browser hears the softphone's tone for 2 s (WebAudio)."""
    with trio.fail_after(3.5):
        heard = await dominant_frequency(page, "#remoteDisplay video", 2.0)
    assert abs(heard.frequency - SOFTPHONE_HZ) < 15 and heard.rms > 0.01, (heard, rig.logs())
    await trio.sleep(1.0)  # so that baresip's recording holds well over 2 s of the call


def softphone_heard_the_browser(phone: Baresip) -> None:
    """baresip's recording of the call (written when it ended) carries the browser's tone."""
    recording = phone.recordings()[-1]
    heard = analyse_wav(recording, skip_seconds=0.5)
    assert heard.is_tone(BROWSER_TONE_HZ), heard
    assert loud_seconds(recording) >= 2.0


async def nothing_left(rig: Rig) -> None:
    await rig.until_none_left("CallInfo")
    with trio.fail_after(5):
        while rig.bound_media_ports():
            await trio.sleep(0.1)


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_outgoing_call_tones_both_ways_hangup_from_browser(tmp_path: Path, official: bool) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)]) as rig:
        phone = rig.phones["10005"]
        async with phone_page(rig, "10020", official=official) as page:
            await register(page)
            await call(page, "10005")
            await text_is(page, "callStatus", "ESTABLISHED", timeout_s=15)
            await phone.control.wait_event("CALL_ESTABLISHED")
            await hears_each_other(rig, page, phone)
            await click(page, "#callBtn")  # Hangup
            await text_is(page, "callStatus", "FINISH")
            await phone.control.wait_event("CALL_CLOSED")
            await nothing_left(rig)
        await trio.sleep(0.3)
        softphone_heard_the_browser(phone)
        assert rig.sip_seen("REQ BYE", source=HOST_A), rig.logs()  # the gateway's BYE
        assert rig.sip_seen("REPLY 200 OK BYE", source=HOST_B), rig.logs()  # answered by baresip


async def test_outgoing_call_hangup_from_baresip(tmp_path: Path) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)]) as rig:
        phone = rig.phones["10005"]
        async with phone_page(rig, "10021") as page:
            await register(page)
            await call(page, "10005")
            await text_is(page, "callStatus", "ESTABLISHED", timeout_s=15)
            await phone.control.wait_event("CALL_ESTABLISHED")
            await hears_each_other(rig, page, phone)
            await phone.control.command("hangup")
            await phone.control.wait_event("CALL_CLOSED")
            await text_is(page, "callStatus", "FINISH")
            await nothing_left(rig)
            assert rig.sip_seen("REQ BYE", source=HOST_B), rig.logs()  # baresip's BYE
            assert rig.sip_seen("REPLY 200 OK BYE", source=HOST_A), rig.logs()  # answered by us
        await trio.sleep(0.3)
        softphone_heard_the_browser(phone)


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_incoming_call_from_baresip_answered_in_the_browser(tmp_path: Path, official: bool) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)]) as rig:
        phone = rig.phones["10005"]
        async with phone_page(rig, "10022", official=official) as page:
            await register(page)
            reply = await phone.control.command("dial", rig.uri("10022"))
            assert reply["ok"], reply
            await page.wait_for("!document.getElementById('incomingCall').hidden")
            assert "10005" in await page.text("#caller")
            await click(page, "#answerBtn")
            await text_is(page, "callStatus", "ESTABLISHED", timeout_s=15)
            await phone.control.wait_event("CALL_ESTABLISHED")
            await hears_each_other(rig, page, phone)
            await click(page, "#callBtn")
            await text_is(page, "callStatus", "FINISH")
            await phone.control.wait_event("CALL_CLOSED")
            await nothing_left(rig)
        await trio.sleep(0.3)
        softphone_heard_the_browser(phone)


async def test_outgoing_call_with_the_gateway_behind_a_nat(tmp_path: Path) -> None:
    """Two-host routing (peers README): the lab's packets to 10.99.0.1 leave from 10.99.0.2,
    so the softphone's RTP does not come from its SDP address and a wildcard socket would
    answer from the wrong address. Symmetric RTP and address-bound media sockets cope."""
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)], nat=True) as rig:
        phone = rig.phones["10005"]
        async with phone_page(rig, "10024") as page:
            await register(page)
            await call(page, "10005")
            await text_is(page, "callStatus", "ESTABLISHED", timeout_s=15)
            await phone.control.wait_event("CALL_ESTABLISHED")
            await hears_each_other(rig, page, phone)
            await click(page, "#callBtn")
            await text_is(page, "callStatus", "FINISH")
            await phone.control.wait_event("CALL_CLOSED")
        await trio.sleep(0.3)
        softphone_heard_the_browser(phone)
