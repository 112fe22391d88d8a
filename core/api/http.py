"""The HTTP side, as a small ASGI app served by Hypercorn on trio.

Serves our SDK at ``/flashphoner.js`` (where pages written for the product we replace
expect it), the example pages at the root, a health check, Prometheus metrics, and the
admin API (``/api/...``, behind ``admin_token``) that ``wcs-trio ops`` talks to.
"""

from __future__ import annotations

import hmac
import json
import mimetypes
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wcs_trio.core.api import admin

if TYPE_CHECKING:
    from wcs_trio.core.gateway import Gateway

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

WEB_ROOT = Path(str(resources.files("wcs_trio.core.api") / "web"))
# URL folders served from another folder's files: Phone Video is the Phone page in video mode.
ALIASES = {"phone-video": "phone"}
_TYPES = {".js": "text/javascript; charset=utf-8", ".ts": "text/plain; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".wav": "audio/wav", ".json": "application/json"}


def static_path(url_path: str) -> Path | None:
    """The file under the web root that ``url_path`` names (directories give index.html)."""
    relative = url_path.lstrip("/")
    first, sep, rest = relative.partition("/")
    if first in ALIASES:
        relative = ALIASES[first] + sep + rest
    candidate = (WEB_ROOT / relative).resolve()
    root = WEB_ROOT.resolve()
    if candidate != root and root not in candidate.parents:
        return None  # ../ escapes are simply not found
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def _folders() -> list[str]:
    return [p.name for p in WEB_ROOT.iterdir() if p.is_dir()]


async def _respond(send: Send, status: int, body: bytes, content_type: str,
                   headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-cache"), *headers],
    })
    await send({"type": "http.response.body", "body": body})


def make_app(gateway: Gateway) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/api/"):
            await _admin(gateway, scope, send)
            return
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"method not allowed\n", "text/plain", ((b"allow", b"GET, HEAD"),))
            return
        if path == "/healthz":
            await _respond(send, 200, b"ok\n", "text/plain")
            return
        if path == "/metrics":
            await _respond(send, 200, gateway.metrics_text().encode(), "text/plain; version=0.0.4")
            return
        if path != "/" and not path.endswith("/") and path.lstrip("/") in (*ALIASES, *_folders()):
            await _respond(send, 301, b"", "text/plain", ((b"location", (path + "/").encode()),))
            return
        file = static_path(path)
        if file is None:
            await _respond(send, 404, b"not found\n", "text/plain")
            return
        body = file.read_bytes()
        kind = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        await _respond(send, 200, b"" if method == "HEAD" else body, kind)

    return app


async def _admin(gateway: Gateway, scope: Scope, send: Send) -> None:
    token = gateway.settings.admin_token
    if not token:
        await _respond(send, 404, b"admin API is off (set admin_token)\n", "text/plain")
        return
    headers = dict(scope["headers"])
    given = headers.get(b"authorization", b"").decode("latin-1")
    if not hmac.compare_digest(given, f"Bearer {token}"):
        await _respond(send, 401, b"bad or missing bearer token\n", "text/plain",
                       ((b"www-authenticate", b"Bearer"),))
        return
    parts = scope["path"].strip("/").split("/")[1:]  # after "api"
    method = scope["method"]
    try:
        result = _admin_route(gateway, method, parts)
    except admin.NotFound as missing:
        await _respond(send, 404, f"{missing}\n".encode(), "text/plain")
        return
    if result is None:
        await _respond(send, 404, b"no such admin resource\n", "text/plain")
        return
    await _respond(send, 200, json.dumps(result, sort_keys=True).encode(), "application/json")


def _admin_route(gateway: Gateway, method: str, parts: list[str]) -> Any:
    """GET snapshot | sessions | sessions/ID/trace | calls | calls/ID; POST calls/ID/hangup."""
    match method, parts:
        case "GET", ["snapshot"]:
            return gateway.world.snapshot()
        case "GET", ["sessions"]:
            return admin.sessions(gateway)
        case "GET", ["sessions", session_id, "trace"]:
            return admin.trace(gateway, session_id)
        case "GET", ["calls"]:
            return admin.calls(gateway)
        case "GET", ["calls", call_id]:
            return admin.call(gateway, call_id)
        case "POST", ["calls", call_id, "hangup"]:
            return admin.hangup(gateway, call_id)
    return None
