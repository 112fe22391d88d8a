"""Accounts, the REGISTER core against an in-process registrar, and Registration on loopback."""

from __future__ import annotations

import pytest
import trio

from wcs_trio.core.sip.account import SipAccount
from wcs_trio.core.sip.errors import SipAccountError
from wcs_trio.core.sip.message import Request, parse_message
from wcs_trio.core.sip.registrar import FakeRegistrar
from wcs_trio.core.sip.registration import (
    RegisterClient,
    Registered,
    Registration,
    RegistrationEvent,
    RegState,
    Rejected,
    SendAgain,
    Unregistered,
    refresh_delay,
)
from wcs_trio.core.sip.stack import IncomingRequest, SipStack, Target
from wcs_trio.core.sip.transaction import Timers
from wcs_trio.core.sip.uri import NameAddr, parse_uri

FAST = Timers(T1=0.05, T2=0.2, T4=0.25, D=0.5)


# ------------------------------------------------------------------ accounts
def test_account_routes_like_a_user_expects():
    acc = SipAccount(
        "1001", "pbx.example.com", "pw", outbound_proxy="proxy.example.com:5070", port=5080
    )
    assert str(acc.aor) == "sip:1001@pbx.example.com"
    assert str(acc.registrar_uri) == "sip:pbx.example.com"  # Request-URI at the domain...
    assert acc.target == Target(
        "udp", "proxy.example.com", 5070, "proxy.example.com"
    )  # ...sent to the proxy
    acc = SipAccount("1001", "pbx.example.com", "pw", outbound_proxy="proxy.example.com", port=5080)
    assert acc.target.port == 5080  # the port applies to the proxy when it has none
    acc = SipAccount("1001", "pbx.example.com", "pw", port=5080)
    assert str(acc.registrar_uri) == "sip:pbx.example.com:5080" and acc.target.port == 5080
    # A proxy on the domain's own host at a non-default port: the port is in the URIs too,
    # else the proxy would take sip:user@host as someone else's (port 5060).
    acc = SipAccount("1001", "10.0.0.1", "pw", outbound_proxy="10.0.0.1", port=5070)
    assert str(acc.registrar_uri) == "sip:10.0.0.1:5070" and str(acc.uri_for("1002")) == "sip:1002@10.0.0.1:5070"
    acc = SipAccount("1001", "pbx.example.com", "pw", outbound_proxy="proxy.example.com", port=5080)
    assert str(acc.uri_for("1002")) == "sip:1002@pbx.example.com"
    acc = SipAccount("1001", "10.0.0.1", "pw", transport="tls")
    assert acc.target == Target("tls", "10.0.0.1", 5061, "10.0.0.1")
    assert "pw" not in repr(SipAccount("1001", "example.com", "s3cret-pw"))


def test_account_escapes_what_it_can_and_names_the_bad_field():
    assert SipAccount("john doe", "example.com").user == "john%20doe"
    assert SipAccount("a%b", "example.com").user == "a%25b"
    assert SipAccount("+4930123", "example.com").user == "+4930123"
    bad = [
        (dict(login="", domain="example.com"), "sipLogin"),
        (dict(login="bob\r\nX: y", domain="example.com"), "sipLogin"),
        (dict(login="bob@example.com", domain="example.com"), "sipLogin"),
        (dict(login=" bob", domain="example.com"), "sipLogin"),
        (dict(login="bob", auth_name="b\nob", domain="example.com"), "sipAuthenticationName"),
        (dict(login="bob", auth_name="bob\x00", domain="example.com"), "sipAuthenticationName"),
        (dict(login="bob", domain="exa mple.com"), "sipDomain"),
        (dict(login="bob", domain=""), "sipDomain"),
        (dict(login="bob", domain="example.com", outbound_proxy="proxy:99999"), "sipOutboundProxy"),
        (dict(login="bob", domain="example.com", port=70000), "sipPort"),
        (dict(login="bob", domain="example.com", password="a\rb"), "sipPassword"),
    ]
    for kwargs, field in bad:
        with pytest.raises(SipAccountError) as info:
            SipAccount(**kwargs)
        assert info.value.field == field, kwargs
        assert field in str(info.value)


def test_account_from_sdk_fields():
    acc = SipAccount.from_sdk(
        {
            "sipLogin": "1001",
            "sipAuthenticationName": "auth1001",
            "sipPassword": "pw",
            "sipDomain": "example.com",
            "sipOutboundProxy": "",
            "sipPort": "5070",
            "sipRegisterRequired": "false",
        }
    )
    assert acc.auth_user == "auth1001" and acc.port == 5070 and not acc.register_required
    with pytest.raises(SipAccountError) as info:
        SipAccount.from_sdk({"sipLogin": "a", "sipDomain": "example.com", "sipPort": "x"})
    assert info.value.field == "sipPort"


