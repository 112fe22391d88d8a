"""Real peers on loopback: Kamailio as registrar (UDP, TCP, TLS) and SIPp as caller.

Marked ``peers``; skipped when kamailio / sipp are not installed
(``apt-get install -y kamailio kamailio-tls-modules sip-tester``).
"""

from __future__ import annotations

import importlib.util
import pathlib

import pytest
import trio

from tests.support import kamailio as kam
from tests.support import sipp
from tests.support.kamailio import kamailio
from tests.support.ports import free_port
from wcs_trio.core.sip.account import SipAccount
from wcs_trio.core.sip.dialog import Dialog
from wcs_trio.core.sip.message import Request, Response, parse_message
from wcs_trio.core.sip.registration import Registration, RegistrationEvent, RegState
from wcs_trio.core.sip.stack import IncomingRequest, SipStack, Target
from wcs_trio.core.sip.transaction import Timers

pytestmark = pytest.mark.peers

_spec = importlib.util.spec_from_file_location(
    "rfc4475", pathlib.Path(__file__).with_name("rfc4475.py")
)
rfc4475 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rfc4475)

FAST = Timers(T1=0.1, T2=0.4, T4=0.5, D=1.0)

needs_kamailio = pytest.mark.skipif(not kam.available(), reason="kamailio not installed")
needs_sipp = pytest.mark.skipif(not sipp.available(), reason="sipp not installed")


async def probe_user(stack: SipStack, k, user: str, transport: str = "udp") -> Response:
    """OPTIONS to user@kamailio: Kamailio looks the user up and relays it to the binding."""
    # the port matters: Kamailio's "myself" check compares it with its listening ports
    req = Request("OPTIONS", f"sip:{user}@127.0.0.1:{k.ports[transport]}")
    req.add("From", "<sip:prober@example.org>;tag=p1")
    req.add("To", f"<sip:{user}@127.0.0.1>")
    req.add("Call-ID", f"probe-{trio.current_time()}")
    req.add("CSeq", "1 OPTIONS")
    return await stack.request(req, Target(transport, "127.0.0.1", k.ports[transport]))


@needs_kamailio
@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_kamailio_register_refresh_unregister(nursery, tmp_path, tls_cert, transport):
    cert, key = tls_cert
    async with kamailio(tmp_path, tls=(cert, key)) as k:
        stack = await nursery.start(SipStack(timers=FAST, ca_file=cert).run)
        stack.add_user("1001", lambda inc: stack._nursery.start_soon(inc.respond, 200))
        acc = SipAccount(
            "1001", "127.0.0.1", "1001pw", port=k.ports[transport], transport=transport
        )
        events: list[RegistrationEvent] = []
        reg = Registration(stack, acc, events.append, expires=3)
        async with trio.open_nursery() as inner:
            await inner.start(reg.run)
            assert events == [RegistrationEvent(RegState.REGISTERED, 200, "OK", 3)], k.log()[-2000:]
            # Kamailio routes a request for 1001 to our binding
            assert (await probe_user(stack, k, "1001")).status == 200
            contact = f"OPTIONS sip:1001@127.0.0.1:{stack.port_for(transport)}"
            relayed = [
                e for e in stack.trace if e.direction == "in" and e.first_line.startswith(contact)
            ]
            assert relayed and relayed[0].transport == transport  # over the registered transport
            # refresh before the 3 s binding lapses: still reachable after 4 s
            await trio.sleep(4.0)
            oks = [
                e
                for e in reg.trace
                if e.direction == "in" and e.first_line.startswith("SIP/2.0 200")
            ]
            assert len(oks) >= 3, [e.first_line for e in reg.trace]
            assert (await probe_user(stack, k, "1001")).status == 200
            assert events[-1].state is RegState.REGISTERED and len(events) == 1
            await reg.close()
        assert events[-1] == RegistrationEvent(RegState.UNREGISTERED, 200, "OK", 0)
        # the binding is gone: Kamailio answers 404 itself
        assert (await probe_user(stack, k, "1001")).status == 404


@needs_kamailio
@pytest.mark.parametrize(
    "login,auth_name,password,status",
    [("1002", None, "wrong", 401), ("1002", "1003", "1003pw", 403)],
)
async def test_kamailio_wrong_credentials_fail(
    nursery, tmp_path, login, auth_name, password, status
):
    async with kamailio(tmp_path) as k:
        stack = await nursery.start(SipStack(timers=FAST).run)
        acc = SipAccount(login, "127.0.0.1", password, auth_name=auth_name, port=k.ports["udp"])
        events: list[RegistrationEvent] = []
        with trio.fail_after(10):
            await Registration(stack, acc, events.append).run()
        assert [(e.state, e.status) for e in events] == [(RegState.FAILED, status)]
        assert events[0].reason


@needs_kamailio
async def test_kamailio_423_min_expires(nursery, tmp_path):
    async with kamailio(tmp_path, min_expires=120) as k:
        stack = await nursery.start(SipStack(timers=FAST).run)
        acc = SipAccount("1004", "127.0.0.1", "1004pw", port=k.ports["udp"])
        events: list[RegistrationEvent] = []
        reg = Registration(stack, acc, events.append, expires=30)
        async with trio.open_nursery() as inner:
            await inner.start(reg.run)
            assert events[-1].state is RegState.REGISTERED and events[-1].expires == 120
            assert any(e.first_line.startswith("SIP/2.0 423") for e in reg.trace)
            inner.cancel_scope.cancel()
        assert events[-1].state is RegState.UNREGISTERED


