"""SIP transports (RFC 3261 §18): where requests go, and the UDP, TCP and TLS I/O.

:class:`StreamTransports` is the half of :class:`~.stack.SipStack` that moves bytes: the UDP
receive loop, TCP/TLS connections (reused per destination, CRLF keep-alive on the ones we
opened, RFC 5626 §4.4.1), and framing of stream transports. The stack's UA core
(transactions, requests for users and dialogs) lives in :mod:`.stack`.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable

import attrs
import trio

from .errors import SipParseError, TransportError
from .message import KeepAlive, StreamFramer
from .transaction import Timers
from .uri import SipUri

log = logging.getLogger("wcs_trio.sip")

DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}


@attrs.frozen
class Target:
    """Where a request goes: transport, host (name or address) and port."""

    transport: str
    host: str
    port: int
    server_name: str | None = None  # TLS: the name the certificate must carry (default: host)

    def __attrs_post_init__(self) -> None:
        if self.transport not in ("udp", "tcp", "tls"):
            raise ValueError(f"unknown transport {self.transport!r}")

    @classmethod
    def from_uri(cls, uri: SipUri, default_transport: str = "udp") -> Target:
        transport = uri.transport or ("tls" if uri.scheme == "sips" else default_transport)
        host = uri.params.get("maddr") or uri.host
        return cls(transport, host.strip("[]"), uri.port or DEFAULT_PORTS[transport])


@attrs.frozen
class Dest:
    """A resolved destination the transaction layer hands back in Send actions."""

    transport: str
    addr: tuple[str, int]
    conn: Connection | None = attrs.field(default=None, eq=False)
    server_name: str | None = None


class Connection:
    """A TCP or TLS connection carrying SIP messages, ours or the peer's."""

    def __init__(
        self, transport: str, stream: trio.abc.Stream, remote: tuple[str, int], outbound: bool
    ) -> None:
        self.transport = transport
        self.stream = stream
        self.remote = remote
        self.outbound = outbound
        self.framer = StreamFramer()
        self.lock = trio.Lock()
        self.closed = False
        self.last_sent = trio.current_time()
        self.last_received = trio.current_time()

    async def send(self, data: bytes) -> None:
        if self.closed:
            raise TransportError(f"connection to {self.remote} is closed")
        async with self.lock:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                self.closed = True
                raise TransportError(f"send to {self.remote} failed: {exc}") from exc
        self.last_sent = trio.current_time()

    def __repr__(self) -> str:
        return f"<Connection {self.transport} {self.remote[0]}:{self.remote[1]}{' closed' if self.closed else ''}>"


