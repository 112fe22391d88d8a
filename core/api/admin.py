"""The admin API (``/api/...``, bearer ``admin_token``): what ``wcs-trio ops`` reads and does.

Reads come from the ECS world and the live sessions; the one action, hanging up a call,
is started in the call's session nursery like a page's own ``hangup``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wcs_trio.core.state.components import CallInfo, RegistrationState, SessionInfo, SipAccountInfo
from wcs_trio.core.state.world import to_json

if TYPE_CHECKING:
    from wcs_trio.core.gateway import Gateway


class NotFound(Exception):
    """No such session or call (HTTP 404)."""


def sessions(gateway: Gateway) -> list[dict[str, Any]]:
    world = gateway.world
    out = []
    for eid, info in world.query(SessionInfo):
        account = world.try_get(eid, SipAccountInfo)
        registration = world.try_get(eid, RegistrationState)
        calls = [world.get(c, CallInfo).call_id for c in world.owned_by(eid) if world.try_get(c, CallInfo)]
        out.append({
            "session_id": info.session_id, "remote": info.remote, "status": info.status,
            "keep_alive": info.keep_alive, "detached": info.detached_since is not None,
            "sip_login": account.login if account else None,
            "sip_domain": account.domain if account else None,
            "registration": to_json(registration) if registration else None,
            "calls": calls,
        })
    return out


def calls(gateway: Gateway) -> list[dict[str, Any]]:
    world = gateway.world
    out = []
    for eid, info in world.query(CallInfo):
        owner = world.owner_of(eid)
        session = world.try_get(owner, SessionInfo) if owner is not None else None
        components = {type(c).__name__: to_json(c) for c in world.components(eid)}
        out.append({**to_json(info), "session_id": session.session_id if session else None,
                    "plan": components.get("CodecPlan"), "stats": components.get("MediaStats")})
    return out


def call(gateway: Gateway, call_id: str) -> dict[str, Any]:
    for item in calls(gateway):
        if item["call_id"] == call_id:
            return item
    raise NotFound(f"no call {call_id}")


def trace(gateway: Gateway, session_id: str) -> list[dict[str, object]]:
    session = gateway.sessions.by_id.get(session_id)
    if session is None:
        raise NotFound(f"no session {session_id}")
    messages = session.extensions.get("sip_trace")
    return messages.to_json() if messages is not None else []


def hangup(gateway: Gateway, call_id: str) -> dict[str, Any]:
    for session in gateway.sessions.by_id.values():
        live = session.extensions.get("calls", {}).get(call_id)
        if live is not None and not session.closed:
            session.nursery.start_soon(live.guarded, live.hangup, "Hung up by the operator")
            return {"call_id": call_id, "hangup": "started"}
    raise NotFound(f"no call {call_id}")
