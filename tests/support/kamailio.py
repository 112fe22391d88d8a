"""Start a Kamailio registrar/proxy on loopback for a test (recipe: shared/peers/README.md).

Usage (inside a trio test)::

    async with kamailio(tmp_path, tls=(cert, key)) as k:
        k.ports["udp"], k.ports["tcp"], k.ports["tls"]

Any user U registers with password U + "pw"; realm = the domain (127.0.0.1).
Ports are free ones picked for each run; the process is stopped (SIGTERM,
then SIGKILL) when the block ends, and its log is kept in the work folder.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Sequence

import trio

from tests.support.ports import free_port

PEERS = pathlib.Path(__file__).with_name("peers")
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"


def available() -> bool:
    return os.path.exists(KAMAILIO)


class Kamailio:
    def __init__(
        self, workdir: pathlib.Path, ports: dict[str, int], process: trio.Process, log: pathlib.Path
    ):
        self.workdir = workdir
        self.ports = ports
        self.process = process
        self.log_path = log

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


async def _ready(port: int, timeout: float = 10.0, address: str = "127.0.0.1") -> bool:
    """Kamailio answers a user-less OPTIONS with 200 once it serves."""
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind((address, 0))
    me = sock.getsockname()[1]
    with sock, trio.move_on_after(timeout):
        n = 0
        while True:
            n += 1
            msg = (
                f"OPTIONS sip:{address}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {address}:{me};branch=z9hG4bKready{n};rport\r\n"
                "Max-Forwards: 70\r\n"
                f"To: <sip:{address}:{port}>\r\n"
                f"From: <sip:probe@{address}:{me}>;tag=probe\r\n"
                f"Call-ID: ready{n}@probe\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
            ).encode()
            await sock.sendto(msg, (address, port))
            with trio.move_on_after(0.2):
                data, _ = await sock.recvfrom(4096)
                if data.startswith(b"SIP/2.0 200"):
                    return True
    return False


@contextlib.asynccontextmanager
async def kamailio(
    workdir: pathlib.Path,
    *,
    tls: tuple[str, str] | None = None,
    noauth_calls: bool = True,
    min_expires: int | None = None,
    sip_port: int | None = None,
    address: str = "127.0.0.1",
    prefix: Sequence[str] = (),
) -> AsyncIterator[Kamailio]:
    """``address``: where it listens (the lab's 10.99.0.1); ``prefix``: e.g. ``ip netns exec NS``."""
    workdir = pathlib.Path(workdir) / "kamailio"
    (workdir / "run").mkdir(parents=True, exist_ok=True)
    cfg = workdir / "kamailio.cfg"
    cfg.write_text((PEERS / "kamailio.cfg").read_text().replace("$PEERS", str(workdir)))
    ports = {"udp": sip_port or free_port()}
    ports["tcp"] = ports["udp"]
    args = [
        *prefix, KAMAILIO,
        "-f", str(cfg),
        "-DD", "-E",
        "-m", "64", "-M", "8",
        "-P", str(workdir / "run" / "kamailio.pid"),
        "-Y", str(workdir / "run"),
        "-A", f"SIP_PORT={ports['udp']}", "-A", f"SIP_ADDR={address}",
    ]  # fmt: skip
    if tls:
        ports["tls"] = free_port()
        args += ["-A", "WITH_TLS", "-A", f"TLS_PORT={ports['tls']}"]
        args += ["-A", f'TLS_CERT="{tls[0]}"', "-A", f'TLS_KEY="{tls[1]}"']
    if noauth_calls:
        args += ["-A", "NOAUTH_CALLS"]
    if min_expires is not None:
        args += ["-A", f"MIN_EXPIRES={min_expires}"]
    log_path = workdir / "kamailio.log"
    log_file = open(log_path, "wb")
    proc = await trio.lowlevel.open_process(
        args, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        if not await _ready(ports["udp"], address=address):
            raise RuntimeError(
                f"kamailio did not start:\n{log_path.read_text(errors='replace')[-3000:]}"
            )
        yield Kamailio(workdir, ports, proc, log_path)
    finally:
        with trio.CancelScope(shield=True):
            await stop(proc)
            log_file.close()


async def stop(proc: trio.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with trio.move_on_after(5):
        await proc.wait()
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