# ------------------------------------------------------------ the sans-IO core
def _client(password="alicepw", **kw) -> RegisterClient:
    acc = SipAccount("alice", "example.com", password)
    return RegisterClient(acc, NameAddr(parse_uri("sip:alice@127.0.0.1:5062")), **kw)


def _via(req):
    req.add("Via", "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKx", first=True)
    return parse_message(bytes(req))


def test_register_core_answers_challenge_and_reads_expiry():
    reg = FakeRegistrar({"alice": "alicepw"})
    client = _client(expires=600)
    req = _via(client.register())
    assert req.cseq.seq == 1 and req.get("Expires") == "600" and req.get("Authorization") is None
    out = client.on_response(req, reg.handle(req))
    assert isinstance(out, SendAgain)
    again = _via(out.request)
    assert again.cseq.seq == 2 and again.call_id == req.call_id
    assert "algorithm=SHA-256" in again.get("Authorization")  # preferred over MD5
    out = client.on_response(again, reg.handle(again))
    assert out == Registered(600, refresh_delay(600))
    # a refresh carries credentials at once (same nonce, nc=2)
    refresh = _via(client.register())
    assert "nc=00000002" in refresh.get("Authorization")
    assert isinstance(client.on_response(refresh, reg.handle(refresh)), Registered)
    bye = _via(client.unregister())
    assert bye.get("Expires") == "0"
    assert isinstance(client.on_response(bye, reg.handle(bye)), Unregistered)
    assert reg.bindings["alice"] == {}


def test_register_core_wrong_password_fails_once():
    reg = FakeRegistrar({"alice": "right"})
    client = _client(password="wrong")
    req = _via(client.register())
    out = client.on_response(req, reg.handle(req))
    again = _via(out.request)
    out = client.on_response(again, reg.handle(again))
    assert out == Rejected(401, "Unauthorized", None)


def test_register_core_423_and_stale():
    reg = FakeRegistrar({"alice": "alicepw"}, min_expires=120, stale_after=1)
    client = _client(expires=30)
    req = _via(client.register())
    req = _via(client.on_response(req, reg.handle(req)).request)  # challenge answered
    out = client.on_response(req, reg.handle(req))
    assert isinstance(out, SendAgain) and out.request.get("Expires") == "120"
    req = _via(out.request)
    resp = reg.handle(req)  # nonce used twice: stale
    assert resp.status == 401 and "stale=true" in resp.get("WWW-Authenticate")
    out = client.on_response(req, resp)
    assert isinstance(out, SendAgain)
    req = _via(out.request)
    assert client.on_response(req, reg.handle(req)) == Registered(120, 60.0)


def test_refresh_delay():
    assert refresh_delay(3600) == 3540 and refresh_delay(10) == 5 and refresh_delay(120) == 60


# ------------------------------------------------------------------ on loopback
async def registrar_stack(
    nursery, registrar: FakeRegistrar, tls: tuple[str, str] | None = None
) -> SipStack:
    def handle(inc: IncomingRequest) -> None:
        resp = registrar.handle(inc.request)
        inc.stack._nursery.start_soon(inc.respond, resp)

    kw = {}
    if tls:
        kw = dict(tls_port=0, tls_certfile=tls[0], tls_keyfile=tls[1])
    return await nursery.start(SipStack(timers=FAST, intercept=handle, **kw).run)


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_registration_register_refresh_unregister(nursery, transport, tls_cert):
    registrar = FakeRegistrar({"alice": "alicepw"}, realm="127.0.0.1")
    server = await registrar_stack(nursery, registrar, tls_cert if transport == "tls" else None)
    client = await nursery.start(SipStack(timers=FAST, ca_file=tls_cert[0]).run)
    acc = SipAccount(
        "alice", "127.0.0.1", "alicepw", port=server.ports[transport], transport=transport
    )
    events: list[RegistrationEvent] = []
    reg = Registration(client, acc, events.append, expires=2)
    async with trio.open_nursery() as inner:
        await inner.start(reg.run)
        assert events == [RegistrationEvent(RegState.REGISTERED, 200, "OK", 2)]
        (contact,) = registrar.bindings["alice"]
        if transport != "udp":
            assert f"transport={transport}" in contact
        before = registrar.requests
        await trio.sleep(2.5)  # refreshed at half the expiry, twice
        assert registrar.requests >= before + 2
        assert events[-1].state is RegState.REGISTERED and len(events) == 1
        assert any(e.first_line.startswith("REGISTER") for e in reg.trace)
        await reg.close()
    assert events[-1] == RegistrationEvent(RegState.UNREGISTERED, 200, "OK", 0)
    assert registrar.bindings["alice"] == {}


