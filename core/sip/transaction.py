"""SIP transactions (RFC 3261 §17, with the "Accepted" states of RFC 6026), sans-IO.

Four state machines, written as one table :data:`TRANSITIONS` keyed by
``(kind, state, event)``: each entry names the next state and the actions to
run. Nothing here touches a socket or a clock: callers pass ``now`` in and get
a list of :class:`Action` back (bytes to send, messages for the transaction
user, timeouts) plus :meth:`TransactionLayer.get_timer`, the next deadline.

Timers (RFC 3261 Table 4)::

    A  INVITE request retransmit (unreliable)     T1, doubling
    B  INVITE transaction timeout                 64*T1
    D  wait for response retransmits (unreliable) 32 s (0 reliable)
    E  non-INVITE request retransmit (unreliable) T1, doubling up to T2 (T2 once Proceeding)
    F  non-INVITE transaction timeout             64*T1
    G  INVITE response retransmit (unreliable)    T1, doubling up to T2
    H  wait for ACK                               64*T1
    I  wait for ACK retransmits (unreliable)      T4 (0 reliable)
    J  wait for non-INVITE request retransmits    64*T1 (0 reliable)
    K  wait for response retransmits             T4 (0 reliable)
    L  accepted INVITE server (RFC 6026)          64*T1
    M  accepted INVITE client (RFC 6026)          64*T1

On reliable transports A, E and G never start and D, I, J, K are zero.
A timer of zero fires within the call that started it.

Beyond RFC 3261, the INVITE server transaction also retransmits its 2xx
(Timer G while Accepted) until the ACK arrives: §13.3.1.4 gives that job to
the UAS core, but it is the same timer discipline and keeping it here leaves
the core without timers.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
from collections.abc import Hashable
from enum import Enum
from typing import Any

import attrs

from .headers import MAGIC_COOKIE, CSeq
from .message import Request, Response, SipMessage


@attrs.frozen
class Timers:
    """RFC 3261 §17.1.1.1 timer values, in seconds."""

    T1: float = 0.5
    T2: float = 4.0
    T4: float = 5.0
    D: float = 32.0


class Kind(Enum):
    """The four transaction state machines (RFC 3261 §17.1.1, §17.1.2, §17.2.1, §17.2.2)."""

    INVITE_CLIENT = "ICT"
    NON_INVITE_CLIENT = "NICT"
    INVITE_SERVER = "IST"
    NON_INVITE_SERVER = "NIST"


class State(Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Ev(Enum):
    """What can happen to a transaction."""

    START = "start"
    RECV_REQUEST = "request retransmission"
    RECV_ACK = "ACK"
    RECV_1XX = "1xx received"
    RECV_2XX = "2xx received"
    RECV_ERR = "300-699 received"
    SEND_1XX = "TU sends 1xx"
    SEND_2XX = "TU sends 2xx"
    SEND_ERR = "TU sends 300-699"
    CANCEL_SENT = "CANCEL sent"
    TRANSPORT_ERROR = "transport error"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"


# --------------------------------------------------------------------------
# The table. Actions are (verb, argument) pairs run in order by _run().
#   send / resend          the request (client) or the last response (server)
#   send_ack               ACK for a non-2xx final response (§17.1.1.3)
#   deliver                the message to the transaction user
#   deliver_ack            an ACK for our 2xx to the TU, once
#   start X / backoff X / stop X / t2 X   timers
#   timeout / transport_error / ack_timeout   report to the TU
# --------------------------------------------------------------------------
S, K, E = State, Kind, Ev
Action_ = tuple[str, str | None]


def _a(*verbs: str) -> tuple[Action_, ...]:
    out = []
    for v in verbs:
        verb, _, arg = v.partition(" ")
        out.append((verb, arg or None))
    return tuple(out)


TRANSITIONS: dict[tuple[Kind, State | None, Ev], tuple[State, tuple[Action_, ...]]] = {
    # ---- INVITE client (§17.1.1, RFC 6026 §7.2) ----
    (K.INVITE_CLIENT, None, E.START): (S.CALLING, _a("send", "start A", "start B")),
    (K.INVITE_CLIENT, S.CALLING, E.TIMER_A): (S.CALLING, _a("resend", "backoff A")),
    (K.INVITE_CLIENT, S.CALLING, E.TIMER_B): (S.TERMINATED, _a("timeout")),
    (K.INVITE_CLIENT, S.CALLING, E.RECV_1XX): (S.PROCEEDING, _a("stop A", "stop B", "deliver")),
    (K.INVITE_CLIENT, S.CALLING, E.RECV_2XX): (
        S.ACCEPTED,
        _a("stop A", "stop B", "deliver", "start M"),
    ),
    (K.INVITE_CLIENT, S.CALLING, E.RECV_ERR): (
        S.COMPLETED,
        _a("stop A", "stop B", "send_ack", "deliver", "start D"),
    ),
    (K.INVITE_CLIENT, S.CALLING, E.TRANSPORT_ERROR): (S.TERMINATED, _a("transport_error")),
    (K.INVITE_CLIENT, S.PROCEEDING, E.RECV_1XX): (S.PROCEEDING, _a("deliver")),
    (K.INVITE_CLIENT, S.PROCEEDING, E.RECV_2XX): (S.ACCEPTED, _a("stop B", "deliver", "start M")),
    (K.INVITE_CLIENT, S.PROCEEDING, E.RECV_ERR): (
        S.COMPLETED,
        _a("stop B", "send_ack", "deliver", "start D"),
    ),
    (K.INVITE_CLIENT, S.PROCEEDING, E.CANCEL_SENT): (S.PROCEEDING, _a("start B")),
    (K.INVITE_CLIENT, S.PROCEEDING, E.TIMER_B): (S.TERMINATED, _a("timeout")),
    (K.INVITE_CLIENT, S.PROCEEDING, E.TRANSPORT_ERROR): (S.TERMINATED, _a("transport_error")),
    (K.INVITE_CLIENT, S.COMPLETED, E.RECV_ERR): (S.COMPLETED, _a("send_ack")),
    (K.INVITE_CLIENT, S.COMPLETED, E.RECV_1XX): (S.COMPLETED, ()),
    (K.INVITE_CLIENT, S.COMPLETED, E.TRANSPORT_ERROR): (S.TERMINATED, _a("transport_error")),
    (K.INVITE_CLIENT, S.COMPLETED, E.TIMER_D): (S.TERMINATED, ()),
    (K.INVITE_CLIENT, S.ACCEPTED, E.RECV_2XX): (S.ACCEPTED, _a("deliver")),
    (K.INVITE_CLIENT, S.ACCEPTED, E.RECV_1XX): (S.ACCEPTED, ()),
    (K.INVITE_CLIENT, S.ACCEPTED, E.RECV_ERR): (S.ACCEPTED, ()),
    (K.INVITE_CLIENT, S.ACCEPTED, E.TIMER_M): (S.TERMINATED, ()),
    # ---- non-INVITE client (§17.1.2) ----
    (K.NON_INVITE_CLIENT, None, E.START): (S.TRYING, _a("send", "start E", "start F")),
    (K.NON_INVITE_CLIENT, S.TRYING, E.TIMER_E): (S.TRYING, _a("resend", "backoff E")),
    (K.NON_INVITE_CLIENT, S.TRYING, E.TIMER_F): (S.TERMINATED, _a("timeout")),
    (K.NON_INVITE_CLIENT, S.TRYING, E.RECV_1XX): (S.PROCEEDING, _a("deliver")),
    (K.NON_INVITE_CLIENT, S.TRYING, E.RECV_2XX): (
        S.COMPLETED,
        _a("stop E", "stop F", "deliver", "start K"),
    ),
    (K.NON_INVITE_CLIENT, S.TRYING, E.RECV_ERR): (
        S.COMPLETED,
        _a("stop E", "stop F", "deliver", "start K"),
    ),
    (K.NON_INVITE_CLIENT, S.TRYING, E.TRANSPORT_ERROR): (S.TERMINATED, _a("transport_error")),
    (K.NON_INVITE_CLIENT, S.PROCEEDING, E.TIMER_E): (S.PROCEEDING, _a("resend", "t2 E")),
    (K.NON_INVITE_CLIENT, S.PROCEEDING, E.TIMER_F): (S.TERMINATED, _a("timeout")),
    (K.NON_INVITE_CLIENT, S.PROCEEDING, E.RECV_1XX): (S.PROCEEDING, _a("deliver")),
    (K.NON_INVITE_CLIENT, S.PROCEEDING, E.RECV_2XX): (
        S.COMPLETED,
        _a("stop E", "stop F", "deliver", "start K"),
    ),
    (K.NON_INVITE_CLIENT, S.PROCEEDING, E.RECV_ERR): (
        S.COMPLETED,
        _a("stop E", "stop F", "deliver", "start K"),
    ),
    (K.NON_INVITE_CLIENT, S.PROCEEDING, E.TRANSPORT_ERROR): (S.TERMINATED, _a("transport_error")),
    (K.NON_INVITE_CLIENT, S.COMPLETED, E.RECV_1XX): (S.COMPLETED, ()),
    (K.NON_INVITE_CLIENT, S.COMPLETED, E.RECV_2XX): (S.COMPLETED, ()),
    (K.NON_INVITE_CLIENT, S.COMPLETED, E.RECV_ERR): (S.COMPLETED, ()),
    (K.NON_INVITE_CLIENT, S.COMPLETED, E.TIMER_K): (S.TERMINATED, ()),
    # ---- INVITE server (§17.2.1, RFC 6026 §7.1) ----
    (K.INVITE_SERVER, None, E.START): (S.PROCEEDING, _a("deliver")),
    (K.INVITE_SERVER, S.PROCEEDING, E.RECV_REQUEST): (S.PROCEEDING, _a("resend")),
    (K.INVITE_SERVER, S.PROCEEDING, E.SEND_1XX): (S.PROCEEDING, _a("send")),
    (K.INVITE_SERVER, S.PROCEEDING, E.SEND_2XX): (S.ACCEPTED, _a("send", "start G", "start L")),
    (K.INVITE_SERVER, S.PROCEEDING, E.SEND_ERR): (S.COMPLETED, _a("send", "start G", "start H")),
    (K.INVITE_SERVER, S.PROCEEDING, E.TRANSPORT_ERROR): (S.TERMINATED, _a("transport_error")),
    (K.INVITE_SERVER, S.COMPLETED, E.RECV_REQUEST): (S.COMPLETED, _a("resend")),
    (K.INVITE_SERVER, S.COMPLETED, E.TIMER_G): (S.COMPLETED, _a("resend", "backoff G")),
    (K.INVITE_SERVER, S.COMPLETED, E.RECV_ACK): (S.CONFIRMED, _a("stop G", "stop H", "start I")),
    (K.INVITE_SERVER, S.COMPLETED, E.TIMER_H): (S.TERMINATED, _a("timeout")),
    (K.INVITE_SERVER, S.COMPLETED, E.TRANSPORT_ERROR): (S.TERMINATED, _a("transport_error")),
    (K.INVITE_SERVER, S.CONFIRMED, E.RECV_ACK): (S.CONFIRMED, ()),
    (K.INVITE_SERVER, S.CONFIRMED, E.RECV_REQUEST): (S.CONFIRMED, ()),
    (K.INVITE_SERVER, S.CONFIRMED, E.TIMER_I): (S.TERMINATED, ()),
    (K.INVITE_SERVER, S.ACCEPTED, E.RECV_REQUEST): (S.ACCEPTED, ()),
    (K.INVITE_SERVER, S.ACCEPTED, E.SEND_2XX): (S.ACCEPTED, _a("send")),
    (K.INVITE_SERVER, S.ACCEPTED, E.TIMER_G): (S.ACCEPTED, _a("resend", "backoff G")),
    (K.INVITE_SERVER, S.ACCEPTED, E.RECV_ACK): (S.ACCEPTED, _a("stop G", "deliver_ack")),
    (K.INVITE_SERVER, S.ACCEPTED, E.TIMER_L): (S.TERMINATED, _a("ack_timeout")),
    (K.INVITE_SERVER, S.ACCEPTED, E.TRANSPORT_ERROR): (S.TERMINATED, _a("transport_error")),
    # ---- non-INVITE server (§17.2.2) ----
    (K.NON_INVITE_SERVER, None, E.START): (S.TRYING, _a("deliver")),
    (K.NON_INVITE_SERVER, S.TRYING, E.RECV_REQUEST): (S.TRYING, ()),
    (K.NON_INVITE_SERVER, S.TRYING, E.SEND_1XX): (S.PROCEEDING, _a("send")),
    (K.NON_INVITE_SERVER, S.TRYING, E.SEND_2XX): (S.COMPLETED, _a("send", "start J")),
    (K.NON_INVITE_SERVER, S.TRYING, E.SEND_ERR): (S.COMPLETED, _a("send", "start J")),
    (K.NON_INVITE_SERVER, S.TRYING, E.TRANSPORT_ERROR): (S.TERMINATED, _a("transport_error")),
    (K.NON_INVITE_SERVER, S.PROCEEDING, E.RECV_REQUEST): (S.PROCEEDING, _a("resend")),
    (K.NON_INVITE_SERVER, S.PROCEEDING, E.SEND_1XX): (S.PROCEEDING, _a("send")),
    (K.NON_INVITE_SERVER, S.PROCEEDING, E.SEND_2XX): (S.COMPLETED, _a("send", "start J")),
    (K.NON_INVITE_SERVER, S.PROCEEDING, E.SEND_ERR): (S.COMPLETED, _a("send", "start J")),
    (K.NON_INVITE_SERVER, S.PROCEEDING, E.TRANSPORT_ERROR): (S.TERMINATED, _a("transport_error")),
    (K.NON_INVITE_SERVER, S.COMPLETED, E.RECV_REQUEST): (S.COMPLETED, _a("resend")),
    (K.NON_INVITE_SERVER, S.COMPLETED, E.TIMER_J): (S.TERMINATED, ()),
    (K.NON_INVITE_SERVER, S.COMPLETED, E.TRANSPORT_ERROR): (S.TERMINATED, ()),
}

#: Network events that may arrive in any state; without a table entry they are absorbed.
NETWORK_EVENTS = frozenset(
    {E.RECV_REQUEST, E.RECV_ACK, E.RECV_1XX, E.RECV_2XX, E.RECV_ERR, E.TRANSPORT_ERROR}
)


class TransactionError(Exception):
    """The transaction user asked for something its state does not allow."""


def diagram(kind: Kind) -> str:
    """A Mermaid state diagram of one machine, generated from :data:`TRANSITIONS`."""
    lines = ["stateDiagram-v2"]
    for (k, state, ev), (new, actions) in TRANSITIONS.items():
        if k is not kind:
            continue
        src = "[*]" if state is None else state.value
        dst = "[*]" if new is S.TERMINATED else new.value
        acts = ", ".join(f"{v} {a}" if a else v for v, a in actions)
        lines.append(f"    {src} --> {dst}: {ev.value}{' / ' + acts if acts else ''}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Actions returned to the caller
# --------------------------------------------------------------------------
@attrs.frozen
class Send:
    """Put ``message`` on the wire to ``dest`` (an opaque address the caller chose)."""

    message: SipMessage
    dest: Any
    tx: Transaction | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def data(self) -> bytes:
        return bytes(self.message)


@attrs.frozen
class Deliver:
    """A message for the transaction user: a response (client) or a new request (server).

    ``tx`` is None for requests and responses that matched no transaction
    (ACKs for 2xx, stray 2xx retransmissions) that dialogs handle.
    """

    message: SipMessage
    tx: Transaction | None = attrs.field(default=None, eq=False)
    source: Any = None


@attrs.frozen
class TimedOut:
    """Timer B/F (client: no final response) or H (server: no ACK) fired."""

    tx: Transaction = attrs.field(eq=False)


@attrs.frozen
class TransportFailed:
    tx: Transaction = attrs.field(eq=False)


@attrs.frozen
class AckTimedOut:
    """Our 2xx to an INVITE was never acknowledged (Timer L): the UAS should send BYE."""

    tx: Transaction = attrs.field(eq=False)


@attrs.frozen
class CancelRequested:
    """A CANCEL matched this INVITE server transaction; the TU should answer it 487."""

    tx: Transaction = attrs.field(eq=False)
    cancel: Request


Action = Send | Deliver | TimedOut | TransportFailed | AckTimedOut | CancelRequested


def new_branch() -> str:
    return MAGIC_COOKIE + secrets.token_hex(8)


def _response_event(status: int, sending: bool) -> Ev:
    if status < 200:
        return E.SEND_1XX if sending else E.RECV_1XX
    if status < 300:
        return E.SEND_2XX if sending else E.RECV_2XX
    return E.SEND_ERR if sending else E.RECV_ERR


# --------------------------------------------------------------------------
# A transaction
# --------------------------------------------------------------------------
class Transaction:
    """One transaction. Created and driven by :class:`TransactionLayer`."""

    def __init__(
        self,
        kind: Kind,
        request: Request,
        dest: Any,
        reliable: bool,
        timers: Timers,
        key: Hashable,
    ) -> None:
        self.kind = kind
        self.request = request
        self.dest = dest
        self.reliable = reliable
        self.t = timers
        self.key = key
        self.state: State | None = None
        self.last_response: Response | None = None
        self.acked = False
        self.cancel_pending = False
        self.context: Any = None  # free for the TU (e.g. a trace or a waiter)
        self._timers: dict[str, tuple[float, float]] = {}  # name -> (deadline, interval)

    def __repr__(self) -> str:
        state = self.state.value if self.state else "new"
        return f"<Transaction {self.kind.value} {self.request.method} {state}>"

    @property
    def is_client(self) -> bool:
        return self.kind in (K.INVITE_CLIENT, K.NON_INVITE_CLIENT)

    @property
    def terminated(self) -> bool:
        return self.state is S.TERMINATED

    @property
    def branch(self) -> str | None:
        return self.request.via.branch

    # -- timers -------------------------------------------------------------
    def _duration(self, name: str) -> float | None:
        t, rel = self.t, self.reliable
        return {
            "A": None if rel else t.T1,
            "B": 64 * t.T1,
            "D": 0.0 if rel else t.D,
            "E": None if rel else t.T1,
            "F": 64 * t.T1,
            "G": None if rel else t.T1,
            "H": 64 * t.T1,
            "I": 0.0 if rel else t.T4,
            "J": 0.0 if rel else 64 * t.T1,
            "K": 0.0 if rel else t.T4,
            "L": 64 * t.T1,
            "M": 64 * t.T1,
        }[name]

    def get_timer(self) -> float | None:
        if not self._timers:
            return None
        return min(d for d, _ in self._timers.values())

    def timer(self, name: str) -> float | None:
        """The deadline of one timer, or None if it is not running."""
        entry = self._timers.get(name)
        return entry[0] if entry else None

    # -- the engine -----------------------------------------------------------
    def event(self, ev: Ev, now: float, message: SipMessage | None = None) -> list[Action]:
        try:
            new_state, actions = TRANSITIONS[(self.kind, self.state, ev)]
        except KeyError:
            if ev in NETWORK_EVENTS or self.state is S.TERMINATED:
                return []
            state = self.state.value if self.state else "new"
            raise TransactionError(
                f"can't handle {ev.value} in {self.kind.value} state {state}"
            ) from None
        self.state = new_state
        out: list[Action] = []
        for verb, arg in actions:
            self._run(verb, arg, now, message, out)
        if new_state is S.TERMINATED:
            self._timers.clear()
        else:
            out += self._fire_due(now)
        return out

    def handle_timer(self, now: float) -> list[Action]:
        return self._fire_due(now)

    def _fire_due(self, now: float) -> list[Action]:
        out: list[Action] = []
        while self._timers and not self.terminated:
            name, (deadline, _) = min(self._timers.items(), key=lambda kv: kv[1][0])
            if deadline > now:
                break
            ev = Ev[f"TIMER_{name}"]
            if (self.kind, self.state, ev) not in TRANSITIONS:
                del self._timers[name]
                continue
            # a timer that fired is no longer running unless its action restarts it
            if name not in ("A", "E", "G"):
                del self._timers[name]
            out += self.event(ev, deadline)
        return out

    def _run(
        self, verb: str, arg: str | None, now: float, message: SipMessage | None, out: list[Action]
    ) -> None:
        if verb == "send":
            if self.is_client:
                out.append(Send(self.request, self.dest, self))
            else:
                assert isinstance(message, Response)
                self.last_response = message
                out.append(Send(message, self.dest, self))
        elif verb == "resend":
            if self.is_client:
                out.append(Send(self.request, self.dest, self))
            elif self.last_response is not None:
                out.append(Send(self.last_response, self.dest, self))
        elif verb == "send_ack":
            assert isinstance(message, Response)
            out.append(Send(build_ack(self.request, message), self.dest, self))
        elif verb == "deliver":
            assert message is not None
            out.append(Deliver(message, self))
        elif verb == "deliver_ack":
            if not self.acked:
                self.acked = True
                assert message is not None
                out.append(Deliver(message, self))
        elif verb == "timeout":
            out.append(TimedOut(self))
        elif verb == "transport_error":
            out.append(TransportFailed(self))
        elif verb == "ack_timeout":
            if not self.acked:
                out.append(AckTimedOut(self))
        elif verb == "start":
            assert arg is not None
            d = self._duration(arg)
            if d is not None:
                self._timers[arg] = (now + d, d)
        elif verb == "backoff":
            assert arg is not None
            entry = self._timers.get(arg)
            if entry is not None:
                interval = entry[1] * 2
                if arg in ("E", "G"):
                    interval = min(interval, self.t.T2)
                self._timers[arg] = (now + interval, interval)
        elif verb == "t2":
            assert arg is not None
            if arg in self._timers:
                self._timers[arg] = (now + self.t.T2, self.t.T2)
        elif verb == "stop":
            assert arg is not None
            self._timers.pop(arg, None)
        else:  # pragma: no cover - table typo
            raise AssertionError(verb)


# --------------------------------------------------------------------------
# Requests the transaction layer builds itself
# --------------------------------------------------------------------------
def build_ack(invite: Request, response: Response) -> Request:
    """ACK for a non-2xx final response (RFC 3261 §17.1.1.3)."""
    ack = Request("ACK", invite.uri.copy())
    ack.add("Via", invite.get_all("Via")[0] if invite.get_all("Via") else "")
    for r in invite.get_all("Route"):
        ack.add("Route", r)
    ack.add("Max-Forwards", "70")
    ack.add("From", invite.get("From"))
    ack.add("To", response.get("To"))
    ack.add("Call-ID", invite.get("Call-ID"))
    ack.add("CSeq", CSeq(invite.cseq.seq, "ACK"))
    return ack


def build_cancel(invite: Request) -> Request:
    """CANCEL for a pending INVITE (RFC 3261 §9.1)."""
    cancel = Request("CANCEL", invite.uri.copy())
    cancel.add("Via", invite.get_all("Via")[0])
    for r in invite.get_all("Route"):
        cancel.add("Route", r)
    cancel.add("Max-Forwards", "70")
    for name in ("From", "To", "Call-ID"):
        cancel.add(name, invite.get(name))
    cancel.add("CSeq", CSeq(invite.cseq.seq, "CANCEL"))
    return cancel


# --------------------------------------------------------------------------
# The layer: matching, creation, one timer for all
# --------------------------------------------------------------------------
def client_key(msg: SipMessage) -> Hashable:
    """§17.1.3: top Via branch plus CSeq method."""
    return (msg.via.branch, msg.cseq.method)


def server_key(req: Request) -> Hashable:
    """§17.2.3 (branch with magic cookie), or the RFC 2543 fallback."""
    via = req.via
    method = "INVITE" if req.method == "ACK" else req.method
    branch = via.branch
    if branch and branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE):
        return ("3261", branch, via.sent_by.lower(), method)
    # RFC 2543: Request-URI, From tag, Call-ID, CSeq number, top Via; the
    # To tag is left out so that the ACK of a non-2xx matches its INVITE.
    return ("2543", str(req.uri), req.from_.tag, req.call_id, req.cseq.seq, str(via), method)


class TransactionLayer:
    """Every transaction of one SIP endpoint, sans-IO.

    - :meth:`send_request` starts a client transaction;
    - :meth:`receive` takes a parsed message with its source;
    - :meth:`respond` sends a response through a server transaction;
    - :meth:`cancel` cancels a pending INVITE;
    - :meth:`get_timer` / :meth:`handle_timer` run the clock.

    Every call returns the actions to carry out, in order.
    """

    def __init__(
        self,
        timers: Timers | None = None,
        *,
        auto_trying: bool = True,
        max_server_transactions: int = 20000,
    ) -> None:
        self.timers = timers or Timers()
        self.auto_trying = auto_trying
        self.max_server_transactions = max_server_transactions
        self.client: dict[Hashable, Transaction] = {}
        self.server: dict[Hashable, Transaction] = {}
        self._accepted_invites: dict[Hashable, Transaction] = {}
        self._heap: list[tuple[float, int, Transaction]] = []
        self._seq = itertools.count()

    # -- bookkeeping --------------------------------------------------------
    def _track(self, tx: Transaction) -> None:
        if tx.terminated:
            self._forget(tx)
            return
        if tx.kind is K.INVITE_SERVER and tx.state is S.ACCEPTED:
            self._accepted_invites[_dialog_ack_key(tx.request)] = tx
        deadline = tx.get_timer()
        if deadline is not None:
            heapq.heappush(self._heap, (deadline, next(self._seq), tx))

    def _forget(self, tx: Transaction) -> None:
        table = self.client if tx.is_client else self.server
        if table.get(tx.key) is tx:
            del table[tx.key]
        if tx.kind is K.INVITE_SERVER:
            k = _dialog_ack_key(tx.request)
            if self._accepted_invites.get(k) is tx:
                del self._accepted_invites[k]

    def _drive(
        self, tx: Transaction, ev: Ev, now: float, message: SipMessage | None = None
    ) -> list[Action]:
        actions = tx.event(ev, now, message)
        self._track(tx)
        return actions

    def get_timer(self) -> float | None:
        heap = self._heap
        while heap:
            deadline, _, tx = heap[0]
            if tx.terminated or tx.get_timer() != deadline:
                heapq.heappop(heap)
                continue
            return deadline
        return None

    def handle_timer(self, now: float) -> list[Action]:
        out: list[Action] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, tx = heapq.heappop(heap)
            if tx.terminated or tx.get_timer() != deadline:
                continue
            out += tx.handle_timer(now)
            self._track(tx)
        return out

    # -- client side ----------------------------------------------------------
    def send_request(
        self, request: Request, dest: Any, reliable: bool, now: float
    ) -> tuple[Transaction, list[Action]]:
        """Start a client transaction. The request must carry its Via with a branch."""
        if request.method == "ACK":
            raise TransactionError("ACK is not sent through a client transaction")
        kind = K.INVITE_CLIENT if request.method == "INVITE" else K.NON_INVITE_CLIENT
        key = client_key(request)
        if key in self.client:
            raise TransactionError(f"a client transaction with branch {key[0]} exists")
        tx = Transaction(kind, request, dest, reliable, self.timers, key)
        self.client[key] = tx
        return tx, self._drive(tx, E.START, now)

    def cancel(self, tx: Transaction, now: float) -> tuple[Transaction | None, list[Action]]:
        """Cancel a pending INVITE (§9.1): at once if a provisional came, else once it comes."""
        if tx.kind is not K.INVITE_CLIENT:
            raise TransactionError("only INVITE client transactions can be cancelled")
        if tx.state is S.CALLING:
            tx.cancel_pending = True
            return None, []
        if tx.state is not S.PROCEEDING:
            return None, []
        return self._send_cancel(tx, now)

    def _send_cancel(self, tx: Transaction, now: float) -> tuple[Transaction, list[Action]]:
        tx.cancel_pending = False
        cancel_tx, actions = self.send_request(build_cancel(tx.request), tx.dest, tx.reliable, now)
        cancel_tx.context = ("cancel-of", tx)
        return cancel_tx, actions + self._drive(tx, E.CANCEL_SENT, now)

    def transport_error(self, tx: Transaction, now: float) -> list[Action]:
        return self._drive(tx, E.TRANSPORT_ERROR, now)

    # -- incoming -------------------------------------------------------------
    def receive(
        self, message: Request | Response, source: Any, reliable: bool, now: float
    ) -> list[Action]:
        """Feed a parsed message. ``source`` is where responses to a request go."""
        if isinstance(message, Response):
            tx = self.client.get(client_key(message))
            if tx is None:
                return [Deliver(message, None, source)]
            was_calling = tx.state is S.CALLING
            out = self._drive(tx, _response_event(message.status, sending=False), now, message)
            if was_calling and tx.cancel_pending and tx.state is S.PROCEEDING:
                out += self._send_cancel(tx, now)[1]
            return out
        if message.method == "CANCEL":
            return self._receive_cancel(message, source, reliable, now)
        key = server_key(message)
        tx = self.server.get(key)
        if message.method == "ACK":
            if tx is not None and tx.kind is K.INVITE_SERVER:
                return self._drive(tx, E.RECV_ACK, now, message)
            accepted = self._accepted_invites.get(_dialog_ack_key(message))
            if accepted is not None:
                return self._drive(accepted, E.RECV_ACK, now, message)
            return [Deliver(message, None, source)]
        if tx is not None:
            return self._drive(tx, E.RECV_REQUEST, now, message)
        if len(self.server) >= self.max_server_transactions:
            resp = message.response(503, "Too Many Transactions")
            resp.add("Retry-After", "5")
            return [Send(resp, source, None)]
        kind = K.INVITE_SERVER if message.method == "INVITE" else K.NON_INVITE_SERVER
        tx = Transaction(kind, message, source, reliable, self.timers, key)
        self.server[key] = tx
        out: list[Action] = []
        if kind is K.INVITE_SERVER and self.auto_trying:
            out += self._drive(tx, E.START, now, message)
            out = self.respond(tx, message.response(100), now) + out
            return out
        return self._drive(tx, E.START, now, message)

    def _receive_cancel(
        self, cancel: Request, source: Any, reliable: bool, now: float
    ) -> list[Action]:
        key = server_key(cancel)
        tx = self.server.get(key)
        if tx is not None:  # retransmitted CANCEL
            return self._drive(tx, E.RECV_REQUEST, now, cancel)
        cancel_tx = Transaction(K.NON_INVITE_SERVER, cancel, source, reliable, self.timers, key)
        self.server[key] = cancel_tx
        out = self._drive(cancel_tx, E.START, now, cancel)
        out = [a for a in out if not isinstance(a, Deliver)]  # answered here, not by the TU
        invite_key = (*key[:-1], "INVITE")
        invite_tx = self.server.get(invite_key)
        if invite_tx is None or invite_tx.kind is not K.INVITE_SERVER:
            return out + self.respond(cancel_tx, cancel.response(481), now)
        out += self.respond(cancel_tx, cancel.response(200), now)
        if invite_tx.state is S.PROCEEDING:
            out.append(CancelRequested(invite_tx, cancel))
        return out

    def respond(self, tx: Transaction, response: Response, now: float) -> list[Action]:
        """Send ``response`` through server transaction ``tx``."""
        if tx.is_client:
            raise TransactionError("responses go through server transactions")
        return self._drive(tx, _response_event(response.status, sending=True), now, response)

    def find_server(self, request: Request) -> Transaction | None:
        return self.server.get(server_key(request))

    def __len__(self) -> int:
        return len(self.client) + len(self.server)


def _dialog_ack_key(req: Request) -> Hashable:
    # An ACK for a 2xx is its own transaction (new branch); it matches the
    # INVITE by Call-ID, From tag and CSeq number.
    return (req.call_id, req.from_.tag, req.cseq.seq)


__all__ = [
    "TRANSITIONS",
    "AckTimedOut",
    "Action",
    "CancelRequested",
    "Deliver",
    "Ev",
    "Kind",
    "Send",
    "State",
    "TimedOut",
    "Timers",
    "Transaction",
    "TransactionError",
    "TransactionLayer",
    "TransportFailed",
    "build_ack",
    "build_cancel",
    "diagram",
    "new_branch",
]
