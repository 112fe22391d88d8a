"""ECS components of the gateway: plain attrs records, each serialisable to JSON.

Components hold data only; behaviour lives in systems (the session, registration and
call tasks). A session entity owns its registration and its calls; a call entity owns
its legs, so destroying a session removes everything it had.
"""

from __future__ import annotations

import attrs


@attrs.define
class SessionInfo:
    """A browser session (one SDK ``createSession``)."""

    session_id: str
    remote: str
    app_key: str = "defaultApp"
    keep_alive: bool = False
    auth_token: str = attrs.field(default="", metadata={"secret": True})
    status: str = "PENDING"
    created_at: float = 0.0
    # Set while a keepAlive session has no WebSocket; the time it lost it (trio clock).
    detached_since: float | None = None


@attrs.define
class SipAccountInfo:
    """The SIP identity a session registers with (the SDK's ``sipOptions``)."""

    login: str
    auth_name: str
    domain: str
    outbound_proxy: str = ""
    port: int = 5060
    register_required: bool = True
    password: str = attrs.field(default="", repr=False, metadata={"secret": True})


@attrs.define
class RegistrationState:
    """The SDK-visible registration status and the SIP reply that caused it."""

    status: str = "UNREGISTERED"
    sip_status: int | None = None
    reason: str = ""
    expires_at: float | None = None


@attrs.define
class CallInfo:
    """One call as the SDK sees it."""

    call_id: str
    direction: str  # "outgoing" (browser calls SIP) or "incoming"
    caller: str
    callee: str
    status: str = "NEW"
    info: str = ""
    has_audio: bool = True
    has_video: bool = False
    created_at: float = 0.0