async def test_registration_wrong_password_fails_with_status(nursery):
    registrar = FakeRegistrar({"alice": "alicepw"})
    server = await registrar_stack(nursery, registrar)
    client = await nursery.start(SipStack(timers=FAST).run)
    acc = SipAccount("alice", "127.0.0.1", "nope", port=server.ports["udp"])
    events: list[RegistrationEvent] = []
    reg = Registration(client, acc, events.append)
    with trio.fail_after(5):
        await reg.run()  # a permanent failure ends the task
    assert events == [RegistrationEvent(RegState.FAILED, 401, "Unauthorized")]


async def test_registration_times_out_then_recovers(nursery):
    registrar = FakeRegistrar({"alice": "alicepw"})
    client = await nursery.start(SipStack(timers=FAST).run)
    # nothing listens there yet
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    acc = SipAccount("alice", "127.0.0.1", "alicepw", port=port)
    events: list[RegistrationEvent] = []
    reg = Registration(client, acc, events.append, retry_interval=0.5)
    async with trio.open_nursery() as inner:
        await inner.start(reg.run)
        assert events[0].state is RegState.FAILED and events[0].status in (408, 503)

        def handle(inc: IncomingRequest) -> None:
            inc.stack._nursery.start_soon(inc.respond, registrar.handle(inc.request))

        await nursery.start(
            SipStack(timers=FAST, udp_port=port, tcp_port=None, intercept=handle).run
        )
        with trio.fail_after(5):
            while events[-1].state is not RegState.REGISTERED:
                await trio.sleep(0.05)
        inner.cancel_scope.cancel()  # cancelling the task un-registers too
    assert events[-1].state is RegState.UNREGISTERED


async def test_registration_again_after_connection_loss(nursery):
    registrar = FakeRegistrar({"alice": "alicepw"})
    server = await registrar_stack(nursery, registrar)
    client = await nursery.start(SipStack(timers=FAST).run)
    acc = SipAccount("alice", "127.0.0.1", "alicepw", port=server.ports["tcp"], transport="tcp")
    reg = Registration(client, acc, expires=3600)
    async with trio.open_nursery() as inner:
        await inner.start(reg.run)
        assert reg.state is RegState.REGISTERED
        before = registrar.requests
        for conn in list(server.connections.values()):
            await conn.stream.aclose()
        with trio.fail_after(5):
            while registrar.requests < before + 1:
                await trio.sleep(0.05)
        assert reg.state is RegState.REGISTERED
        inner.cancel_scope.cancel()


async def test_register_not_required_does_nothing(nursery):
    client = await nursery.start(SipStack(timers=FAST).run)
    acc = SipAccount("alice", "127.0.0.1", "pw", register_required=False)
    events: list[RegistrationEvent] = []
    reg = Registration(client, acc, events.append)
    await reg.run()
    assert events == [] and reg.state is RegState.UNREGISTERED


async def test_registration_delivers_incoming_invites_and_traces_them(nursery):
    registrar = FakeRegistrar({"alice": "alicepw"})
    server = await registrar_stack(nursery, registrar)
    client = await nursery.start(SipStack(timers=FAST).run)
    acc = SipAccount("alice", "127.0.0.1", "alicepw", port=server.ports["udp"])
    calls: list[IncomingRequest] = []

    async def on_request(inc: IncomingRequest) -> None:
        calls.append(inc)
        await inc.respond(486)

    reg = Registration(client, acc, on_request=on_request)
    async with trio.open_nursery() as inner:
        await inner.start(reg.run)
        caller = await nursery.start(SipStack(timers=FAST).run)
        invite = Request("INVITE", f"sip:alice@127.0.0.1:{client.ports['udp']}")
        for n, v in (
            ("From", "<sip:bob@h>;tag=b"),
            ("To", "<sip:alice@h>"),
            ("Call-ID", "in-1"),
            ("CSeq", "1 INVITE"),
        ):
            invite.add(n, v)
        resp = await caller.request(invite, Target("udp", "127.0.0.1", client.ports["udp"]))
        assert resp.status == 486 and len(calls) == 1
        lines = [e.first_line for e in reg.trace]
        assert any(line.startswith("REGISTER") for line in lines)
        assert any(line.startswith("INVITE sip:alice") for line in lines)
        assert any(line.startswith("SIP/2.0 486") for line in lines)
        inner.cancel_scope.cancel()
    assert "alice" not in client.users  # removed with the registration
