"""A browser session's SIP account, checked before anything is sent.

Field errors name the SDK's fields (``sipLogin``, ``sipAuthenticationName``,
``sipPassword``, ``sipDomain``, ``sipOutboundProxy``, ``sipPort``) so the page
can show which one to fix, instead of leaving a call PENDING the way the
product we replace does.

What RFC 3261 allows:

- the login is the user part of a SIP URI (§19.1.1, §25.1): any character
  can be %-escaped there, so characters outside ``unreserved``/
  ``user-unreserved`` are escaped; what no escaping makes sensible (control
  characters, surrounding spaces, an ``@`` that means a domain was typed into
  the login field) is refused;
- the authentication name goes into a quoted-string (``username="..."``,
  RFC 2617 §3.2.2): CR, LF and other control characters cannot be carried
  there at all and are refused;
- the domain and outbound proxy are hosts (``hostname`` / IPv4 / ``[IPv6]``),
  with an optional port.
"""

from __future__ import annotations

import ipaddress
import re

import attrs

from .errors import SipAccountError
from .stack import DEFAULT_PORTS, Target
from .uri import USER_CHARS, NameAddr, SipUri, escape

_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def _control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def check_login(login: str, field: str = "sipLogin") -> str:
    """The login as a URI user part (escaped), or SipAccountError naming ``field``."""
    if not login:
        raise SipAccountError(field, "must not be empty")
    if _control(login):
        raise SipAccountError(field, "contains a control character, which a SIP URI cannot carry")
    if login != login.strip():
        raise SipAccountError(field, "has leading or trailing spaces")
    if "@" in login:
        raise SipAccountError(field, "must be the user part only (put the domain in sipDomain)")
    if len(login) > 256:
        raise SipAccountError(field, "is longer than 256 characters")
    # The login is the user name as typed: every character outside the user
    # part's set (including '%') is escaped (RFC 3261 §19.1.2).
    # ';', '?', '/' and ',' are legal unescaped but trip up many servers.
    return escape(login, USER_CHARS - set("%;?/,"))


def check_auth_name(name: str, field: str = "sipAuthenticationName") -> str:
    if not name:
        raise SipAccountError(field, "must not be empty")
    if _control(name):
        raise SipAccountError(
            field, "contains a control character, which a digest username cannot carry"
        )
    if name != name.strip():
        raise SipAccountError(field, "has leading or trailing spaces")
    if len(name) > 256:
        raise SipAccountError(field, "is longer than 256 characters")
    return name


