"""The gateway object: what every part of a running server shares.

One :class:`Gateway` per ``serve``; no module-level state anywhere. Systems extend it
by registering message handlers and session steps at start-up (see
:func:`wcs_trio.core.server.build_gateway`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from wcs_trio.core.api.session import ClientSession, Handler, SessionManager
from wcs_trio.core.config import Settings
from wcs_trio.core.pluginmanager import PluginManager
from wcs_trio.core.state.components import CallInfo, SessionInfo
from wcs_trio.core.state.world import World

SessionStep = Callable[[ClientSession], Awaitable[None]]
SessionCloser = Callable[[ClientSession, str], Awaitable[None]]


@attrs.define(eq=False)
class Gateway:
    settings: Settings
    plugins: PluginManager
    world: World = attrs.field(factory=World)
    sessions: SessionManager = attrs.field(init=False)
    # SDK message name -> handler; the API layer dispatches through this table.
    handlers: dict[str, Handler] = attrs.field(factory=dict)
    # Run in the session's nursery when a session opens / is resumed by its token.
    session_openers: list[SessionStep] = attrs.field(factory=list)
    session_resumers: list[SessionStep] = attrs.field(factory=list)
    # Awaited (bounded, shielded) when a session closes: un-REGISTER, hang up calls.
    session_closers: list[SessionCloser] = attrs.field(factory=list)
    services: dict[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        self.sessions = SessionManager(self)

    def metrics_text(self) -> str:
        """Prometheus exposition of the world's counts."""
        sessions = sum(1 for _ in self.world.query(SessionInfo))
        calls = sum(1 for _ in self.world.query(CallInfo))
        lines = [
            "# HELP wcs_trio_sessions Open browser sessions.",
            "# TYPE wcs_trio_sessions gauge",
            f"wcs_trio_sessions {sessions}",
            "# HELP wcs_trio_calls Calls in progress.",
            "# TYPE wcs_trio_calls gauge",
            f"wcs_trio_calls {calls}",
            "# HELP wcs_trio_entities Entities in the state world.",
            "# TYPE wcs_trio_entities gauge",
            f"wcs_trio_entities {len(self.world)}",
        ]
        return "\n".join(lines) + "\n"
