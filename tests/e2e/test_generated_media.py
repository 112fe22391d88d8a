"""Issue 8 item 6: generate_av_for_ua. A Phone Video call answered audio-only by baresip
(an IVR's stand-in): with the key selecting baresip, the browser decodes the gateway's
generated VP8 video and audio flows both ways; without it the video stays inactive."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.e2e.phone import call, click, phone_page, register, text_is
from tests.e2e.test_features_support import (
    SOFTPHONE_HZ,
    RtpTap,
    assert_tone,
    browser_hears,
    opus_pt,
    sip_codec,
)
from tests.e2e.test_video import browser_decoded
from tests.support.browser import ChromiumPage
from tests.support.lab import BARESIP_RTP_BASE, Phone, Rig, running_lab

pytestmark = pytest.mark.peers


async def video_in(page: ChromiumPage) -> dict[str, object]:
    stats = await page.evaluate("phone.call && phone.call.getStats()")
    found: dict[str, object] = (stats or {}).get("inboundStream", {}).get("video") or {}
    return found


async def audio_video_call(rig: Rig, page: ChromiumPage, tap: RtpTap, *, generated: bool) -> None:
    phone = rig.phones["10005"]
    await register(page)
    await call(page, "10005")
    await text_is(page, "callStatus", "ESTABLISHED", timeout_s=15)
    established_at = trio.current_time()
    heard = await browser_hears(page, 1.0)
    assert abs(heard.frequency - SOFTPHONE_HZ) < 15 and heard.rms > 0.01, (heard, rig.logs())
    pt = opus_pt(await sip_codec(rig))
    if generated:
        with trio.fail_after(10):
            while not await browser_decoded(page):
                await trio.sleep(0.25)
        decoded = await browser_decoded(page)
        assert "VP8" in str(decoded.get("codec", "")).upper(), decoded
        assert decoded["framesDecoded"] > 0, decoded
    else:
        await trio.sleep(3.0)  # well past rtp_generator_start_timeout
        assert not await browser_decoded(page), await video_in(page)
    [entity] = await rig.entities_with("CodecPlan")
    kinds = {m["kind"]: m["state"] for m in entity["components"]["CodecPlan"]["media"]}
    # Nothing is relayed on video either way: the SIP side never had it.
    assert kinds.get("audio") == "active" and kinds.get("video") != "active", kinds
    await click(page, "#callBtn")
    await text_is(page, "callStatus", "FINISH")
    await phone.control.wait_event("CALL_CLOSED")
    assert_tone(tap, established_at, established_at + 1.0, pt, "first second at baresip")
    await rig.until_none_left("CallInfo")


@pytest.mark.parametrize("generated", [True, False], ids=["generate_all", "generate_none"])
async def test_video_call_answered_audio_only(tmp_path: Path, generated: bool) -> None:
    settings = ["rtp_generator_start_timeout=500",
                f"generate_av_for_ua={'all' if generated else 'none'}"]
    async with (running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)], settings=settings) as rig,
                trio.open_nursery() as nursery):
        tap = RtpTap((BARESIP_RTP_BASE, BARESIP_RTP_BASE + 99))
        await nursery.start(tap.run)
        async with phone_page(rig, "10080", page="phone-video") as page:
            await audio_video_call(rig, page, tap, generated=generated)
        nursery.cancel_scope.cancel()
