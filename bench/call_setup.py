"""Call set-up time and CPU cost of one established call, measured in the e2e lab (needs root).

For each of --calls calls, an independent WebRTC client (aiortc, tests/e2e/aiortc_client.py)
registers through the gateway and calls a baresip account (auto-answer) over Kamailio:
- call->talk: from sending the SDK's `call` frame to receiving `talk` (ESTABLISHED);
- call->first audio at baresip: from `call` to baresip's log line "incoming rtp for 'audio'
  established" (its log file polled every 2 ms, so figures carry ~2 ms of slack).
Then, on one established call, the CPU seconds the `serve` process used per wall second
(/proc/PID/stat utime+stime over --cpu-seconds s), minus the same measure of the idle server.

    sudo .venv/bin/python bench/call_setup.py [--calls 5] [--cpu-seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import trio
from trio_websocket import open_websocket_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.sdk_client import aiortc_client, connection, expect, send
from tests.support.lab import Phone, Rig, running_lab

TICK = os.sysconf("SC_CLK_TCK")
RTP_LINE = "incoming rtp for 'audio' established"


def cpu_seconds(pid: int) -> float:
    # /proc/PID/stat: fields 14 and 15 (utime, stime) in clock ticks; the command name in
    # parentheses may hold spaces, so split after its closing parenthesis.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def cpu_per_second(pid: int, seconds: float) -> float:
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    await trio.sleep(seconds)
    return (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)


async def first_line(path: Path, text: str, after: int, timeout: float = 10.0) -> float:
    """When ``text`` first appears in ``path`` beyond byte ``after`` (monotonic time)."""
    with trio.fail_after(timeout):
        while True:
            with path.open("rb") as f:
                f.seek(after)
                if text.encode() in f.read():
                    return time.monotonic()
            await trio.sleep(0.002)


async def one_call(rig: Rig, n: int, hold_cpu: float) -> tuple[float, float, float | None]:
    phone = rig.phones["10005"]
    user = f"{10100 + n}"
    async with open_websocket_url(rig.gateway().ws_url) as ws:
        await send(ws, "connection", connection(rig, user))
        await expect(ws, "getUserData")
        await expect(ws, "registered")
        async with aiortc_client(rig, rig.workdir / f"aiortc-{n}.log", 1200,
                                 max(4.0, hold_cpu + 3)) as (client, lines):
            assert client.stdin is not None
            offer = (await lines.next(15))["offer"]
            call_id = str(uuid.uuid4())
            log_size = phone.log_path.stat().st_size
            async with trio.open_nursery() as nursery:
                audio_at: list[float] = []

                async def watch_rtp() -> None:
                    audio_at.append(await first_line(phone.log_path, RTP_LINE, log_size))

                nursery.start_soon(watch_rtp)
                sent = time.monotonic()
                await send(ws, "call", {
                    "callId": call_id, "incoming": False, "hasAudio": True, "hasVideo": False,
                    "status": "PENDING", "mediaProvider": "WebRTC", "sdp": offer,
                    "caller": user, "callee": "10005", "visibleName": "bench"})
                remote = await expect(ws, "setRemoteSDP")
                await client.stdin.send_all(json.dumps({"answer": remote[1]}).encode() + b"\n")
                await expect(ws, "talk", timeout=15)
                talk = time.monotonic()
            cpu = None
            if hold_cpu:
                await trio.sleep(1.0)  # past ICE/DTLS set-up: a steady call
                cpu = await cpu_per_second(rig.gateway().process.pid, hold_cpu)
            await send(ws, "hangup", {"callId": call_id})
            await expect(ws, "finish")
    await phone.control.wait_event("CALL_CLOSED")
    return talk - sent, audio_at[0] - sent, cpu


async def main(calls: int, cpu_window: float) -> None:
    with tempfile.TemporaryDirectory(prefix="wcs-bench-") as tmp:
        async with running_lab(Path(tmp), [Phone("10005", 440)], settings=["log_level=INFO"]) as rig:
            await trio.sleep(1.0)
            idle = await cpu_per_second(rig.gateway().process.pid, cpu_window)
            talks, audios = [], []
            cpu_call = 0.0
            for n in range(calls):
                talk, audio, cpu = await one_call(rig, n, cpu_window if n == calls - 1 else 0)
                talks.append(talk * 1000)
                audios.append(audio * 1000)
                if cpu is not None:
                    cpu_call = cpu
    def fmt(values: list[float]) -> str:
        return (f"median {statistics.median(values):6.1f} ms  min {min(values):6.1f}  "
                f"max {max(values):6.1f}  (n={len(values)})")
    print(f"call -> talk (ESTABLISHED):        {fmt(talks)}")
    print(f"call -> first audio RTP at baresip: {fmt(audios)}")
    print(f"serve CPU, idle:                    {idle * 1000:6.1f} ms per s")
    print(f"serve CPU, one established call:    {cpu_call * 1000:6.1f} ms per s "
          f"({(cpu_call - idle) * 1000:.1f} ms per s above idle; audio Opus<->baresip, "
          f"{cpu_window:.0f} s window)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--cpu-seconds", type=float, default=10.0)
    args = parser.parse_args()
    trio.run(main, args.calls, args.cpu_seconds)
