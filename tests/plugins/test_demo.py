"""Which callees the demo plugin routes to the gateway itself, and where."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from wcs_trio.core.config import Settings
from wcs_trio.core.sip.account import SipAccount
from wcs_trio.plugins.demo import DemoRouting, is_local_host


def routing(prefix: str, **accounts: SipAccount) -> DemoRouting:
    sessions = {sid: SimpleNamespace(extensions={"account": acc}) for sid, acc in accounts.items()}
    gateway: Any = SimpleNamespace(settings=Settings(), sessions=SimpleNamespace(by_id=sessions))
    endpoints: Any = SimpleNamespace(prefix=prefix, stack=SimpleNamespace(ports={"udp": 5099}))
    return DemoRouting(gateway, endpoints)


NO_SERVER = SipAccount("guest1", "127.0.0.1:5099", register_required=False)
AT_PBX = SipAccount("1001", "192.0.2.10", password="x")


@pytest.mark.parametrize(("prefix", "session", "callee", "routed"), [
    ("", "local", "echo", "sip:echo@127.0.0.1:5099"),
    ("", "local", "tone-1000", "sip:tone-1000@127.0.0.1:5099"),
    ("", "local", "1002", None),
    ("", "pbx", "echo", None),  # a real number at the PBX is never shadowed
    ("demo-", "pbx", "demo-ivr", "sip:demo-ivr@127.0.0.1:5099"),
    ("demo-", "pbx", "ivr", None),
    ("demo-", "local", "echo", "sip:demo-echo@127.0.0.1:5099"),
    ("demo-", "local", "demo-tone", "sip:demo-tone@127.0.0.1:5099"),
    ("demo-", "pbx", "demo-tone-1", None),  # not a usable frequency
])
def test_route(prefix: str, session: str, callee: str, routed: str | None) -> None:
    plugin = routing(prefix, local=NO_SERVER, pbx=AT_PBX)
    assert plugin.wcs_route_call(session_id=session, callee=callee) == routed


def test_local_hosts() -> None:
    assert is_local_host("127.0.0.1") and is_local_host("localhost") and is_local_host("[::1]")
    assert not is_local_host("192.0.2.10") and not is_local_host("sip.example.com")
