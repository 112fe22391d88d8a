"""Issue 9: with a SIP server configured, the demo names stay reachable behind a prefix and
never shadow real numbers. A session registered at Kamailio calls `demo-echo` (answered by the
gateway itself, the PBX never sees it) and hears its own tone; `echo` goes to the PBX."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from trio_websocket import open_websocket_url

from tests.e2e.sdk_client import aiortc_client, connection, expect, send
from tests.support.lab import running_lab

pytestmark = pytest.mark.peers
AIORTC_HZ = 700


async def test_prefixed_demo_echo_from_a_registered_session(tmp_path: Path) -> None:
    async with running_lab(tmp_path, [], settings=["demo.prefix=demo-", "demo.echo_delay_ms=100"]) as rig:
        async with open_websocket_url(rig.gateway().ws_url) as ws:
            await send(ws, "connection", connection(rig, "10050"))
            await expect(ws, "getUserData")
            await expect(ws, "registered")
            async with aiortc_client(rig, tmp_path / "aiortc.log", AIORTC_HZ, 4) as (client, lines):
                assert client.stdin is not None
                offer = (await lines.next(15))["offer"]
                call_id = str(uuid.uuid4())
                await send(ws, "call", {"callId": call_id, "hasAudio": True, "hasVideo": False,
                                        "sdp": offer, "callee": "demo-echo"})
                remote = await expect(ws, "setRemoteSDP")
                await client.stdin.send_all(json.dumps({"answer": remote[1]}).encode() + b"\n")
                assert (await expect(ws, "talk", timeout=15))[0]["status"] == "ESTABLISHED"
                result = (await lines.next(15))["result"]
                assert abs(result["dominant_hz"] - AIORTC_HZ) < 15 and result["rms"] > 0.01, (
                    result, rig.logs())
                await send(ws, "hangup", {"callId": call_id})
                assert (await expect(ws, "finish"))[0]["status"] == "FINISH"
            # The PBX never saw the demo call; a plain `echo` is a PBX number (404 here).
            assert not rig.sip_seen("REQ INVITE sip:demo-echo"), rig.logs()
            await send(ws, "call", {"callId": "plain", "hasAudio": True, "sdp": offer, "callee": "echo"})
            frames = []
            while True:
                frame = json.loads(await ws.get_message())
                frames.append(frame)
                if frame["message"] == "finish":
                    break
            assert frame["data"][0]["status"] == "FAILED" and frame["data"][0]["sipStatus"] == 404
            assert rig.sip_seen("REQ INVITE sip:echo@"), rig.logs()
