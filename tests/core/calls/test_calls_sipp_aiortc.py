"""Whole calls on loopback with two peers nobody here wrote: aiortc as the browser, SIPp as
the SIP device echoing the RTP it receives. What aiortc decodes has crossed the gateway twice."""

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from tests.support.ports import free_port
from tests.support.serve import Server, running_server

pytestmark = pytest.mark.peers
PEER = Path(__file__).resolve().parents[2] / "support" / "aiortc_peer.py"


@attrs.define
class Aiortc:
    process: trio.Process
    buffer: bytes = b""

    async def read(self) -> dict[str, Any]:
        with trio.fail_after(30):
            while b"\n" not in self.buffer:
                data = await self.process.stdout.receive_some(65536)  # type: ignore[union-attr]
                if not data:
                    raise RuntimeError("aiortc exited")
                self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)  # type: ignore[no-any-return]

    async def write(self, message: dict[str, Any]) -> None:
        await self.process.stdin.send_all((json.dumps(message) + "\n").encode())  # type: ignore[union-attr]


@asynccontextmanager
async def aiortc(*args: str) -> AsyncIterator[Aiortc]:
    process = await trio.lowlevel.open_process([sys.executable, str(PEER), *args],
                                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        yield Aiortc(process)
    finally:
        process.kill()
        await process.wait()


@asynccontextmanager
async def sipp(tmp_path: Path, *args: str) -> AsyncIterator[trio.Process]:
    log = (tmp_path / f"sipp-{free_port()}.log").open("wb")
    process = await trio.lowlevel.open_process(
        ["sipp", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin", "-m", "1", "-rtp_echo", *args],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        await process.wait()
        log.close()


async def receive(ws: WebSocketConnection, name: str, seen: list[dict[str, Any]]) -> dict[str, Any]:
    with trio.fail_after(15):
        while True:
            message = json.loads(await ws.get_message())
            if message["message"] != "ping":
                seen.append(message)
            if message["message"] == name:
                return message  # type: ignore[no-any-return]


async def connect(server: Server, ws: WebSocketConnection, domain: str) -> None:
    await ws.send_message(json.dumps({"message": "connection", "data": [{
        "sipLogin": "alice", "sipDomain": domain, "sipRegisterRequired": False}]}))
    await receive(ws, "getUserData", [])


def snapshot_calls(server: Server) -> list[Any]:
    import urllib.request

    request = urllib.request.Request(f"{server.http_url}/api/snapshot",
                                     headers={"Authorization": "Bearer t0ken"})
    with urllib.request.urlopen(request, timeout=5) as response:
        entities = json.load(response)["entities"]
    return [e for e in entities if "CallInfo" in e["components"]]


async def test_outgoing_call_audio_crosses_both_ways_then_hangup(tmp_path: Path) -> None:
    sipp_port = free_port()
    async with sipp(tmp_path, "-sn", "uas", "-p", str(sipp_port)) as callee, \
            running_server(tmp_path, ["admin_token=t0ken"]) as server, \
            aiortc("--seconds", "5", "--no-video") as browser, \
            open_websocket_url(server.ws_url) as ws:
        await connect(server, ws, f"127.0.0.1:{sipp_port}")
        offer = (await browser.read())["offer"]
        await ws.send_message(json.dumps({"message": "call", "data": [{
            "callId": "c1", "callee": "service", "sdp": offer, "hasAudio": True, "hasVideo": False}]}))
        seen: list[dict[str, Any]] = []
        answer = await receive(ws, "setRemoteSDP", seen)
        assert answer["data"][0] == "c1" and "a=ice-lite" in answer["data"][1]
        await browser.write({"answer": answer["data"][1]})
        talk = await receive(ws, "talk", seen)
        assert talk["data"][0]["status"] == "ESTABLISHED" and talk["data"][0]["sipStatus"] == 200
        assert [m["data"][0]["status"] for m in seen if m["message"] != "setRemoteSDP"] == \
            ["TRYING", "RING", "ESTABLISHED"]
        assert len(await trio.to_thread.run_sync(snapshot_calls, server)) == 1
        result = (await browser.read())["result"]
        assert "connected" in result["states"]
        # 5 s of 20 ms frames echoed by SIPp: most of them must come back decodable.
        assert result["frames"]["audio"] > 150
        await ws.send_message(json.dumps({"message": "hangup", "data": [{"callId": "c1"}]}))
        finish = await receive(ws, "finish", seen)
        assert finish["data"][0]["status"] == "FINISH"
        with trio.fail_after(3):
            while await trio.to_thread.run_sync(snapshot_calls, server):
                await trio.sleep(0.1)
        with trio.fail_after(5):  # SIPp ends its one call once our BYE was answered
            await callee.wait()
        assert callee.returncode == 0


async def test_incoming_call_answered_by_the_browser_ends_with_the_callers_bye(tmp_path: Path) -> None:
    async with running_server(tmp_path, ["admin_token=t0ken"]) as server, \
            open_websocket_url(server.ws_url) as ws:
        await connect(server, ws, "127.0.0.1")
        async with aiortc("--answer", "active", "--seconds", "4") as browser, \
                sipp(tmp_path, f"127.0.0.1:{server.sip_port}", "-sn", "uac", "-s", "alice",
                     "-p", str(free_port()), "-d", "6000") as caller:
            seen: list[dict[str, Any]] = []
            offer = await receive(ws, "setRemoteSDP", seen)
            incoming = await receive(ws, "notifyIncomingCall", seen)
            call_id = offer["data"][0]
            assert incoming["data"][0]["callId"] == call_id and incoming["data"][0]["incoming"] is True
            assert incoming["data"][0]["caller"] == "sipp"
            ring = await receive(ws, "ring", seen)
            assert ring["data"][0]["status"] == "RING"
            await browser.write({"offer": offer["data"][1]})
            answer = (await browser.read())["answer"]
            await ws.send_message(json.dumps({"message": "answer", "data": [{
                "callId": call_id, "incoming": True, "sdp": answer, "hasAudio": True}]}))
            talk = await receive(ws, "talk", seen)
            assert talk["data"][0]["status"] == "ESTABLISHED"
            result = (await browser.read())["result"]
            assert "connected" in result["states"] and result["frames"]["audio"] > 100
            finish = await receive(ws, "finish", seen)  # SIPp hangs up after its pause
            assert finish["data"][0]["status"] == "FINISH"
            with trio.fail_after(10):
                await caller.wait()
            assert caller.returncode == 0  # SIPp saw every answer it expected, BYE included
        assert await trio.to_thread.run_sync(snapshot_calls, server) == []


async def test_keepalive_page_away_gets_the_pending_incoming_call_when_it_returns(tmp_path: Path) -> None:
    async with running_server(tmp_path, ["admin_token=t0ken"]) as server:
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(json.dumps({"message": "connection", "data": [{
                "sipLogin": "alice", "sipDomain": "127.0.0.1", "sipRegisterRequired": False,
                "keepAlive": True}]}))
            token = (await receive(ws, "getUserData", []))["data"][0]["authToken"]
        # The page is gone (a phone put it in the background); a call comes in meanwhile.
        async with sipp(tmp_path, f"127.0.0.1:{server.sip_port}", "-sn", "uac", "-s", "alice",
                        "-p", str(free_port()), "-d", "2000") as caller, \
                aiortc("--answer", "active", "--seconds", "2", "--no-video") as browser:
            await trio.sleep(1.0)
            async with open_websocket_url(server.ws_url) as ws:
                await ws.send_message(json.dumps({"message": "connection", "data": [{"authToken": token}]}))
                seen: list[dict[str, Any]] = []
                hello = await receive(ws, "getUserData", seen)
                assert hello["data"][0]["authToken"] == token and hello["data"][0]["sipLogin"] == "alice"
                offer = await receive(ws, "setRemoteSDP", seen)
                await receive(ws, "notifyIncomingCall", seen)
                assert [m["message"] for m in seen] == ["getUserData", "setRemoteSDP", "notifyIncomingCall"]
                await browser.write({"offer": offer["data"][1]})
                answer = (await browser.read())["answer"]
                await ws.send_message(json.dumps({"message": "answer", "data": [{
                    "callId": offer["data"][0], "incoming": True, "sdp": answer}]}))
                assert (await receive(ws, "talk", seen))["data"][0]["status"] == "ESTABLISHED"
                await receive(ws, "finish", seen)
                with trio.fail_after(10):
                    await caller.wait()
                assert caller.returncode == 0


async def test_sip_headers_and_sip_sdp_reach_the_invite(tmp_path: Path) -> None:
    sipp_port = free_port()
    async with sipp(tmp_path, "-sn", "uas", "-p", str(sipp_port), "-trace_msg") as callee, \
            running_server(tmp_path) as server, \
            aiortc("--seconds", "1", "--no-video") as browser, \
            open_websocket_url(server.ws_url) as ws:
        await connect(server, ws, f"127.0.0.1:{sipp_port}")
        offer = (await browser.read())["offer"]
        call = {"callId": "c2", "callee": "service", "sdp": offer, "hasAudio": True}
        await ws.send_message(json.dumps({"message": "call", "data": [
            {**call, "sipHeaders": {"Via": "SIP/2.0/UDP evil"}}]}))
        refused = await receive(ws, "fail", [])
        assert refused["data"][0]["field"] == "sipHeaders" and "Via" in refused["data"][0]["info"]
        await ws.send_message(json.dumps({"message": "call", "data": [{
            **call, "sipHeaders": {"X-Customer": "42"}, "sipSDP": ["b=AS:3000", "b-TIAS:2500000"]}]}))
        seen: list[dict[str, Any]] = []
        await browser.write({"answer": (await receive(ws, "setRemoteSDP", seen))["data"][1]})
        await receive(ws, "talk", seen)
        await ws.send_message(json.dumps({"message": "hangup", "data": [{"callId": "c2"}]}))
        await receive(ws, "finish", seen)
        with trio.fail_after(5):
            await callee.wait()
    (trace,) = tmp_path.glob("*_messages.log")
    invite = trace.read_text().split("INVITE sip:", 1)[1].split("\n\n", 1)[0]
    assert "X-Customer: 42" in invite
    sdp = trace.read_text().split("INVITE sip:", 1)[1].split("v=0", 1)[1]
    lines = [line.strip() for line in sdp.splitlines()]
    assert lines.index("b=AS:3000") == lines.index(next(x for x in lines if x.startswith("c=IN"))) + 1
    assert "b=TIAS:2500000" in lines and lines.index("b=TIAS:2500000") < lines.index("t=0 0")


async def test_malformed_browser_sdp_fails_the_call_naming_the_line(tmp_path: Path) -> None:
    async with running_server(tmp_path, ["admin_token=t0ken"]) as server, \
            open_websocket_url(server.ws_url) as ws:
        await connect(server, ws, "127.0.0.1:9")
        bad = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio notaport RTP/AVP 0\r\n"
        await ws.send_message(json.dumps({"message": "call", "data": [{
            "callId": "bad", "callee": "service", "sdp": bad, "hasAudio": True}]}))
        seen: list[dict[str, Any]] = []
        finish = (await receive(ws, "finish", seen))["data"][0]
        assert finish["status"] == "FAILED" and finish["sipStatus"] == 488
        assert "line 5" in finish["info"] and "m=audio notaport" in finish["info"], finish
        assert await trio.to_thread.run_sync(snapshot_calls, server) == []
        # The session and the server go on.
        await ws.send_message(json.dumps({"message": "hangup", "data": [{"callId": "bad"}]}))
        await ws.send_message(json.dumps({"message": "ping", "data": [None]}))
        assert (await receive(ws, "pong", []))["message"] == "pong"
