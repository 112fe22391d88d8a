"""SIP message and registration costs, each next to a floor measured in the same run.

1. Messages parsed + serialized per second: a typical INVITE with SDP (from a
   softphone, 9 header fields, Record-Route, ~300-byte SDP) and a 200 OK with
   SDP. ``parse`` validates every header field the stack relies on (Via, From,
   To, Call-ID, CSeq, Contact, Route...), ``serialize`` writes the wire bytes
   back. Floor: ``bytes.split`` of the same message into lines and
   ``b"\\r\\n".join`` back (touching every byte, understanding nothing).
2. CPU microseconds of one REGISTER transaction with digest auth against an
   in-process registrar (no network): REGISTER -> 401 -> REGISTER with
   Authorization -> 200, through the client transaction layer, parsing and
   serializing every message on both sides, the registrar checking the
   digest (:class:`~wcs_trio.core.sip.registrar.FakeRegistrar`). Also the
   refresh (one round trip with pre-emptive credentials). Floor: the same
   wire bytes split and joined, plus the SHA-256 hashing that digest itself
   requires on both sides.

    .venv/bin/python bench/sip_bench.py [--seconds 2] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable

from wcs_trio.core.sip.account import SipAccount
from wcs_trio.core.sip.message import parse_message
from wcs_trio.core.sip.registrar import FakeRegistrar
from wcs_trio.core.sip.registration import RegisterClient, Registered, SendAgain
from wcs_trio.core.sip.transaction import Deliver, Send, TransactionLayer, new_branch
from wcs_trio.core.sip.uri import NameAddr, parse_uri

SDP = (
    b"v=0\r\n"
    b"o=- 3913283413 3913283413 IN IP4 192.0.2.10\r\n"
    b"s=pjmedia\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 4000 RTP/AVP 8 0 9 101\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:9 G722/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=sendrecv\r\n"
    b"a=rtcp:4001 IN IP4 192.0.2.10\r\n"
)

INVITE = (
    b"INVITE sip:1002@pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bKPj3c1a7e9b5d2f4e6a8c0b1d3f5e7a9c1b\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Alice" <sip:1001@pbx.example.com>;tag=8f3c2a1b9d7e4f60\r\n'
    b"To: <sip:1002@pbx.example.com>\r\n"
    b"Contact: <sip:1001@192.0.2.10:5060;ob>\r\n"
    b"Call-ID: 4f9a1c7e2b8d4a6f9e3c1b7d5a2f8e4c\r\n"
    b"CSeq: 29183 INVITE\r\n"
    b"Route: <sip:pbx.example.com;lr>\r\n"
    b"Allow: PRACK, INVITE, ACK, BYE, CANCEL, UPDATE, INFO, SUBSCRIBE, NOTIFY, REFER, MESSAGE, OPTIONS\r\n"
    b"Supported: replaces, 100rel, timer, norefersub\r\n"
    b"Session-Expires: 1800\r\n"
    b"Min-SE: 90\r\n"
    b"User-Agent: PJSUA v2.14 Linux\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)

OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5060;received=192.0.2.10;branch=z9hG4bKPj3c1a7e9b5d2f4e6a8c0b1d3f5e7a9c1b\r\n"
    b"Record-Route: <sip:pbx.example.com;lr>\r\n"
    b'From: "Alice" <sip:1001@pbx.example.com>;tag=8f3c2a1b9d7e4f60\r\n'
    b"To: <sip:1002@pbx.example.com>;tag=as5f2a7c41\r\n"
    b"Call-ID: 4f9a1c7e2b8d4a6f9e3c1b7d5a2f8e4c\r\n"
    b"CSeq: 29183 INVITE\r\n"
    b"Contact: <sip:1002@192.0.2.20:5062>\r\n"
    b"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE\r\n"
    b"Supported: replaces, timer\r\n"
    b"Session-Expires: 1800;refresher=uac\r\n"
    b"Require: timer\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)


def cpu_rate(fn: Callable[[], object], seconds: float) -> tuple[int, float]:
    """Run ``fn`` repeatedly for about ``seconds`` of CPU; return (count, CPU seconds)."""
    n = 0
    batch = 50
    start = time.process_time()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        spent = time.process_time() - start
        if spent >= seconds:
            return n, spent


def bench_messages(seconds: float) -> dict[str, dict[str, float]]:
    out = {}
    for name, data in (("INVITE+SDP", INVITE), ("200 OK+SDP", OK)):
        assert bytes(parse_message(data)) == data  # the round trip is exact for these

        def work(data: bytes = data) -> None:
            bytes(parse_message(data))

        def floor(data: bytes = data) -> None:
            b"\r\n".join(data.split(b"\r\n"))

        n, t = cpu_rate(work, seconds)
        fn, ft = cpu_rate(floor, seconds / 4)
        out[name] = {
            "bytes": len(data),
            "per_second": n / t,
            "us_per_message": t / n * 1e6,
            "floor_per_second": fn / ft,
            "floor_us_per_message": ft / fn * 1e6,
        }
    return out


# ------------------------------------------------------------ REGISTER
ACCOUNT = SipAccount("1001", "example.com", "secret-password")
CONTACT = NameAddr(parse_uri("sip:1001@192.0.2.10:5060;transport=tcp"))
DEST = ("tcp", "192.0.2.1", 5060)


def register_once(
    registrar: FakeRegistrar, client: RegisterClient, layer: TransactionLayer, now: float
) -> list[bytes]:
    """One REGISTER transaction (with its challenge round, if any); returns the wire bytes."""
    wire: list[bytes] = []
    request = client.register()
    while True:
        request.remove("Via")
        request.add("Via", f"SIP/2.0/TCP 192.0.2.10:5060;branch={new_branch()};rport", first=True)
        _tx, actions = layer.send_request(request, DEST, True, now)
        (send,) = [a for a in actions if isinstance(a, Send)]
        data = bytes(send.message)
        wire.append(data)
        answer = bytes(registrar.handle(parse_message(data, datagram=False)))
        wire.append(answer)
        actions = layer.receive(parse_message(answer, datagram=False), DEST, True, now)
        (deliver,) = [a for a in actions if isinstance(a, Deliver)]
        outcome = client.on_response(request, deliver.message)
        if isinstance(outcome, SendAgain):
            request = outcome.request
            continue
        assert isinstance(outcome, Registered), outcome
        return wire


def bench_register(seconds: float) -> dict[str, dict[str, float]]:
    out = {}
    for name, fresh in (
        ("REGISTER with 401 challenge", True),
        ("REGISTER refresh (pre-emptive auth)", False),
    ):
        registrar = FakeRegistrar({"1001": "secret-password"}, algorithms=("SHA-256",))
        layer = TransactionLayer()
        state = {"client": RegisterClient(ACCOUNT, CONTACT, 3600), "now": 0.0}
        wire = register_once(registrar, state["client"], layer, 0.0)

        def work(
            fresh: bool = fresh, state: dict = state, registrar=registrar, layer=layer
        ) -> None:
            if fresh:
                state["client"] = RegisterClient(ACCOUNT, CONTACT, 3600)
            state["now"] += 1.0
            register_once(registrar, state["client"], layer, state["now"])
            # reliable transport: transactions end at once (Timer K = 0)

        if not fresh:
            wire = register_once(registrar, state["client"], layer, 0.5)
        n, t = cpu_rate(work, seconds)
        assert len(layer) == 0, "every transaction terminated"
        rounds = len(wire) // 2

        def floor(wire: list[bytes] = wire, rounds: int = rounds) -> None:
            for data in wire:
                b"\r\n".join(data.split(b"\r\n"))
            for _ in range(rounds):  # client and registrar each hash A1, A2 and the response
                for _ in range(2):
                    hashlib.sha256(b"1001:example.com:secret-password").hexdigest()
                    hashlib.sha256(b"REGISTER:sip:example.com").hexdigest()
                    hashlib.sha256(b"x" * 150).hexdigest()

        fn, ft = cpu_rate(floor, seconds / 4)
        out[name] = {
            "messages": len(wire),
            "us_cpu": t / n * 1e6,
            "per_second": n / t,
            "floor_us_cpu": ft / fn * 1e6,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=2.0, help="CPU seconds per measurement")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    messages = bench_messages(args.seconds)
    register = bench_register(args.seconds)
    if args.json:
        print(json.dumps({"messages": messages, "register": register}, indent=2))
        return
    print("parse + serialize (one core)")
    for name, r in messages.items():
        print(
            f"  {name:<12} {r['bytes']:>5} B  {r['per_second']:>9,.0f} msg/s  {r['us_per_message']:7.1f} us/msg"
            f"   floor (split+join) {r['floor_per_second']:>11,.0f} msg/s  {r['floor_us_per_message']:6.2f} us/msg"
        )
    print("REGISTER transaction with digest auth, in-process registrar, no network (CPU)")
    for name, r in register.items():
        print(
            f"  {name:<38} {r['messages']:>2} msgs  {r['us_cpu']:7.1f} us  ({r['per_second']:,.0f}/s)"
            f"   floor (split+join+hashes) {r['floor_us_cpu']:6.2f} us"
        )


if __name__ == "__main__":
    main()
