"""The end-to-end lab: a network namespace with Kamailio, baresip softphones and the gateway.

baresip never advertises 127.0.0.1 in its SDP, so everything runs inside a namespace the
test creates (:func:`tests.support.netns.lab`): two "hosts" on a veth pair,

- ``10.99.0.1`` (host A): Kamailio (registrar + proxy, digest auth) and ``wcs-trio serve``
  (its SDP and ICE candidates say 10.99.0.1);
- ``10.99.0.2`` (host B, the default route): the baresip softphones.

Chromium is started by the test's thread, which sits in the namespace, and loads the pages
from ``http://127.0.0.1:HTTP_PORT`` (a secure context, so getUserMedia works).

Every process is started with the namespace's ``ip netns exec`` prefix (trio starts
processes from a worker thread, which lives in the root namespace) and stopped when the
block ends, whatever the outcome. The namespace is private to one test, so the fixed
baresip ports below cannot clash with anything else on the machine.

    async with running_lab(tmp_path, [Phone("10005", tone_hz=440)]) as rig:
        await rig.phones["10005"].control.command("dial", rig.uri("10006"))
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from tests.support.baresip import Baresip, running_baresip, write_config
from tests.support.kamailio import Kamailio, kamailio
from tests.support.netns import HOST_A, HOST_B, Lab, lab
from tests.support.serve import Server, running_server

ADMIN_TOKEN = "lab-admin-token"
# baresip also binds TCP on its SIP port and TLS on port + 1: keep UAs 10 ports apart.
BARESIP_SIP_BASE = 15050
BARESIP_CTRL_BASE = 14050
BARESIP_RTP_BASE = 20000
H264 = ("avcodec.so",)  # Debian's baresip: H.264 (libx264), H.263, MPEG-4, H.265 through FFmpeg
VP8 = ("vp8.so",)
VIDEO = H264 + VP8


@attrs.frozen
class Phone:
    """A baresip account to start in the lab (password = user + "pw")."""

    user: str
    tone_hz: int = 440
    answer: str = "auto"  # baresip answermode: auto, manual, early
    video: tuple[str, ...] = ()  # video codec modules (H264, VP8, VIDEO); fakevideo is the camera


@attrs.define
class Rig:
    """A running lab: the namespace, Kamailio, the phones by user, and the gateway (or None)."""

    lab: Lab
    kamailio: Kamailio
    phones: dict[str, Baresip]
    server: Server | None
    workdir: Path

    @property
    def sip_port(self) -> int:
        return self.kamailio.ports["udp"]

    @property
    def domain(self) -> str:
        return HOST_A

    def uri(self, user: str) -> str:
        """The SIP URI of ``user`` on the lab's Kamailio."""
        return f"sip:{user}@{HOST_A}:{self.sip_port}"

    def gateway(self) -> Server:
        if self.server is None:
            raise RuntimeError("this lab was started without the gateway")
        return self.server

    def phone_url(self, user: str, password: str | None = None, *, page: str = "phone",
                  **extra: str) -> str:
        """Our Phone (or Phone Video) page, prefilled to register ``user`` at the lab's Kamailio."""
        server = self.gateway()
        fields = {
            "url": server.ws_url, "sipLogin": user, "sipAuthenticationName": user,
            "sipPassword": f"{user}pw" if password is None else password,
            "sipDomain": HOST_A, "sipOutboundProxy": HOST_A, "sipPort": str(self.sip_port),
            "sipRegisterRequired": "true", **extra,
        }
        query = "&".join(f"{k}={_quote(v)}" for k, v in fields.items())
        return f"{server.http_url}/{page}/?{query}"

    async def snapshot(self) -> dict[str, Any]:
        """The gateway's ECS world, read through its admin API."""
        return await http_get_json(self.gateway().http_port, "/api/snapshot", ADMIN_TOKEN)

    async def entities_with(self, *components: str) -> list[dict[str, Any]]:
        """The world's entities that carry any of ``components`` (class names, e.g. "CallInfo")."""
        snapshot = await self.snapshot()
        return [e for e in snapshot["entities"] if set(components) & set(e["components"])]

    async def until_none_left(self, *components: str, timeout: float = 5.0) -> None:
        """Wait until no entity carries ``components``; fail naming what is left."""
        left: list[dict[str, Any]] = []
        with trio.move_on_after(timeout):
            while left := await self.entities_with(*components):
                await trio.sleep(0.1)
            return
        raise AssertionError(f"left in the world after {timeout} s: {json.dumps(left)[:3000]}")

    def sip_seen(self, start: str, source: str | None = None) -> list[str]:
        """Kamailio's log lines for requests (``"REQ BYE"``) or replies (``"REPLY 200 OK BYE"``)
        that start with ``start``, optionally only those that came from ``source`` (an address)."""
        lines = [line for line in self.kamailio.log().splitlines() if f"<script>: {start}" in line]
        if source is not None:
            lines = [line for line in lines if f" from {source}:" in line]
        return lines

    def bound_media_ports(self) -> list[int]:
        """The gateway's SIP-side media ports that still have a UDP socket bound (should be none
        once every call ended). Read from /proc/net/udp, which this thread sees for the lab."""
        low, high = self.gateway().media_ports
        ports = []
        for line in Path("/proc/thread-self/net/udp").read_text().splitlines()[1:]:
            port = int(line.split()[1].rsplit(":", 1)[1], 16)
            if low <= port <= high:
                ports.append(port)
        return sorted(ports)

    def logs(self) -> str:
        """Every log of the lab, for a failing test's report."""
        parts = [f"--- kamailio\n{self.kamailio.log()[-4000:]}"]
        for user, phone in self.phones.items():
            parts.append(f"--- baresip {user}\n{phone.log()[-4000:]}")
        if self.server is not None:
            parts.append(f"--- serve\n{self.server.log()[-12000:]}")
        return "\n".join(parts)


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


