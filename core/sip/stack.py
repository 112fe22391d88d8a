"""The trio side of the SIP user agent: sockets, connections, the clock (RFC 3261 §18).

:class:`SipStack` owns a UDP socket, a TCP listener and optionally a TLS
listener, the outgoing stream connections (reused per destination, kept alive
with CRLF pings), and one :class:`~.transaction.TransactionLayer`. Everything
protocol-shaped happens in the sans-IO cores; this module only moves bytes and
runs one timer task that sleeps until ``layer.get_timer()``.

Run it with ``stack = await nursery.start(SipStack(...).run)``.

Incoming requests the stack answers itself: OPTIONS (200 with Allow/Accept),
unknown methods (501), methods a UA does not serve (405), unknown users (404),
unknown URI schemes (416), unsupported extensions (420), requests outside any
dialog (481), malformed requests (400 naming the problem, or dropped). INVITEs
and other requests for a user added with :meth:`SipStack.add_user` go to that
user's handler as :class:`IncomingRequest`.
"""

from __future__ import annotations

import inspect
import logging
import math
import socket as _socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from .dialog import Dialog, new_tag
from .errors import SipParseError, TransportError
from .headers import Via, option_tags
from .message import (
    Request,
    Response,
    SipMessage,
    error_response,
    parse_message,
)
from .trace import MessageTrace
from .transaction import (
    AckTimedOut,
    Action,
    CancelRequested,
    Deliver,
    Kind,
    Send,
    TimedOut,
    Timers,
    Transaction,
    TransactionError,
    TransactionLayer,
    TransportFailed,
    new_branch,
)
from .transport import DEFAULT_PORTS, Connection, Dest, StreamTransports, Target
from .uri import NameAddr, SipUri

log = logging.getLogger("wcs_trio.sip")

#: RFC 3261 §18.1.1: requests larger than this go over a congestion-controlled transport.
UDP_MTU_LIMIT = 1300

ALLOWED_METHODS = (
    "INVITE",
    "ACK",
    "CANCEL",
    "BYE",
    "OPTIONS",
    "INFO",
    "UPDATE",
    "REFER",
    "NOTIFY",
    "MESSAGE",
    "PRACK",
)
#: Methods a user agent knows but does not serve (405 rather than 501).
NOT_ALLOWED_METHODS = ("REGISTER", "SUBSCRIBE", "PUBLISH")
SUPPORTED_EXTENSIONS = ("replaces", "norefersub", "outbound", "path")


@attrs.frozen
class RegisteredUser:
    handler: Any
    trace: MessageTrace | None


class IncomingRequest:
    """A request for one of our users, waiting for the user's answer."""

    def __init__(
        self, stack: SipStack, request: Request, tx: Transaction | None, source: Dest
    ) -> None:
        self.stack = stack
        self.request = request
        self.tx = tx
        self.source = source
        self.to_tag = new_tag()
        #: set when the caller CANCELled (the stack already answered 487)
        self.cancelled = trio.Event()
        #: set when our 2xx was never ACKed (Timer L)
        self.ack_timeout = trio.Event()
        #: the ACK for our 2xx, once it arrived
        self.ack: Request | None = None
        self.acked = trio.Event()

    def response(self, code: int, reason: str | None = None, **kw: Any) -> Response:
        return self.request.response(code, reason, to_tag=self.to_tag, **kw)

    async def respond(self, response: Response | int, reason: str | None = None, **kw: Any) -> bool:
        """Send a response; False when the transaction no longer accepts one."""
        if isinstance(response, int):
            response = self.response(response, reason, **kw)
        return await self.stack.respond(self, response)

    def __repr__(self) -> str:
        return f"<IncomingRequest {self.request.method} {self.request.uri}>"