class StreamTransports:
    """The I/O half of the SIP stack; mixed into :class:`~.stack.SipStack`."""

    # Provided by SipStack.
    connections: dict[tuple[str, str, int], Connection]
    connection_lost_callbacks: list[Callable[[Connection], None]]
    max_connections: int
    keepalive_interval: float | None
    timers: Timers
    stats: dict[str, int]
    _nursery: trio.Nursery | None
    _connect_locks: dict[tuple[str, str, int], trio.Lock]
    client_ssl_context: ssl.SSLContext
    _on_datagram: Callable[[bytes, str, tuple[str, int], Connection | None], Awaitable[None]]


    async def _udp_loop(self, sock: trio.socket.SocketType) -> None:
        while True:
            try:
                data, addr = await sock.recvfrom(65535)
            except OSError:
                continue
            if not data.strip(b"\r\n"):
                continue  # keep-alive
            try:
                await self._on_datagram(data, "udp", addr[:2], None)
            except Exception:
                self.stats["handler_errors"] += 1
                log.exception("error handling a UDP datagram from %s", addr)

    # ------------------------------------------------------------------ streams
    async def _serve_tcp(self, stream: trio.SocketStream) -> None:
        remote = stream.socket.getpeername()[:2]
        await self._run_connection(Connection("tcp", stream, remote, outbound=False))

    async def _serve_tls(self, stream: trio.SSLStream) -> None:
        remote = stream.transport_stream.socket.getpeername()[:2]
        try:
            await stream.do_handshake()
        except (trio.BrokenResourceError, ssl.SSLError, OSError):
            return
        await self._run_connection(Connection("tls", stream, remote, outbound=False))

    async def _connection_for(self, dest: Dest) -> Connection:
        """Reuse the open connection to ``dest`` or open one (one at a time per destination)."""
        key = (dest.transport, dest.addr[0], dest.addr[1])
        conn = self.connections.get(key)
        if conn is not None and not conn.closed:
            return conn
        lock = self._connect_locks.setdefault(key, trio.Lock())
        async with lock:
            conn = self.connections.get(key)
            if conn is not None and not conn.closed:
                return conn
            return await self._open_connection(dest, key)

    async def _open_connection(self, dest: Dest, key: tuple[str, str, int]) -> Connection:
        if len(self.connections) >= self.max_connections:
            raise TransportError("too many connections")
        try:
            with trio.fail_after(max(2.0, 16 * self.timers.T1)):
                tcp = await trio.open_tcp_stream(dest.addr[0], dest.addr[1])
                stream: trio.abc.Stream = tcp
                if dest.transport == "tls":
                    tls = trio.SSLStream(
                        tcp,
                        self.client_ssl_context,
                        server_hostname=dest.server_name or dest.addr[0],
                    )
                    await tls.do_handshake()
                    stream = tls
        except (OSError, trio.TooSlowError, trio.BrokenResourceError, ssl.SSLError) as exc:
            raise TransportError(
                f"{dest.transport} connection to {dest.addr} failed: {exc}"
            ) from exc
        conn = Connection(dest.transport, stream, dest.addr, outbound=True)
        self.connections[key] = conn
        assert self._nursery is not None
        self._nursery.start_soon(self._run_connection, conn)
        return conn

    async def _run_connection(self, conn: Connection) -> None:
        key = (conn.transport, conn.remote[0], conn.remote[1])
        if not conn.outbound:
            if len(self.connections) >= self.max_connections:
                await conn.stream.aclose()
                return
            self.connections[key] = conn
        try:
            async with trio.open_nursery() as nursery:
                if conn.outbound and self.keepalive_interval:
                    nursery.start_soon(self._keepalive, conn)
                await self._read_connection(conn)
                nursery.cancel_scope.cancel()
        finally:
            conn.closed = True
            if self.connections.get(key) is conn:
                del self.connections[key]
            with trio.CancelScope(shield=True):
                try:
                    await conn.stream.aclose()
                except Exception:
                    pass
            for cb in list(self.connection_lost_callbacks):
                try:
                    cb(conn)
                except Exception:
                    log.exception("connection-lost callback failed")

    async def _read_connection(self, conn: Connection) -> None:
        while True:
            try:
                data = await conn.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError, OSError):
                return
            if not data:
                return
            conn.last_received = trio.current_time()
            try:
                items = conn.framer.feed(data)
            except SipParseError:
                self.stats["parse_errors"] += 1
                return  # the stream cannot be resynchronised: close it
            for item in items:
                if isinstance(item, KeepAlive):
                    if item.ping:
                        try:
                            await conn.send(b"\r\n")
                        except TransportError:
                            return
                    continue
                try:
                    await self._on_datagram(item, conn.transport, conn.remote, conn)
                except Exception:
                    self.stats["handler_errors"] += 1
                    log.exception("error handling a message from %s", conn)

    async def _keepalive(self, conn: Connection) -> None:
        """RFC 5626 §4.4.1: a CRLF ping on idle connections we opened."""
        assert self.keepalive_interval is not None
        while not conn.closed:
            await trio.sleep(self.keepalive_interval)
            if trio.current_time() - conn.last_sent >= self.keepalive_interval * 0.9:
                try:
                    await conn.send(b"\r\n\r\n")
                except TransportError:
                    return