async def http_get_json(port: int, path: str, token: str) -> dict[str, Any]:
    """A bare HTTP/1.0 GET on 127.0.0.1 (in the lab) returning the JSON body."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(
            f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        data = bytearray()
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
        raise RuntimeError(f"GET {path}: {head.decode(errors='replace')}")
    return dict(json.loads(body))


@asynccontextmanager
async def running_lab(
    workdir: Path,
    phones: Sequence[Phone] = (Phone("10005", 440), Phone("10006", 1000)),
    *,
    gateway: bool = True,
    settings: Sequence[str] = (),
    sip_port: int = 5060,
    nat: bool = False,
) -> AsyncIterator[Rig]:
    """Namespace + Kamailio on 10.99.0.1 + ``phones`` registered there + the gateway; all torn down after.

    ``nat``: packets to 10.99.0.1 from sockets not bound to an address leave with source
    10.99.0.2 (peers README), so e.g. the gateway's SIP socket (bound to 0.0.0.0) reaches Kamailio
    from another address than it believes it has, as behind a NAT.
    """
    with lab() as net:
        prefix = net.exec_prefix()
        if nat:
            subprocess.run(
                ["ip", "-n", net.name, "route", "replace", "table", "local", "local", HOST_A,
                 "dev", f"{net.name}a", "proto", "kernel", "scope", "host", "src", HOST_B],
                check=True, capture_output=True)
        async with AsyncExitStack() as stack:
            # 5060, the port a Request-URI without one means (RFC 3263 §4.2): the namespace is
            # private, so the well-known port is free, and a URI like sip:10005@10.99.0.1 routes.
            k = await stack.enter_async_context(kamailio(
                workdir, address=HOST_A, prefix=prefix, noauth_calls=True, sip_port=sip_port))
            registrar = f"{HOST_A}:{k.ports['udp']}"
            running: dict[str, Baresip] = {}
            for n, phone in enumerate(phones):
                folder = workdir / f"baresip-{phone.user}"
                folder.mkdir(parents=True, exist_ok=True)
                rtp = BARESIP_RTP_BASE + 100 * n
                write_config(
                    folder, user=phone.user, registrar=registrar,
                    listen=f"{HOST_B}:{BARESIP_SIP_BASE + 10 * n}",
                    ctrl_port=BARESIP_CTRL_BASE + 10 * n, rtp_ports=(rtp, rtp + 99),
                    tone_hz=phone.tone_hz, answer=phone.answer,
                    video_modules=(*phone.video, "fakevideo.so") if phone.video else ())
                running[phone.user] = await stack.enter_async_context(running_baresip(
                    folder, user=phone.user, ctrl_host="127.0.0.1",
                    ctrl_port=BARESIP_CTRL_BASE + 10 * n, prefix=prefix))
            server = None
            if gateway:
                server = await stack.enter_async_context(running_server(
                    workdir, [f"admin_token={ADMIN_TOKEN}", *settings], prefix=prefix,
                    listen="0.0.0.0", ip=HOST_A, ip_local=HOST_A))
            rig = Rig(net, k, running, server, workdir)
            await _registered(rig)
            yield rig


async def _registered(rig: Rig, timeout: float = 10.0) -> None:
    """Wait until Kamailio has a binding for every phone (baresip registers in ~50 ms)."""
    with trio.move_on_after(timeout):
        pending = set(rig.phones)
        while pending:
            for user in sorted(pending):
                if await _has_binding(rig, user):
                    pending.discard(user)
            if pending:
                await trio.sleep(0.1)
        return
    raise RuntimeError(f"baresip accounts did not register:\n{rig.logs()}")


async def _has_binding(rig: Rig, user: str) -> bool:
    """Kamailio relays an OPTIONS for a registered user; it answers 404 for an unknown one."""
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    with sock:
        await sock.bind((HOST_A, 0))
        me = sock.getsockname()[1]
        await sock.sendto((
            f"OPTIONS sip:{user}@{HOST_A}:{rig.sip_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST_A}:{me};branch=z9hG4bKlab{me};rport\r\n"
            f"Max-Forwards: 70\r\nTo: <sip:{user}@{HOST_A}>\r\nFrom: <sip:probe@{HOST_A}>;tag=p{me}\r\n"
            f"Call-ID: labprobe{me}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode(),
            (HOST_A, rig.sip_port))
        with trio.move_on_after(2):
            while True:
                data, _ = await sock.recvfrom(65536)
                if not data.startswith(b"SIP/2.0 1"):
                    return not data.startswith(b"SIP/2.0 404")
    return False
