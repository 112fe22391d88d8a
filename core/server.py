"""``wcs-trio serve``: one nursery owns every endpoint, session and call.

SIGINT or SIGTERM closes every session (un-REGISTER, hang up, WebSocket close), bounded
so that the process is gone within two seconds, then cancels everything else.
"""

from __future__ import annotations

import logging
import signal
import ssl
import sys
from functools import partial

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from trio_websocket import serve_websocket

from wcs_trio.core.api.http import make_app
from wcs_trio.core.api.websocket import handle_request
from wcs_trio.core.config import Settings
from wcs_trio.core.gateway import Gateway
from wcs_trio.core.pluginmanager import make_plugin_manager

log = logging.getLogger("wcs_trio.server")

# What session closing may take before the rest is cancelled (the 2 s stop budget).
STOP_GRACE = 1.5
# Systems that extend the gateway (SIP registration, calls, demo endpoints...) by
# registering handlers and session steps. Each module has `install(gateway, nursery)`.
SYSTEMS: tuple[str, ...] = ("wcs_trio.core.calls.system",)


def build_gateway(settings: Settings) -> Gateway:
    return Gateway(settings=settings, plugins=make_plugin_manager())


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    return context


def _hypercorn_config(settings: Settings) -> HypercornConfig:
    config = HypercornConfig()
    host = settings.listen
    if settings.tls_cert_file:
        config.certfile, config.keyfile = settings.tls_cert_file, settings.tls_key_file
        config.bind = [f"{host}:{settings.https_port}"]
        config.insecure_bind = [f"{host}:{settings.http_port}"]
    else:
        config.bind = [f"{host}:{settings.http_port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 0.5
    return config


async def _watch_signals(gateway: Gateway, cancel_scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("received %s; stopping", signal.Signals(signum).name)
            break
    await stop(gateway, cancel_scope)


async def stop(gateway: Gateway, cancel_scope: trio.CancelScope) -> None:
    gateway.plugins.hook.wcs_server_stopping()
    with trio.move_on_after(STOP_GRACE):
        await gateway.sessions.close_all("server stopping")
    cancel_scope.cancel()


async def serve(settings: Settings, *, task_status: trio.TaskStatus[Gateway] = trio.TASK_STATUS_IGNORED) -> None:
    gateway = build_gateway(settings)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_watch_signals, gateway, nursery.cancel_scope)
        await nursery.start(gateway.sessions.run)
        for name in SYSTEMS:
            module = __import__(name, fromlist=["install"])
            await module.install(gateway, nursery)
        handler = partial(handle_request, gateway)
        limit = settings.ws_max_message_size
        await nursery.start(partial(serve_websocket, handler, settings.listen, settings.ws_port,
                                    None, max_message_size=limit))
        tls = _tls_context(settings)
        if tls is not None:
            await nursery.start(partial(serve_websocket, handler, settings.listen, settings.wss_port,
                                        tls, max_message_size=limit))
        await nursery.start(partial(hypercorn_serve, make_app(gateway), _hypercorn_config(settings),
                                    mode="asgi"))
        gateway.plugins.hook.wcs_server_started(settings=settings)
        sip = gateway.services.get("sip")
        _announce(settings, sip.ports.get("udp", settings.sip_port) if sip else settings.sip_port)
        task_status.started(gateway)


def _announce(settings: Settings, sip_port: int) -> None:
    wildcard = settings.listen in ("0.0.0.0", "::")
    # Browsers give a page the microphone only in a secure context: https, or localhost.
    # On this machine the pages are at localhost; elsewhere they need tls.cert_file.
    host = "localhost" if wildcard else settings.listen
    # The Phone page guesses ws://<its host>:8080 and, with no SIP server given, SIP domain
    # <its host>:5080 (the demo endpoints); other ports go in its query string.
    params = [f"url=ws://{host}:{settings.ws_port}"] if settings.ws_port != 8080 else []
    params += [f"sipPort={sip_port}"] if sip_port != 5080 else []
    query = "?" + "&".join(params) if params else ""
    lines = [
        f"wcs-trio ready: SDK WebSocket ws://{host}:{settings.ws_port}",
        f"  Phone page:       http://{host}:{settings.http_port}/phone/{query}",
        f"  Phone Video page: http://{host}:{settings.http_port}/phone-video/{query}",
        f"  SDK script:       http://{host}:{settings.http_port}/flashphoner.js",
    ]
    public = settings.public_address if wildcard else settings.listen
    if settings.tls_cert_file:
        lines.append(f"  From other machines: https://{public}:{settings.https_port}/phone/"
                     f"?url=wss://{public}:{settings.wss_port}")
    else:
        lines.append(f"  From other machines ({public}), browsers need https for the microphone: "
                     "set tls.cert_file and tls.key_file.")
    if settings.demo_enabled:
        lines.append("Try it with no SIP server: open the Phone page, press Connect, then Call echo "
                     "(hear yourself), tone-1000 or ivr (press digits, # hangs up).")
        if settings.demo_prefix:
            prefix = settings.demo_prefix
            lines.append(f"  From a session registered at a SIP server: {prefix}echo, {prefix}tone-1000, {prefix}ivr.")
    print("\n".join(lines), file=sys.stderr, flush=True)
