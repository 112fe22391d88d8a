"""Registration of a browser session's account (RFC 3261 §10).

:class:`RegisterClient` is the sans-IO core: it builds REGISTER requests and
reads their responses (digest challenges, 423 Interval Too Brief, the granted
expiry). :class:`Registration` drives it on a :class:`~.stack.SipStack`:
registers, refreshes before expiry, registers again after a failure or when
the connection to the registrar drops, un-registers when it is closed or
cancelled, and reports REGISTERED / UNREGISTERED / FAILED (with the SIP status
and reason) to a callback.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from enum import Enum
from typing import Any

import attrs
import trio

from .account import SipAccount
from .auth import Credentials, DigestClient
from .errors import SipParseError, TransportError
from .headers import CSeq
from .message import Request, Response
from .stack import Connection, SipStack
from .trace import MessageTrace
from .uri import NameAddr, SipUri

log = logging.getLogger("wcs_trio.sip.registration")


class RegState(Enum):
    """What the SDK shows (SESSION_STATUS values)."""

    REGISTERED = "REGISTERED"
    UNREGISTERED = "UNREGISTERED"
    FAILED = "FAILED"


@attrs.frozen
class RegistrationEvent:
    state: RegState
    status: int | None = None
    reason: str = ""
    expires: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "status": self.status,
            "reason": self.reason,
            "expires": self.expires,
        }


# ---------------------------------------------------------------- outcomes
@attrs.frozen
class Registered:
    expires: int
    refresh_in: float


@attrs.frozen
class SendAgain:
    """Send this request next (answering a challenge, or after 423)."""

    request: Request


@attrs.frozen
class Rejected:
    status: int
    reason: str
    retry_in: float | None  # None: do not retry (wrong credentials, forbidden...)


@attrs.frozen
class Unregistered:
    pass


Outcome = Registered | SendAgain | Rejected | Unregistered

#: Statuses after which trying again later may succeed.
TRANSIENT = frozenset({408, 480, 500, 502, 503, 504})


def refresh_delay(expires: int) -> float:
    """When to refresh a binding granted for ``expires`` seconds.

    Half way for short bindings, a minute before expiry for long ones, so a
    lost refresh can still be retried before the binding lapses.
    """
    return max(expires * 0.5, expires - 60.0) if expires > 0 else 0.0


class RegisterClient:
    """Builds REGISTERs for one account and reads the answers (no I/O, no clock)."""

    def __init__(
        self,
        account: SipAccount,
        contact: NameAddr,
        expires: int = 3600,
        *,
        call_id: str | None = None,
        retry_interval: float = 30.0,
    ) -> None:
        self.account = account
        self.contact = contact
        self.expires = expires
        self.call_id = call_id or f"{secrets.token_hex(10)}@wcs-trio"
        self.from_tag = secrets.token_hex(6)
        self.cseq = 0
        self.retry_interval = retry_interval
        self.digest = DigestClient(Credentials(account.auth_user, account.password))
        self._answered: set[int] = set()  # CSeqs of requests that answered a challenge

    def __repr__(self) -> str:
        return f"<RegisterClient {self.account.aor} expires={self.expires}>"

    def register(self, expires: int | None = None) -> Request:
        """A new REGISTER (the same Call-ID for the whole registration, §10.2.4)."""
        exp = self.expires if expires is None else expires
        self.cseq += 1
        req = Request("REGISTER", self.account.registrar_uri)
        frm = self.account.address()
        frm.tag = self.from_tag
        req.add("Max-Forwards", "70")
        req.add("From", frm)
        req.add("To", self.account.address())
        req.add("Call-ID", self.call_id)
        req.add("CSeq", CSeq(self.cseq, "REGISTER"))
        req.add("Contact", self.contact)
        req.add("Expires", str(exp))
        req.add("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE")
        if self.digest.has_challenge:
            self.digest.authorize(req)  # pre-emptive, with the last nonce
        return req

    def unregister(self) -> Request:
        return self.register(0)

    def _again(self, request: Request) -> Request:
        req = request.copy()
        self.cseq += 1
        req.set("CSeq", CSeq(self.cseq, "REGISTER"))
        req.remove("Via")
        return req

    def on_response(self, request: Request, response: Response) -> Outcome:
        status = response.status
        requested = _requested_expires(request)
        if status in (401, 407):
            retried = request.cseq.seq in self._answered
            if self.digest.accept(response, retried=retried):
                again = self._again(request)
                self.digest.authorize(again)
                self._answered.add(again.cseq.seq)
                return SendAgain(again)
            return Rejected(status, response.reason, None)
        if status == 423:
            try:
                minimum = int(response.get("Min-Expires") or "")
            except ValueError:
                minimum = 0
            if minimum <= requested:
                return Rejected(status, response.reason, None)
            self.expires = minimum
            again = self._again(request)
            again.set("Expires", str(minimum))
            if self.digest.has_challenge:
                self.digest.authorize(again)
            return SendAgain(again)
        if 200 <= status < 300:
            if requested == 0:
                return Unregistered()
            granted = self._granted(response, requested)
            if granted <= 0:
                return Rejected(status, "Registrar granted no binding", self.retry_interval)
            return Registered(granted, refresh_delay(granted))
        if status in TRANSIENT or status >= 500:
            retry = response.get("Retry-After")
            delay = (
                float(retry.split(";")[0])
                if retry and retry.split(";")[0].strip().isdigit()
                else None
            )
            return Rejected(
                status, response.reason, delay if delay is not None else self.retry_interval
            )
        return Rejected(status, response.reason, None)

    def _granted(self, response: Response, requested: int) -> int:
        ours = self.contact.uri
        try:
            contacts = response.contacts
        except SipParseError:
            contacts = []
        for c in contacts:
            if (
                isinstance(c.uri, SipUri)
                and isinstance(ours, SipUri)
                and _same_contact(c.uri, ours)
            ):
                e = c.params.get("expires")
                if e and e.isdigit():
                    return int(e)
        exp = response.expires
        return exp if exp is not None else requested


def _requested_expires(request: Request) -> int:
    e = request.expires
    return e if e is not None else 3600


def _same_contact(a: SipUri, b: SipUri) -> bool:
    return (
        a.user_decoded == b.user_decoded
        and a.host.lower() == b.host.lower()
        and (a.port or 5060) == (b.port or 5060)
    )


class Registration:
    """Keeps one account registered; run with ``await nursery.start(reg.run)``.

    ``run`` returns once the first attempt has an answer (so the session can
    show REGISTERED or FAILED), keeps the binding fresh, and un-registers when
    :meth:`close` is called or its task is cancelled. With
    ``register_required=False`` it does nothing.

    ``on_request`` (a handler or trio channel, see :meth:`SipStack.add_user`)
    receives the INVITEs and other requests for the account while ``run``
    runs; they are kept in the same bounded :attr:`trace` as the REGISTERs.
    """

    def __init__(
        self,
        stack: SipStack,
        account: SipAccount,
        on_state: Callable[[RegistrationEvent], None] | None = None,
        *,
        expires: int = 3600,
        retry_interval: float = 30.0,
        max_retry_interval: float = 300.0,
        trace: MessageTrace | None = None,
        unregister_timeout: float = 5.0,
        on_request: Any = None,
    ) -> None:
        self.stack = stack
        self.on_request = on_request
        self.account = account
        self.on_state = on_state
        self.expires = expires
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        self.trace = trace if trace is not None else MessageTrace(200)
        self.unregister_timeout = unregister_timeout
        self.state = RegState.UNREGISTERED
        self.last_event: RegistrationEvent | None = None
        self.client: RegisterClient | None = None
        self._lost = trio.Event()
        self._scope: trio.CancelScope | None = None
        self._dest_addr: tuple[str, int] | None = None

    def __repr__(self) -> str:
        return f"<Registration {self.account.aor} {self.state.value}>"

    # -- reporting ----------------------------------------------------------------
    def _report(self, event: RegistrationEvent) -> None:
        changed = self.last_event is None or (event.state, event.status) != (
            self.last_event.state,
            self.last_event.status,
        )
        self.state = event.state
        self.last_event = event
        if changed and self.on_state is not None:
            try:
                self.on_state(event)
            except Exception:
                log.exception("registration state callback failed")

    # -- the loop -----------------------------------------------------------------
    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        if self.on_request is not None:
            self.stack.add_user(self.account.login, self.on_request, trace=self.trace)
        try:
            await self._run(task_status)
        finally:
            if self.on_request is not None:
                self.stack.remove_user(self.account.login)

    async def _run(self, task_status: Any) -> None:
        if not self.account.register_required:
            task_status.started(self)
            if self.on_request is not None:
                await trio.sleep_forever()  # reachable directly, without a binding
            return
        target = self.account.target
        contact = self.stack.contact_for(self.account.user, target)
        self.client = RegisterClient(
            self.account, contact, self.expires, retry_interval=self.retry_interval
        )
        self.stack.connection_lost_callbacks.append(self._connection_lost)
        started = False
        backoff = self.retry_interval
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                while True:
                    outcome = await self._cycle(self.client.register())
                    if not started:
                        task_status.started(self)
                        started = True
                    if isinstance(outcome, Registered):
                        backoff = self.retry_interval
                        wait = outcome.refresh_in
                    elif isinstance(outcome, Rejected) and outcome.retry_in is None:
                        return  # wrong credentials or forbidden: retrying would not help
                    else:
                        retry = outcome.retry_in if isinstance(outcome, Rejected) else None
                        wait = retry if retry is not None else backoff
                        backoff = min(backoff * 2, self.max_retry_interval)
                    self._lost = trio.Event()
                    with trio.move_on_after(wait):
                        await self._lost.wait()
        finally:
            if not started:
                task_status.started(self)
            try:
                self.stack.connection_lost_callbacks.remove(self._connection_lost)
            except ValueError:
                pass
            with trio.CancelScope(shield=True):
                await self._unregister()

    async def _cycle(self, request: Request) -> Outcome:
        assert self.client is not None
        target = self.account.target
        outcome: Outcome = Rejected(0, "no attempt", self.retry_interval)
        for _ in range(6):  # challenge, stale nonce, 423, proxy challenge: never loops
            try:
                out = await self.stack.start_request(request, target, trace=self.trace)
                if out.tx is not None:
                    self._dest_addr = out.tx.dest.addr
                response = await out.wait()
            except TransportError as exc:
                outcome = Rejected(503, f"Service Unavailable ({exc})", self.retry_interval)
                break
            outcome = self.client.on_response(request, response)
            if isinstance(outcome, SendAgain):
                request = outcome.request
                continue
            break
        if isinstance(outcome, Registered):
            self._report(RegistrationEvent(RegState.REGISTERED, 200, "OK", outcome.expires))
        elif isinstance(outcome, Rejected):
            self._report(RegistrationEvent(RegState.FAILED, outcome.status, outcome.reason))
        elif isinstance(outcome, SendAgain):
            outcome = Rejected(500, "Too many challenges", None)
            self._report(RegistrationEvent(RegState.FAILED, 500, outcome.reason))
        return outcome

    def _connection_lost(self, conn: Connection) -> None:
        target = self.account.target
        if (
            conn.transport == target.transport
            and self._dest_addr is not None
            and conn.remote[:2] == self._dest_addr
        ):
            log.info("connection to the registrar lost; registering again")
            self._lost.set()

    async def _unregister(self) -> None:
        if self.client is None or self.state is not RegState.REGISTERED:
            return
        if not self.stack.running:
            # the stack is going down with us: nothing could carry the REGISTER
            self._report(RegistrationEvent(RegState.UNREGISTERED, None, "SIP stack stopped"))
            return
        with trio.move_on_after(self.unregister_timeout):
            outcome = await self._cycle(self.client.unregister())
            if isinstance(outcome, Unregistered):
                self._report(RegistrationEvent(RegState.UNREGISTERED, 200, "OK", 0))
                return
        self._report(RegistrationEvent(RegState.UNREGISTERED, None, "Unregister failed"))

    async def close(self) -> None:
        """Un-register and stop (``run`` returns)."""
        if self._scope is not None:
            self._scope.cancel()
        else:
            await self._unregister()
