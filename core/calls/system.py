"""The calls system: SIP registration of sessions, and the SDK's call messages.

``install`` starts the shared services in the server's nursery (the SIP stack, the
WebRTC endpoint on its one UDP port, the SIP-side RTP port pool) and registers the
message handlers and session steps on the :class:`~wcs_trio.core.gateway.Gateway`.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import trio

from wcs_trio.core.api.protocol import Message, ProtocolError
from wcs_trio.core.api.session import ClientSession
from wcs_trio.core.calls import control
from wcs_trio.core.calls.call import Call, check_sip_headers
from wcs_trio.core.media.dtmf import BadDigit, check_digits
from wcs_trio.core.media.ports import NoFreePorts, PortPool
from wcs_trio.core.media.transcode import TRANSCODABLE
from wcs_trio.core.sip.account import SipAccount
from wcs_trio.core.sip.errors import SipAccountError, SipError
from wcs_trio.core.sip.registration import Registration, RegistrationEvent, RegState
from wcs_trio.core.sip.stack import IncomingRequest, SipStack, Target
from wcs_trio.core.sip.trace import MessageTrace
from wcs_trio.core.state.components import CallInfo, RegistrationState, SipAccountInfo
from wcs_trio.core.webrtc.endpoint import WebRtcEndpoint
from wcs_trio.plugins.demo import install_demo

if TYPE_CHECKING:
    from wcs_trio.core.gateway import Gateway

log = logging.getLogger("wcs_trio.calls")

UNREGISTER_TIMEOUT = 1.0


async def install(gateway: Gateway, nursery: trio.Nursery) -> None:
    settings = gateway.settings
    tls = bool(settings.tls_cert_file)
    stack = SipStack(
        settings.listen, settings.sip_port, settings.sip_port, settings.sip_tls_port if tls else None,
        public_host=settings.ip or settings.ip_local or None,
        tls_certfile=settings.tls_cert_file or None, tls_keyfile=settings.tls_key_file or None,
        ca_file=settings.sip_ca_file or None,
    )
    await nursery.start(stack.run)
    # Media sockets bind one address, never a wildcard: a reply from a wildcard socket
    # leaves from whichever address routing picks, and ICE (RFC 8445 §7.2.5.2.1) and
    # symmetric-RTP devices drop answers that do not come from where they sent.
    media_host = settings.local_address if settings.listen in ("0.0.0.0", "::") else settings.listen
    endpoint = WebRtcEndpoint(host=media_host, port=settings.webrtc_port,
                              advertised=[settings.public_address])
    await nursery.start(endpoint.run)
    gateway.services.update(
        sip=stack, webrtc=endpoint, transcodable=TRANSCODABLE,
        port_pool=PortPool(media_host, settings.media_port_from, settings.media_port_to))
    gateway.handlers.update(call=on_call, answer=on_answer, hangup=on_hangup, sendDtmf=on_send_dtmf,
                            hold=on_hold, unhold=on_unhold, transfer=on_transfer)
    gateway.session_openers.append(register_session)
    gateway.session_closers.append(close_session)
    gateway.session_resumers.append(resume_session)
    log.info("SIP on %s:%s (udp/tcp) %s; WebRTC on udp %s:%s", settings.listen, stack.ports.get("udp"),
             f"tls {stack.ports['tls']}" if "tls" in stack.ports else "", media_host, endpoint.port)
    if settings.demo_enabled:
        await install_demo(gateway, nursery)  # issue 9: echo, tone, ivr on our own SIP port


# ---------------------------------------------------------------- registration


async def register_session(session: ClientSession) -> None:
    """Register the session's SIP account (if it has one) and keep it registered."""
    connection = session.connection
    if not connection.get("sipLogin"):
        return
    gateway = session.gateway
    try:
        account = SipAccount.from_sdk(connection, transport="tls" if gateway.settings.sip_use_tls else "udp")
    except SipAccountError as error:
        await session.fail(ProtocolError(str(error), field=error.field, api_method="connection"))
        await session.close(f"bad SIP account: {error}")
        return
    world = gateway.world
    world.add(session.entity, SipAccountInfo(
        login=account.login, auth_name=account.auth_user, domain=account.domain,
        outbound_proxy=account.outbound_proxy or "", port=account.port or 0,
        register_required=account.register_required, password=account.password))
    world.add(session.entity, RegistrationState())
    trace = MessageTrace(200)
    session.extensions.update(account=account, sip_trace=trace, calls={})

    async def on_request(incoming: IncomingRequest) -> None:
        await incoming_request(session, incoming)

    registration = Registration(gateway.services["sip"], account, on_state=lambda e: _report(session, e),
                                trace=trace, unregister_timeout=UNREGISTER_TIMEOUT, on_request=on_request)
    session.extensions["registration"] = registration
    await registration.run()


