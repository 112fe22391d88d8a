"""Issue 9 "Done when": a gateway started with no config calls its own demo endpoints.

Headless Chromium on our Phone page, its fields left at the page's defaults (no SIP
server: the gateway is the domain, no registration, callee ``echo``), opened at the URL
``serve`` printed (it carries the test's free ports, as it would for a new user). The call runs the whole
path: WebRTC leg, SDP translation, SIP over UDP to the gateway's own port, RTP over
UDP to the demo endpoint's own socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from tests.e2e.phone import click, text_is, use_official_sdk
from tests.support.audio import write_tone_wav
from tests.support.browser import ChromiumPage, dominant_frequency, open_browser
from tests.support.serve import Server, running_server

pytestmark = pytest.mark.peers
MIC_HZ = 600


def announced_phone_url(server: Server) -> str:
    """The Phone page URL exactly as ``wcs-trio serve`` printed it for a new user."""
    for line in server.log().splitlines():
        if line.strip().startswith("Phone page:"):
            return line.split("Phone page:", 1)[1].strip()
    raise AssertionError(f"serve announced no Phone page:\n{server.log()}")


@asynccontextmanager
async def demo_phone(tmp_path: Path, *, official: bool = False) -> AsyncIterator[tuple[Server, ChromiumPage]]:
    """The gateway (no config but free ports) and the Phone page on its defaults, connected."""
    wav = write_tone_wav(tmp_path / f"mic-{MIC_HZ}.wav", MIC_HZ, seconds=20.0, channels=2)
    async with running_server(tmp_path) as server, open_browser(fake_audio_wav=wav) as page:
        if official:
            await use_official_sdk(page)
        await page.goto(announced_phone_url(server))
        await page.wait_for("document.getElementById('connectBtn').textContent === 'Connect'")
        ours = await page.evaluate(
            "fetch('/flashphoner.js').then(r => r.text()).then(t => t.includes('wcs-trio JavaScript SDK'))")
        assert ours != official
        defaults = await page.evaluate(
            "({callee: callee.value, register: sipRegisterRequired.checked, domain: sipDomain.value})")
        assert defaults == {"callee": "echo", "register": False, "domain": "127.0.0.1"}, defaults
        assert await page.evaluate("sipPort.value") == str(server.sip_port)
        await click(page, "#connectBtn")
        await text_is(page, "connectionStatus", "ESTABLISHED")
        yield server, page


async def call(server: Server, page: ChromiumPage, callee: str | None = None) -> None:
    if callee is not None:
        await page.run(lambda p: p.fill("#callee", callee))
    await click(page, "#callBtn")
    try:
        await text_is(page, "callStatus", "ESTABLISHED", timeout_s=15)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{server.log()[-6000:]}") from None


async def hears(server: Server, page: ChromiumPage, hz: float) -> None:
    heard = await dominant_frequency(page, "#remoteDisplay video", 2.0)
    assert abs(heard.frequency - hz) < 15 and heard.rms > 0.01, (heard, server.log()[-3000:])


async def hang_up(page: ChromiumPage) -> None:
    await click(page, "#callBtn")  # the Call button is Hangup during a call
    await text_is(page, "callStatus", "FINISH")


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_echo_sends_the_microphone_back(tmp_path: Path, official: bool) -> None:
    async with demo_phone(tmp_path, official=official) as (server, page):
        await call(server, page)  # the default callee: echo
        await trio.sleep(0.7)  # past the echo delay
        await hears(server, page, MIC_HZ)
        await hang_up(page)
        assert "demo echo answered" in server.log()


async def test_tone_1000_is_heard_at_1000_hz(tmp_path: Path) -> None:
    async with demo_phone(tmp_path) as (server, page):
        await call(server, page, "tone-1000")
        await hears(server, page, 1000)
        await hang_up(page)


async def test_ivr_reports_each_digit_and_hangs_up_on_hash(tmp_path: Path) -> None:
    async with demo_phone(tmp_path) as (server, page):
        await call(server, page, "ivr")
        await page.evaluate("phone.call.sendDTMF('1234#')")
        await text_is(page, "callStatus", "FINISH", timeout_s=10)
        log = server.log()
        reported = [line.split("ivr digit ", 1)[1][0] for line in log.splitlines() if "ivr digit " in line]
        assert reported == list("1234#"), log[-3000:]
