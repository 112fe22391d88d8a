"""Shared helpers for the SIP tests: a throw-away TLS certificate, a raw UDP client."""

from __future__ import annotations

import datetime
import ipaddress
import pathlib
import sys

import pytest
import trio

# tests/support (Kamailio and sipp helpers) is importable as ``support``.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))


def make_cert(directory: pathlib.Path, name: str = "127.0.0.1") -> tuple[str, str]:
    """A self-signed certificate for ``name`` (IP SAN + DNS localhost); returns (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(name)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_cert(tmp_path: pathlib.Path) -> tuple[str, str]:
    return make_cert(tmp_path)


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
