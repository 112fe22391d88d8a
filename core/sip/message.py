"""SIP requests and responses: model, parser, serializer, stream framing.

RFC 3261 §7 (messages), §20 (header fields), §25 (grammar), §18.3 (framing on
stream transports). Built to pass the torture tests of RFC 4475: see
``tests/core/sip/vectors``.

``parse_message(data)`` reads one datagram (or one framed stream message) into
a :class:`Request` or :class:`Response`; ``bytes(message)`` writes it back.
Anything wrong raises :class:`~.errors.SipParseError` whose ``status`` is the
code of the reply (``None``: drop it).
"""

from __future__ import annotations

import re
from enum import IntEnum

from .errors import SipParseError
from .headers import (
    CSeq,
    Headers,
    Via,
    check_date,
    header_key,
    parse_cseq,
    parse_uint,
    parse_via,
)
from .uri import (
    WSP,
    AbsoluteUri,
    NameAddr,
    SipUri,
    Uri,
    is_token,
    parse_name_addr,
    parse_uri,
    split_commas,
)

SIP_VERSION = "SIP/2.0"


class Status(IntEnum):
    """Response codes the stack uses (RFC 3261 §21, RFC 3265, RFC 3329...)."""

    TRYING = 100
    RINGING = 180
    SESSION_PROGRESS = 183
    OK = 200
    ACCEPTED = 202
    BAD_REQUEST = 400
    UNAUTHORIZED = 401
    FORBIDDEN = 403
    NOT_FOUND = 404
    METHOD_NOT_ALLOWED = 405
    PROXY_AUTHENTICATION_REQUIRED = 407
    REQUEST_TIMEOUT = 408
    UNSUPPORTED_MEDIA_TYPE = 415
    UNSUPPORTED_URI_SCHEME = 416
    BAD_EXTENSION = 420
    INTERVAL_TOO_BRIEF = 423
    TEMPORARILY_UNAVAILABLE = 480
    CALL_DOES_NOT_EXIST = 481
    LOOP_DETECTED = 482
    TOO_MANY_HOPS = 483
    BUSY_HERE = 486
    REQUEST_TERMINATED = 487
    NOT_ACCEPTABLE_HERE = 488
    REQUEST_PENDING = 491
    SERVER_INTERNAL_ERROR = 500
    NOT_IMPLEMENTED = 501
    SERVICE_UNAVAILABLE = 503
    SERVER_TIMEOUT = 504
    VERSION_NOT_SUPPORTED = 505
    MESSAGE_TOO_LARGE = 513
    DECLINE = 603


REASONS = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    493: "Undecipherable",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}


