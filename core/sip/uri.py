"""SIP URIs and name-addr values (RFC 3261 §19.1, §20.10, §25.1).

Parts are kept as they were written (still %-escaped) so a message round-trips
unchanged; ``*_decoded`` properties and :func:`unescape` give the meaning. As
RFC 3986 requires, unescaping is never recursive (``v%61lue%25%34%31`` means
``value%41``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

from .errors import SipParseError

# --------------------------------------------------------------------------
# Character classes (RFC 3261 §25.1)
# --------------------------------------------------------------------------
ALPHANUM = frozenset(string.ascii_letters + string.digits)
MARK = frozenset("-_.!~*'()")
UNRESERVED = ALPHANUM | MARK
TOKEN_CHARS = ALPHANUM | frozenset("-.!%*_+`'~")
USER_UNRESERVED = frozenset("&=+$,;?/")
USER_CHARS = UNRESERVED | USER_UNRESERVED | {"%"}
PASSWORD_CHARS = UNRESERVED | frozenset("&=+$,") | {"%"}
PARAM_CHARS = UNRESERVED | frozenset("[]/:&+$") | {"%"}
HNV_CHARS = UNRESERVED | frozenset("[]/?:+$") | {"%"}
HOST_CHARS = ALPHANUM | frozenset("-.")
HEXDIG = frozenset(string.hexdigits)
WSP = " \t"

_ESCAPE_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*\Z")
_CTL_RE = re.compile(r"[\x00-\x20\x7f]")


def is_token(text: str) -> bool:
    return bool(text) and TOKEN_CHARS.issuperset(text)


def unescape(text: str) -> str:
    """Expand %HH escapes once (bytes decoded as UTF-8, invalid ones kept)."""
    if "%" not in text:
        return text
    out = bytearray()
    i = 0
    raw = text.encode("utf-8", "surrogateescape")
    while i < len(raw):
        c = raw[i]
        if c == 0x25 and i + 2 < len(raw) and _is_hex2(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return out.decode("utf-8", "surrogateescape")


def _is_hex2(b: bytes) -> bool:
    return len(b) == 2 and all(chr(x) in HEXDIG for x in b)


def escape(text: str, allowed: frozenset[str] = UNRESERVED | USER_UNRESERVED) -> str:
    """%-escape every character of ``text`` outside ``allowed``."""
    out = []
    for ch in text:
        if ch in allowed and ch != "%":
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def _check_chars(text: str, allowed: frozenset[str], what: str) -> None:
    if not allowed.issuperset(text):
        ch = next(c for c in text if c not in allowed)
        raise SipParseError(f"Invalid character {ch!r} in {what}")
    if "%" in text and _ESCAPE_RE.search(text):
        raise SipParseError(f"Bad %-escape in {what}")


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------
class Params(dict[str, str | None]):
    """Ordered ``;name=value`` parameters; names compare case-insensitively.

    The first spelling of a name is kept for serialisation; a parameter
    without a value maps to ``None``.
    """

    def __init__(self, items: Iterable[tuple[str, str | None]] = ()) -> None:
        super().__init__()
        self._names: dict[str, str] = {}
        for k, v in items:
            self[k] = v

    def __setitem__(self, key: str, value: str | None) -> None:
        low = key.lower()
        self._names.setdefault(low, key)
        super().__setitem__(low, value)

    def __getitem__(self, key: str) -> str | None:
        return super().__getitem__(key.lower())

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key.lower())
        self._names.pop(key.lower(), None)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)

    def pop(self, key: str, *default: str | None) -> str | None:  # type: ignore[override]
        self._names.pop(key.lower(), None)
        return super().pop(key.lower(), *default)

    def copy(self) -> Params:
        return Params((self._names.get(k, k), v) for k, v in self.items())

    def to_str(self) -> str:
        return "".join(
            f";{self._names.get(k, k)}" if v is None else f";{self._names.get(k, k)}={v}"
            for k, v in self.items()
        )


# --------------------------------------------------------------------------
# URIs
# --------------------------------------------------------------------------
class Uri:
    """Base of the URI classes; ``scheme`` is lower case."""

    scheme: str

    def copy(self) -> Uri:  # pragma: no cover - overridden
        raise NotImplementedError


class AbsoluteUri(Uri):
    """A URI of a scheme the stack does not interpret (tel:, urn:, http:...)."""

    __slots__ = ("rest", "scheme")

    def __init__(self, scheme: str, rest: str) -> None:
        self.scheme = scheme.lower()
        self.rest = rest

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"

    def __repr__(self) -> str:
        return f"AbsoluteUri({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AbsoluteUri) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def copy(self) -> AbsoluteUri:
        return AbsoluteUri(self.scheme, self.rest)


class SipUri(Uri):
    """``sip:`` or ``sips:`` URI. ``user``/``password``/param values stay escaped."""

    __slots__ = ("headers", "host", "params", "password", "port", "scheme", "user")

    def __init__(
        self,
        host: str,
        user: str | None = None,
        port: int | None = None,
        params: Params | dict[str, str | None] | None = None,
        headers: str | None = None,
        password: str | None = None,
        scheme: str = "sip",
    ) -> None:
        self.scheme = scheme.lower()
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.params = params if isinstance(params, Params) else Params((params or {}).items())
        self.headers = headers

    # -- views --------------------------------------------------------------
    @property
    def user_decoded(self) -> str | None:
        return None if self.user is None else unescape(self.user)

    @property
    def transport(self) -> str | None:
        t = self.params.get("transport")
        return t.lower() if t else None

    @property
    def hostport(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def lr(self) -> bool:
        return "lr" in self.params

    def copy(self) -> SipUri:
        return SipUri(
            self.host,
            self.user,
            self.port,
            self.params.copy(),
            self.headers,
            self.password,
            self.scheme,
        )

    def __str__(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(self.user)
            if self.password is not None:
                parts += [":", self.password]
            parts.append("@")
        parts.append(self.hostport)
        parts.append(self.params.to_str())
        if self.headers:
            parts += ["?", self.headers]
        return "".join(parts)

    def __repr__(self) -> str:
        return f"SipUri({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        # RFC 3261 §19.1.4, simplified: escapes expanded, host and scheme
        # case-insensitive, user case-sensitive, parameters compared by name.
        if not isinstance(other, SipUri):
            return NotImplemented
        return (
            self.scheme == other.scheme
            and self.user_decoded == other.user_decoded
            and self.host.lower() == other.host.lower()
            and self.port == other.port
            and {k: unescape(v).lower() if v else v for k, v in self.params.items()}
            == {k: unescape(v).lower() if v else v for k, v in other.params.items()}
        )

    def __hash__(self) -> int:
        return hash((self.scheme, self.user_decoded, self.host.lower(), self.port))


def _parse_host(text: str, what: str) -> tuple[str, int | None]:
    if not text:
        raise SipParseError(f"Missing host in {what}")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipParseError(f"Unterminated IPv6 reference in {what}")
        host, rest = text[: end + 1], text[end + 1 :]
        if not all(c in HEXDIG or c in ":." for c in host[1:-1]) or host == "[]":
            raise SipParseError(f"Bad IPv6 reference in {what}")
    else:
        host, _, port_text = text.partition(":")
        rest = ":" + port_text if _ else ""
        if not host or not HOST_CHARS.issuperset(host):
            raise SipParseError(f"Bad host {host!r} in {what}")
    if not rest:
        return host, None
    if not rest.startswith(":") or not rest[1:].isdigit() or len(rest) > 6:
        raise SipParseError(f"Bad port in {what}")
    port = int(rest[1:])
    if port > 65535:
        raise SipParseError(f"Port out of range in {what}")
    return host, port


def parse_uri(text: str, what: str = "URI") -> Uri:
    """Parse a URI; ``sip``/``sips`` fully, other schemes kept opaque."""
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME_RE.match(scheme):
        raise SipParseError(f"Malformed {what}")
    if _CTL_RE.search(text):
        raise SipParseError(f"Whitespace in {what}")
    if scheme.lower() not in ("sip", "sips"):
        if not rest:
            raise SipParseError(f"Empty {what}")
        return AbsoluteUri(scheme, rest)
    user = password = None
    if "@" in rest:
        userinfo, _, rest = rest.partition("@")
        if not userinfo:
            raise SipParseError(f"Empty user part in {what}")
        # The user part may hold ';' and '?' (RFC 4475 §3.1.1.9); the first
        # ':' starts the password.
        user, colon, pw = userinfo.partition(":")
        if colon:
            password = pw
            _check_chars(password, PASSWORD_CHARS, f"{what} password")
        _check_chars(user, USER_CHARS, f"{what} user part")
        if not user:
            raise SipParseError(f"Empty user part in {what}")
    rest, q, headers = rest.partition("?")
    if q:
        if not headers:
            raise SipParseError(f"Empty headers in {what}")
        for h in headers.split("&"):
            name, eq, value = h.partition("=")
            if not eq or not name:
                raise SipParseError(f"Malformed header in {what}")
            _check_chars(name + value, HNV_CHARS, f"{what} headers")
    hostport, *param_parts = rest.split(";")
    host, port = _parse_host(hostport, what)
    params = Params()
    for p in param_parts:
        name, eq, value = p.partition("=")
        if not name:
            raise SipParseError(f"Empty parameter in {what}")
        _check_chars(name, PARAM_CHARS, f"{what} parameter name")
        if eq:
            if not value:
                raise SipParseError(f"Empty parameter value in {what}")
            _check_chars(value, PARAM_CHARS, f"{what} parameter value")
        params[name] = value if eq else None
    return SipUri(host, user, port, params, headers if q else None, password, scheme)


# --------------------------------------------------------------------------
# Generic header parameters, quoted strings, name-addr
# --------------------------------------------------------------------------
def skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in WSP:
        i += 1
    return i


def read_quoted(text: str, i: int, what: str) -> tuple[str, int]:
    """Read a quoted-string starting at ``text[i] == '"'``; returns it raw (with quotes)."""
    j = i + 1
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            if j + 1 >= n:
                break
            j += 2
            continue
        if c == '"':
            return text[i : j + 1], j + 1
        if c in "\r\n":
            break
        j += 1
    raise SipParseError(f"Unterminated quoted string in {what}")


def unquote(raw: str) -> str:
    """The value of a quoted-string (quoted-pairs expanded); other text unchanged."""
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
        body = raw[1:-1]
        if "\\" not in body:
            return body
        return re.sub(r"\\(.)", r"\1", body, flags=re.S)
    return raw


def quote(text: str) -> str:
    r"""Make a quoted-string (``"`` and ``\`` escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_params(text: str, i: int, what: str, stop: str = "") -> tuple[Params, int]:
    """Parse ``*( SEMI generic-param )`` from ``text[i:]``.

    Stops at the end of ``text`` or at a character in ``stop`` outside
    quotes. Values may be tokens, hosts or quoted strings (kept quoted).
    """
    params = Params()
    n = len(text)
    while True:
        i = skip_ws(text, i)
        if i >= n or text[i] in stop:
            return params, i
        if text[i] != ";":
            raise SipParseError(f"Unexpected {text[i]!r} in {what}")
        i = skip_ws(text, i + 1)
        j = i
        while j < n and text[j] in TOKEN_CHARS:
            j += 1
        name = text[i:j]
        if not name:
            raise SipParseError(f"Empty parameter in {what}")
        j = skip_ws(text, j)
        value: str | None = None
        if j < n and text[j] == "=":
            j = skip_ws(text, j + 1)
            if j < n and text[j] == '"':
                value, j = read_quoted(text, j, what)
            else:
                k = j
                while k < n and (text[k] in TOKEN_CHARS or text[k] in "[]:"):
                    k += 1
                value = text[j:k]
                if not value:
                    raise SipParseError(f"Empty value of parameter {name!r} in {what}")
                j = k
        params[name] = value
        i = j


class NameAddr:
    """A ``name-addr`` or ``addr-spec`` with header parameters.

    Used for From, To, Contact, Route, Record-Route, Refer-To, Reply-To.
    ``display`` is kept as written (a quoted string keeps its quotes);
    :attr:`display_decoded` gives its meaning. ``wildcard`` is the Contact
    value ``*``.
    """

    __slots__ = ("display", "params", "uri", "wildcard")

    def __init__(
        self,
        uri: Uri | None,
        display: str | None = None,
        params: Params | dict[str, str | None] | None = None,
        wildcard: bool = False,
    ) -> None:
        self.uri = uri
        self.display = display
        self.params = params if isinstance(params, Params) else Params((params or {}).items())
        self.wildcard = wildcard

    @property
    def display_decoded(self) -> str | None:
        return None if self.display is None else unquote(self.display)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @tag.setter
    def tag(self, value: str | None) -> None:
        if value is None:
            self.params.pop("tag", None)
        else:
            self.params["tag"] = value

    def copy(self) -> NameAddr:
        return NameAddr(
            self.uri.copy() if self.uri is not None else None,
            self.display,
            self.params.copy(),
            self.wildcard,
        )

    def __str__(self) -> str:
        if self.wildcard:
            return "*" + self.params.to_str()
        disp = f"{self.display} " if self.display else ""
        return f"{disp}<{self.uri}>{self.params.to_str()}"

    def __repr__(self) -> str:
        return f"NameAddr({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NameAddr):
            return NotImplemented
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def parse_name_addr(text: str, what: str = "name-addr", allow_wildcard: bool = False) -> NameAddr:
    """Parse one ``(name-addr / addr-spec) *(SEMI param)`` value (§20.10)."""
    s = text.strip(WSP)
    if not s:
        raise SipParseError(f"Empty {what}")
    if allow_wildcard and s[0] == "*":
        params, _ = parse_params(s, 1, what)
        return NameAddr(None, None, params, wildcard=True)
    display = None
    i = 0
    if s[0] == '"':
        display, i = read_quoted(s, 0, what)
        i = skip_ws(s, i)
        if i >= len(s) or s[i] != "<":
            raise SipParseError(f"Expected <URI> after display name in {what}")
    else:
        lt = s.find("<")
        if lt >= 0:
            disp = s[:lt].strip(WSP)
            if disp:
                for word in disp.split():
                    if not is_token(word):
                        raise SipParseError(
                            f"Display name with non-token characters must be quoted in {what}"
                        )
                display = disp
            i = lt
        else:
            # addr-spec: the URI may carry no parameters or headers; what
            # follows ';' belongs to the header field (RFC 3261 §20.10).
            semi = s.find(";")
            uri_text = (s if semi < 0 else s[:semi]).rstrip(WSP)
            if "?" in uri_text or "," in uri_text:
                raise SipParseError(f"URI with headers or commas must be enclosed in <> in {what}")
            if any(c in WSP for c in uri_text):
                raise SipParseError(f"Whitespace in URI of {what}")
            uri = parse_uri(uri_text, what)
            params, _ = parse_params(s, len(uri_text) if semi < 0 else semi, what)
            return NameAddr(uri, None, params)
    gt = s.find(">", i)
    if gt < 0:
        raise SipParseError(f"Missing '>' in {what}")
    inner = s[i + 1 : gt]
    if inner != inner.strip(WSP + "\r\n"):
        raise SipParseError(f"Whitespace inside <> in {what}")
    uri = parse_uri(inner, what)
    params, _ = parse_params(s, gt + 1, what)
    return NameAddr(uri, display, params)


def split_commas(value: str) -> list[str]:
    """Split a header value at commas outside quotes and angle brackets."""
    if "," not in value:
        return [value.strip(WSP)]
    out = []
    depth = 0
    inq = False
    start = 0
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if inq:
            if c == "\\":
                i += 1
            elif c == '"':
                inq = False
        elif c == '"':
            inq = True
        elif c == "<":
            depth += 1
        elif c == ">":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            out.append(value[start:i].strip(WSP))
            start = i + 1
        i += 1
    out.append(value[start:].strip(WSP))
    return out
