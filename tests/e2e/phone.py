"""Driving our Phone / Phone Video page in the lab's Chromium (helpers for the e2e tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.support.audio import write_tone_wav
from tests.support.browser import ChromiumPage, open_browser
from tests.support.lab import Rig

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_SDK = ROOT / "tests/webcompat/node_modules/@flashphoner/websdk/flashphoner.js"
BROWSER_TONE_HZ = 1500


async def text_is(page: ChromiumPage, element: str, value: str, timeout_s: float = 10.0) -> None:
    """Wait until the element with id ``element`` shows exactly ``value``."""
    try:
        await page.wait_for(
            "([id, v]) => document.getElementById(id).textContent === v", [element, value],
            timeout_s=timeout_s)
    except Exception as exc:
        shown = await page.evaluate(
            "(id) => document.getElementById(id).textContent + ' | ' + "
            "(window.phone ? window.phone.events.join(' / ') : '')", element)
        raise AssertionError(f"#{element} never showed {value!r}; page: {shown}") from exc


async def click(page: ChromiumPage, selector: str) -> None:
    await page.run(lambda p: p.click(selector))


async def use_official_sdk(page: ChromiumPage) -> None:
    """Serve the official @flashphoner/websdk bundle, unchanged, as the page's /flashphoner.js."""
    if not OFFICIAL_SDK.exists():
        raise AssertionError(f"{OFFICIAL_SDK} missing: run tests/install-peers.sh (npm ci)")
    await page.run(lambda p: p.route(
        "**/flashphoner.js", lambda route: route.fulfill(path=str(OFFICIAL_SDK),
                                                         content_type="text/javascript")))


@asynccontextmanager
async def phone_page(rig: Rig, user: str, password: str | None = None, *, page: str = "phone",
                     official: bool = False, tone_hz: int = BROWSER_TONE_HZ,
                     connect: bool = True) -> AsyncIterator[ChromiumPage]:
    """Chromium on our Phone page for ``user`` (fake mic playing ``tone_hz``), Connect clicked."""
    wav = write_tone_wav(rig.workdir / f"mic-{tone_hz}.wav", tone_hz, seconds=20.0, channels=2)
    async with open_browser(fake_audio_wav=wav) as browser:
        if official:
            await use_official_sdk(browser)
        await browser.goto(rig.phone_url(user, password, page=page))
        await browser.wait_for("document.getElementById('connectBtn').textContent === 'Connect'")
        ours = await browser.evaluate(
            "fetch('/flashphoner.js').then(r => r.text()).then(t => t.includes('wcs-trio JavaScript SDK'))")
        assert ours != official, f"expected the {'official' if official else 'our'} SDK on the page"
        if connect:
            await click(browser, "#connectBtn")
        yield browser


async def register(page: ChromiumPage) -> None:
    await text_is(page, "connectionStatus", "REGISTERED")


async def call(page: ChromiumPage, callee: str) -> None:
    await page.run(lambda p: p.fill("#callee", callee))
    await click(page, "#callBtn")
