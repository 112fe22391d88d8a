"""One call between a browser session and the SIP side, in either direction.

A :class:`Call` runs in its own nursery inside the session's: the SIP transactions it
waits on, the media bridge, DTMF pacing. Whatever ends the call (BYE either way, a
failure, the browser's hangup, the session closing) goes through :meth:`Call.end`,
which tells the page once, releases the media and removes the call entity.

RFC 3261 §13 (INVITE), §15 (BYE), §9 (CANCEL); the page's view follows PROTOCOL.md §4.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from wcs_trio.core.api.protocol import ProtocolError
from wcs_trio.core.calls import control
from wcs_trio.core.calls import status as notices
from wcs_trio.core.calls.media import CallMedia
from wcs_trio.core.calls.status import CallStatus, Notice
from wcs_trio.core.errors import Refusal
from wcs_trio.core.media.bridge import NoTelephoneEvent
from wcs_trio.core.sip.account import SipAccount
from wcs_trio.core.sip.auth import Credentials, DigestClient
from wcs_trio.core.sip.dialog import Dialog, DialogState, new_tag
from wcs_trio.core.sip.errors import SipError
from wcs_trio.core.sip.headers import CSeq
from wcs_trio.core.sip.message import Request, Response
from wcs_trio.core.sip.stack import IncomingRequest, OutgoingRequest, SipStack, Target
from wcs_trio.core.sip.uri import NameAddr, quote
from wcs_trio.core.state.components import CallInfo
from wcs_trio.core.state.world import EntityId
from wcs_trio.core.webrtc.leg import LegConnected, LegFailed, WebRtcLeg

if TYPE_CHECKING:
    from wcs_trio.core.api.session import ClientSession

log = logging.getLogger("wcs_trio.calls")

# Headers the gateway owns: a page may not set them through sipHeaders.
OWNED_HEADERS = frozenset(h.lower() for h in (
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Length",
    "Content-Type", "Route", "Record-Route", "Authorization", "Proxy-Authorization", "Allow",
    "Supported", "Require", "Expires", "i", "f", "t", "v", "m", "l", "c"))
# How long a browser may take to answer an incoming call before the caller hears 480.
ANSWER_TIMEOUT = 120.0
# How long our 2xx waits for its ACK: Timer L, 64*T1 (RFC 3261 §13.3.1.4, RFC 6026 §8.7).
ACK_TIMEOUT = 32.0
# A BYE or CANCEL we send at the end gets this long for its answer.
END_TIMEOUT = 1.5
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY"


def check_sip_headers(headers: Any) -> list[tuple[str, str]]:
    """The page's ``sipHeaders`` as (name, value) pairs; gateway-owned names are refused."""
    if not headers:
        return []
    if not isinstance(headers, dict):
        raise ProtocolError("sipHeaders must be an object of name: value", field="sipHeaders")
    out = []
    for name, value in headers.items():
        if not isinstance(name, str) or not name or any(c in name for c in " :\r\n"):
            raise ProtocolError(f"sipHeaders: {name!r} is not a header name", field="sipHeaders")
        if name.lower() in OWNED_HEADERS:
            raise ProtocolError(f"sipHeaders: {name} is set by the gateway", field="sipHeaders")
        text = str(value)
        if "\r" in text or "\n" in text:
            raise ProtocolError(f"sipHeaders: the value of {name} has a line break", field="sipHeaders")
        out.append((name, text))
    return out


def _user_agent(message: Request | Response) -> str:
    """Who the SIP side is, for generate_av_for_ua: User-Agent, else (in responses) Server."""
    return message.get("User-Agent") or message.get("Server") or ""