def check_host(text: str, field: str) -> tuple[str, int | None]:
    """``host[:port]`` -> (host, port); IPv6 in brackets; a ``sip:`` prefix is tolerated."""
    t = text.strip()
    if t.lower().startswith(("sip:", "sips:")):
        t = t.split(":", 1)[1]
    t = t.split(";", 1)[0]
    if not t:
        raise SipAccountError(field, "must not be empty")
    port: int | None = None
    if t.startswith("["):
        end = t.find("]")
        if end < 0:
            raise SipAccountError(field, "has an unterminated IPv6 address")
        host, rest = t[1:end], t[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise SipAccountError(field, f"{host!r} is not an IPv6 address") from None
        if rest:
            if not rest.startswith(":"):
                raise SipAccountError(field, "is not host[:port]")
            port = _port(rest[1:], field)
        return host, port
    host, colon, p = t.partition(":")
    if colon:
        port = _port(p, field)
    try:
        ipaddress.IPv4Address(host)
        return host, port
    except ValueError:
        pass
    if not _HOSTNAME_RE.match(host) or host.replace(".", "").isdigit():
        raise SipAccountError(field, f"{host!r} is not a host name or IP address")
    return host, port


def _port(text: str, field: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise SipAccountError(field, f"port {text!r} is not between 1 and 65535")
    return int(text)


@attrs.frozen
class SipAccount:
    """The SIP side of one browser session (the SDK's ``sipOptions``).

    Construction validates every field; ``user`` is the login as a URI user
    part. ``port`` is the SIP server's port (the outbound proxy's when one is
    given without its own port). The password never appears in ``repr``.
    """

    login: str
    domain: str
    password: str = attrs.field(default="", repr=False)
    auth_name: str | None = None
    outbound_proxy: str | None = None
    port: int | None = None
    transport: str = "udp"
    register_required: bool = True
    display_name: str | None = None
    user: str = attrs.field(init=False)
    domain_host: str = attrs.field(init=False, repr=False)
    domain_port: int | None = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "user", check_login(self.login))
        if self.auth_name:
            check_auth_name(self.auth_name)
        if _control(self.password or ""):
            raise SipAccountError("sipPassword", "contains a control character")
        host, port = check_host(self.domain, "sipDomain")
        object.__setattr__(self, "domain_host", host)
        object.__setattr__(self, "domain_port", port)
        if self.outbound_proxy:
            check_host(self.outbound_proxy, "sipOutboundProxy")
        if self.port is not None and not (isinstance(self.port, int) and 1 <= self.port <= 65535):
            raise SipAccountError("sipPort", f"port {self.port!r} is not between 1 and 65535")
        if self.transport not in ("udp", "tcp", "tls"):
            raise SipAccountError("transport", f"{self.transport!r} is not udp, tcp or tls")

    @classmethod
    def from_sdk(cls, options: dict[str, object], transport: str = "udp") -> SipAccount:
        """Build from the SDK's ``connection`` message fields (sipLogin, sipDomain...)."""
        port = options.get("sipPort")
        if isinstance(port, str):
            if not port.strip():
                port = None
            elif port.strip().isdigit():
                port = int(port.strip())
            else:
                raise SipAccountError("sipPort", f"port {port!r} is not a number")
        required = options.get("sipRegisterRequired", True)
        if isinstance(required, str):
            required = required.strip().lower() not in ("false", "0", "no", "")
        return cls(
            login=str(options.get("sipLogin") or ""),
            domain=str(options.get("sipDomain") or ""),
            password=str(options.get("sipPassword") or ""),
            auth_name=str(options.get("sipAuthenticationName") or "") or None,
            outbound_proxy=str(options.get("sipOutboundProxy") or "") or None,
            port=port,  # type: ignore[arg-type]
            transport=transport,
            register_required=bool(required),
        )

    # -- what the account means on the wire ----------------------------------
    @property
    def auth_user(self) -> str:
        return self.auth_name or self.login

    @property
    def aor(self) -> SipUri:
        """Address of record: ``sip:login@domain``."""
        return SipUri(_bracket(self.domain_host), self.user)

    def _domain_uri_port(self) -> int | None:
        """The port of Request-URIs at the domain: its own, or ``port`` when the domain is
        also the next hop (no outbound proxy, or one on the same host); none for the default."""
        port = self.domain_port
        if port is None:
            proxy_host = check_host(self.outbound_proxy, "sipOutboundProxy")[0] if self.outbound_proxy else None
            if proxy_host is None or proxy_host == self.domain_host:
                port = self.port
        return None if port == DEFAULT_PORTS[self.transport] else port

    @property
    def registrar_uri(self) -> SipUri:
        """The REGISTER Request-URI: the domain (with its port when it is also the next hop)."""
        return SipUri(_bracket(self.domain_host), None, self._domain_uri_port())

    @property
    def target(self) -> Target:
        """The next hop: the outbound proxy if any, else the domain, at ``port``."""
        if self.outbound_proxy:
            host, port = check_host(self.outbound_proxy, "sipOutboundProxy")
        else:
            host, port = self.domain_host, self.domain_port
        port = port or self.port or DEFAULT_PORTS[self.transport]
        return Target(self.transport, host, port, server_name=host)

    def address(self) -> NameAddr:
        """From/To for this account."""
        from .uri import quote

        return NameAddr(self.aor, quote(self.display_name) if self.display_name else None)

    def uri_for(self, callee: str) -> SipUri:
        """A callee as typed (``1002``, ``bob@example.com``, ``sip:bob@host``) as a SIP URI."""
        from .uri import parse_uri

        text = callee.strip()
        if text.lower().startswith(("sip:", "sips:")):
            uri = parse_uri(text, "callee")
            if not isinstance(uri, SipUri):
                raise SipAccountError("callee", "is not a SIP URI")
            return uri
        user, at, host = text.rpartition("@")
        if not at:
            return SipUri(_bracket(self.domain_host), check_login(text, "callee"), self._domain_uri_port())
        h, p = check_host(host, "callee")
        return SipUri(_bracket(h), check_login(user, "callee"), p)


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
