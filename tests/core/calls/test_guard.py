"""A bug inside one call ends that call with a reason; the session and the server go on."""

import json
from pathlib import Path

import pytest
import trio
from trio_websocket import open_websocket_url

from tests.support.ports import free_ports
from wcs_trio.core.calls.media import CallMedia
from wcs_trio.core.config import load_settings
from wcs_trio.core.server import serve


async def next_named(ws, name: str) -> dict:
    with trio.fail_after(5):
        while True:
            message = json.loads(await ws.get_message())
            if message["message"] == name:
                return message


async def test_a_crashing_call_task_ends_only_that_call(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nursery: trio.Nursery) -> None:
    def boom(self: CallMedia, sdp: str) -> None:
        raise RuntimeError("a bug in the media set-up")

    monkeypatch.setattr(CallMedia, "outgoing_offer", boom)
    ws_port, http_port, sip_port, webrtc_port = free_ports(4)
    settings = load_settings(None, [
        "listen=127.0.0.1", f"ws.port={ws_port}", f"http.port={http_port}", f"sip.port={sip_port}",
        f"webrtc.port={webrtc_port}", "media_port_from=41000", "media_port_to=41009", "demo.enabled=false"])
    gateway = await nursery.start(serve, settings)
    async with open_websocket_url(f"ws://127.0.0.1:{ws_port}") as ws:
        await ws.send_message(json.dumps({"message": "connection", "data": [{
            "sipLogin": "alice", "sipDomain": "127.0.0.1:9", "sipRegisterRequired": False}]}))
        await next_named(ws, "getUserData")
        for call_id in ("c1", "c2"):  # the session survives its first broken call
            await ws.send_message(json.dumps({"message": "call", "data": [{
                "callId": call_id, "callee": "bob", "sdp": "v=0\r\n"}]}))
            finish = (await next_named(ws, "finish"))["data"][0]
            assert (finish["callId"], finish["status"], finish["info"]) == (call_id, "FAILED", "Internal error")
        await ws.send_message(json.dumps({"message": "ping", "data": [None]}))
        await next_named(ws, "pong")
        assert [e for e in gateway.world.snapshot()["entities"] if "CallInfo" in e["components"]] == []
    async with open_websocket_url(f"ws://127.0.0.1:{ws_port}") as ws:  # and so does the server
        await ws.send_message(json.dumps({"message": "connection", "data": [{}]}))
        await next_named(ws, "getUserData")
    nursery.cancel_scope.cancel()
