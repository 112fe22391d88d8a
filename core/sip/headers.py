"""Header field names and the typed header values the stack reads (RFC 3261 §7.3, §20).

Header fields are kept as ``(name, value)`` pairs of strings in arrival order,
so fields the stack does not know pass through untouched. Names compare
case-insensitively and compact forms (``v``, ``i``, ``m``...) are the same field
as their long form. Typed values (:class:`Via`, :class:`CSeq`,
:class:`~.uri.NameAddr`) are parsed from those strings on demand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .errors import SipParseError
from .uri import (
    HOST_CHARS,
    TOKEN_CHARS,
    WSP,
    Params,
    is_token,
    parse_params,
    split_commas,
)

#: RFC 3261 §7.3.3 and later RFCs' compact forms.
COMPACT = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "n": "identity-info",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}

#: How the stack spells header names it writes itself.
CANONICAL = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
    "rack": "RAck",
    "rseq": "RSeq",
}

#: Fields whose values are comma-separated lists (RFC 3261 §7.3.1). Fields
#: whose values contain commas (Date, the authentication fields, unknown
#: fields) are never split.
LIST_HEADERS = frozenset(
    {
        "via",
        "route",
        "record-route",
        "contact",
        "allow",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "accept",
        "accept-encoding",
        "accept-language",
        "allow-events",
        "path",
        "service-route",
        "in-reply-to",
        "content-encoding",
        "content-language",
        "alert-info",
        "call-info",
        "error-info",
        "p-asserted-identity",
        "reason",
        "security-client",
        "security-server",
        "security-verify",
    }
)


_KEYS: dict[str, str] = {}


def header_key(name: str) -> str:
    """The comparison key of a header name: lower case, compact form expanded."""
    key = _KEYS.get(name)
    if key is None:
        low = name.lower()
        key = COMPACT.get(low, low)
        if len(_KEYS) < 4096:  # names repeat; a flood of odd ones must not grow this
            _KEYS[name] = key
    return key


def canonical_name(name: str) -> str:
    key = header_key(name)
    if key in CANONICAL:
        return CANONICAL[key]
    return "-".join(part.capitalize() for part in key.split("-"))


class Headers:
    """Ordered, case-insensitive multi-map of header fields.

    ``get`` returns the first field's value; ``get_all`` every field's value;
    ``values`` additionally splits list fields at commas. Iterating yields
    ``(name, value)`` pairs as written.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        # (key, name, value): the key is computed once per field
        self._items: list[tuple[str, str, str]] = [(header_key(n), n, v) for n, v in items]

    @classmethod
    def _from_triples(cls, triples: list[tuple[str, str, str]]) -> Headers:
        h = cls.__new__(cls)
        h._items = triples
        return h

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter([(n, v) for _, n, v in self._items])

    def keyed(self) -> list[tuple[str, str, str]]:
        """``(key, name, value)`` triples (key: lower case, compact form expanded)."""
        return self._items

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = header_key(name)
        return any(k == key for k, _, _ in self._items)

    def copy(self) -> Headers:
        return Headers._from_triples(list(self._items))

    def get(self, name: str, default: str | None = None) -> str | None:
        key = header_key(name)
        for k, _, v in self._items:
            if k == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        key = header_key(name)
        return [v for k, _, v in self._items if k == key]

    def values(self, name: str) -> list[str]:
        key = header_key(name)
        if key not in LIST_HEADERS:
            return [v for k, _, v in self._items if k == key]
        out: list[str] = []
        for k, _, v in self._items:
            if k == key:
                out.extend(split_commas(v))
        return out

    def add(self, name: str, value: object, *, first: bool = False) -> None:
        item = (header_key(name), name, str(value))
        if first:
            self._items.insert(0, item)
        else:
            self._items.append(item)

    def add_before(self, name: str, value: object) -> None:
        """Insert before the first field of the same name (or append)."""
        key = header_key(name)
        for i, (k, _, _) in enumerate(self._items):
            if k == key:
                self._items.insert(i, (key, name, str(value)))
                return
        self._items.append((key, name, str(value)))

    def set(self, name: str, value: object) -> None:
        """Replace every field of this name by one, at the first one's place."""
        key = header_key(name)
        for i, (k, n, _) in enumerate(self._items):
            if k == key:
                self._items[i] = (key, n, str(value))
                self._items[i + 1 :] = [it for it in self._items[i + 1 :] if it[0] != key]
                return
        self._items.append((key, canonical_name(name), str(value)))

    def set_list(self, name: str, values: Iterable[object]) -> None:
        """Replace every field of this name by one field per value."""
        key = header_key(name)
        vals = [str(v) for v in values]
        pos = next((i for i, it in enumerate(self._items) if it[0] == key), None)
        spell = self._items[pos][1] if pos is not None else canonical_name(name)
        rest = [it for it in self._items if it[0] != key]
        if pos is None:
            pos = len(rest)
        else:
            pos = sum(1 for it in self._items[:pos] if it[0] != key)
        rest[pos:pos] = [(key, spell, v) for v in vals]
        self._items = rest

    def remove(self, name: str) -> None:
        key = header_key(name)
        self._items = [it for it in self._items if it[0] != key]

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"