async def _set_then_cancel(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


def next_hop(dialog: Dialog, account: SipAccount, *, direct: bool = False) -> Target:
    """Where an in-dialog request goes: the first route, else the outbound proxy (unless the
    call was routed around it), else the remote target."""
    if dialog.route_set:
        return Target.from_uri(dialog.route_set[0].uri, account.transport)  # type: ignore[arg-type]
    if account.outbound_proxy and not direct:
        return account.target
    return Target.from_uri(dialog.remote_target, account.transport)  # type: ignore[arg-type]


@attrs.define(eq=False)
class Call:
    session: ClientSession
    account: SipAccount
    call_id: str
    direction: str
    options: dict[str, Any]
    entity: EntityId
    media: CallMedia = attrs.field(init=False)
    status: CallStatus = CallStatus.NEW
    dialog: Dialog | None = None
    invite: Request | None = None
    outgoing: OutgoingRequest | None = None
    incoming: IncomingRequest | None = None
    ended: bool = False
    transferring: bool = False
    # Set when a wcs_route_call plugin sent the call elsewhere than the account's proxy.
    first_hop: Target | None = None
    _nursery: trio.Nursery | None = None
    _answer: trio.MemorySendChannel[str] | None = None
    _answers: trio.MemoryReceiveChannel[str] | None = None
    _done: trio.Event = attrs.field(factory=trio.Event)
    _established_at: float = 0.0

    def __attrs_post_init__(self) -> None:
        self.media = CallMedia(self.session.gateway, self.options, on_leg_state=self._leg_state,
                               on_dtmf=self._sip_dtmf)
        self._answer, self._answers = trio.open_memory_channel(1)

    # ------------------------------------------------------------------ helpers

    @property
    def stack(self) -> SipStack:
        return self.session.gateway.services["sip"]  # type: ignore[no-any-return]

    @property
    def info(self) -> CallInfo:
        return self.session.gateway.world.get(self.entity, CallInfo)

    def _body(self, **extra: Any) -> dict[str, Any]:
        info = self.info
        return {"callId": self.call_id, "incoming": self.direction == "incoming",
                "caller": info.caller, "callee": info.callee,
                "visibleName": self.options.get("visibleName") or info.caller,
                "hasAudio": info.has_audio, "hasVideo": info.has_video, **extra}

    async def notify(self, notice: Notice) -> None:
        """Tell the page (PROTOCOL.md §3: the status, not the message name, drives the SDK)."""
        old = self.status
        self.status = notice.status
        if notice.status is CallStatus.ESTABLISHED and old is not CallStatus.HOLD and self.media.bridge:
            self._established_at = self.media.bridge.clock()
        info = self.info
        info.status = notice.status.value
        info.info = notice.info or (f"{notice.sip_status} {notice.sip_message}" if notice.sip_status else "")
        try:
            self.session.gateway.plugins.hook.wcs_call_state_changed(
                call_id=self.call_id, old=old.value, new=notice.status.value, info=info.info)
        except Refusal as refusal:  # a notification cannot be refused; the call goes on
            log.warning("a plugin refused a call state notification: %s", refusal)
        body = self._body()
        body.update(notice.body(self.call_id))
        await self.session.send(notice.message, body)

    def _leg_state(self, leg: WebRtcLeg, event: object) -> None:
        if isinstance(event, LegConnected) and self.media.bridge is not None:
            self.media.bridge.browser_connected()
        if isinstance(event, LegFailed) and not self.ended and self._nursery is not None:
            log.info("browser media failed: %s", event.reason, extra={"call": self.call_id})
            self._nursery.start_soon(self.hangup, f"Browser media failed: {event.reason}")

    def _sip_dtmf(self, digit: str) -> None:
        if self._nursery is not None and not self.ended:
            self._nursery.start_soon(self.dtmf_to_page, digit, "RFC2833")

    async def dtmf_to_page(self, digit: str, source: str) -> None:
        """DTMF from the SIP side, as the SDKs' APP_DATA event (PROTOCOL.md §4.6)."""
        log.info("DTMF from SIP: %s (%s)", digit, source, extra={"call": self.call_id})
        await self.session.send("OnDataEvent", {"payload": {
            "event": "DTMF", "callId": self.call_id, "dtmf": digit, "type": source}})

    def has_telephone_event(self) -> bool:
        """Whether the SIP side negotiated RFC 4733 telephone-event for audio."""
        plan = self.media.plan
        audio = plan.by_kind("audio") if plan is not None else None
        return audio is not None and audio.sip_dtmf is not None and self.media.bridge is not None

    def start_dtmf(self, digits: str) -> None:
        """RFC 4733 events on the SIP stream, paced by a task of the call."""
        bridge = self.media.bridge
        if bridge is None or self._nursery is None:
            raise ProtocolError("the call has no media yet", field="callId")

        async def play() -> None:
            try:
                await bridge.send_dtmf(digits)
            except NoTelephoneEvent:
                log.info("SIP side has no telephone-event; DTMF %s not sent", digits)
        self._nursery.start_soon(play)

    def _account_from(self) -> NameAddr:
        address = self.account.address()
        name = self.options.get("visibleName")
        if name:
            address = NameAddr(address.uri, quote(str(name)))
        return address

    # ------------------------------------------------------------------ outgoing

    async def run_outgoing(self, callee_uri: Any) -> None:
        """Browser → SIP: INVITE with the translated offer; the page follows every reply."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self.media.attach(nursery)
                await self.notify(Notice("notifyTryingResponse", CallStatus.TRYING))
                try:
                    sip_offer = self.media.outgoing_offer(self.options["sdp"])
                except (Refusal, SipError, ValueError) as error:
                    await self.end(notices.failed(f"Bad SDP: {error}", 488, "Not Acceptable Here"))
                    return
                final = await self._invite(callee_uri, sip_offer.to_bytes())
                if final is None or self.ended:
                    return
                nursery.start_soon(self._watch_done)
        except Exception:
            await self._internal_error()
        finally:
            await self.end(notices.finished())

    def build_invite(self, callee_uri: Any, body: bytes) -> Request:
        """A new INVITE from this call's account to ``callee_uri`` (new Call-ID and tags),
        with the page's sipHeaders and ``body`` as SDP (also used for a REFER's target)."""
        account = self.account
        request = Request("INVITE", callee_uri)
        sender = self._account_from()
        sender.tag = new_tag()
        request.add("From", sender)
        request.add("To", NameAddr(callee_uri))
        request.add("Call-ID", f"{secrets.token_hex(12)}@wcs-trio")
        request.add("CSeq", CSeq(1, "INVITE"))
        request.add("Contact", self.stack.contact_for(account.user, account.target))
        request.add("Allow", ALLOW)
        for name, value in check_sip_headers(self.options.get("sipHeaders")):
            request.add(name, value)
        request.add("Content-Type", "application/sdp")
        request.body = body
        return request

    async def _invite(self, callee_uri: Any, body: bytes) -> Response | None:
        """Send the INVITE (answering digest challenges) until a 2xx or a failure ends it."""
        request = self.build_invite(callee_uri, body)
        digest = DigestClient(Credentials(self.account.auth_user, self.account.password))
        answered = False
        trace = self.session.extensions.get("sip_trace")
        for _ in range(4):  # 401 and 407 challenges, one stale nonce: never loops
            self.invite = request
            send, receive = trio.open_memory_channel[Response](16)
            self.outgoing = await self.stack.start_request(
                request, self.first_hop or self.account.target, trace=trace,
                on_provisional=send.send_nowait)
            final = await self._await_final(self.outgoing, send, receive)
            if final.status in (401, 407) and digest.accept(final, retried=answered):
                request = request.copy()
                request.remove("Via")
                request.set("CSeq", CSeq(request.cseq.seq + 1, "INVITE"))
                digest.authorize(request)
                answered = True
                continue
            if 200 <= final.status < 300:
                await self._established(request, final)
                return final
            if not self.ended:
                if final.status == 487 and self.status.final:
                    return None
                await self.end(notices.for_final_failure(final.status, final.reason))
            return None
        await self.end(notices.failed("Authentication failed", 403, "Forbidden"))
        return None

    async def _await_final(self, out: OutgoingRequest, send: trio.MemorySendChannel[Response],
                           provisional: trio.MemoryReceiveChannel[Response]) -> Response:
        """Follow provisional responses until the final one; every 1xx is handled before it."""
        async with trio.open_nursery() as nursery:
            async def pump() -> None:
                async for response in provisional:
                    await self._provisional(response)
            nursery.start_soon(pump)
            final = await out.wait()
            send.close()  # no 1xx follows a final response: the pump drains and ends
        return final

    async def _provisional(self, response: Response) -> None:
        if self.invite is not None and response.to.tag and self.dialog is None:
            self.dialog = Dialog.from_uac(self.invite, response)
        has_sdp = bool(response.body) and (response.content_type or "") == "application/sdp"
        if has_sdp and self.media.browser_answer is None:
            if not await self._apply_answer(response.body, _user_agent(response)):
                return
        notice = notices.for_provisional(response.status, response.reason, has_sdp=has_sdp)
        if notice is not None and not self.ended:
            await self.notify(notice)

    async def _apply_answer(self, body: bytes, user_agent: str = "") -> bool:
        try:
            answer = self.media.outgoing_answer(body, remote_user_agent=user_agent)
        except (Refusal, SipError, ValueError) as error:
            log.info("unusable SIP answer: %s", error, extra={"call": self.call_id})
            await self.hangup(f"No common codecs: {error}")
            return False
        await self.session.send("setRemoteSDP", self.call_id, answer.to_text())
        return True

    async def _established(self, invite: Request, final: Response) -> None:
        self.dialog = Dialog.from_uac(invite, final)
        ack = self.dialog.create_ack(invite)
        await self.stack.send_ack(self.outgoing, ack)  # type: ignore[arg-type]
        self.stack.add_dialog(self.dialog, self._in_dialog)
        if self.media.browser_answer is None:
            if not final.body:
                await self.hangup("No SDP in the answer")
                return
            if not await self._apply_answer(final.body, _user_agent(final)):
                return
        elif final.body and self.media.sip_answer is not None and final.body != self.media.sip_answer.to_bytes():
            # RFC 3261 §13.2.1: the 2xx repeats the early answer; follow it if it moved.
            self.media.sip_offer_answered_again(final.body)
        if not self.ended:
            await self.notify(notices.established(final.status, final.reason))

    def replace_dialog(self, new: Dialog, invite: Request) -> Dialog | None:
        """Make ``new`` (from ``invite``) the call's dialog, e.g. after a REFER's INVITE was
        answered; the old one, returned, only ends from now on: a BYE or other request on
        it is answered without touching the call."""
        old = self.dialog
        self.dialog, self.invite = new, invite
        self.stack.add_dialog(new, self._in_dialog)
        if old is not None:
            self.stack.remove_dialog(old)

            async def old_dialog(incoming: IncomingRequest) -> None:
                if incoming.request.method == "ACK":
                    return
                reply = old.receive_request(incoming.request) or incoming.response(200)
                old.sent_response(incoming.request, reply)
                await incoming.respond(reply)
            self.stack.add_dialog(old, old_dialog)
        return old

    # ------------------------------------------------------------------ incoming

    async def run_incoming(self, incoming: IncomingRequest) -> None:
        """SIP → browser: offer to the page, ring, and answer when the page does."""
        self.incoming = incoming
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self.media.attach(nursery)
                user_agent = _user_agent(incoming.request)
                try:
                    if incoming.request.body.strip():
                        offer = self.media.incoming_offer(incoming.request.body, remote_user_agent=user_agent)
                    else:  # RFC 3261 §13.2.1: our 2xx makes the offer, the ACK answers
                        offer = self.media.incoming_offerless(remote_user_agent=user_agent)
                except (Refusal, SipError, ValueError) as error:
                    log.info("refused incoming offer: %s", error, extra={"call": self.call_id})
                    await incoming.respond(488, "Not Acceptable Here")
                    self.ended = True
                    return
                await incoming.respond(180, "Ringing")
                with trio.move_on_after(ANSWER_TIMEOUT):
                    await self.session.wait_ready()  # a keepAlive page may be away: it rings
                await self.session.send("setRemoteSDP", self.call_id, offer.to_text())
                await self.session.send("notifyIncomingCall", self._body(status=CallStatus.NEW.value,
                                                                         mediaProvider="WebRTC"))
                await self.notify(Notice("ring", CallStatus.RING, 180, "Ringing"))
                answer = await self._wait_for_answer(incoming)
                if answer is None:
                    return
                await self._accept(incoming, answer)
                if not self.ended:  # a refused answer or ACK ended it (its entity is gone)
                    nursery.start_soon(self._watch_done)
        except Exception:
            await self._internal_error()
        finally:
            await self.end(notices.finished())

    async def _wait_for_answer(self, incoming: IncomingRequest) -> str | None:
        assert self._answers is not None
        answer: str | None = None
        with trio.move_on_after(ANSWER_TIMEOUT) as timeout:
            async with trio.open_nursery() as nursery:
                async def cancelled() -> None:
                    await incoming.cancelled.wait()
                    nursery.cancel_scope.cancel()

                async def answered() -> None:
                    nonlocal answer
                    answer = await self._answers.receive()  # type: ignore[union-attr]
                    nursery.cancel_scope.cancel()
                nursery.start_soon(cancelled)
                nursery.start_soon(answered)
        if incoming.cancelled.is_set():
            await self.end(notices.finished("Cancelled by the caller"))
            return None
        if timeout.cancelled_caught:
            await incoming.respond(480, "Temporarily Unavailable")
            await self.end(notices.failed("No answer", 480, "Temporarily Unavailable"))
            return None
        return answer

    async def _accept(self, incoming: IncomingRequest, browser_answer: str) -> None:
        try:
            sip_answer = self.media.incoming_answer(browser_answer)
        except (Refusal, SipError, ValueError) as error:
            await incoming.respond(488, "Not Acceptable Here")
            await self.end(notices.failed(f"No common codecs: {error}", 488, "Not Acceptable Here"))
            return
        contact = self.stack.contact_for(self.account.user, self.account.target)
        headers: list[tuple[str, object]] = [("Contact", contact), ("Allow", ALLOW)]
        headers += check_sip_headers(self.options.get("sipHeaders"))
        response = incoming.response(200, "OK", body=sip_answer.to_bytes(),
                                     content_type="application/sdp", headers=headers)
        self.dialog = Dialog.from_uas(incoming.request, response, contact)
        self.stack.add_dialog(self.dialog, self._in_dialog)
        if not await incoming.respond(response):
            await self.end(notices.finished("Cancelled by the caller"))
            return
        if self.media.virtual_offer is not None and not await self._offerless_ack(incoming):
            return
        await self.notify(notices.established())

    async def _offerless_ack(self, incoming: IncomingRequest) -> bool:
        """Our 200 OK carried the offer: apply the answer the ACK brings (RFC 3264 §4).
        No ACK (RFC 3261 §13.3.1.4), an ACK without SDP or an answer the bridge cannot
        use ends the call with BYE and a FAILED status."""
        with trio.move_on_after(ACK_TIMEOUT):
            async with trio.open_nursery() as nursery:
                for event in (incoming.acked, incoming.ack_timeout):
                    nursery.start_soon(_set_then_cancel, event, nursery.cancel_scope)
        ack = incoming.ack
        if ack is None:
            info = f"{notices.REQUEST_TIMEOUT}: no ACK for the 200 OK"
        elif not ack.body.strip():
            info = "No SDP answer in the ACK"
        else:
            try:
                self.media.offerless_ack(ack.body)
                return True
            except (Refusal, SipError, ValueError) as error:
                log.info("unusable answer in the ACK: %s", error, extra={"call": self.call_id})
                info = f"{notices.NO_COMMON_CODECS}: {error}"
        with trio.CancelScope(shield=True), trio.move_on_after(END_TIMEOUT):
            await self._end_sip()
        await self.end(notices.failed(info))
        return False

    async def answered_by_browser(self, sdp: str, options: dict[str, Any]) -> None:
        """The page's ``answer``: its SDP answer and per-call options (sipSDP, sipHeaders)."""
        check_sip_headers(options.get("sipHeaders"))
        self.options.update({k: v for k, v in options.items() if k in ("sipSDP", "sipHeaders", "stripCodecs")})
        if self.direction != "incoming" or self._answer is None:
            raise ProtocolError("only an incoming call can be answered", field="callId")
        try:
            self._answer.send_nowait(sdp)
        except trio.WouldBlock:
            raise ProtocolError("the call is answered already", field="callId") from None

    # ------------------------------------------------------------------ in dialog

    async def _in_dialog(self, incoming: IncomingRequest) -> None:
        request = incoming.request
        dialog = self.dialog
        if dialog is None or request.method == "ACK":
            return
        refused = dialog.receive_request(request)
        if refused is not None:
            await incoming.respond(refused)
            return
        method = request.method
        if method == "BYE":
            response = incoming.response(200, "OK")
            dialog.sent_response(request, response)
            await incoming.respond(response)
            await self.end(notices.finished())
        elif method in ("INVITE", "UPDATE") and request.body:
            try:
                answer = self.media.sip_reoffer(request.body)
            except (Refusal, SipError, ValueError) as error:
                log.info("refused re-offer: %s", error, extra={"call": self.call_id})
                response = incoming.response(488, "Not Acceptable Here")
            else:
                contact = self.stack.contact_for(self.account.user, self.account.target)
                response = incoming.response(200, "OK", body=answer.to_bytes(), content_type="application/sdp",
                                             headers=[("Contact", contact)])
                held = self.media.held_by_sip()
                if held and self.status is CallStatus.ESTABLISHED:
                    await self.notify(Notice("hold", CallStatus.HOLD))
                elif not held and self.status is CallStatus.HOLD:
                    await self.notify(notices.established())
            dialog.sent_response(request, response)
            await incoming.respond(response)
        elif method == "NOTIFY":
            await control.refer_notify(self, incoming)
        elif method == "INFO":
            digits = control.info_digits(request)
            response = incoming.response(200 if digits or not request.body else 415)
            dialog.sent_response(request, response)
            await incoming.respond(response)
            if digits:
                await self.dtmf_to_page(digits, "INFO")
        elif method == "REFER":
            await control.refer_received(self, incoming)
        else:
            response = incoming.response(200 if method in ("INVITE", "UPDATE", "OPTIONS") else 501)
            dialog.sent_response(request, response)
            await incoming.respond(response)

    async def _watch_done(self) -> None:
        """Keep the call's nursery open while it lasts; sample its media every second."""
        world = self.session.gateway.world
        plugins = self.session.gateway.plugins
        enabled, timeout = self.session.gateway.settings.rtp_activity_detecting
        bridge = self.media.bridge
        if bridge is not None:
            world.add(self.entity, bridge.stats)  # live counters, read by ops
        while not self._done.is_set():
            with trio.move_on_after(1.0):
                await self._done.wait()
            if self._done.is_set() or bridge is None:
                continue
            if self.media.plan is not None:
                world.add(self.entity, self.media.plan)
            snapshot = bridge.stats.snapshot()
            for leg in ("browser", "sip"):
                plugins.hook.wcs_media_stats(call_id=self.call_id, leg=leg, stats={
                    key.split(".", 1)[1]: value for key, value in snapshot.items() if key.startswith(leg + ".")})
            if enabled and self.status is CallStatus.ESTABLISHED and self._silent_for(bridge) >= timeout:
                log.info("no media either way for %s s; hanging up", timeout, extra={"call": self.call_id})
                await self.hangup(f"RTP activity timeout ({timeout} s without media)")

    def _silent_for(self, bridge: Any) -> float:
        activity = bridge.activity
        now = bridge.clock()
        last = max((t for t in (activity.from_browser, activity.from_sip) if t is not None),
                   default=self._established_at)
        return now - max(last, self._established_at)

    # ------------------------------------------------------------------ ending

    async def guarded(self, step: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run one of the call's tasks so that a bug in it ends this call, not the session
        (a session's nursery would otherwise take every other call down with it)."""
        try:
            await step(*args)
        except Exception:
            await self._internal_error()

    async def _internal_error(self) -> None:
        log.exception("call failed on an internal error", extra={"call": self.call_id})
        with trio.CancelScope(shield=True):
            await self.end(notices.failed("Internal error"))

    async def hangup(self, reason: str = notices.NORMAL_CLEARING) -> None:
        """End the call from our side: CANCEL, BYE or a rejection as the SIP state requires."""
        if self.ended:
            return
        with trio.CancelScope(shield=True), trio.move_on_after(END_TIMEOUT):
            await self._end_sip()
        await self.end(notices.finished(reason))

    async def _end_sip(self) -> None:
        dialog = self.dialog
        if self.direction == "incoming" and self.incoming is not None and dialog is None:
            await self.incoming.respond(486 if self.status is CallStatus.RING else 603)
            return
        if dialog is not None and dialog.state is DialogState.CONFIRMED:
            bye = dialog.create_request("BYE")
            out = await self.stack.start_request(bye, next_hop(dialog, self.account,
                                                               direct=self.first_hop is not None),
                                                 trace=self.session.extensions.get("sip_trace"))
            response = await out.wait()
            dialog.receive_response(bye, response)
            return
        if self.outgoing is not None and not self.outgoing.done.is_set():
            await self.outgoing.cancel()
            await self.outgoing.wait()

    async def end(self, notice: Notice) -> None:
        """Tell the page once, free the media and the entity; the call's tasks end."""
        if self.ended:
            return
        self.ended = True
        try:
            if self.dialog is not None:
                self.stack.remove_dialog(self.dialog)
                self.dialog.terminate()
            self.media.close()
            if not self.status.final:
                with trio.CancelScope(shield=True), trio.move_on_after(0.5):
                    await self.notify(notice)
        finally:
            # Whatever failed above, the call leaves the session and the world.
            self.session.extensions.get("calls", {}).pop(self.call_id, None)
            self.session.gateway.world.destroy(self.entity)
            self._done.set()
            if self._nursery is not None:
                self._nursery.cancel_scope.cancel()
