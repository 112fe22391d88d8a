"""Run ``wcs-trio serve`` as a real subprocess on free loopback ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio

from tests.support.ports import free_ports


@attrs.define
class Server:
    process: trio.Process
    ws_port: int
    http_port: int
    sip_port: int
    webrtc_port: int
    log_path: Path
    wss_port: int = 0
    https_port: int = 0
    media_ports: tuple[int, int] = (0, 0)  # the SIP-side RTP/RTCP range, inclusive

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def serve_command(extra: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "-m", "wcs_trio.core", "serve", *extra]


async def _http_ready(port: int) -> bool:
    try:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
    except OSError:
        return False
    await stream.aclose()
    return True


@asynccontextmanager
async def running_server(
    tmp_path: Path,
    settings: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 15.0,
    prefix: Sequence[str] = (),
    listen: str = "127.0.0.1",
    ip: str = "",
    ip_local: str = "127.0.0.1",
) -> AsyncIterator[Server]:
    """Start ``serve`` and wait until its HTTP port answers; stop it (SIGTERM, then SIGKILL) after.

    ``prefix`` runs it elsewhere (``ip netns exec NS`` in a lab); ``listen``, ``ip`` (the public
    address put in SDP and ICE candidates) and ``ip_local`` set the addresses it uses.
    """
    ws_port, http_port, sip_port, webrtc_port, wss_port, https_port = free_ports(6)
    media_from = 40000 + (ws_port % 2000) * 10
    args = [
        "--set", f"listen={listen}", "--set", f"ip_local={ip_local}", "--set", f"ip={ip}",
        "--set", f"ws.port={ws_port}", "--set", f"http.port={http_port}",
        "--set", f"sip.port={sip_port}", "--set", f"webrtc.port={webrtc_port}",
        "--set", f"wss.port={wss_port}", "--set", f"https.port={https_port}",
        "--set", f"media_port_from={media_from}", "--set", f"media_port_to={media_from + 9}",
        "--set", "log_level=DEBUG",
    ]
    for item in settings:
        args += ["--set", item]
    log_path = tmp_path / f"serve-{ws_port}.log"
    full_env = {**os.environ, **(env or {})}
    with log_path.open("wb") as log_file:
        process = await trio.lowlevel.open_process(
            [*prefix, *serve_command(args)], stdout=log_file, stderr=subprocess.STDOUT, env=full_env)
    server = Server(process, ws_port, http_port, sip_port, webrtc_port, log_path, wss_port, https_port,
                    (media_from, media_from + 9))
    try:
        with trio.fail_after(ready_timeout):
            while not await _http_ready(http_port):
                if process.poll() is not None:
                    raise RuntimeError(f"serve exited with {process.returncode}:\n{server.log()}")
                await trio.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with trio.move_on_after(5):
                await process.wait()
            if process.poll() is None:
                process.kill()
                await process.wait()