class OutgoingRequest:
    """A request in flight: provisional responses arrive on ``provisional``; ``final`` at the end."""

    def __init__(
        self, stack: SipStack, request: Request, target: Target, trace: MessageTrace | None
    ) -> None:
        self.stack = stack
        self.request = request
        self.target = target
        self.trace = trace
        self.tx: Transaction | None = None
        self.final: Response | None = None
        self.done = trio.Event()
        self.on_provisional: Callable[[Response], None] | None = None
        self.ack: Request | None = None  # for INVITE: our ACK, re-sent on 2xx retransmissions
        self.size_upgraded = False

    async def wait(self) -> Response:
        await self.done.wait()
        assert self.final is not None
        return self.final

    async def cancel(self) -> None:
        await self.stack.cancel(self)


Handler = Callable[[IncomingRequest], Awaitable[None] | None]


class SipStack(StreamTransports):
    """One SIP endpoint on trio: sockets, connections, transactions, incoming requests.

    Parameters are explicit (the gateway's config maps onto them):

    - ``listen_host``: the address to bind; ``public_host``: what goes in Via
      and Contact (default: ``listen_host``, or the local address facing the
      peer when binding to a wildcard);
    - ``udp_port``, ``tcp_port``, ``tls_port``: ports to listen on (0 picks a
      free one, None disables that listener; outgoing TLS works without one);
    - ``tls_certfile``/``tls_keyfile``: our certificate when listening on TLS;
    - ``ca_file``: extra trusted CA file for outgoing TLS, on top of the
      system store; ``tls_verify=False`` disables verification (tests only);
    - ``timers``: T1/T2/T4; ``keepalive_interval``: CRLF pings on our
      outgoing stream connections (None: never);
    - ``trace_size``: length of the stack-wide trace (per-user traces are
      given to :meth:`add_user` and :meth:`request`);
    - ``intercept``: a handler that takes every new request instead of the
      UA core (a registrar or proxy in tests and benchmarks).
    """

    def __init__(
        self,
        listen_host: str = "127.0.0.1",
        udp_port: int | None = 0,
        tcp_port: int | None = 0,
        tls_port: int | None = None,
        *,
        public_host: str | None = None,
        tls_certfile: str | None = None,
        tls_keyfile: str | None = None,
        ca_file: str | None = None,
        tls_verify: bool = True,
        timers: Timers | None = None,
        keepalive_interval: float | None = 30.0,
        trace_size: int = 500,
        user_agent: str = "wcs-trio",
        max_connections: int = 2000,
        intercept: Handler | None = None,
    ) -> None:
        self.listen_host = listen_host
        self.public_host = public_host
        self._want_ports = {"udp": udp_port, "tcp": tcp_port, "tls": tls_port}
        self.ports: dict[str, int] = {}
        self.tls_certfile = tls_certfile
        self.tls_keyfile = tls_keyfile
        self.ca_file = ca_file
        self.tls_verify = tls_verify
        self.timers = timers or Timers()
        self.keepalive_interval = keepalive_interval
        self.user_agent = user_agent
        self.max_connections = max_connections
        #: if set, every new request (but ACK/CANCEL) goes here instead of the UA core
        self.intercept = intercept
        self.layer = TransactionLayer(self.timers)
        self.trace = MessageTrace(trace_size)
        self.users: dict[str, RegisteredUser] = {}
        self.user_matchers: list[Callable[[str], Handler | None]] = []
        self.dialog_handlers: dict[tuple[str, str, str], Handler] = {}
        self.connections: dict[tuple[str, str, int], Connection] = {}
        self.connection_lost_callbacks: list[Callable[[Connection], None]] = []
        self.stats = {
            "received": 0,
            "sent": 0,
            "parse_errors": 0,
            "dropped": 0,
            "handler_errors": 0,
        }
        self._udp: trio.socket.SocketType | None = None
        self._nursery: trio.Nursery | None = None
        self._wake = trio.Event()
        self._client_ssl: ssl.SSLContext | None = None
        self._pending_invite_acks: dict[tuple[str, str | None, int], OutgoingRequest] = {}
        self._incoming: dict[int, IncomingRequest] = {}
        self._connect_locks: dict[tuple[str, str, int], trio.Lock] = {}

    # ------------------------------------------------------------------ lifecycle
    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if self._want_ports["udp"] is not None:
                sock = trio.socket.socket(_family(self.listen_host), _socket.SOCK_DGRAM)
                await sock.bind((self.listen_host, self._want_ports["udp"]))
                self._udp = sock
                self.ports["udp"] = sock.getsockname()[1]
                nursery.start_soon(self._udp_loop, sock)
            if self._want_ports["tcp"] is not None:
                listeners = await trio.open_tcp_listeners(
                    self._want_ports["tcp"], host=self.listen_host
                )
                self.ports["tcp"] = listeners[0].socket.getsockname()[1]
                nursery.start_soon(trio.serve_listeners, self._serve_tcp, listeners)
            if self._want_ports["tls"] is not None:
                if not (self.tls_certfile and self.tls_keyfile):
                    raise ValueError("listening on TLS needs tls_certfile and tls_keyfile")
                ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                ctx.load_cert_chain(self.tls_certfile, self.tls_keyfile)
                tcp = await trio.open_tcp_listeners(self._want_ports["tls"], host=self.listen_host)
                self.ports["tls"] = tcp[0].socket.getsockname()[1]
                tls = [trio.SSLListener(lst, ctx, https_compatible=False) for lst in tcp]
                nursery.start_soon(trio.serve_listeners, self._serve_tls, tls)
            nursery.start_soon(self._timer_loop)
            task_status.started(self)

    def close(self) -> None:
        """Stop every task of the stack (sockets close with them)."""
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    @property
    def running(self) -> bool:
        """True while the stack's tasks run (not yet cancelled)."""
        return self._nursery is not None and not self._nursery.cancel_scope.cancel_called

    @property
    def client_ssl_context(self) -> ssl.SSLContext:
        """System trust store plus ``ca_file`` (RFC 3261 §26.3.1: verify the server)."""
        if self._client_ssl is None:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
            if self.ca_file:
                ctx.load_verify_locations(cafile=self.ca_file)
            if not self.tls_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._client_ssl = ctx
        return self._client_ssl

    # ------------------------------------------------------------------ users, dialogs
    def add_user(
        self,
        user: str,
        handler: Handler | trio.MemorySendChannel,
        trace: MessageTrace | None = None,
    ) -> None:
        """Deliver requests for ``user`` (the Request-URI user part) to ``handler``.

        ``handler`` is a function or coroutine function taking an
        :class:`IncomingRequest`, or a trio memory channel to send it on.
        Users not added here get 404.
        """
        self.users[user] = RegisteredUser(handler, trace)

    def add_user_matcher(self, matcher: Callable[[str], Handler | None]) -> None:
        """Serve a whole family of user parts (``tone-440``, ``tone-1000``...): ``matcher``
        returns the handler for a user part, or None. Users added by name come first."""
        self.user_matchers.append(matcher)

    def remove_user_matcher(self, matcher: Callable[[str], Handler | None]) -> None:
        if matcher in self.user_matchers:
            self.user_matchers.remove(matcher)

    def _user(self, user: str | None) -> RegisteredUser | None:
        if user is None:
            return None
        found = self.users.get(user)
        if found is None:
            for matcher in self.user_matchers:
                handler = matcher(user)
                if handler is not None:
                    return RegisteredUser(handler, None)
        return found

    def remove_user(self, user: str) -> None:
        self.users.pop(user, None)

    def add_dialog(self, dialog: Dialog, handler: Handler | trio.MemorySendChannel) -> None:
        self.dialog_handlers[dialog.id] = handler

    def remove_dialog(self, dialog: Dialog) -> None:
        self.dialog_handlers.pop(dialog.id, None)

    # ------------------------------------------------------------------ addresses
    def local_host_for(self, target: Target) -> str:
        if self.public_host:
            return self.public_host
        if self.listen_host not in ("0.0.0.0", "::", ""):
            return self.listen_host
        s = _socket.socket(_family(target.host), _socket.SOCK_DGRAM)
        try:
            s.connect((target.host, target.port))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"
        finally:
            s.close()

    def port_for(self, transport: str) -> int:
        if transport in self.ports:
            return self.ports[transport]
        if transport == "tls":  # not listening on TLS: advertise the TCP port
            return self.ports.get("tcp") or self.ports.get("udp") or 5061
        return self.ports.get("udp") or self.ports.get("tcp") or 5060

    def contact_for(self, user: str | None, target: Target) -> NameAddr:
        """Our Contact for requests to ``target`` (transport parameter unless UDP).

        ``user`` is a URI user part, already escaped (``SipAccount.user``).
        """
        host = self.local_host_for(target)
        uri = SipUri(
            _bracket(host),
            user,
            self.port_for(target.transport),
            {"transport": target.transport} if target.transport != "udp" else None,
        )
        return NameAddr(uri)

    # ------------------------------------------------------------------ sending requests
    def _prepare(self, request: Request, target: Target) -> Target:
        """Add Via and the mandatory fields; pick TCP for large UDP requests (§18.1.1)."""
        transport = target.transport
        via = Via(
            transport,
            _bracket(self.local_host_for(target)),
            self.port_for(transport),
            {"branch": new_branch(), "rport": None},
        )
        request.remove("Via")
        request.add("Via", via, first=True)
        if "Max-Forwards" not in request:
            request.add("Max-Forwards", "70")
        if "User-Agent" not in request:
            request.add("User-Agent", self.user_agent)
        if transport == "udp" and len(bytes(request)) > UDP_MTU_LIMIT:
            via = Via("tcp", via.host, self.port_for("tcp"), via.params)
            request.set_vias([via])
            return attrs.evolve(target, transport="tcp")
        return target

    async def start_request(
        self,
        request: Request,
        target: Target,
        *,
        trace: MessageTrace | None = None,
        on_provisional: Callable[[Response], None] | None = None,
    ) -> OutgoingRequest:
        """Send ``request`` through a new client transaction; returns at once."""
        out = OutgoingRequest(self, request, target, trace)
        out.on_provisional = on_provisional
        await self._start(out)
        return out

    async def _start(self, out: OutgoingRequest) -> None:
        target = self._prepare(out.request, out.target)
        out.size_upgraded = target.transport != out.target.transport
        dest = await self._resolve(target)
        tx, actions = self.layer.send_request(
            out.request, dest, target.transport != "udp", trio.current_time()
        )
        tx.context = out
        out.tx = tx
        self._kick()
        await self._execute(actions)

    async def request(
        self,
        request: Request,
        target: Target,
        *,
        trace: MessageTrace | None = None,
        on_provisional: Callable[[Response], None] | None = None,
    ) -> Response:
        """Send ``request`` and wait for its final response.

        Timeouts and transport failures come back as synthesized 408 and 503
        responses (RFC 3261 §8.1.3.1), so callers only deal with responses.
        """
        out = await self.start_request(request, target, trace=trace, on_provisional=on_provisional)
        return await out.wait()

    async def cancel(self, out: OutgoingRequest) -> None:
        if out.tx is None:
            return
        _, actions = self.layer.cancel(out.tx, trio.current_time())
        self._kick()
        await self._execute(actions)

    async def send_ack(self, out: OutgoingRequest, ack: Request) -> None:
        """Send the ACK for a 2xx to ``out`` (an INVITE); re-sent if the 2xx is retransmitted."""
        top = out.request.via
        via = Via(top.transport, top.host, top.port, {"branch": new_branch(), "rport": None})
        ack.remove("Via")
        ack.add("Via", via, first=True)
        out.ack = ack
        dest = out.tx.dest if out.tx else await self._resolve(out.target)
        self._pending_invite_acks[(ack.call_id, ack.from_.tag, ack.cseq.seq)] = out
        await self._send(ack, dest, None, out.trace)

    async def send_stateless(self, message: SipMessage, target: Target) -> None:
        """Send without a transaction (e.g. an ACK for 2xx outside a dialog object)."""
        await self._send(message, await self._resolve(target), None, None)

    async def _resolve(self, target: Target) -> Dest:
        host = target.host
        try:
            infos = await trio.socket.getaddrinfo(host, target.port, type=_socket.SOCK_DGRAM)
            addr = infos[0][4][0]
        except OSError as exc:
            raise TransportError(f"cannot resolve {host}: {exc}") from exc
        return Dest(target.transport, (addr, target.port), None, target.server_name or target.host)

    # ------------------------------------------------------------------ responding
    async def respond(self, incoming: IncomingRequest, response: Response) -> bool:
        if incoming.tx is None:
            await self._send(response, incoming.source, None, self._trace_for(incoming.request))
            return True
        try:
            actions = self.layer.respond(incoming.tx, response, trio.current_time())
        except TransactionError:
            return False
        if response.status >= 200 and incoming.tx.kind is Kind.INVITE_SERVER:
            self._incoming[id(incoming.tx)] = incoming
        self._kick()
        await self._execute(actions)
        return True

    async def _reply(
        self, request: Request, tx: Transaction | None, source: Dest, response: Response
    ) -> None:
        if tx is None:
            await self._send(response, source, None, None)
            return
        try:
            actions = self.layer.respond(tx, response, trio.current_time())
        except TransactionError:
            return
        self._kick()
        await self._execute(actions)

    # ------------------------------------------------------------------ actions
    async def _execute(self, actions: list[Action]) -> None:
        for action in actions:
            try:
                if isinstance(action, Send):
                    await self._send_action(action)
                elif isinstance(action, Deliver):
                    await self._deliver(action)
                elif isinstance(action, TimedOut):
                    self._finish_client(action.tx, 408, "Request Timeout")
                elif isinstance(action, TransportFailed):
                    await self._transport_failed(action.tx)
                elif isinstance(action, CancelRequested):
                    await self._cancelled(action)
                elif isinstance(action, AckTimedOut):
                    inc = self._incoming.pop(id(action.tx), None)
                    if inc is not None:
                        inc.ack_timeout.set()
            except Exception:
                self.stats["handler_errors"] += 1
                log.exception("SIP action %r failed", action)

    async def _send_action(self, action: Send) -> None:
        trace = None
        tx = action.tx
        if tx is not None:
            ctx = tx.context
            if isinstance(ctx, OutgoingRequest):
                trace = ctx.trace
            elif isinstance(ctx, tuple) and ctx and ctx[0] == "cancel-of":
                inner = ctx[1].context
                trace = inner.trace if isinstance(inner, OutgoingRequest) else None
            else:
                trace = self._trace_for(tx.request)
        try:
            await self._send(action.message, action.dest, tx, trace)
        except TransportError as exc:
            log.info("SIP send failed: %s", exc)
            if tx is not None and not tx.terminated:
                actions = self.layer.transport_error(tx, trio.current_time())
                self._kick()
                await self._execute(actions)

    async def _send(
        self, message: SipMessage, dest: Dest, tx: Transaction | None, trace: MessageTrace | None
    ) -> None:
        data = bytes(message)
        if dest.transport == "udp":
            if self._udp is None:
                raise TransportError("no UDP socket")
            try:
                await self._udp.sendto(data, dest.addr)
            except OSError as exc:
                raise TransportError(f"UDP send to {dest.addr} failed: {exc}") from exc
        else:
            conn = dest.conn
            if conn is None or conn.closed:
                conn = await self._connection_for(dest)
            await conn.send(data)
        self.stats["sent"] += 1
        self._record("out", dest.transport, dest.addr, data, trace)

    def _record(
        self,
        direction: str,
        transport: str,
        addr: tuple[str, int],
        data: bytes,
        trace: MessageTrace | None,
    ) -> None:
        now = trio.current_time()
        remote = f"{addr[0]}:{addr[1]}"
        self.trace.record(now, direction, transport, remote, data)
        if trace is not None:
            trace.record(now, direction, transport, remote, data)

    def _trace_for(self, request: Request) -> MessageTrace | None:
        uri = request.uri
        if isinstance(uri, SipUri) and uri.user is not None:
            reg = self.users.get(uri.user_decoded or "")
            if reg is not None:
                return reg.trace
        return None

    def _finish_client(self, tx: Transaction, status: int, reason: str) -> None:
        out = tx.context
        if isinstance(out, OutgoingRequest) and not out.done.is_set():
            resp = tx.request.response(status, reason)
            out.final = resp
            out.done.set()

    async def _transport_failed(self, tx: Transaction) -> None:
        out = tx.context
        if isinstance(out, OutgoingRequest) and out.size_upgraded and not out.done.is_set():
            # §18.1.1: TCP was only chosen for size; the peer refused it, so use UDP.
            log.info("TCP refused for a large request; retrying over UDP")
            out.size_upgraded = False
            req = out.request
            req.remove("Via")
            try:
                dest = await self._resolve(out.target)
                via = Via(
                    "udp",
                    _bracket(self.local_host_for(out.target)),
                    self.port_for("udp"),
                    {"branch": new_branch(), "rport": None},
                )
                req.add("Via", via, first=True)
                new_tx, actions = self.layer.send_request(req, dest, False, trio.current_time())
            except (TransportError, TransactionError):
                self._finish_client(tx, 503, "Service Unavailable (transport error)")
                return
            new_tx.context = out
            out.tx = new_tx
            self._kick()
            await self._execute(actions)
            return
        self._finish_client(tx, 503, "Service Unavailable (transport error)")

    async def _cancelled(self, action: CancelRequested) -> None:
        tx = action.tx
        inc = self._incoming_for_tx(tx)
        await self._reply(
            tx.request,
            tx,
            tx.dest,
            tx.request.response(487, to_tag=inc.to_tag if inc else new_tag()),
        )
        if inc is not None:
            inc.cancelled.set()

    def _incoming_for_tx(self, tx: Transaction) -> IncomingRequest | None:
        ctx = tx.context
        return ctx if isinstance(ctx, IncomingRequest) else None

    # ------------------------------------------------------------------ delivery
    async def _deliver(self, action: Deliver) -> None:
        msg = action.message
        tx = action.tx
        if isinstance(msg, Response):
            if tx is None:
                await self._stray_response(msg)
                return
            out = tx.context
            if not isinstance(out, OutgoingRequest):
                return
            if msg.status < 200:
                if out.on_provisional is not None:
                    try:
                        out.on_provisional(msg)
                    except Exception:
                        log.exception("provisional response callback failed")
                return
            if out.done.is_set():
                # a retransmitted 2xx to our INVITE: ACK it again
                if out.ack is not None:
                    await self._send(out.ack, tx.dest, None, out.trace)
                return
            out.final = msg
            out.done.set()
            return
        assert isinstance(msg, Request)
        if tx is None:
            await self._stray_request(msg, action.source)
            return
        if msg.method == "ACK":
            inc = self._incoming.pop(id(tx), None)
            if inc is not None:
                inc.ack = msg
                inc.acked.set()
            return
        await self._on_request(msg, tx, tx.dest)

    async def _stray_response(self, resp: Response) -> None:
        # A 2xx retransmission after our transaction ended: re-send our ACK.
        try:
            key = (resp.call_id, resp.from_.tag, resp.cseq.seq)
        except SipParseError:
            return
        out = self._pending_invite_acks.get(key)
        if (
            out is not None
            and out.ack is not None
            and 200 <= resp.status < 300
            and resp.cseq.method == "INVITE"
        ):
            dest = out.tx.dest if out.tx else await self._resolve(out.target)
            await self._send(out.ack, dest, None, out.trace)

    async def _stray_request(self, req: Request, source: Dest) -> None:
        if req.method == "ACK":
            handler = self.dialog_handlers.get(Dialog.id_of_request(req))  # type: ignore[arg-type]
            if handler is not None:
                await self._call(handler, IncomingRequest(self, req, None, source))
            return

    async def _on_request(self, req: Request, tx: Transaction, source: Dest) -> None:
        """The UA core's first look at a new request (RFC 3261 §8.2)."""
        method = req.method
        uri = req.uri
        if self.intercept is not None:
            inc = IncomingRequest(self, req, tx, source)
            tx.context = inc
            return await self._call(self.intercept, inc)
        if uri.scheme not in ("sip", "sips"):
            resp = req.response(416, to_tag=new_tag())
            return await self._reply(req, tx, source, resp)
        if method not in ALLOWED_METHODS:
            status = 405 if method in NOT_ALLOWED_METHODS else 501
            resp = req.response(
                status, to_tag=new_tag(), headers=[("Allow", ", ".join(ALLOWED_METHODS))]
            )
            return await self._reply(req, tx, source, resp)
        required = option_tags(req.values("Require"))
        unsupported = [t for t in required if t.lower() not in SUPPORTED_EXTENSIONS]
        if unsupported and method not in ("ACK", "CANCEL"):
            resp = req.response(
                420, to_tag=new_tag(), headers=[("Unsupported", ", ".join(unsupported))]
            )
            return await self._reply(req, tx, source, resp)
        if req.to.tag is not None:
            handler = self.dialog_handlers.get(Dialog.id_of_request(req))  # type: ignore[arg-type]
            if handler is None:
                return await self._reply(req, tx, source, req.response(481))
            inc = IncomingRequest(self, req, tx, source)
            inc.to_tag = req.to.tag
            tx.context = inc
            return await self._call(handler, inc)
        user = uri.user_decoded if isinstance(uri, SipUri) else None
        reg = self._user(user)
        if method == "OPTIONS":
            if user is not None and reg is None:
                return await self._reply(req, tx, source, req.response(404, to_tag=new_tag()))
            return await self._reply(req, tx, source, self._options_response(req))
        if method in ("BYE", "INFO", "UPDATE", "PRACK", "NOTIFY"):
            return await self._reply(req, tx, source, req.response(481, to_tag=new_tag()))
        if reg is None:
            return await self._reply(req, tx, source, req.response(404, to_tag=new_tag()))
        ctype = req.content_type
        if method == "INVITE" and req.body and ctype not in ("application/sdp", "multipart/mixed"):
            resp = req.response(415, to_tag=new_tag(), headers=[("Accept", "application/sdp")])
            return await self._reply(req, tx, source, resp)
        inc = IncomingRequest(self, req, tx, source)
        tx.context = inc
        await self._call(reg.handler, inc)

    def _options_response(self, req: Request) -> Response:
        return req.response(
            200,
            to_tag=new_tag(),
            headers=[
                ("Allow", ", ".join(ALLOWED_METHODS)),
                ("Accept", "application/sdp"),
                ("Accept-Encoding", "identity"),
                ("Accept-Language", "en"),
                ("Supported", ", ".join(SUPPORTED_EXTENSIONS)),
                ("User-Agent", self.user_agent),
            ],
        )

    async def _call(self, handler: Any, inc: IncomingRequest) -> None:
        if isinstance(handler, trio.MemorySendChannel):
            try:
                handler.send_nowait(inc)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                if inc.tx is not None and inc.request.method != "ACK":
                    await inc.respond(486 if inc.request.method == "INVITE" else 503)
            return
        if inspect.iscoroutinefunction(handler):
            assert self._nursery is not None
            self._nursery.start_soon(self._run_handler, handler, inc)
            return
        try:
            handler(inc)
        except Exception:
            self.stats["handler_errors"] += 1
            log.exception("SIP request handler failed")

    async def _run_handler(self, handler: Any, inc: IncomingRequest) -> None:
        try:
            await handler(inc)
        except Exception:
            self.stats["handler_errors"] += 1
            log.exception("SIP request handler failed")
            if inc.tx is not None and inc.request.method != "ACK":
                await inc.respond(500)

    # ------------------------------------------------------------------ receiving
    async def _on_datagram(
        self, data: bytes, transport: str, addr: tuple[str, int], conn: Connection | None
    ) -> None:
        self.stats["received"] += 1
        source = Dest(transport, addr, conn)
        try:
            msg = parse_message(data, datagram=conn is None)
        except SipParseError as exc:
            self.stats["parse_errors"] += 1
            self._record("in", transport, addr, data, None)
            resp = error_response(exc, to_tag=new_tag())
            if resp is None:
                self.stats["dropped"] += 1
                return
            # The Via may be the broken part: answer where the request came from.
            reply_to = source
            try:
                await self._send(resp, reply_to, None, None)
            except TransportError:
                pass
            return
        trace: MessageTrace | None = None
        if isinstance(msg, Request):
            self._fix_via(msg, addr)
            source = _response_dest(msg, source)
            trace = self._trace_for(msg)
        else:
            tx = self.layer.client.get(_safe_client_key(msg))
            if tx is not None and isinstance(tx.context, OutgoingRequest):
                trace = tx.context.trace
        self._record("in", transport, addr, data, trace)
        actions = self.layer.receive(msg, source, transport != "udp", trio.current_time())
        self._kick()
        await self._execute(actions)

    @staticmethod
    def _fix_via(req: Request, addr: tuple[str, int]) -> None:
        """§18.2.1 received, RFC 3581 rport."""
        via = req.via
        changed = False
        if via.host.strip("[]") != addr[0]:
            via.params["received"] = addr[0]
            changed = True
        if via.has_rport:
            via.params["received"] = addr[0]
            via.params["rport"] = str(addr[1])
            changed = True
        if changed:
            req.set_vias([via, *req.vias[1:]])

    # ------------------------------------------------------------------ the clock
    def _kick(self) -> None:
        self._wake.set()

    async def _timer_loop(self) -> None:
        while True:
            deadline = self.layer.get_timer()
            with trio.move_on_at(deadline if deadline is not None else math.inf):
                await self._wake.wait()
            self._wake = trio.Event()
            actions = self.layer.handle_timer(trio.current_time())
            if actions:
                await self._execute(actions)


def _response_dest(msg: SipMessage, source: Dest) -> Dest:
    """Where responses to a request from ``source`` go (§18.2.2, RFC 3581 §4)."""
    if source.conn is not None:
        return source
    try:
        via = msg.via
    except SipParseError:
        return source
    if via.has_rport:
        return source
    # "received" is the source address whenever it differs from sent-by
    port = via.port or DEFAULT_PORTS.get(via.transport.lower(), 5060)
    return Dest(source.transport, (source.addr[0], port), None)


def _safe_client_key(msg: Response) -> Any:
    try:
        return (msg.via.branch, msg.cseq.method)
    except SipParseError:
        return None


def _family(host: str) -> int:
    return _socket.AF_INET6 if ":" in host else _socket.AF_INET


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


__all__ = [
    "ALLOWED_METHODS",
    "UDP_MTU_LIMIT",
    "Connection",
    "Dest",
    "IncomingRequest",
    "OutgoingRequest",
    "SipStack",
    "Target",
]
