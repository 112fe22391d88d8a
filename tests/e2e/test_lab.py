"""The lab itself: two baresip phones call each other through Kamailio inside the namespace."""

from pathlib import Path

import pytest
import trio

from tests.support.audio import analyse_wav
from tests.support.lab import Phone, running_lab

pytestmark = pytest.mark.peers


async def test_baresip_calls_baresip_through_kamailio_and_each_hears_the_other(tmp_path: Path) -> None:
    phones = [Phone("10005", tone_hz=440), Phone("10006", tone_hz=1000)]
    async with running_lab(tmp_path, phones, gateway=False) as rig:
        caller, callee = rig.phones["10005"], rig.phones["10006"]
        reply = await caller.control.command("dial", rig.uri("10006"))
        assert reply["ok"], reply
        await callee.control.wait_event("CALL_ESTABLISHED", timeout=10)
        await caller.control.wait_event("CALL_ESTABLISHED", timeout=10)
        await trio.sleep(3)
        await caller.control.command("hangup")
        await callee.control.wait_event("CALL_CLOSED", timeout=10)
        await trio.sleep(0.5)  # the recordings' headers are written when the call ends
        heard_by_callee = analyse_wav(callee.recordings()[-1], skip_seconds=0.5)
        heard_by_caller = analyse_wav(caller.recordings()[-1], skip_seconds=0.5)
        assert heard_by_callee.is_tone(440), (heard_by_callee, rig.logs())
        assert heard_by_caller.is_tone(1000), (heard_by_caller, rig.logs())
        assert heard_by_callee.seconds >= 2.0 and heard_by_caller.seconds >= 2.0
        # baresip advertised the lab's host B, not loopback
        assert "10.99.0.2" in callee.log() or "10.99.0.2" in caller.log()
