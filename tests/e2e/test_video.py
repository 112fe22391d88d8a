"""Issue 7 "Done when", video: Phone Video (fake camera) calls baresip (fake camera) with video.

Debian's baresip has H.264 (avcodec, libx264) and VP8 (vp8): one run with each, the only video
codec baresip offers in that run. Frames are decoded on both sides: the browser's getStats
framesDecoded, and baresip's "receiving with resolution" line and its received video bitrate.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.e2e.phone import call, click, phone_page, register, text_is
from tests.support.browser import ChromiumPage, dominant_frequency
from tests.support.lab import H264, VP8, Phone, running_lab

pytestmark = pytest.mark.peers


async def browser_decoded(page: ChromiumPage) -> dict[str, Any]:
    """The page's inbound video stats once it decoded frames, else {}."""
    stats = await page.evaluate("phone.call && phone.call.getStats()")
    video_in: dict[str, Any] = (stats or {}).get("inboundStream", {}).get("video") or {}
    return video_in if video_in.get("framesDecoded", 0) > 0 else {}


def baresip_decoded(log: str) -> bool:
    """baresip's status line: received video bit/s and decoded frames/s both above zero."""
    status = re.findall(r"video=\d+/(\d+) \(bit/s\) efps=[\d.]+/([\d.]+)", log)
    return ("receiving with resolution" in log and bool(status)
            and int(status[-1][0]) > 0 and float(status[-1][1]) > 0)


@pytest.mark.parametrize(("modules", "codec"), [(H264, "H264"), (VP8, "VP8")], ids=["h264", "vp8"])
async def test_phone_video_call_decodes_frames_both_ways(
        tmp_path: Path, modules: tuple[str, ...], codec: str) -> None:
    async with running_lab(tmp_path, [Phone("10005", 440, video=modules)]) as rig:
        phone = rig.phones["10005"]
        async with phone_page(rig, "10050", page="phone-video") as page:
            await register(page)
            await call(page, "10005")
            await text_is(page, "callStatus", "ESTABLISHED", timeout_s=15)
            await phone.control.wait_event("CALL_ESTABLISHED")
            heard = await dominant_frequency(page, "#remoteDisplay video", 2.0)
            assert abs(heard.frequency - 440) < 15 and heard.rms > 0.01, heard
            with trio.fail_after(15):
                while not (await browser_decoded(page) and baresip_decoded(phone.log())):
                    await trio.sleep(0.5)
            video_in = await browser_decoded(page)
            assert codec in str(video_in.get("codec", "")).upper(), video_in
            await click(page, "#callBtn")
            await text_is(page, "callStatus", "FINISH")
            await phone.control.wait_event("CALL_CLOSED")
            await rig.until_none_left("CallInfo")
