"""The SDK's WebSocket endpoint: handshake, keep-alive, and message dispatch.

One task per WebSocket reads frames and hands validated messages to the handlers the
gateway registered (``gateway.handlers``). A bad frame is answered with ``fail`` and
reading goes on; nothing a client sends can end another session or the server.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attrs
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest

from wcs_trio.core import logs
from wcs_trio.core.api.protocol import (
    IGNORED,
    PROTOCOL_VERSION,
    Message,
    ProtocolError,
    decode,
    encode,
)
from wcs_trio.core.api.session import ClientSession

if TYPE_CHECKING:
    from wcs_trio.core.gateway import Gateway

log = logging.getLogger("wcs_trio.api")

HANDSHAKE_TIMEOUT = 10.0
# The password never goes back to the page, nor into logs.
_PRIVATE_FIELDS = frozenset({"sipPassword"})


@attrs.define
class RateLimit:
    """A token bucket: ``rate`` messages a second, bursts up to twice that."""

    rate: float
    tokens: float = 0.0
    stamp: float = 0.0

    def allow(self, now: float) -> bool:
        capacity = 2 * self.rate
        self.tokens = min(capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def public_connection(connection: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in connection.items() if k not in _PRIVATE_FIELDS}


async def handle_request(gateway: Gateway, request: WebSocketRequest) -> None:
    try:
        socket = await request.accept()
    except (ConnectionClosed, trio.BrokenResourceError):
        return
    peer = socket.remote
    remote = f"{peer.address}:{peer.port}" if hasattr(peer, "address") else str(peer)
    try:
        await _serve_socket(gateway, socket, remote)
    except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def _first_message(socket: WebSocketConnection) -> Message | None:
    """Wait for ``connection``. A bad frame before it gets ``fail``; a bad ``connection`` ends the socket."""
    with trio.move_on_after(HANDSHAKE_TIMEOUT):
        while True:
            frame = await socket.get_message()
            try:
                message = decode(frame)
            except ProtocolError as error:
                await socket.send_message(_fail_frame(error))
                if error.api_method == "connection":
                    # PROTOCOL.md 4.1: never leave a session half-open.
                    await socket.aclose(code=1000, reason="invalid connection")
                    return None
                continue
            if message.name == "connection":
                return message
            if message.name in ("ping", "pong"):
                continue
            await socket.send_message(_fail_frame(ProtocolError(
                "send 'connection' first", field="message", api_method=message.name)))
    await socket.aclose(code=1008, reason="no connection message")
    return None


def _fail_frame(error: ProtocolError) -> str:
    return encode("fail", error.as_fail())


async def _serve_socket(gateway: Gateway, socket: WebSocketConnection, remote: str) -> None:
    hello = await _first_message(socket)
    if hello is None:
        return
    connection = hello.body
    token_given = connection.get("authToken")
    session = gateway.sessions.resume(token_given)
    resumed = session is not None
    if token_given and not resumed:
        await socket.send_message(_fail_frame(ProtocolError(
            "authToken is unknown or expired", field="authToken", api_method="connection")))
        await socket.aclose(code=1000, reason="unknown authToken")
        return
    if session is None:
        session = await gateway.sessions.open(remote, connection)
    token = logs.session_id.set(session.session_id)
    try:
        session.attach(socket)
        log.info("session %s from %s", "resumed" if resumed else "opened", remote,
                 extra={"app_key": session.info.app_key, "keep_alive": session.keep_alive})
        if not resumed:
            gateway.plugins.hook.wcs_session_opened(
                session_id=session.session_id, remote=remote, app_key=session.info.app_key)
        user_data = public_connection(session.connection)
        user_data.update(authToken=session.auth_token, sessionId=session.session_id,
                         protocolVersion=PROTOCOL_VERSION)
        if user_data.get("sipLogin"):
            user_data["login"] = user_data["sipLogin"]
        session.set_status("ESTABLISHED")
        await session.send("getUserData", user_data)
        session.mark_ready()
        if not resumed:
            for step in list(gateway.session_openers):
                session.nursery.start_soon(step, session)
        else:
            for step in list(gateway.session_resumers):
                session.nursery.start_soon(step, session)
        await _pump(gateway, session, socket)
    finally:
        await session.detach(socket, "websocket closed")
        logs.session_id.reset(token)


async def _pump(gateway: Gateway, session: ClientSession, socket: WebSocketConnection) -> None:
    """Read frames until the socket closes, the client stops answering pings, or the session ends."""
    settings = gateway.settings
    missed = 0
    limit = RateLimit(rate=settings.ws_max_messages_per_second, tokens=2.0 * settings.ws_max_messages_per_second,
                      stamp=trio.current_time())

    async def pinger(cancel_scope: trio.CancelScope) -> None:
        nonlocal missed
        while True:
            await trio.sleep(settings.keep_alive_interval / 1000)
            if missed >= settings.keep_alive_probes:
                log.info("client stopped answering pings; dropping it")
                cancel_scope.cancel()
                await socket.aclose(code=1001, reason="keep-alive timeout")
                return
            missed += 1
            await session.send("ping", None)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pinger, nursery.cancel_scope)
        while not session.closed:
            try:
                frame = await socket.get_message()
            except ConnectionClosed:
                break
            missed = 0  # any traffic proves the client is alive
            if not limit.allow(trio.current_time()):
                await session.fail(ProtocolError("too many messages; slow down", field="message"))
                continue
            try:
                message = decode(frame)
            except ProtocolError as error:
                await session.fail(error)
                continue
            await _dispatch(gateway, session, message)
        nursery.cancel_scope.cancel()


async def _dispatch(gateway: Gateway, session: ClientSession, message: Message) -> None:
    if message.name == "pong":
        return
    if message.name == "ping":
        await session.send("pong")
        return
    if message.name in IGNORED:
        return
    if message.name == "sendData":
        # No REST application behind this server: settle the SDK's promise (PROTOCOL.md §3).
        operation = message.body.get("operationId")
        await session.send("DataStatusEvent", {"operationId": operation, "status": "FAILED",
                                               "info": "sendData is not supported"})
        return
    handler = gateway.handlers.get(message.name)
    if handler is None:
        await session.fail(ProtocolError(
            f"{message.name} is not supported by this server", field="message", api_method=message.name))
        return
    try:
        await handler(session, message)
    except ProtocolError as error:
        error.api_method = error.api_method or message.name
        await session.fail(error)
    except Exception:
        log.exception("handler for %s failed", message.name)
        await session.fail(ProtocolError("internal error", api_method=message.name))
