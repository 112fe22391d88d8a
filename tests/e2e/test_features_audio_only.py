"""Issue 8: an audio+video call (Phone Video page) answered audio-only by baresip has audio
both ways within 1 s of ESTABLISHED (an IVR's greeting is heard from its first word)."""

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
from tests.support.lab import BARESIP_RTP_BASE, Phone, running_lab

pytestmark = pytest.mark.peers


async def test_video_call_answered_audio_only_has_audio_at_once(tmp_path: Path) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)]) as rig, trio.open_nursery() as nursery:
        phone = rig.phones["10005"]
        tap = RtpTap((BARESIP_RTP_BASE, BARESIP_RTP_BASE + 99))
        await nursery.start(tap.run)
        async with phone_page(rig, "10080", page="phone-video") as page:
            await register(page)
            await call(page, "10005")
            await text_is(page, "callStatus", "ESTABLISHED", timeout_s=15)
            established_at = trio.current_time()
            heard = await browser_hears(page, 1.0)
            assert abs(heard.frequency - SOFTPHONE_HZ) < 15 and heard.rms > 0.01, (heard, rig.logs())
            pt = opus_pt(await sip_codec(rig))
            [entity] = await rig.entities_with("CodecPlan")
            kinds = {m["kind"]: m["state"] for m in entity["components"]["CodecPlan"]["media"]}
            assert kinds.get("audio") == "active" and "video" in kinds and kinds["video"] != "active", kinds
            await click(page, "#callBtn")
            await text_is(page, "callStatus", "FINISH")
        await phone.control.wait_event("CALL_CLOSED")
        nursery.cancel_scope.cancel()
        assert_tone(tap, established_at, established_at + 1.0, pt, "first second at baresip")