def reason_phrase(code: int) -> str:
    return REASONS.get(code) or REASONS.get(code // 100 * 100, "Unknown")


class SipMessage:
    """What requests and responses share: header fields and a body."""

    __slots__ = ("_cache", "body", "headers")

    def __init__(self, headers: Headers | None = None, body: bytes = b"") -> None:
        self.headers = headers if headers is not None else Headers()
        self.body = body
        self._cache: dict[str, object] = {}

    # -- raw header access ------------------------------------------------
    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def get_all(self, name: str) -> list[str]:
        return self.headers.get_all(name)

    def values(self, name: str) -> list[str]:
        return self.headers.values(name)

    def add(self, name: str, value: object, *, first: bool = False) -> None:
        self._cache.clear()
        self.headers.add(name, value, first=first)

    def set(self, name: str, value: object) -> None:
        self._cache.clear()
        self.headers.set(name, value)

    def set_list(self, name: str, values: list[object] | list[NameAddr] | list[Via]) -> None:
        self._cache.clear()
        self.headers.set_list(name, values)

    def remove(self, name: str) -> None:
        self._cache.clear()
        self.headers.remove(name)

    def __contains__(self, name: str) -> bool:
        return name in self.headers

    # -- typed views (parsed on first use, cached until a header changes) --
    def _typed(self, key: str, fn):
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = fn()
            return value

    @property
    def vias(self) -> list[Via]:
        return self._typed("via", lambda: [parse_via(v) for v in self.values("Via")])

    @property
    def via(self) -> Via:
        vias = self.vias
        if not vias:
            raise SipParseError("Missing Via header")
        return vias[0]

    def set_vias(self, vias: list[Via]) -> None:
        self.set_list("Via", vias)

    def _single_name_addr(self, name: str) -> NameAddr:
        vals = self.get_all(name)
        if not vals:
            raise SipParseError(f"Missing {name} header")
        if len(vals) > 1:
            raise SipParseError(f"Multiple {name} headers")
        return parse_name_addr(vals[0], f"{name} header")

    @property
    def from_(self) -> NameAddr:
        return self._typed("from", lambda: self._single_name_addr("From"))

    @property
    def to(self) -> NameAddr:
        return self._typed("to", lambda: self._single_name_addr("To"))

    @property
    def call_id(self) -> str:
        def get() -> str:
            vals = self.get_all("Call-ID")
            if not vals or not vals[0]:
                raise SipParseError("Missing Call-ID header")
            if len(vals) > 1:
                raise SipParseError("Multiple Call-ID headers")
            if any(c in WSP for c in vals[0]):
                raise SipParseError("Malformed Call-ID header")
            return vals[0]

        return self._typed("call-id", get)

    @property
    def cseq(self) -> CSeq:
        def get() -> CSeq:
            vals = self.get_all("CSeq")
            if not vals:
                raise SipParseError("Missing CSeq header")
            if len(vals) > 1:
                raise SipParseError("Multiple CSeq headers")
            return parse_cseq(vals[0])

        return self._typed("cseq", get)

    @property
    def contacts(self) -> list[NameAddr]:
        return self._typed(
            "contact",
            lambda: [
                parse_name_addr(v, "Contact header", allow_wildcard=True)
                for v in self.values("Contact")
            ],
        )

    @property
    def routes(self) -> list[NameAddr]:
        return self._typed(
            "route", lambda: [parse_name_addr(v, "Route header") for v in self.values("Route")]
        )

    @property
    def record_routes(self) -> list[NameAddr]:
        return self._typed(
            "record-route",
            lambda: [
                parse_name_addr(v, "Record-Route header") for v in self.values("Record-Route")
            ],
        )

    @property
    def max_forwards(self) -> int | None:
        v = self.get("Max-Forwards")
        return None if v is None else parse_uint(v, "Max-Forwards", 255)

    @property
    def expires(self) -> int | None:
        v = self.get("Expires")
        if v is None:
            return None
        try:
            return parse_uint(v, "Expires", 2**32 - 1)
        except SipParseError:
            return None

    @property
    def content_type(self) -> str | None:
        v = self.get("Content-Type")
        return None if v is None else v.split(";")[0].strip(WSP).lower()

    # -- serialization ----------------------------------------------------
    def start_line(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        lines = [self.start_line()]
        has_cl = False
        for key, name, value in self.headers.keyed():
            if key == "content-length":
                if has_cl:
                    continue
                has_cl = True
                value = str(len(self.body))
            lines.append(f"{name}: {value}")
        if not has_cl:
            lines.append(f"Content-Length: {len(self.body)}")
        lines.append("")
        lines.append("")
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + self.body

    __bytes__ = to_bytes

    def validate(self) -> None:
        """Parse every header field the stack relies on (raises SipParseError)."""
        vias = self.vias
        if not vias:
            raise SipParseError("Missing Via header")
        self.from_  # noqa: B018
        self.to  # noqa: B018
        self.call_id  # noqa: B018
        self.cseq  # noqa: B018
        self.max_forwards  # noqa: B018
        self.contacts  # noqa: B018
        self.routes  # noqa: B018
        self.record_routes  # noqa: B018
        date = self.get("Date")
        if date is not None:
            check_date(date)


class Request(SipMessage):
    __slots__ = ("method", "uri")

    def __init__(
        self,
        method: str,
        uri: Uri | str,
        headers: Headers | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        self.method = method
        self.uri = parse_uri(uri, "Request-URI") if isinstance(uri, str) else uri

    def start_line(self) -> str:
        return f"{self.method} {self.uri} {SIP_VERSION}"

    def copy(self) -> Request:
        return Request(self.method, self.uri.copy(), self.headers.copy(), self.body)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"

    def validate(self) -> None:
        super().validate()
        cseq = self.cseq
        if cseq.method != self.method:
            raise SipParseError("CSeq method does not match the request method")

    def response(
        self,
        code: int,
        reason: str | None = None,
        *,
        to_tag: str | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        headers: list[tuple[str, object]] | None = None,
    ) -> Response:
        """Build a response per RFC 3261 §8.2.6.

        Via (all values, in order), From, To, Call-ID and CSeq are copied;
        ``to_tag`` is added to To when it has none (not on 100). Record-Route
        is copied on responses that may create a dialog (§12.1.1). A 100
        echoes Timestamp (§8.2.6.1).
        """
        resp = Response(code, reason if reason is not None else reason_phrase(code))
        h = resp.headers
        for v in self.get_all("Via"):
            h.add("Via", v)
        for name in ("From", "To", "Call-ID", "CSeq"):
            v = self.get(name)
            if v is not None:
                if name == "To" and to_tag and code != 100:
                    try:
                        to = parse_name_addr(v, "To header")
                    except SipParseError:
                        to = None
                    if to is not None and to.tag is None:
                        to.tag = to_tag
                        v = str(to)
                h.add(name, v)
        if code == 100:
            ts = self.get("Timestamp")
            if ts is not None:
                h.add("Timestamp", ts)
        if 100 < code < 300 and self.method in ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY"):
            for v in self.get_all("Record-Route"):
                h.add("Record-Route", v)
        for name, value in headers or ():
            h.add(name, value)
        if body:
            resp.body = body
            if content_type:
                h.add("Content-Type", content_type)
        return resp


class Response(SipMessage):
    __slots__ = ("reason", "status")

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: Headers | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        self.status = int(status)
        self.reason = reason if reason is not None else reason_phrase(self.status)

    def start_line(self) -> str:
        return f"{SIP_VERSION} {self.status} {self.reason}"

    def copy(self) -> Response:
        return Response(self.status, self.reason, self.headers.copy(), self.body)

    @property
    def provisional(self) -> bool:
        return self.status < 200

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


# --------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------
_VERSION_RE = re.compile(r"SIP/[0-9]+\.[0-9]+$", re.I)


class RawMessage:
    """What a failed parse could still read: enough to answer 400."""

    __slots__ = ("headers", "is_request", "method")

    def __init__(self, is_request: bool, method: str | None, headers: Headers) -> None:
        self.is_request = is_request
        self.method = method
        self.headers = headers


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    idx = data.find(b"\r\n\r\n")
    if idx >= 0:
        return data[:idx], data[idx + 4 :]
    idx = data.find(b"\n\n")
    if idx >= 0:
        return data[:idx], data[idx + 2 :]
    # A message without a body may arrive without its final empty line.
    return data.rstrip(b"\r\n"), b""


def _read_headers(lines: list[str]) -> Headers:
    items: list[tuple[str, str, str]] = []
    for line in lines:
        if not line:
            continue
        if line[0] in WSP:
            if not items:
                raise SipParseError("Header continuation without a header")
            key, name, value = items[-1]
            more = line.strip(WSP)
            items[-1] = (key, name, f"{value} {more}" if value else more)
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(WSP)
        if not colon or not is_token(name):
            raise SipParseError("Malformed header line")
        items.append((header_key(name), name, value.strip(WSP)))
    return Headers._from_triples(items)


def parse_message(data: bytes, *, datagram: bool = True) -> Request | Response:
    """Parse one SIP message.

    ``datagram``: the bytes are a whole UDP datagram, whose Content-Length
    may be absent (the body is then the rest) and which may carry trailing
    bytes after the body (ignored, RFC 3261 §18.3). On stream transports the
    framer has already cut the message to its Content-Length.
    """
    head_b, body = _split_head(data.lstrip(b"\r\n"))
    if not head_b:
        raise SipParseError("Empty message", None)
    head = head_b.decode("utf-8", "surrogateescape")
    lines = head.replace("\r\n", "\n").split("\n")
    start = lines[0]
    is_request = not start.startswith("SIP/")
    try:
        headers = _read_headers(lines[1:])
    except SipParseError as exc:
        exc.status = 400 if is_request and _looks_like_request_line(start) else None
        raise
    raw = RawMessage(is_request, start.split(" ", 1)[0] if is_request else None, headers)
    try:
        msg = _parse_start(start, headers) if is_request else _parse_status(start, headers)
        _apply_content_length(msg, body, datagram)
        msg.validate()
    except SipParseError as exc:
        if not is_request or not _looks_like_request_line(start):
            exc.status = None
        exc.raw = raw
        raise
    return msg


def _looks_like_request_line(line: str) -> bool:
    return bool(line) and " " in line and is_token(line.split(" ", 1)[0])


def _parse_start(line: str, headers: Headers) -> Request:
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        if not _looks_like_request_line(line):
            raise SipParseError("Malformed start line", None)
        if line.endswith((" ", "\t")):
            raise SipParseError("Trailing whitespace in Request-Line")
        if "  " in line:
            raise SipParseError("Multiple spaces in Request-Line")
        raise SipParseError("Whitespace in Request-URI")
    method, uri_text, version = parts
    if not is_token(method):
        raise SipParseError("Malformed method", None)
    if not _VERSION_RE.match(version):
        raise SipParseError("Malformed SIP version")
    if version.upper() != SIP_VERSION:
        raise SipParseError("Version Not Supported", 505)
    if uri_text.startswith("<"):
        raise SipParseError("Request-URI must not be enclosed in <>")
    uri = parse_uri(uri_text, "Request-URI")
    if isinstance(uri, SipUri) and uri.headers is not None:
        raise SipParseError("Request-URI must not contain headers")
    return Request(method, uri, headers)


def _parse_status(line: str, headers: Headers) -> Response:
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if version.upper() != SIP_VERSION:
        raise SipParseError("Unsupported SIP version in status line", None)
    if len(code) != 3 or not code.isdigit() or not code.isascii() or not 100 <= int(code) <= 699:
        raise SipParseError("Status code must have three digits", None)
    if any(c in "\r\n" for c in reason):
        raise SipParseError("Malformed reason phrase", None)
    return Response(int(code), reason, headers)


def _apply_content_length(msg: SipMessage, body: bytes, datagram: bool) -> None:
    values = msg.get_all("Content-Length")
    if not values:
        msg.body = body if datagram else b""
        return
    lengths = set()
    for v in values:
        for part in split_commas(v):
            lengths.add(parse_uint(part, "Content-Length", 2**31))
    if len(lengths) > 1:
        raise SipParseError("Conflicting Content-Length headers")
    length = lengths.pop()
    if length > len(body):
        raise SipParseError("Content-Length larger than message body")
    msg.body = body[:length]


# --------------------------------------------------------------------------
# Stream framing (RFC 3261 §18.3, RFC 5626 §3.5.1 keep-alives)
# --------------------------------------------------------------------------
class KeepAlive:
    """A CRLF keep-alive seen between messages on a stream."""

    __slots__ = ("ping",)

    def __init__(self, ping: bool) -> None:
        self.ping = ping  # True: "\r\n\r\n" (answer with "\r\n"); False: "\r\n" pong

    def __repr__(self) -> str:
        return "KeepAlive(ping)" if self.ping else "KeepAlive(pong)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeepAlive) and other.ping == self.ping

    def __hash__(self) -> int:
        return hash(self.ping)


PING = KeepAlive(True)
PONG = KeepAlive(False)

_CL_RE = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)


class StreamFramer:
    """Cut a TCP/TLS byte stream into whole messages.

    ``feed(data)`` returns the complete messages (``bytes``) and keep-alives
    (:data:`PING`/:data:`PONG`) found so far; partial data waits for the next
    call. A stream that cannot be framed (bad Content-Length, oversized head)
    raises :class:`SipParseError`: the connection must then be closed.
    """

    def __init__(self, max_head: int = 64 * 1024, max_body: int = 1024 * 1024) -> None:
        self._buf = bytearray()
        self.max_head = max_head
        self.max_body = max_body

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | KeepAlive]:
        buf = self._buf
        buf += data
        out: list[bytes | KeepAlive] = []
        while buf:
            c = buf[0]
            if c in (13, 10):
                if buf.startswith(b"\r\n\r\n"):
                    out.append(PING)
                    del buf[:4]
                elif buf.startswith(b"\r\n") and len(buf) >= 3 and buf[2] != 13:
                    out.append(PONG)
                    del buf[:2]
                elif len(buf) < 4 and b"\r\n\r\n".startswith(bytes(buf)):
                    break
                else:
                    del buf[:1]
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self.max_head:
                    raise SipParseError("Message header too large", 513)
                break
            head = bytes(buf[:end])
            found = {t.strip() for t in _CL_RE.findall(head)}
            length = 0
            if found:
                if len(found) > 1 or not all(t.isdigit() for t in found):
                    raise SipParseError("Bad Content-Length on stream", None)
                length = int(found.pop())
                if length > self.max_body:
                    raise SipParseError("Message body too large", 513)
            total = end + 4 + length
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
        return out


def is_sip_uri(uri: Uri) -> bool:
    return isinstance(uri, SipUri)


__all__ = [
    "PING",
    "PONG",
    "AbsoluteUri",
    "KeepAlive",
    "RawMessage",
    "Request",
    "Response",
    "SipMessage",
    "Status",
    "StreamFramer",
    "error_response",
    "parse_message",
    "reason_phrase",
]


def error_response(exc: SipParseError, to_tag: str | None = None) -> Response | None:
    """The reply to a request that failed to parse, or ``None`` to drop it.

    Copies what could be read of Via, From, To, Call-ID and CSeq
    (RFC 3261 §8.2.6) verbatim; the reason phrase names the problem.
    """
    raw = exc.raw
    if exc.status is None or raw is None or not raw.is_request:
        return None
    vias = raw.headers.get_all("Via")
    if not vias:
        return None
    reason = "".join(c if " " <= c < "\x7f" else "?" for c in exc.reason)
    resp = Response(exc.status, reason)
    for v in vias:
        resp.headers.add("Via", v)
    for name in ("From", "To", "Call-ID", "CSeq"):
        v = raw.headers.get(name)
        if v is None:
            continue
        if name == "To" and to_tag:
            try:
                to = parse_name_addr(v, "To header")
                if to.tag is None:
                    to.tag = to_tag
                    v = str(to)
            except SipParseError:
                pass
        resp.headers.add(name, v)
    return resp
