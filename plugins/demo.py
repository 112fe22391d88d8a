"""Built-in demo endpoints (issue 9): call ``echo``, ``tone-1000`` or ``ivr`` with no PBX.

:func:`install_demo` starts :class:`~wcs_trio.plugins.demo_ua.DemoEndpoints` on the
gateway's own SIP stack (called from the calls system's ``install`` when
``demo.enabled``), and registers :class:`DemoRouting`, whose ``wcs_route_call`` sends
demo callees to the gateway's own SIP port, so a demo call takes the same path as a call
to a PBX: WebRTC leg, SDP translation, SIP over UDP, RTP over UDP.

Which callees are demo calls, so that real numbers are never shadowed unless the
operator asks for it:

- a session with no SIP server (``registerRequired`` off, SIP domain = this gateway's
  host, the Phone page's defaults): ``echo``, ``tone``, ``tone-HZ``, ``ivr``;
- any session, even one registered at a PBX: the same names with ``demo.prefix`` in
  front (``demo-echo``), when the operator configured a prefix.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import TYPE_CHECKING

import attrs
import trio

from wcs_trio.core.hookspecs import hookimpl
from wcs_trio.plugins.demo_ua import DemoEndpoints, demo_kind

if TYPE_CHECKING:
    from wcs_trio.core.gateway import Gateway

log = logging.getLogger("wcs_trio.demo")

WILDCARDS = ("0.0.0.0", "::", "")
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_local_host(host: str) -> bool:
    """Whether ``host`` names this machine: loopback names, our host name, or an address
    of one of its interfaces (binding to it succeeds; nothing is sent)."""
    name = host.strip("[]").lower()
    if name in LOCAL_NAMES or name == socket.gethostname().lower():
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if address.is_loopback:
        return True
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((name, 0))
        except OSError:
            return False
    return True


@attrs.define(eq=False)
class DemoRouting:
    """The plugin: routes demo callees to the gateway itself (see the module docstring)."""

    gateway: Gateway
    endpoints: DemoEndpoints

    @property
    def sip_host(self) -> str:
        listen = self.gateway.settings.listen
        return "127.0.0.1" if listen in WILDCARDS else listen

    def demo_name(self, session_id: str, callee: str) -> str | None:
        """The demo user part ``callee`` stands for in this session, or ``None``."""
        name = callee.strip()
        prefix = self.endpoints.prefix
        if prefix and name.startswith(prefix) and demo_kind(name[len(prefix):]):
            return name
        session = self.gateway.sessions.by_id.get(session_id)
        account = session.extensions.get("account") if session is not None else None
        if account is None or account.register_required or not demo_kind(name):
            return None
        return prefix + name if is_local_host(account.domain_host) else None

    @hookimpl
    def wcs_route_call(self, session_id: str, callee: str) -> str | None:
        name = self.demo_name(session_id, callee)
        if name is None:
            return None
        port = self.endpoints.stack.ports.get("udp") or self.endpoints.stack.port_for("udp")
        host = f"[{self.sip_host}]" if ":" in self.sip_host else self.sip_host
        return f"sip:{name}@{host}:{port}"


def media_address(gateway: Gateway) -> str:
    """Where the demo endpoints receive RTP: the listening address, or the local one."""
    settings = gateway.settings
    return settings.listen if settings.listen not in WILDCARDS else settings.local_address


async def install_demo(gateway: Gateway, nursery: trio.Nursery) -> DemoEndpoints:
    """Start the demo endpoints in ``nursery`` and register their routing plugin."""
    settings = gateway.settings
    endpoints = DemoEndpoints(gateway.services["sip"], gateway.services["port_pool"], media_address(gateway),
                              prefix=settings.demo_prefix, echo_delay=settings.demo_echo_delay_ms / 1000)
    await nursery.start(endpoints.run)
    gateway.services["demo"] = endpoints
    gateway.plugins.register(DemoRouting(gateway, endpoints), name="wcs_trio.plugins.demo")
    log.info("demo endpoints: %secho, %stone-HZ, %sivr on SIP port %s", *[settings.demo_prefix] * 3,
             endpoints.stack.ports.get("udp"))
    return endpoints
