"""Speaking the SDK's WebSocket protocol (core/api/PROTOCOL.md) from a test, with an aiortc
process (tests/e2e/aiortc_client.py) doing the WebRTC side: an independent client."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from trio_websocket import WebSocketConnection

from tests.support.lab import Rig

CLIENT = Path(__file__).with_name("aiortc_client.py")


async def expect(ws: WebSocketConnection, name: str, timeout: float = 10.0) -> Any:
    """The next frame named ``name`` (answering pings); returns its data array."""
    with trio.fail_after(timeout):
        while True:
            frame = json.loads(await ws.get_message())
            if frame["message"] == "ping":
                await ws.send_message(json.dumps({"message": "pong", "data": [None]}))
            elif frame["message"] == name:
                return frame["data"]
            elif frame["message"] in ("fail", "finish"):
                raise AssertionError(f"got {frame} while waiting for {name}")


async def send(ws: WebSocketConnection, name: str, *data: Any) -> None:
    await ws.send_message(json.dumps({"message": name, "data": list(data)}))


class Lines:
    """Newline-delimited JSON from a subprocess's stdout."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def next(self, timeout: float) -> dict[str, Any]:
        with trio.fail_after(timeout):
            while b"\n" not in self.buffer:
                chunk = await self.stream.receive_some(65536)
                if not chunk:
                    raise AssertionError("aiortc client exited")
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return dict(json.loads(line))


def connection(rig: Rig, user: str) -> dict[str, Any]:
    return {"appKey": "defaultApp", "mediaProviders": ["WebRTC"], "clientVersion": "2.0",
            "sipLogin": user, "sipAuthenticationName": user, "sipPassword": f"{user}pw",
            "sipDomain": rig.domain, "sipOutboundProxy": rig.domain, "sipPort": str(rig.sip_port),
            "sipRegisterRequired": True}


@asynccontextmanager
async def aiortc_client(rig: Rig, log: Path, tone_hz: int, seconds: float
                        ) -> AsyncIterator[tuple[trio.Process, Lines]]:
    """tests/e2e/aiortc_client.py running in the lab; killed when the block ends."""
    client = await trio.lowlevel.open_process(
        [*rig.lab.exec_prefix(), sys.executable, str(CLIENT), "--tone", str(tone_hz),
         "--seconds", str(seconds)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("wb"))
    try:
        assert client.stdout is not None
        yield client, Lines(client.stdout)
    finally:
        with trio.CancelScope(shield=True):
            if client.poll() is None:
                client.kill()
            await client.wait()
