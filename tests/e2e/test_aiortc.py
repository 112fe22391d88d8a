"""Issue 7 "Done when": an independent WebRTC peer (aiortc) calls baresip through the gateway.

The test speaks the SDK's WebSocket protocol (PROTOCOL.md) itself with trio-websocket, and
tests/e2e/aiortc_client.py, run in the lab, does the WebRTC side: it sends a 1200 Hz tone and
measures what it hears; baresip plays 440 Hz and records what it hears.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import trio
from trio_websocket import open_websocket_url

from tests.e2e.sdk_client import aiortc_client, connection, expect, send
from tests.support.audio import analyse_wav, loud_seconds
from tests.support.lab import Phone, running_lab

pytestmark = pytest.mark.peers
AIORTC_HZ = 1200
SOFTPHONE_HZ = 440


async def test_aiortc_calls_baresip_through_the_gateway_with_audio_both_ways(tmp_path: Path) -> None:
    async with running_lab(tmp_path, [Phone("10005", SOFTPHONE_HZ)]) as rig:
        phone = rig.phones["10005"]
        async with open_websocket_url(rig.gateway().ws_url) as ws:
            await send(ws, "connection", connection(rig, "10040"))
            await expect(ws, "getUserData")
            await expect(ws, "registered")
            async with aiortc_client(rig, tmp_path / "aiortc.log", AIORTC_HZ, 4) as (client, lines):
                assert client.stdin is not None
                offer = (await lines.next(15))["offer"]
                call_id = str(uuid.uuid4())
                await send(ws, "call", {
                    "callId": call_id, "incoming": False, "hasAudio": True, "hasVideo": False,
                    "status": "PENDING", "mediaProvider": "WebRTC", "sdp": offer,
                    "caller": "10040", "callee": "10005", "visibleName": "aiortc"})
                remote = await expect(ws, "setRemoteSDP")
                assert remote[0] == call_id
                await client.stdin.send_all(json.dumps({"answer": remote[1]}).encode() + b"\n")
                talk = (await expect(ws, "talk", timeout=15))[0]
                assert talk["callId"] == call_id and talk["status"] == "ESTABLISHED", talk
                await phone.control.wait_event("CALL_ESTABLISHED")
                result = (await lines.next(15))["result"]
                assert "connected" in result["states"], (result, rig.logs())
                assert abs(result["dominant_hz"] - SOFTPHONE_HZ) < 15 and result["rms"] > 0.01, (
                    result, rig.logs())
                assert result["heard_seconds"] >= 2.0, result
                await send(ws, "hangup", {"callId": call_id})
                finish = (await expect(ws, "finish"))[0]
                assert finish["status"] == "FINISH", finish
            await phone.control.wait_event("CALL_CLOSED")
            await rig.until_none_left("CallInfo")
        await trio.sleep(0.3)
        recording = phone.recordings()[-1]
        heard = analyse_wav(recording, skip_seconds=0.5)
        assert heard.is_tone(AIORTC_HZ), heard
        assert loud_seconds(recording) >= 2.0
