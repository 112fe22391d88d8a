"""Values of single SDP lines (RFC 8866 §5), each parsed from and written to one line.

Every structured line kind is a frozen attrs class with ``parse(value)`` (the text
after ``x=``) and ``text()`` (its canonical form). A value parsed from text that is
not in canonical form (extra spaces, leading zeros...) keeps that text in ``raw``;
:func:`render` writes ``raw`` back as long as the value still equals what ``raw``
says, so an unchanged body round-trips byte for byte while an edited value
(``attrs.evolve(origin, sess_version=2)``) is written canonically.

Line kinds whose value is free text (``s=``, ``i=``, ``u=``, ``e=``, ``p=``,
``r=``, ``z=``, ``k=``) are kept as plain strings.
"""

from __future__ import annotations

import enum
from typing import Protocol, Self

import attrs

from wcs_trio.core.sdp.errors import SdpError


class Direction(enum.StrEnum):
    """Media direction attributes of RFC 8866 §6.7 (as used by RFC 3264 §5.1 / §6.1)."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    def reversed(self) -> Direction:
        """The direction the answerer states for this offered one (RFC 3264 §6.1)."""
        return _REVERSED[self]

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def of(cls, sends: bool, receives: bool) -> Direction:
        if sends:
            return cls.SENDRECV if receives else cls.SENDONLY
        return cls.RECVONLY if receives else cls.INACTIVE


_REVERSED = {
    Direction.SENDRECV: Direction.SENDRECV,
    Direction.SENDONLY: Direction.RECVONLY,
    Direction.RECVONLY: Direction.SENDONLY,
    Direction.INACTIVE: Direction.INACTIVE,
}


def _int(text: str, what: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise SdpError(f"{what} is not a decimal number: {text!r}")
    return int(text)


def _fields(value: str, count: int, what: str) -> list[str]:
    parts = value.split()
    if len(parts) != count:
        raise SdpError(f"{what} needs {count} fields, got {len(parts)}")
    return parts


class _LineValue(Protocol):
    raw: str | None

    def text(self) -> str: ...


def render(letter: str, value: _LineValue) -> str:
    """The line ``letter=...`` for ``value``: its original text if still accurate."""
    raw = value.raw
    if raw is not None and type(value).parse(raw) == value:  # type: ignore[attr-defined]
        return f"{letter}={raw}"
    return f"{letter}={value.text()}"


def _keep_raw(obj: _LineValue, value: str) -> None:
    # Only bodies that are not in canonical form pay for keeping their text.
    if obj.text() != value:
        object.__setattr__(obj, "raw", value)


@attrs.frozen
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`` (§5.2)."""

    username: str
    sess_id: str
    sess_version: int
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "127.0.0.1"
    raw: str | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def parse(cls, value: str) -> Self:
        user, sess_id, version, net, addr_t, addr = _fields(value, 6, "o=")
        _int(sess_id, "o= sess-id")
        obj = cls(user, sess_id, _int(version, "o= sess-version"), net, addr_t, addr)
        _keep_raw(obj, value)
        return obj

    def text(self) -> str:
        return (
            f"{self.username} {self.sess_id} {self.sess_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@attrs.frozen
class Connection:
    """``c=<nettype> <addrtype> <connection-address>`` (§5.7)."""

    address: str
    addrtype: str = "IP4"
    nettype: str = "IN"
    raw: str | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def parse(cls, value: str) -> Self:
        net, addr_t, addr = _fields(value, 3, "c=")
        obj = cls(addr, addr_t, net)
        _keep_raw(obj, value)
        return obj

    def text(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"

    @property
    def is_hold_address(self) -> bool:
        """``c=IN IP4 0.0.0.0``: the RFC 2543 way of putting a stream on hold (RFC 3264 §8.4)."""
        return self.address in ("0.0.0.0", "::")


@attrs.frozen
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` (§5.8), e.g. ``AS`` (kb/s) or ``TIAS`` (b/s, RFC 3890)."""

    bwtype: str
    bandwidth: int
    raw: str | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def parse(cls, value: str) -> Self:
        bwtype, sep, number = value.partition(":")
        if not sep or not bwtype or any(c.isspace() for c in bwtype):
            raise SdpError("b= must be <bwtype>:<bandwidth>")
        obj = cls(bwtype, _int(number.strip(), "b= bandwidth"))
        _keep_raw(obj, value)
        return obj

    def text(self) -> str:
        return f"{self.bwtype}:{self.bandwidth}"


@attrs.frozen
class Timing:
    """``t=<start-time> <stop-time>`` (§5.9) with the ``r=`` lines that follow it (§5.10)."""

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()
    raw: str | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def parse(cls, value: str) -> Self:
        start, stop = _fields(value, 2, "t=")
        obj = cls(_int(start, "t= start"), _int(stop, "t= stop"))
        _keep_raw(obj, value)
        return obj

    def text(self) -> str:
        return f"{self.start} {self.stop}"


@attrs.frozen
class MediaLine:
    """``m=<media> <port>[/<number of ports>] <proto> <fmt> ...`` (§5.14)."""

    kind: str
    port: int
    proto: str
    formats: tuple[str, ...]
    port_count: int | None = None
    raw: str | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def parse(cls, value: str) -> Self:
        parts = value.split()
        if len(parts) < 4:  # at least one <fmt> (RFC 8866 §5.14)
            raise SdpError("m= needs <media> <port> <proto> <fmt>...")
        kind, port_text, proto, *formats = parts
        port, slash, count = port_text.partition("/")
        obj = cls(
            kind,
            _int(port, "m= port"),
            proto,
            tuple(formats),
            _int(count, "m= port count") if slash else None,
        )
        if obj.port > 65535:
            raise SdpError(f"m= port out of range: {obj.port}")
        _keep_raw(obj, value)
        return obj

    def text(self) -> str:
        port = self.port if self.port_count is None else f"{self.port}/{self.port_count}"
        return " ".join((self.kind, str(port), self.proto, *self.formats))


@attrs.frozen
class Attribute:
    """``a=<name>`` or ``a=<name>:<value>`` (§5.13); unknown attributes are kept as they came."""

    name: str
    value: str | None = None
    raw: str | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def parse(cls, value: str) -> Self:
        name, sep, rest = value.partition(":")
        if not name.strip() or any(c.isspace() for c in name.strip()):
            raise SdpError("a= attribute name is empty or contains spaces")
        obj = cls(name.strip(), rest if sep else None)
        _keep_raw(obj, value)
        return obj

    def text(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


# ---------------------------------------------------------------------------
# Values of the attributes that offer/answer reads
# ---------------------------------------------------------------------------


@attrs.frozen
class RtpMap:
    """``a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`` (RFC 8866 §6.6)."""

    pt: int
    encoding: str
    clock_rate: int
    channels: int | None = None

    @classmethod
    def parse(cls, value: str) -> RtpMap:
        pt, _, spec = value.strip().partition(" ")
        parts = spec.strip().split("/")
        if len(parts) not in (2, 3) or not parts[0]:
            raise SdpError("rtpmap must be <pt> <encoding>/<clock rate>[/<channels>]")
        channels = _int(parts[2], "rtpmap channels") if len(parts) == 3 else None
        return cls(_int(pt, "rtpmap payload type"), parts[0], _int(parts[1], "rtpmap clock"), channels)

    def text(self) -> str:
        tail = "" if self.channels is None else f"/{self.channels}"
        return f"{self.pt} {self.encoding}/{self.clock_rate}{tail}"


def split_pt(value: str) -> tuple[str, str]:
    """``"<pt> <rest>"`` of ``a=fmtp`` and ``a=rtcp-fb`` into (pt, rest)."""
    pt, _, rest = value.strip().partition(" ")
    return pt, rest.strip()


def fmtp_params(params: str) -> dict[str, str]:
    """``key=value;key=value`` of an ``a=fmtp`` (RFC 8866 §6.15), keys lower-cased.

    A parameter without ``=`` (telephone-event's ``0-16``) is stored under ``""``.
    """
    out: dict[str, str] = {}
    for item in params.split(";"):
        key, sep, val = item.strip().partition("=")
        if sep:
            out[key.strip().lower()] = val.strip()
        elif key:
            out[""] = key
    return out
