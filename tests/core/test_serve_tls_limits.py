"""Secure endpoints with a configured certificate, and the bounds on what a client may send."""

import json
import ssl
import urllib.request
from pathlib import Path

import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.support.certs import self_signed
from tests.support.serve import running_server


def fetch_tls(url: str, cafile: Path) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=str(cafile))
    with urllib.request.urlopen(url, timeout=5, context=context) as response:
        return response.status, response.read()


async def test_wss_and_https_with_a_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    async with running_server(tmp_path, [f"tls.cert_file={cert}", f"tls.key_file={key}"]) as server:
        status, body = await trio.to_thread.run_sync(
            fetch_tls, f"https://127.0.0.1:{server.https_port}/flashphoner.js", cert)
        assert status == 200 and b"Flashphoner" in body
        context = ssl.create_default_context(cafile=str(cert))
        async with open_websocket_url(f"wss://127.0.0.1:{server.wss_port}", ssl_context=context) as ws:
            await ws.send_message(json.dumps({"message": "connection", "data": [{}]}))
            assert json.loads(await ws.get_message())["message"] == "getUserData"
        async with open_websocket_url(server.ws_url) as ws:  # plain ws stays on
            await ws.send_message(json.dumps({"message": "connection", "data": [{}]}))
            assert json.loads(await ws.get_message())["message"] == "getUserData"


async def test_oversized_message_closes_only_that_socket(tmp_path: Path) -> None:
    async with running_server(tmp_path, ["ws.max_message_size=4096"]) as server:
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(json.dumps({"message": "connection", "data": [{}]}))
            await ws.get_message()
            await ws.send_message(json.dumps({"message": "pong", "data": ["x" * 10000]}))
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await ws.get_message()
            assert info.value.reason.code == 1009  # RFC 6455 §7.4.1: message too big
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(json.dumps({"message": "connection", "data": [{}]}))
            assert json.loads(await ws.get_message())["message"] == "getUserData"


async def test_message_rate_is_bounded(tmp_path: Path) -> None:
    async with running_server(tmp_path, ["ws.max_messages_per_second=10"]) as server:
        async with open_websocket_url(server.ws_url) as ws:
            await ws.send_message(json.dumps({"message": "connection", "data": [{}]}))
            await ws.get_message()
            for _ in range(60):
                await ws.send_message(json.dumps({"message": "pong", "data": [None]}))
            refusals = 0
            with trio.move_on_after(1):
                while True:
                    reply = json.loads(await ws.get_message())
                    if reply["message"] == "fail":
                        assert "too many messages" in reply["data"][0]["info"]
                        refusals += 1
            assert 30 <= refusals <= 45  # a burst of 2x the rate passes, the rest is refused