def _report(session: ClientSession, event: RegistrationEvent) -> None:
    """Registration state → ECS, hooks and the page (PROTOCOL.md §4.1)."""
    if session.closed:
        return
    state = session.gateway.world.try_get(session.entity, RegistrationState)
    status = {RegState.REGISTERED: "REGISTERED", RegState.FAILED: "FAILED"}.get(event.state, "UNREGISTERED")
    if state is not None:
        state.status, state.sip_status, state.reason = status, event.status, event.reason
    session.gateway.plugins.hook.wcs_registration_changed(
        session_id=session.session_id, status=status, sip_status=event.status, reason=event.reason)
    log.info("registration %s (%s %s)", status, event.status, event.reason)
    if status == "REGISTERED":
        session.set_status("REGISTERED")
        session.nursery.start_soon(session.send, "registered", {})
    elif status == "FAILED":
        session.nursery.start_soon(_registration_failed, session, event)


async def _registration_failed(session: ClientSession, event: RegistrationEvent) -> None:
    info = f"{event.status} {event.reason}".strip() if event.status else event.reason
    await session.send("fail", {"apiMethod": "RegistrationStatusEvent", "status": "FAILED",
                                "sipStatus": event.status, "sipMessage": event.reason, "info": info})
    await session.close(f"registration failed: {info}")


async def resume_session(session: ClientSession) -> None:
    """A keepAlive page is back (PROTOCOL.md §5): it hears its registration again; pending
    incoming calls reach it by themselves (they wait for the page)."""
    state = session.gateway.world.try_get(session.entity, RegistrationState)
    if state is not None and state.status == "REGISTERED":
        session.set_status("REGISTERED")
        await session.send("registered", {})


async def close_session(session: ClientSession, reason: str) -> None:
    """Hang up every call of the session, then un-REGISTER (bounded by the session's close)."""
    calls: dict[str, Call] = session.extensions.get("calls", {})
    async with trio.open_nursery() as nursery:
        for call in list(calls.values()):
            nursery.start_soon(call.guarded, call.hangup, "Session closed")
    registration: Registration | None = session.extensions.get("registration")
    if registration is not None:
        with trio.move_on_after(UNREGISTER_TIMEOUT):
            await registration.close()


# ---------------------------------------------------------------- calls


def _calls(session: ClientSession) -> dict[str, Call]:
    return session.extensions.setdefault("calls", {})  # type: ignore[no-any-return]


def _account(session: ClientSession, api_method: str) -> SipAccount:
    account = session.extensions.get("account")
    if account is None:
        raise ProtocolError("this session has no SIP account (connect with sipOptions)",
                            field="sipLogin", api_method=api_method)
    return account  # type: ignore[no-any-return]


def _new_call(session: ClientSession, account: SipAccount, call_id: str, direction: str,
              options: dict[str, Any], caller: str, callee: str) -> Call:
    gateway = session.gateway
    info = CallInfo(call_id=call_id, direction=direction, caller=caller, callee=callee,
                    has_audio=bool(options.get("hasAudio", True)), has_video=bool(options.get("hasVideo")),
                    created_at=trio.current_time())
    entity = gateway.world.create(info, owner=session.entity)
    call = Call(session, account, call_id, direction, options, entity)
    _calls(session)[call_id] = call
    gateway.plugins.hook.wcs_call_created(session_id=session.session_id, call_id=call_id,
                                          direction=direction, caller=caller, callee=callee)
    return call


