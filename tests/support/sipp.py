"""Run SIPp (package sip-tester) scenarios against a loopback target.

SIPp 3.6.1 in Debian has no TLS; UDP (``u1``) and TCP (``t1``) work.
``run_sipp`` returns the exit code (0: every call succeeded) and SIPp's output.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import trio

SCENARIOS = pathlib.Path(__file__).with_name("peers") / "sipp"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"


def available() -> bool:
    return os.path.exists(SIPP)


async def run_sipp(
    scenario: str,
    port: int,
    *,
    service: str = "alice",
    calls: int = 1,
    rate: float | None = None,
    transport: str = "u1",
    local_port: int,
    workdir: pathlib.Path,
    timeout: float = 30.0,
    extra: list[str] | None = None,
) -> tuple[int, str]:
    args = [
        SIPP,
        f"127.0.0.1:{port}",
        "-sf", str(SCENARIOS / scenario),
        "-s", service,
        "-m", str(calls),
        "-i", "127.0.0.1",
        "-mi", "127.0.0.1",
        "-p", str(local_port),
        "-t", transport,
        "-nostdin",
        "-timeout", f"{int(timeout)}s",
        "-timeout_error",
        "-trace_err",
        "-error_file", str(workdir / f"{scenario}.err"),
    ]  # fmt: skip
    if rate is not None:
        args += ["-r", str(rate)]
    args += extra or []
    with trio.fail_after(timeout + 15):
        proc = await trio.run_process(
            args, cwd=str(workdir), capture_stdout=True, stderr=subprocess.STDOUT, check=False
        )
    out = proc.stdout.decode(errors="replace")
    err_file = workdir / f"{scenario}.err"
    if err_file.exists():
        out += "\n--- errors ---\n" + err_file.read_text(errors="replace")[-4000:]
    return proc.returncode, out
