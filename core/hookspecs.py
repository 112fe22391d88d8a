"""The call lifecycle as pluggy hooks.

Every extension point of the gateway is declared here and nowhere else. Hooks are
synchronous and return decisions or rewrite the objects they are handed; the core
does all I/O. A hook whose implementations raise is logged with the plugin's name
and skipped (see :mod:`wcs_trio.core.pluginmanager`): a broken plugin never takes
a call, a session or the server down.

Unless a hook says ``firstresult``, every implementation runs and the return
values (if any) are collected into a list, ``None`` results left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from wcs_trio.core.config import Settings
    from wcs_trio.core.sdp.model import SessionDescription

PROJECT = "wcs_trio"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------


@hookspec
def wcs_server_started(settings: Settings) -> None:
    """The server is listening on every configured endpoint.

    ``settings`` is the frozen configuration the server runs with.
    """


@hookspec
def wcs_server_stopping() -> None:
    """The server was asked to stop; sessions are about to be closed."""


# --------------------------------------------------------------------------
# Sessions and registration
# --------------------------------------------------------------------------


@hookspec
def wcs_session_opened(session_id: str, remote: str, app_key: str) -> None:
    """A WebSocket session completed its ``connection`` handshake.

    ``remote`` is the client's ``host:port``; ``app_key`` the SDK's appKey.
    """


@hookspec
def wcs_session_closed(session_id: str, reason: str) -> None:
    """A session ended (disconnect, client timeout, server stop); ``reason`` says which."""


@hookspec
def wcs_registration_changed(
    session_id: str, status: str, sip_status: int | None, reason: str
) -> None:
    """The SIP registration of a session changed.

    ``status`` is the SDK's SESSION_STATUS name (``REGISTERED``, ``UNREGISTERED``,
    ``FAILED``); ``sip_status`` the final SIP status code that caused it, if any.
    """


@hookspec(firstresult=True)
def wcs_incoming_call_detached(
    session_id: str, call_id: str, caller: str, callee: str
) -> bool | None:
    """An INVITE arrived for a keepAlive session whose WebSocket is gone.

    A push plugin wakes the client here. Return ``True`` when a notification was
    sent (the call is then held until ``client_timeout``); the first non-None
    result wins. ``None`` from every plugin means nobody can reach the client and
    the call is answered 480.
    """


# --------------------------------------------------------------------------
# Calls
# --------------------------------------------------------------------------


@hookspec(firstresult=True)
def wcs_route_call(session_id: str, callee: str) -> str | None:
    """Choose the SIP request URI for an outgoing call to ``callee``.

    Return a full SIP URI to override the default routing (callee at the session's
    SIP domain); the first non-None result wins. ``None`` keeps the default.
    """


@hookspec
def wcs_call_created(
    session_id: str, call_id: str, direction: str, caller: str, callee: str
) -> None:
    """A call entity exists. ``direction`` is ``"outgoing"`` (browser calls SIP) or ``"incoming"``."""


@hookspec
def wcs_call_state_changed(call_id: str, old: str, new: str, info: str) -> None:
    """A call moved between CALL_STATUS values (``info`` carries the SIP reason, if any)."""


@hookspec
def wcs_rewrite_sip_offer(
    sdp: SessionDescription, call_options: dict[str, Any], settings: Settings
) -> None:
    """The SDP offer about to be sent to the SIP side; rewrite it in place.

    Called for outgoing INVITEs and re-INVITEs after the WebRTC→SIP translation.
    ``call_options`` holds the SDK's per-call options (``stripCodecs``, ``sipSDP``,
    ``sipHeaders``...). The codec policy (``codecs``, ``codecs_exclude_sip``,
    ``stripCodecs``) and ``sipSDP`` placement are built-in implementations; raise
    :class:`wcs_trio.core.sdp.errors.SdpError` to refuse the call with a reason.
    """


@hookspec
def wcs_rewrite_sip_answer(
    sdp: SessionDescription, call_options: dict[str, Any], settings: Settings
) -> None:
    """The SDP answer about to be sent to the SIP side (200 OK to an incoming INVITE)."""


@hookspec
def wcs_rewrite_browser_offer(
    sdp: SessionDescription, call_options: dict[str, Any], settings: Settings
) -> None:
    """The SDP offer about to be sent to the browser (an incoming call from SIP).

    ``allow_outside_codecs`` and the ``codecs`` list filter what the browser is offered.
    """


@hookspec
def wcs_codec_plan_chosen(call_id: str, plan: Any) -> None:
    """The codec plan of a call was negotiated (or renegotiated after a re-INVITE).

    ``plan`` is the ``CodecPlan`` component: which codec each leg uses and whether
    the media bridge must transcode.
    """


@hookspec
def wcs_codecs() -> list[Any]:
    """Codec implementations this plugin provides (one list per plugin).

    Each item is a codec class the media bridge may use to transcode; see
    :mod:`wcs_trio.codecs`.
    """


# --------------------------------------------------------------------------
# Media
# --------------------------------------------------------------------------


@hookspec
def wcs_media_stats(call_id: str, leg: str, stats: dict[str, Any]) -> None:
    """Per-leg media counters were sampled (``leg`` is ``"webrtc"`` or ``"sip"``).

    Called about once a second per active call; keep implementations cheap.
    """