async def on_call(session: ClientSession, message: Message) -> None:
    body = message.body
    account = _account(session, "call")
    call_id = body["callId"]
    if call_id in _calls(session):
        raise ProtocolError(f"callId {call_id} is in use", field="callId")
    callee = str(body["callee"])
    routed = session.gateway.plugins.hook.wcs_route_call(session_id=session.session_id, callee=callee)
    try:
        uri = account.uri_for(routed or callee)
    except (SipAccountError, SipError, ValueError) as error:
        raise ProtocolError(f"callee: {error}", field="callee") from None
    check_sip_headers(body.get("sipHeaders"))
    try:
        call = _new_call(session, account, call_id, "outgoing", dict(body), account.login, callee)
    except NoFreePorts as error:
        raise ProtocolError(str(error)) from None
    if routed:
        # A plugin chose the destination (a demo endpoint, a trunk): send it there.
        call.first_hop = Target.from_uri(uri, account.transport)
    session.nursery.start_soon(call.guarded, call.run_outgoing, uri)


async def on_answer(session: ClientSession, message: Message) -> None:
    await _call(session, message).answered_by_browser(message.body["sdp"], message.body)


async def on_hangup(session: ClientSession, message: Message) -> None:
    call = _calls(session).get(message.body["callId"])
    if call is not None:  # PROTOCOL.md §4.4: an unknown or finished call is ignored
        session.nursery.start_soon(call.guarded, call.hangup)


def _call(session: ClientSession, message: Message) -> Call:
    call = _calls(session).get(message.body["callId"])
    if call is None:
        raise ProtocolError("no such call", field="callId")
    return call


async def on_send_dtmf(session: ClientSession, message: Message) -> None:
    """RFC2833 (default): RFC 4733 events in the RTP, or SIP INFO when the SIP side has no
    telephone-event; INFO: application/dtmf-relay; INFO_RELAY: application/dtmf."""
    body = message.body
    call = _call(session, message)
    try:
        digits = check_digits(str(body["dtmf"]))
    except BadDigit as error:
        raise ProtocolError(str(error), field="dtmf") from None
    kind = str(body.get("type") or "RFC2833").upper()
    if kind not in ("RFC2833", "INFO", "INFO_RELAY"):
        raise ProtocolError(f"type {kind!r} is not RFC2833, INFO or INFO_RELAY", field="type")
    if kind == "RFC2833" and call.has_telephone_event():
        call.start_dtmf(digits)
        return
    content_type = "application/dtmf" if kind == "INFO_RELAY" else "application/dtmf-relay"
    session.nursery.start_soon(call.guarded, control.send_info_dtmf, call, digits, content_type)


async def on_hold(session: ClientSession, message: Message) -> None:
    call = _call(session, message)
    session.nursery.start_soon(call.guarded, control.hold, call, True)


async def on_unhold(session: ClientSession, message: Message) -> None:
    call = _call(session, message)
    session.nursery.start_soon(call.guarded, control.hold, call, False)


async def on_transfer(session: ClientSession, message: Message) -> None:
    call = _call(session, message)
    session.nursery.start_soon(call.guarded, control.transfer, call, str(message.body["target"]))


async def incoming_request(session: ClientSession, incoming: IncomingRequest) -> None:
    """A new request for the session's SIP user: INVITEs become incoming calls."""
    request = incoming.request
    if request.method != "INVITE":
        await incoming.respond(405 if request.method != "MESSAGE" else 415)
        return
    if not session.attached:
        # A keepAlive page that went away (PROTOCOL.md §5): push plugins may wake it; the
        # call rings and reaches the page when it comes back with its authToken.
        pushed = session.gateway.plugins.hook.wcs_incoming_call_detached(
            session_id=session.session_id, call_id="", caller=str(request.from_.uri),
            callee=str(request.uri))
        if not session.keep_alive:
            await incoming.respond(480, "Temporarily Unavailable")
            return
        log.info("incoming call for a detached keepAlive session (push %s)", "sent" if pushed else "none")
    account = _account(session, "call")
    caller_uri = request.from_.uri
    caller = getattr(caller_uri, "user_decoded", None) or str(caller_uri)
    options = {"hasAudio": True, "hasVideo": "m=video" in request.body.decode("latin-1", "replace"),
               "visibleName": request.from_.display_decoded or caller}
    try:
        call = _new_call(session, account, uuid.uuid4().hex, "incoming", options, caller, account.login)
    except NoFreePorts:
        await incoming.respond(503, "Service Unavailable")
        return
    session.nursery.start_soon(call.guarded, call.run_incoming, incoming)
