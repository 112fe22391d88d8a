"""A two-host lab inside a network namespace the test creates (and deletes).

baresip never puts 127.0.0.1 in its SDP: it takes the address of its default-route
interface. So SIP peers, the gateway and Chromium run inside a namespace with a veth
pair whose ends play two hosts: ``HOST_A`` (10.99.0.1) and ``HOST_B`` (10.99.0.2),
the default route going out of B. Nothing leaves the machine.

:func:`lab` moves the *calling thread* into the namespace with setns(2) (namespaces
are per thread on Linux), so the test's own sockets and every process it starts from
that thread live there; it moves back and deletes the namespace on exit.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import trio

CLONE_NEWNET = 0x40000000
HOST_A = "10.99.0.1"
HOST_B = "10.99.0.2"


@attrs.frozen
class Lab:
    name: str
    host_a: str = HOST_A
    host_b: str = HOST_B

    def exec_prefix(self) -> list[str]:
        """Prefix for a command that must run in the lab from another thread or process."""
        return ["ip", "netns", "exec", self.name]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns failed: {os.strerror(errno)} (tests in a lab need root)")


def _return_worker_threads(original: int, workers: int = 32) -> None:
    """Move trio's cached worker threads back to the original namespace.

    trio starts subprocesses (and other blocking calls) in worker threads it keeps for
    reuse; a worker made while this thread sat in the lab inherited the lab's namespace,
    and a later test would start its processes there. Each job below holds a worker for a
    moment, so every idle one takes one, and sets it back.
    """
    done = threading.Semaphore(0)

    def reset() -> None:
        _setns(original)
        time.sleep(0.05)

    for _ in range(workers):
        trio.lowlevel.start_thread_soon(reset, lambda _outcome: done.release())
    for _ in range(workers):
        done.acquire(timeout=5)


@contextmanager
def lab() -> Iterator[Lab]:
    name = f"wcs{uuid.uuid4().hex[:8]}"
    a_end, b_end = f"{name}a", f"{name}b"
    _ip("netns", "add", name)
    try:
        ns = ["-n", name]
        _ip(*ns, "link", "set", "lo", "up")
        _ip(*ns, "link", "add", a_end, "type", "veth", "peer", "name", b_end)
        _ip(*ns, "addr", "add", f"{HOST_A}/24", "dev", a_end)
        _ip(*ns, "addr", "add", f"{HOST_B}/24", "dev", b_end)
        _ip(*ns, "link", "set", a_end, "up")
        _ip(*ns, "link", "set", b_end, "up")
        _ip(*ns, "route", "add", "default", "dev", b_end, "src", HOST_B)
        original = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield Lab(name)
            finally:
                _setns(original)
                _return_worker_threads(original)
        finally:
            os.close(target)
            os.close(original)
    finally:
        subprocess.run(["ip", "netns", "pids", name], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
