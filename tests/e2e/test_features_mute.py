"""Issue 8: muting the browser's microphone silences it at baresip; unmuting brings it back."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.e2e.phone import click, phone_page, text_is
from tests.e2e.test_features_support import (
    SOFTPHONE_HZ,
    RtpTap,
    assert_tone,
    established_call,
    opus_pt,
    sip_codec,
)
from tests.support.lab import BARESIP_RTP_BASE, Phone, running_lab

pytestmark = pytest.mark.peers


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
async def test_mute_and_unmute_audio(tmp_path: Path, official: bool) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)]) as rig, trio.open_nursery() as nursery:
        phone = rig.phones["10005"]
        tap = RtpTap((BARESIP_RTP_BASE, BARESIP_RTP_BASE + 99))
        await nursery.start(tap.run)
        async with phone_page(rig, "10050", official=official) as page:
            await established_call(rig, page, phone)
            pt = opus_pt(await sip_codec(rig))
            talk_at = trio.current_time()
            await trio.sleep(1.5)
            muted_at = trio.current_time()
            await click(page, "#muteAudioBtn")
            assert await page.text("#muteAudioBtn") == "Unmute audio"
            assert await page.evaluate("window.phone.call.isAudioMuted()") is True
            await trio.sleep(2.0)
            unmuted_at = trio.current_time()
            await click(page, "#muteAudioBtn")
            assert await page.evaluate("window.phone.call.isAudioMuted()") is False
            await trio.sleep(2.0)
            end_at = trio.current_time()
            await click(page, "#callBtn")
            await text_is(page, "callStatus", "FINISH")
        await phone.control.wait_event("CALL_CLOSED")
        nursery.cancel_scope.cancel()
        assert_tone(tap, talk_at + 0.3, muted_at, pt, "before mute")
        # Muted: the track is disabled, Chromium keeps sending (silent frames or none at all).
        hz, rms, _ = tap.tone_between(muted_at + 0.5, unmuted_at, opus_pt=pt)
        assert rms < 0.003, f"while muted baresip got {hz:.0f} Hz at rms {rms:.3f}"
        assert_tone(tap, unmuted_at + 0.5, end_at, pt, "after unmute")
