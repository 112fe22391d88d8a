"""``wcs-trio serve`` as a subprocess: HTTP, WebSocket, config errors, clean stop."""

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.support.serve import running_server, serve_command


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers["content-type"], response.read()


async def test_serves_sdk_pages_and_websocket(tmp_path: Path) -> None:
    async with running_server(tmp_path) as server:
        status, kind, body = await trio.to_thread.run_sync(fetch, f"{server.http_url}/flashphoner.js")
        assert status == 200 and kind.startswith("text/javascript")
        assert b"Flashphoner" in body
        for page in ("/", "/phone/", "/phone-video/"):
            status, kind, body = await trio.to_thread.run_sync(fetch, server.http_url + page)
            assert status == 200 and kind.startswith("text/html") and b"<html" in body.lower()
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(json.dumps({"message": "connection", "data": [{"appKey": "defaultApp"}]}))
            reply = json.loads(await ws.get_message())
            assert reply["message"] == "getUserData"
            assert reply["data"][0]["authToken"]
        assert "session opened" in server.log()


async def test_sigterm_stops_within_two_seconds(tmp_path: Path) -> None:
    async with running_server(tmp_path) as server:
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(json.dumps({"message": "connection", "data": [{}]}))
            await ws.get_message()
            started = trio.current_time()
            server.process.send_signal(signal.SIGTERM)
            with trio.fail_after(2):
                await server.process.wait()
            assert trio.current_time() - started < 2
            assert server.process.returncode == 0
        assert "session closing: server stopping" in server.log()


async def test_malformed_websocket_input_spares_the_next_session(tmp_path: Path) -> None:
    async with running_server(tmp_path) as server:
        async with open_websocket_url(server.ws_url) as ws:
            for bad in ("not json", "[]", json.dumps({"message": 5}), json.dumps({"message": "call"})):
                await ws.send_message(bad)
                reply = json.loads(await ws.get_message())
                assert reply["message"] == "fail", bad
            await ws.send_message(json.dumps({"message": "connection", "data": [{}]}))
            assert json.loads(await ws.get_message())["message"] == "getUserData"
            await ws.send_message(json.dumps({"message": "hangup", "data": [{"callId": 7}]}))
            reply = json.loads(await ws.get_message())
            assert reply["message"] == "fail" and reply["data"][0]["field"] == "callId"
            await ws.send_message(b"\x00\xff binary junk")
            assert json.loads(await ws.get_message())["message"] == "fail"
            await ws.send_message(json.dumps({"message": "noSuchThing", "data": [{}]}))
            reply = json.loads(await ws.get_message())
            assert reply["data"][0] == {"apiMethod": "noSuchThing", "field": "message",
                                        "info": "unknown message 'noSuchThing'"}
            await ws.send_message(json.dumps({"message": "sessionDebug", "data": [{}]}))  # ignored
            await ws.send_message(json.dumps({"message": "sendData", "data": [
                {"operationId": "op1", "payload": {"x": 1}}]}))
            reply = json.loads(await ws.get_message())
            assert reply == {"message": "DataStatusEvent", "data": [
                {"operationId": "op1", "status": "FAILED", "info": "sendData is not supported"}]}
        # A connection with a bad field is refused naming it, and the socket is closed.
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(json.dumps({"message": "connection", "data": [{"sipPort": "x"}]}))
            reply = json.loads(await ws.get_message())
            assert reply["message"] == "fail" and reply["data"][0]["field"] == "sipPort"
            with pytest.raises(ConnectionClosed):
                await ws.get_message()
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(json.dumps({"message": "connection", "data": [{"authToken": "forged"}]}))
            reply = json.loads(await ws.get_message())
            assert reply["data"][0]["field"] == "authToken"
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(json.dumps({"message": "connection", "data": [{}]}))
            assert json.loads(await ws.get_message())["message"] == "getUserData"


async def test_silent_client_is_dropped_and_keepalive_session_resumes(tmp_path: Path) -> None:
    settings = ["keep_alive.interval=200", "keep_alive.probes=2"]
    async with running_server(tmp_path, settings) as server:
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(json.dumps({"message": "connection", "data": [{"keepAlive": True}]}))
            token = json.loads(await ws.get_message())["data"][0]["authToken"]
            with trio.fail_after(3):  # pings go unanswered: dropped after 2 probes
                with pytest.raises(ConnectionClosed):
                    while True:
                        assert json.loads(await ws.get_message())["message"] == "ping"
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(json.dumps({"message": "connection", "data": [{"authToken": token}]}))
            reply = json.loads(await ws.get_message())
            assert reply["message"] == "getUserData" and reply["data"][0]["authToken"] == token
            for _ in range(3):  # a client that answers stays
                assert json.loads(await ws.get_message())["message"] == "ping"
                await ws.send_message(json.dumps({"message": "pong", "data": [None]}))
        assert "client stopped answering pings" in server.log()
        assert "session resumed" in server.log()


async def test_bad_config_key_stops_serve_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "bad.properties"
    config.write_text("ws.port=8080\nwrong_key=1\n")
    result = await trio.run_process(serve_command(["--config", str(config)]), capture_stderr=True,
                                    capture_stdout=True, check=False)
    assert result.returncode == 2
    assert f"{config}:2: key 'wrong_key': unknown key" in result.stderr.decode()


def test_version_and_list_keys() -> None:
    out = subprocess.run([sys.executable, "-m", "wcs_trio.core", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("wcs-trio ")
    keys = subprocess.run(serve_command(["--list-keys"]), capture_output=True, text=True)
    assert keys.returncode == 0 and "| `ws.port` | `8080` |" in keys.stdout