@needs_kamailio
async def test_kamailio_restart_over_tcp_registers_again(nursery, tmp_path):
    async with kamailio(tmp_path / "a") as k:
        port = k.ports["tcp"]
        stack = await nursery.start(SipStack(timers=FAST).run)
        acc = SipAccount("1005", "127.0.0.1", "1005pw", port=port, transport="tcp")
        events: list[RegistrationEvent] = []
        reg = Registration(stack, acc, events.append, retry_interval=0.5, max_retry_interval=1.0)
        await nursery.start(reg.run)
        assert events[-1].state is RegState.REGISTERED
    # Kamailio is gone: the connection drops, re-registering fails
    with trio.fail_after(10):
        while events[-1].state is not RegState.FAILED:
            await trio.sleep(0.05)
    # it comes back on the same port: registered again without anyone asking
    async with kamailio(tmp_path / "b", sip_port=port) as k2:
        with trio.fail_after(10):
            while events[-1].state is not RegState.REGISTERED:
                await trio.sleep(0.05)
        assert (await probe_user(stack, k2, "1005", "tcp")).status in (200, 404)
        await reg.close()


# ----------------------------------------------------------------------- sipp
async def gateway_like_stack(nursery) -> tuple[SipStack, list[str]]:
    """A stack with user 'alice' that answers INVITEs 180/200 and BYEs 200, like the gateway will."""
    stack = await nursery.start(SipStack(timers=FAST).run)
    log: list[str] = []

    async def on_bye(inc: IncomingRequest) -> None:
        log.append(inc.request.method)
        await inc.respond(200)

    async def on_request(inc: IncomingRequest) -> None:
        req = inc.request
        log.append(req.method)
        if req.method != "INVITE":
            await inc.respond(200)
            return
        await inc.respond(180)
        resp = inc.response(
            200,
            body=b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
            content_type="application/sdp",
        )
        resp.add("Contact", f"<sip:alice@127.0.0.1:{stack.ports['udp']}>")
        dialog = Dialog.from_uas(req, resp)
        stack.add_dialog(dialog, on_bye)
        await inc.respond(resp)

    stack.add_user("alice", on_request)
    return stack, log


@needs_sipp
async def test_sipp_options_invite_and_torture_messages(nursery, tmp_path):
    stack, log = await gateway_like_stack(nursery)
    port = stack.ports["udp"]
    rc, out = await sipp.run_sipp(
        "options.xml", port, local_port=free_port(), workdir=tmp_path, calls=5
    )
    assert rc == 0, out
    rc, out = await sipp.run_sipp(
        "options_404.xml", port, service="nobody", local_port=free_port(), workdir=tmp_path
    )
    assert rc == 0, out
    rc, out = await sipp.run_sipp(
        "invite.xml", port, local_port=free_port(), workdir=tmp_path, calls=20, rate=20
    )
    assert rc == 0, out
    assert log.count("INVITE") == 20 and log.count("BYE") == 20
    rc, out = await sipp.run_sipp(
        "invite_404.xml", port, service="nobody", local_port=free_port(), workdir=tmp_path
    )
    assert rc == 0, out

    # RFC 4475's messages from a raw socket (SIPp cannot send malformed ones), each answered as it must be
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    with sock:
        for name, _section, data, expected in rfc4475.VECTORS:
            if expected == rfc4475.VALID or expected[0] == "stack":
                continue
            await sock.sendto(data, ("127.0.0.1", port))
            answer = None
            with trio.move_on_after(0.3 if expected == rfc4475.DROP else 2.0):
                while True:
                    raw, _ = await sock.recvfrom(65535)
                    if rfc4475_call_id(raw) == rfc4475_call_id(data):
                        answer = raw
                        break
            if expected == rfc4475.DROP:
                assert answer is None, name
            else:
                assert answer is not None, name
                status = int(answer.split(b" ", 2)[1])
                assert status == expected[0], (name, answer[:80])

    # and it keeps serving, over UDP and TCP
    rc, out = await sipp.run_sipp(
        "options.xml", port, local_port=free_port(), workdir=tmp_path, calls=5
    )
    assert rc == 0, out
    rc, out = await sipp.run_sipp(
        "invite.xml",
        stack.ports["tcp"],
        local_port=free_port(),
        workdir=tmp_path,
        calls=5,
        transport="t1",
    )
    assert rc == 0, out


def rfc4475_call_id(data: bytes) -> bytes | None:
    import re

    m = re.search(rb"(?im)^(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", data)
    return m.group(1).strip() if m else None


@needs_sipp
async def test_sipp_invite_load_keeps_answering(nursery, tmp_path):
    stack, log = await gateway_like_stack(nursery)
    rc, out = await sipp.run_sipp(
        "invite.xml",
        stack.ports["udp"],
        local_port=free_port(),
        workdir=tmp_path,
        calls=200,
        rate=100,
        timeout=60,
    )
    assert rc == 0, out
    assert log.count("INVITE") == 200
    assert parse_message  # keep import used by helpers above
