"""Incoming calls whose INVITE has no SDP (RFC 3261 §13.2.1, RFC 3264 §4), with SIPp as the
caller and aiortc as the browser: the gateway offers in its 200 OK what the browser took,
the ACK answers; SIPp echoes the RTP, so what aiortc decodes crossed the gateway twice."""

from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from tests.core.calls.test_calls_sipp_aiortc import aiortc, connect, receive, sipp, snapshot_calls
from tests.support.ports import free_port
from tests.support.serve import Server, running_server
from tests.support.sipp import SCENARIOS

pytestmark = pytest.mark.peers


async def answer_incoming(ws: WebSocketConnection, browser: Any, seen: list[dict[str, Any]]) -> str:
    """Take the incoming call's offer to aiortc and send its answer; the call's id."""
    offer = await receive(ws, "setRemoteSDP", seen)
    incoming = (await receive(ws, "notifyIncomingCall", seen))["data"][0]
    call_id = offer["data"][0]
    assert incoming["callId"] == call_id and incoming["caller"] == "sipp"
    assert incoming["hasAudio"] is True and incoming["hasVideo"] is False
    assert "m=video" not in offer["data"][1] and "opus/48000/2" in offer["data"][1]
    await receive(ws, "ring", seen)
    await browser.write({"offer": offer["data"][1]})
    answer = (await browser.read())["answer"]
    await ws.send_message(json_message("answer", {"callId": call_id, "incoming": True, "sdp": answer}))
    return call_id


def json_message(name: str, body: dict[str, Any]) -> str:
    import json

    return json.dumps({"message": name, "data": [body]})


async def plan_of(server: Server) -> dict[str, Any]:
    (call,) = await trio.to_thread.run_sync(snapshot_calls, server)
    return call["components"]["CodecPlan"]  # type: ignore[no-any-return]


async def test_offerless_invite_offer_in_200_answer_in_ack_audio_both_ways(tmp_path: Path) -> None:
    async with running_server(tmp_path, ["admin_token=t0ken"]) as server, \
            open_websocket_url(server.ws_url) as ws:
        await connect(server, ws, "127.0.0.1")
        async with aiortc("--answer", "active", "--seconds", "4", "--no-video") as browser, \
                sipp(tmp_path, f"127.0.0.1:{server.sip_port}", "-sf", str(SCENARIOS / "offerless_invite.xml"),
                     "-s", "alice", "-p", str(free_port()), "-d", "6000") as caller:
            seen: list[dict[str, Any]] = []
            await answer_incoming(ws, browser, seen)
            talk = await receive(ws, "talk", seen)  # sent once the ACK's answer was applied
            assert talk["data"][0]["status"] == "ESTABLISHED"
            await trio.sleep(1.5)  # the plan reaches the world within a second
            plan = await plan_of(server)
            (audio,) = plan["media"]
            # aiortc took opus, SIPp answered PCMU in the ACK: the bridge transcodes.
            assert plan["negotiated"] and audio["state"] == "active" and audio["transcode"]
            assert audio["browser"]["name"] == "opus" and audio["sip"]["name"] == "PCMU"
            assert audio["sip"]["send_pt"] == 0
            result = (await browser.read())["result"]
            assert "connected" in result["states"] and result["frames"]["audio"] > 100
            finish = await receive(ws, "finish", seen)  # SIPp hangs up after its pause
            assert finish["data"][0]["status"] == "FINISH"
            with trio.fail_after(10):
                await caller.wait()
            # SIPp's checks held: the 200 OK offered opus, PCMA, PCMU, telephone-event.
            assert caller.returncode == 0
        assert await trio.to_thread.run_sync(snapshot_calls, server) == []


async def test_offerless_invite_with_an_ack_without_sdp_ends_with_bye_and_failed(tmp_path: Path) -> None:
    async with running_server(tmp_path, ["admin_token=t0ken"]) as server, \
            open_websocket_url(server.ws_url) as ws:
        await connect(server, ws, "127.0.0.1")
        async with aiortc("--answer", "active", "--seconds", "1", "--no-video") as browser, \
                sipp(tmp_path, f"127.0.0.1:{server.sip_port}", "-sf",
                     str(SCENARIOS / "offerless_invite_ack_without_sdp.xml"),
                     "-s", "alice", "-p", str(free_port())) as caller:
            seen: list[dict[str, Any]] = []
            await answer_incoming(ws, browser, seen)
            finish = (await receive(ws, "finish", seen))["data"][0]
            assert finish["status"] == "FAILED" and finish["info"] == "No SDP answer in the ACK"
            assert "talk" not in [m["message"] for m in seen]
            with trio.fail_after(10):
                await caller.wait()
            assert caller.returncode == 0  # SIPp got our BYE
        assert await trio.to_thread.run_sync(snapshot_calls, server) == []
