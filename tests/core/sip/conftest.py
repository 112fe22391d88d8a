"""Shared helpers for the SIP tests: a throw-away TLS certificate, a raw UDP client."""

from __future__ import annotations

import pathlib

import pytest
import trio

from tests.support.certs import self_signed


@pytest.fixture
def tls_cert(tmp_path: pathlib.Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (cert, key paths), the extra CA of the TLS tests."""
    cert, key = self_signed(tmp_path)
    return str(cert), str(key)


class UdpClient:
    """A bare UDP socket for sending raw bytes to a stack and reading answers."""

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.sock = sock

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    async def send(self, data: bytes, port: int, host: str = "127.0.0.1") -> None:
        await self.sock.sendto(data, (host, port))

    async def recv(self, timeout: float = 2.0) -> bytes | None:
        with trio.move_on_after(timeout):
            data, _ = await self.sock.recvfrom(65535)
            return data
        return None


@pytest.fixture
async def udp_client():
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    with sock:
        yield UdpClient(sock)
