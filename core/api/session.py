"""Browser sessions: the server side of one SDK ``createSession``.

A :class:`ClientSession` outlives its WebSocket when the SDK asked for ``keepAlive``:
the socket may drop (a phone puts the page in the background) and the page reconnects
with its ``authToken``; the session, its registration and its calls carry on until
``client_timeout``. Every session runs in its own nursery inside the
:class:`SessionManager`'s, so stopping the server or closing a session ends everything
the session started.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from wcs_trio.core import logs
from wcs_trio.core.api.protocol import Message, ProtocolError, encode
from wcs_trio.core.state.components import SessionInfo
from wcs_trio.core.state.world import EntityId

if TYPE_CHECKING:
    from wcs_trio.core.gateway import Gateway

log = logging.getLogger("wcs_trio.api")

Handler = Callable[["ClientSession", Message], Awaitable[None]]


@attrs.define(eq=False)
class ClientSession:
    gateway: Gateway
    session_id: str
    auth_token: str
    entity: EntityId
    keep_alive: bool
    connection: dict[str, Any]
    _socket: WebSocketConnection | None = None
    _send_lock: trio.Lock = attrs.field(factory=trio.Lock)
    _nursery: trio.Nursery | None = None
    _done: trio.Event = attrs.field(factory=trio.Event)
    # Set once the page has its getUserData on the current socket; a new Event while detached.
    _ready: trio.Event = attrs.field(factory=trio.Event)
    closed: bool = False
    # Free for the systems that serve this session (registration, calls) to keep their handles.
    extensions: dict[str, Any] = attrs.field(factory=dict)

    @property
    def info(self) -> SessionInfo:
        return self.gateway.world.get(self.entity, SessionInfo)

    @property
    def nursery(self) -> trio.Nursery:
        """The session's own nursery: tasks started here end with the session."""
        assert self._nursery is not None, "session is not running"
        return self._nursery

    @property
    def attached(self) -> bool:
        return self._socket is not None

    async def send(self, name: str, *data: Any) -> bool:
        """Send a message to the page; ``False`` when no WebSocket is attached or it failed."""
        socket = self._socket
        if socket is None:
            return False
        frame = encode(name, *data)
        try:
            async with self._send_lock:
                await socket.send_message(frame)
        except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    async def fail(self, error: ProtocolError) -> None:
        log.info("refused %s: %s", error.api_method or "frame", error.info)
        await self.send("fail", error.as_fail())

    def set_status(self, status: str) -> None:
        self.info.status = status

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        token = logs.session_id.set(self.session_id)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                nursery.start_soon(self._expire_when_detached)
                await self._done.wait()
                nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            self.closed = True
            self.gateway.sessions.forget(self)
            logs.session_id.reset(token)

    async def _expire_when_detached(self) -> None:
        """End a detached keepAlive session once it has been away for ``client_timeout``."""
        settings = self.gateway.settings
        while True:
            await trio.sleep(settings.client_timeout_check_interval / 1000)
            since = self.info.detached_since
            if since is not None and trio.current_time() - since >= settings.client_timeout / 1000:
                log.info("keepAlive session expired after client_timeout")
                await self.close("client timeout")
                return

    def attach(self, socket: WebSocketConnection) -> None:
        self._socket = socket
        self.info.detached_since = None

    def mark_ready(self) -> None:
        """The page on the current socket knows the session (getUserData sent)."""
        self._ready.set()

    async def wait_ready(self) -> None:
        """Until a page is attached and knows the session (a keepAlive page may be away)."""
        await self._ready.wait()

    async def detach(self, socket: WebSocketConnection, reason: str) -> None:
        """The WebSocket went away: keep a keepAlive session, close any other."""
        if self._socket is not socket:
            return  # a newer socket took over already
        self._socket = None
        self._ready = trio.Event()
        if self.keep_alive and not self.closed:
            self.info.detached_since = trio.current_time()
            self.set_status("DISCONNECTED")
            log.info("WebSocket lost (%s); keepAlive session kept", reason)
        else:
            await self.close(reason)

    async def close(self, reason: str) -> None:
        """End the session: its calls and registration are closed by the hooks' systems."""
        if self._done.is_set():
            return
        log.info("session closing: %s", reason)
        self.set_status("DISCONNECTED")
        for closer in list(self.gateway.session_closers):
            with trio.move_on_after(1.5) as scope:
                scope.shield = True
                try:
                    await closer(self, reason)
                except Exception:
                    log.exception("session close step failed")
        self.gateway.plugins.hook.wcs_session_closed(session_id=self.session_id, reason=reason)
        socket = self._socket
        self._socket = None
        if socket is not None:
            with trio.move_on_after(0.5) as scope:
                scope.shield = True
                try:
                    await socket.aclose(code=1000, reason=reason[:100])
                except Exception:  # the peer may have vanished; nothing left to tell it
                    pass
        self.gateway.world.destroy(self.entity)
        self._done.set()


@attrs.define(eq=False)
class SessionManager:
    """Every live session, by id and by auth token; owns the nursery sessions run in."""

    gateway: Gateway
    by_id: dict[str, ClientSession] = attrs.field(factory=dict)
    by_token: dict[str, ClientSession] = attrs.field(factory=dict)
    _nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def resume(self, auth_token: str | None) -> ClientSession | None:
        if not auth_token:
            return None
        session = self.by_token.get(auth_token)
        return session if session is not None and not session.closed else None

    async def open(self, remote: str, connection: dict[str, Any]) -> ClientSession:
        assert self._nursery is not None, "session manager is not running"
        world = self.gateway.world
        session_id = uuid.uuid4().hex
        info = SessionInfo(
            session_id=session_id,
            remote=remote,
            app_key=connection.get("appKey") or "defaultApp",
            keep_alive=bool(connection.get("keepAlive")),
            auth_token=secrets.token_urlsafe(24),
            created_at=trio.current_time(),
        )
        entity = world.create(info)
        session = ClientSession(
            gateway=self.gateway,
            session_id=session_id,
            auth_token=info.auth_token,
            entity=entity,
            keep_alive=info.keep_alive,
            connection=connection,
        )
        self.by_id[session_id] = session
        self.by_token[session.auth_token] = session
        await self._nursery.start(self._guarded, session)
        return session

    async def _guarded(self, session: ClientSession, *,
                       task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """A bug in one session ends that session, never the server or the other sessions."""
        try:
            await session.run(task_status=task_status)
        except Exception:
            log.exception("session %s failed; closing it", session.session_id)
            with trio.CancelScope(shield=True), trio.move_on_after(1.5):
                session.closed = True
                self.forget(session)
                self.gateway.world.destroy(session.entity)

    def forget(self, session: ClientSession) -> None:
        self.by_id.pop(session.session_id, None)
        self.by_token.pop(session.auth_token, None)

    async def close_all(self, reason: str) -> None:
        async with trio.open_nursery() as nursery:
            for session in list(self.by_id.values()):
                nursery.start_soon(session.close, reason)
