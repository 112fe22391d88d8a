"""CPU microseconds per packet relayed by MediaBridge + SipRtpStream over loopback UDP.

Measurements in one run, same offered rate, 172-byte RTP, N calls:
  floor   : one bare UdpDrain, recv -> sendto (no parsing at all)
  bridge  : per call a MediaBridge between a fake WebRTC leg (no crypto; all legs on one
            shared UDP port, found by source address as the real endpoint does) and a
            SipRtpStream on its own port pair; half the packets browser -> SIP, half
            SIP -> browser. ``same-pt``: both legs use PT 0, so nothing is rewritten
            (browser -> SIP sends the packet object as is; SIP -> browser copies the
            view into ``bytes`` once, as pylibsrtp needs); ``rewrite``: PT 111 <-> 107,
            so every packet is rebuilt (header packed afresh + payload).
The load comes from a separate process, so the relay thread's CPU time is relay work.
Loopback only.

    .venv/bin/python bench/bridge_relay.py --calls 100 --rate 20000 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable

import trio

from wcs_trio.core.media.bridge import MediaBridge
from wcs_trio.core.media.ports import PortPool
from wcs_trio.core.media.sipstream import SipRtpStream
from wcs_trio.core.media.udp import UdpDrain
from wcs_trio.core.sdp.plan import CodecChoice, CodecPlan, MediaPlan, MediaState

PAYLOAD = bytes(160)


def rtp(pt: int, ssrc: int, seq: int) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, seq * 160, ssrc) + PAYLOAD


# ------------------------------------------------------------ generator


def generator(spec: dict) -> None:
    """Send pre-built packets at ``rate`` round-robin over the flows; count replies."""
    flows, sinks, report = [], [], []
    for index, target in enumerate(spec["targets"]):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sinks.append(sock)
        report.append(sock.getsockname())
        packets = [rtp(target["pt"], 0x1000 + index, i) for i in range(spec["per_flow"])]
        flows.append((sock, packets, tuple(target["address"])))
    print(json.dumps({"sources": report}), flush=True)
    sys.stdin.readline()  # go
    interval = 1.0 / spec["rate"]
    total = int(spec["rate"] * spec["seconds"])
    sent = received = 0
    start = time.perf_counter()
    while sent < total:
        due = start + sent * interval
        while time.perf_counter() < due:
            pass
        sock, packets, dest = flows[sent % len(flows)]
        try:
            sock.sendto(packets[(sent // len(flows)) % len(packets)], dest)
        except BlockingIOError:
            pass
        sent += 1
        if sent % 64 == 0:
            for s in sinks:
                while True:
                    try:
                        s.recv(2048)
                        received += 1
                    except BlockingIOError:
                        break
    print(json.dumps({"sent": sent, "received": received}), flush=True)


# ---------------------------------------------------------------- relay


class FakeLeg:
    """The WebRTC leg's API without SRTP: sends plain RTP on the shared port."""

    def __init__(self, shared: UdpDrain) -> None:
        self.shared = shared
        self.address: tuple[str, int] | None = None
        self.on_rtp: Callable[..., None] | None = None
        self.on_rtcp: Callable[..., None] | None = None
        self.sent = 0

    def send_rtp(self, packet: bytes) -> bool:
        self.shared.send(packet, self.address)  # type: ignore[arg-type]
        self.sent += 1
        return True

    def send_rtcp(self, packet: bytes) -> bool:
        return self.send_rtp(packet)