# --------------------------------------------------------------------------
# Via (RFC 3261 §20.42, RFC 3581)
# --------------------------------------------------------------------------
MAGIC_COOKIE = "z9hG4bK"


class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=...;received=...;rport``."""

    __slots__ = ("host", "params", "port", "protocol", "transport")

    def __init__(
        self,
        transport: str,
        host: str,
        port: int | None = None,
        params: Params | dict[str, str | None] | None = None,
        protocol: str = "SIP/2.0",
    ) -> None:
        self.protocol = protocol
        self.transport = transport.upper()
        self.host = host
        self.port = port
        self.params = params if isinstance(params, Params) else Params((params or {}).items())

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        v = self.params.get("rport")
        return int(v) if v and v.isdigit() else None

    @property
    def has_rport(self) -> bool:
        return "rport" in self.params

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def copy(self) -> Via:
        return Via(self.transport, self.host, self.port, self.params.copy(), self.protocol)

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{self.params.to_str()}"

    def __repr__(self) -> str:
        return f"Via({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Via) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


_VIA_RE = re.compile(
    r"([A-Za-z0-9.!%*_+`'~-]+)[ \t]*/[ \t]*([A-Za-z0-9.!%*_+`'~-]+)[ \t]*/[ \t]*"
    r"([A-Za-z0-9.!%*_+`'~-]+)[ \t]+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?:[ \t]*:[ \t]*([0-9]{1,5}))?"
)


def parse_via(text: str) -> Via:
    """Parse one Via value (already split at commas)."""
    s = text.strip(WSP)
    if not s:
        raise SipParseError("Empty Via value")
    m = _VIA_RE.match(s)
    if not m:
        raise SipParseError("Malformed Via header")
    name, version, transport, host, port = m.groups()
    if not host.startswith("[") and not all(c in HOST_CHARS for c in host):
        raise SipParseError("Malformed Via sent-by host")
    params, end = parse_params(s, m.end(), "Via")
    if end != len(s):
        raise SipParseError("Malformed Via header")
    for key in ("received", "branch", "maddr", "ttl"):
        if key in params and not params[key]:
            raise SipParseError(f"Via {key} parameter needs a value")
    rport = params.get("rport")
    if rport is not None and not (rport.isdigit() and int(rport) <= 65535):
        raise SipParseError("Bad Via rport value")
    portnum = int(port) if port else None
    if portnum is not None and portnum > 65535:
        raise SipParseError("Via port out of range")
    return Via(transport, host, portnum, params, f"{name}/{version}")


# --------------------------------------------------------------------------
# CSeq and scalars
# --------------------------------------------------------------------------
class CSeq:
    __slots__ = ("method", "seq")

    def __init__(self, seq: int, method: str) -> None:
        self.seq = seq
        self.method = method

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"

    def __repr__(self) -> str:
        return f"CSeq({self.seq}, {self.method!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CSeq) and (self.seq, self.method) == (other.seq, other.method)

    def __hash__(self) -> int:
        return hash((self.seq, self.method))


def parse_cseq(text: str) -> CSeq:
    parts = text.split()
    if len(parts) != 2:
        raise SipParseError("Malformed CSeq header")
    num, method = parts
    if not num.isdigit() or not num.isascii():
        raise SipParseError("CSeq sequence number is not a number")
    seq = int(num)
    if seq >= 2**32:
        raise SipParseError("CSeq sequence number out of range")
    if not is_token(method):
        raise SipParseError("Malformed CSeq method")
    return CSeq(seq, method)


def parse_uint(text: str, what: str, limit: int) -> int:
    t = text.strip(WSP)
    if not t.isdigit() or not t.isascii():
        raise SipParseError(f"{what} is not a non-negative integer")
    value = int(t)
    if value > limit:
        raise SipParseError(f"{what} out of range")
    return value


_DATE_RE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$"
)


def check_date(text: str) -> None:
    """RFC 3261 §20.17: an RFC 1123 date, always in GMT."""
    t = text.strip(WSP)
    if not _DATE_RE.match(t):
        if re.search(r"[0-9]{2}:[0-9]{2}:[0-9]{2} (?!GMT$)\S+$", t):
            raise SipParseError("Date header must use the GMT time zone")
        raise SipParseError("Malformed Date header")


def option_tags(values: list[str]) -> list[str]:
    out = []
    for v in values:
        v = v.strip(WSP)
        if v and all(c in TOKEN_CHARS for c in v):
            out.append(v)
    return out
