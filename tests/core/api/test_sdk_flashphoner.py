"""Our SDK (core/api/web/flashphoner.js) in headless Chromium, without a gateway.

The page is a file:// page (a secure context, so getUserMedia works) that loads the SDK;
Chromium's fake devices stand in for camera and microphone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.browser import ChromiumPage, open_browser

WEB = Path(__file__).resolve().parents[3] / "core" / "api" / "web"
SDK = WEB / "flashphoner.js"

pytestmark = pytest.mark.peers


def sdk_page(tmp_path: Path, script: Path = SDK) -> str:
    html = tmp_path / "sdk.html"
    html.write_text(
        f'<!doctype html><html><body><div id="local"></div><div id="remote"></div>'
        f'<script src="{script.as_uri()}"></script></body></html>'
    )
    return html.as_uri()


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[ChromiumPage]:
    async with open_browser() as browser:
        await browser.goto(sdk_page(tmp_path))
        yield browser


# Values of the official SDK's constants.js (@flashphoner/websdk 2.0.276).
SESSION_STATUS = [
    "CONNECTED", "ESTABLISHED", "DISCONNECTED", "WARN", "FAILED", "DEBUG", "APP_DATA",
    "SEND_DATA_STATUS", "PENDING", "REGISTERED", "UNREGISTERED", "INCOMING_CALL",
]
CALL_STATUS = [
    "NEW", "RING", "RING_MEDIA", "HOLD", "ESTABLISHED", "FINISH", "BUSY", "SESSION_PROGRESS",
    "FAILED", "PENDING", "TRYING",
]


async def test_constants_have_the_official_values(page: ChromiumPage) -> None:
    c = await page.evaluate("Flashphoner.constants")
    assert c["SESSION_STATUS"] == {name: name for name in SESSION_STATUS}
    assert c["CALL_STATUS"] == {name: name for name in CALL_STATUS}
    assert c["MEDIA_DEVICE_KIND"] == {"OUTPUT": "output", "INPUT": "input", "ALL": "all"}
    assert c["ERROR_INFO"]["FLASHPHONER_API_NOT_INITIALIZED"] == "Flashphoner API is not initialized"
    assert c["ERROR_INFO"]["OPTIONS_URLSERVER_MUST_BE_PROVIDED"] == "options.urlServer must be provided"
    assert c["ERROR_INFO"]["LOCAL_ERROR"] == "Local error"
    assert c["CALL_STATUS_INFO"]["NORMAL_CALL_CLEARING"] == "Normal call clearing"
    assert c["CALL_STATUS_INFO"]["FAILED_BY_REQUEST_TIMEOUT"] == "Failed by request timeout"
    assert c["CALL_STATUS_INFO"]["NO_COMMON_CODECS"] == "No common codecs"
    frozen = await page.evaluate(
        "Object.isFrozen(Flashphoner.constants) && Object.isFrozen(Flashphoner.constants.CALL_STATUS)"
    )
    assert frozen is True


CATCH = """(expr) => { try { eval(expr); return 'no error'; }
                      catch (e) { return e.constructor.name + ': ' + e.message; } }"""


async def test_errors_before_init(page: ChromiumPage) -> None:
    assert await page.evaluate("Flashphoner.getMediaProviders()") == []
    for expr in (
        "Flashphoner.createSession({urlServer: 'ws://127.0.0.1:9'})",
        "Flashphoner.getMediaDevices()",
        "Flashphoner.getMediaAccess({audio: true}, null)",
        "Flashphoner.releaseLocalMedia(null)",
    ):
        assert await page.evaluate(CATCH, expr) == "Error: Flashphoner API is not initialized", expr


async def test_errors_for_bad_arguments_after_init(page: ChromiumPage) -> None:
    await page.evaluate("Flashphoner.init()")
    assert await page.evaluate("Flashphoner.getMediaProviders()") == ["WebRTC"]
    for expr in ("Flashphoner.createSession()", "Flashphoner.createSession({})",
                 "Flashphoner.createSession({urlServer: ''})"):
        assert await page.evaluate(CATCH, expr) == "TypeError: options.urlServer must be provided"
    # A second init is harmless, as in the official SDK.
    assert await page.evaluate(CATCH, "Flashphoner.init({})") == "no error"
    # Session.on and Call.on validate their arguments; createCall needs an ESTABLISHED session.
    await page.evaluate("window.s = Flashphoner.createSession({urlServer: 'ws://127.0.0.1:9'})")
    assert await page.evaluate(CATCH, "s.on(null, () => 0)") == "Error: Event can't be null"
    assert await page.evaluate(CATCH, "s.on('FAILED', 1)") == (
        "Error: Callback needs to be a valid function"
    )
    # PENDING or already FAILED (nothing listens on port 9): never ESTABLISHED.
    refused = await page.evaluate(CATCH, "s.createCall({callee: '1'})")
    assert refused in ("Error: Invalid session state PENDING", "Error: Invalid session state FAILED")


async def test_unreachable_server_fails_the_session(page: ChromiumPage) -> None:
    # Port 9 (discard) is closed on loopback: the WebSocket cannot open.
    statuses = await page.evaluate(
        """() => new Promise((resolve) => {
             Flashphoner.init();
             const seen = [];
             const s = Flashphoner.createSession({urlServer: 'ws://127.0.0.1:9'});
             const n = Flashphoner.getSessions().length;
             s.on('FAILED', (session) => {
               seen.push(session.status(), n, Flashphoner.getSessions().length,
                         Flashphoner.getSession(s.id()) === undefined);
               resolve(seen);
             }).on('DISCONNECTED', () => { seen.push('DISCONNECTED'); resolve(seen); });
           })"""
    )
    assert statuses == ["FAILED", 1, 0, True]


async def test_get_media_devices_with_fake_devices(page: ChromiumPage) -> None:
    await page.evaluate("Flashphoner.init()")
    devices = await page.evaluate("Flashphoner.getMediaDevices(null, true, 'all')")
    assert {d["type"] for d in devices["audio"]} >= {"mic"}
    assert {d["type"] for d in devices["audio"]} <= {"mic", "speaker"}
    assert devices["video"], devices
    assert all(d["type"] == "camera" and d["label"] and d["id"] for d in devices["video"])
    inputs = await page.evaluate("Flashphoner.getMediaDevices(null, true)")
    assert {d["type"] for d in inputs["audio"]} == {"mic"}
    # Without labels the list still has one entry per device, labelled by kind and number.
    unlabelled = await page.evaluate("Flashphoner.getMediaDevices()")
    assert len(unlabelled["audio"]) == len(inputs["audio"])


async def test_get_media_access_and_release(page: ChromiumPage) -> None:
    await page.evaluate("Flashphoner.init()")
    result = await page.evaluate(
        """async () => {
             const d = document.getElementById('local');
             const got = await Flashphoner.getMediaAccess({audio: true, video: true}, d);
             const v = d.querySelector('video');
             const kinds = v.srcObject.getTracks().map((t) => t.kind).sort();
             const released = Flashphoner.releaseLocalMedia(d);
             return [got === d, kinds, released, d.querySelector('video') === null,
                     Flashphoner.releaseLocalMedia(d)];
           }"""
    )
    assert result == [True, ["audio", "video"], True, True, False]


async def test_strip_codecs_and_sip_headers_helpers(page: ChromiumPage) -> None:
    sdp = (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 9 0\r\na=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 minptime=10\r\na=rtcp-fb:111 transport-cc\r\na=rtpmap:9 G722/8000\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
    )
    out = await page.evaluate("(s) => Flashphoner._util.stripCodecsFromSdp(s, 'g722, OPUS')", sdp)
    assert out.split("\r\n")[:3] == ["v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 0", "a=rtpmap:0 PCMU/8000"]
    headers = await page.evaluate(
        "Flashphoner._util.normaliseSipHeaders(['X-One: 1', 'X-Two:two: parts'])"
    )
    assert headers == {"X-One": "1", "X-Two": "two: parts"}