async def measure(spec: dict, setup: Callable[[list], Callable[[], int]]) -> tuple[float, int, dict]:
    proc = await trio.lowlevel.open_process(
        [sys.executable, __file__, "--generator", json.dumps(spec)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    buf = b""
    while b"\n" not in buf:
        buf += await proc.stdout.receive_some()
    line, _, buf = buf.partition(b"\n")
    counter = setup([tuple(a) for a in json.loads(line)["sources"]])
    await trio.sleep(0.1)
    await proc.stdin.send_all(b"go\n")
    cpu0, n0 = time.thread_time(), counter()
    while b"\n" not in buf:
        buf += await proc.stdout.receive_some()
    cpu1, n1 = time.thread_time(), counter()
    await proc.wait()
    return cpu1 - cpu0, n1 - n0, json.loads(buf.partition(b"\n")[0])


def plan(browser_pt: int, sip_pt: int) -> CodecPlan:
    b = CodecChoice("PCMU", 8000, 1, "", browser_pt, browser_pt)
    s = CodecChoice("PCMU", 8000, 1, "", sip_pt, sip_pt)
    return CodecPlan([MediaPlan("audio", 0, 0, MediaState.ACTIVE, b, s)], negotiated=True)


async def run_floor(args: argparse.Namespace, per_flow: int) -> tuple[float, int, dict]:
    async with trio.open_nursery() as nursery:
        sink: list = [None]
        relayed = [0]

        def echo(view: memoryview, address: tuple[str, int]) -> None:
            floor.send(view, sink[0])
            relayed[0] += 1

        floor = UdpDrain.bind("127.0.0.1", 0, echo)

        def setup(sources: list) -> Callable[[], int]:
            sink[0] = sources[0]
            nursery.start_soon(floor.run)
            return lambda: relayed[0]

        targets = [{"pt": 0, "address": ("127.0.0.1", floor.port)}] * (2 * args.calls)
        spec = {"targets": targets, "rate": args.rate, "seconds": args.seconds, "per_flow": per_flow}
        result = await measure(spec, setup)
        nursery.cancel_scope.cancel()
    return result


async def run_bridge(args: argparse.Namespace, per_flow: int, browser_pt: int,
                     sip_pt: int) -> tuple[float, int, dict, int]:
    base = args.port_base
    pool = PortPool("127.0.0.1", base, base + 4 * args.calls + 40)
    async with trio.open_nursery() as nursery:
        legs_by_address: dict[tuple[str, int], FakeLeg] = {}

        def browser_in(view: memoryview, address: tuple[str, int]) -> None:
            leg = legs_by_address.get(address)
            if leg is not None:
                leg.on_rtp(leg, bytes(view))  # type: ignore[misc]  # SRTP unprotect yields bytes

        shared = UdpDrain.bind("127.0.0.1", 0, browser_in)
        legs, streams, bridges = [], [], []
        for _ in range(args.calls):
            leg = FakeLeg(shared)
            stream = SipRtpStream.open(pool, "audio")
            bridges.append(MediaBridge(leg, plan(browser_pt, sip_pt), {"audio": stream}))  # type: ignore[arg-type]
            legs.append(leg)
            streams.append(stream)
        targets = []
        for stream in streams:
            targets.append({"pt": browser_pt, "address": ("127.0.0.1", shared.port)})
            targets.append({"pt": sip_pt, "address": ("127.0.0.1", stream.local_port)})

        def setup(sources: list) -> Callable[[], int]:
            for index, (leg, stream) in enumerate(zip(legs, streams, strict=True)):
                leg.address = sources[2 * index]
                legs_by_address[leg.address] = leg
                stream.set_remote(sources[2 * index + 1])
            nursery.start_soon(shared.run)
            for stream in streams:
                nursery.start_soon(stream.run)
            return lambda: sum(leg.sent for leg in legs) + sum(s.counters.rtp_out for s in streams)

        spec = {"targets": targets, "rate": args.rate, "seconds": args.seconds, "per_flow": per_flow}
        cpu, n, gen = await measure(spec, setup)
        unknown = sum(b.counters.unknown_pt for b in bridges)
        nursery.cancel_scope.cancel()
    return cpu, n, gen, unknown


async def main(args: argparse.Namespace) -> None:
    per_flow = max(1, int(args.rate * args.seconds / (2 * args.calls)) + 1)
    floor_cpu, floor_n, floor_gen = await run_floor(args, per_flow)
    floor_us = 1e6 * floor_cpu / max(floor_n, 1)
    print(f"calls={args.calls} rate={args.rate} pkt/s seconds={args.seconds} size=172B")
    print(f"floor   : {floor_n}/{floor_gen['sent']} relayed, {floor_us:.2f} us CPU/packet")
    for label, b_pt, s_pt in (("same-pt", 0, 0), ("rewrite", 111, 107)):
        cpu, n, gen, unknown = await run_bridge(args, per_flow, b_pt, s_pt)
        us = 1e6 * cpu / max(n, 1)
        print(f"{label:8}: {n}/{gen['sent']} relayed, {us:.2f} us CPU/packet "
              f"({us / floor_us:.2f}x floor, unknown PT {unknown})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--rate", type=int, default=20000, help="packets/s offered (both ways)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--port-base", type=int, default=40000)
    parser.add_argument("--generator", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.generator:
        generator(json.loads(arguments.generator))
    else:
        trio.run(main, arguments)
