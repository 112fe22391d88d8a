"""CPU microseconds per relayed packet through the real trio WebRtcEndpoint.

Two measurements in one run, same rate, same packet size (172 bytes of RTP):
  floor : one drain loop, recv plain RTP -> sendto, no SRTP, no leg lookup
  webrtc: half the packets SRTP in (browser side, N legs on the shared port)
          -> unprotect -> leg callback -> plain RTP out; the other half plain
          RTP in (SIP side) -> SSRC lookup -> leg.send_rtp -> SRTP out.
The load comes from a separate process, so the relay's thread CPU time is
all relay work. Loopback only.

    .venv/bin/python bench/webrtc_relay.py --legs 200 --rate 20000 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import subprocess
import sys
import time

import trio
from aioice import stun

from wcs_trio.core.webrtc.dtls import DtlsContext, DtlsRole, DtlsSrtpEndpoint
from wcs_trio.core.webrtc.endpoint import WebRtcEndpoint
from wcs_trio.core.webrtc.leg import LegConnected
from wcs_trio.core.webrtc.srtp import SrtpContext, SrtpProfile

PAYLOAD = bytes(160)  # 12-byte header + 160 = 172-byte RTP, as in DESIGN.md


def rtp(ssrc: int, seq: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, ssrc) + PAYLOAD


# ------------------------------------------------------------ generator


def generator(spec: dict) -> None:
    """Blast pre-built packets at `rate` for `seconds`; count what comes back."""
    flows = []  # (socket, packets, destination)
    sinks = []
    for leg in spec["legs"]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", leg["port"]))
        sock.setblocking(False)
        sinks.append(sock)
        if spec["mode"] == "webrtc":
            ctx = SrtpContext(SrtpProfile(leg["profile"]), bytes.fromhex(leg["tx"]),
                              bytes.fromhex(leg["rx"]))
            packets = [ctx.protect_rtp(rtp(leg["ssrc"], i)) for i in range(spec["per_flow"])]
            flows.append((sock, packets, tuple(spec["endpoint"])))
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind(("127.0.0.1", 0))
    sip.setblocking(False)
    sinks.append(sip)
    for leg in spec["legs"]:
        packets = [rtp(leg["sip_ssrc"], i) for i in range(spec["per_flow"])]
        flows.append((sip, packets, tuple(spec["sip_in"])))
    print(json.dumps({"sip_sink": sip.getsockname()}), flush=True)
    sys.stdin.readline()  # go
    interval = 1.0 / spec["rate"]
    sent = received = 0
    start = time.perf_counter()
    index = 0
    total = spec["rate"] * spec["seconds"]
    while sent < total:
        due = start + sent * interval
        while time.perf_counter() < due:
            pass
        sock, packets, dest = flows[sent % len(flows)]
        try:
            sock.sendto(packets[index % len(packets)], dest)
        except BlockingIOError:
            pass
        sent += 1
        if sent % len(flows) == 0:
            index += 1
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


async def drain(sock: socket.socket, handle) -> None:
    buf = bytearray(2048)
    view = memoryview(buf)
    while True:
        await trio.lowlevel.wait_readable(sock)
        while True:
            try:
                n, _ = sock.recvfrom_into(buf)
            except BlockingIOError:
                break
            handle(view, n)


async def connect_leg(endpoint: WebRtcEndpoint, browser_ctx: DtlsContext, on_rtp) -> dict:
    """Play the browser for one leg over loopback: ICE check, DTLS client."""
    connected = trio.Event()
    browser_dtls = DtlsSrtpEndpoint(browser_ctx, DtlsRole.CLIENT, [endpoint.context.fingerprint])
    leg = endpoint.create_leg(
        remote_ufrag="brws", remote_pwd="b" * 22,
        remote_fingerprints=[browser_ctx.fingerprint], remote_setup="active",
        on_rtp=on_rtp, on_rtcp=lambda leg, p: None,
        on_state=lambda leg, e: connected.set() if isinstance(e, LegConnected) else None,
    )
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    dest = ("127.0.0.1", endpoint.port)
    check = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    check.attributes.update({"USERNAME": f"{leg.local.ice_ufrag}:brws", "PRIORITY": 1,
                             "ICE-CONTROLLING": 1, "USE-CANDIDATE": None})
    check.add_message_integrity(leg.local.ice_pwd.encode())
    await sock.sendto(bytes(check), dest)
    await sock.recv(2048)
    browser_dtls.start(trio.current_time())
    with trio.fail_after(10):
        while not connected.is_set() or browser_dtls.profile is None:
            for datagram in browser_dtls.datagrams_to_send():
                await sock.sendto(datagram, dest)
            with trio.move_on_after(0.05):
                browser_dtls.receive(await sock.recv(2048), trio.current_time())
            browser_dtls.handle_timer(trio.current_time())
    event = browser_dtls.next_event()
    # The caller closes `sock` once every leg is up, so no two legs get the
    # same browser port (the generator binds them all again).
    return {"leg": leg, "sock": sock, "port": sock.getsockname()[1], "profile": int(event.profile),
            "tx": event.local_key.hex(), "rx": event.remote_key.hex()}


async def measure(spec: dict, relay_setup) -> tuple[float, int, dict]:
    """Start the generator, relay until it is done; (cpu seconds, packets)."""
    proc = await trio.lowlevel.open_process(
        [sys.executable, __file__, "--generator", json.dumps(spec)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    buf = b""
    while b"\n" not in buf:
        buf += await proc.stdout.receive_some()
    line, _, buf = buf.partition(b"\n")
    counter = relay_setup(tuple(json.loads(line)["sip_sink"]))
    await proc.stdin.send_all(b"go\n")
    cpu0, n0 = time.thread_time(), counter()
    while b"\n" not in buf:
        buf += await proc.stdout.receive_some()
    cpu1, n1 = time.thread_time(), counter()
    await proc.wait()
    return cpu1 - cpu0, n1 - n0, json.loads(buf.partition(b"\n")[0])


async def main(args: argparse.Namespace) -> None:
    per_flow = max(1, int(args.rate * args.seconds / (2 * args.legs)) + 1)
    async with trio.open_nursery() as nursery:
        # ---- floor: plain drain loop, recv -> sendto.
        floor_in = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        floor_in.bind(("127.0.0.1", 0))
        floor_in.setblocking(False)
        relayed = [0]

        def floor_setup(sink):
            def handle(view, n):
                floor_in.sendto(view[:n], sink)
                relayed[0] += 1
            nursery.start_soon(drain, floor_in, handle)
            return lambda: relayed[0]

        spec = {"mode": "floor", "legs": [{"port": 0, "sip_ssrc": i} for i in range(args.legs)],
                "sip_in": floor_in.getsockname(), "rate": args.rate,
                "seconds": args.seconds, "per_flow": 2 * per_flow}
        floor_cpu, floor_n, floor_gen = await measure(spec, floor_setup)
        nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        endpoint = WebRtcEndpoint("127.0.0.1", 0)
        await nursery.start(endpoint.run)
        sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sip.bind(("127.0.0.1", 0))
        sip.setblocking(False)
        sink = [None]
        count = [0]

        def on_rtp(leg, packet):  # SRTP in -> RTP out
            sip.sendto(packet, sink[0])
            count[0] += 1

        browser_ctx = DtlsContext()
        legs = [await connect_leg(endpoint, browser_ctx, on_rtp) for _ in range(args.legs)]
        for info in legs:
            info.pop("sock").close()
        by_ssrc = {}
        for i, info in enumerate(legs):
            info["ssrc"] = 0x1000 + i
            info["sip_ssrc"] = 0x8000 + i
            by_ssrc[info["sip_ssrc"]] = info.pop("leg")

        def sip_in(view, n):  # RTP in -> SRTP out
            leg = by_ssrc.get(struct.unpack_from("!I", view, 8)[0])
            if leg is not None and leg.send_rtp(bytes(view[:n])):
                count[0] += 1

        def webrtc_setup(sink_addr):
            sink[0] = sink_addr
            nursery.start_soon(drain, sip, sip_in)
            return lambda: count[0]

        spec = {"mode": "webrtc", "legs": legs, "endpoint": ("127.0.0.1", endpoint.port),
                "sip_in": sip.getsockname(), "rate": args.rate, "seconds": args.seconds,
                "per_flow": per_flow}
        await trio.sleep(0.2)
        web_cpu, web_n, web_gen = await measure(spec, webrtc_setup)
        stats = endpoint.stats()
        nursery.cancel_scope.cancel()

    floor_us = 1e6 * floor_cpu / max(floor_n, 1)
    web_us = 1e6 * web_cpu / max(web_n, 1)
    print(f"legs={args.legs} rate={args.rate} pkt/s seconds={args.seconds} size=172B")
    print(f"floor : {floor_n}/{floor_gen['sent']} packets relayed, "
          f"{floor_us:.2f} us CPU/packet")
    print(f"webrtc: {web_n}/{web_gen['sent']} packets relayed, {web_us:.2f} us CPU/packet "
          f"(wakeups {stats.wakeups}, dropped {stats.dropped})")
    print(f"ratio : {web_us / floor_us:.2f}x floor (target <= 2x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legs", type=int, default=200)
    parser.add_argument("--rate", type=int, default=20000, help="packets/s offered")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--generator", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generator:
        generator(json.loads(args.generator))
    else:
        trio.run(main, args)
