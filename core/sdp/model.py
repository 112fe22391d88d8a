"""The SDP session description model, its parser and serializer (RFC 8866).

:meth:`SessionDescription.parse` reads a body; :meth:`SessionDescription.to_text`
writes it back. Lines are kept in the order RFC 8866 §5 prescribes (session part,
then each ``m=`` section); attribute order is preserved, unknown attributes are
kept, and an unchanged body is written back byte for byte (line endings, trailing
newline and non-canonical spacing included). Bodies whose lines come out of RFC
order are accepted and written back in RFC order.

Every fault names its line: :class:`~wcs_trio.core.sdp.errors.SdpError` carries
the 1-based line number and the text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.lines import (
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    MediaLine,
    Origin,
    RtpMap,
    Timing,
    fmtp_params,
    render,
    split_pt,
)

_SESSION_LETTERS = frozenset("vosiuepcbtrzka")
_MEDIA_LETTERS = frozenset("icbka")
_DIRECTIONS = frozenset(d.value for d in Direction)


class AttributeList:
    """``a=`` lines of a session or a media section, in their order (RFC 8866 §5.13)."""

    attributes: list[Attribute]

    def get(self, name: str) -> str | None:
        """The value of the first ``a=name`` (``""`` for a flag), or ``None`` if absent."""
        for attr in self.attributes:
            if attr.name == name:
                return "" if attr.value is None else attr.value
        return None

    def get_all(self, name: str) -> list[str]:
        return [a.value or "" for a in self.attributes if a.name == name]

    def has(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    def add(self, name: str, value: str | None = None) -> None:
        self.attributes.append(Attribute(name, value))

    def remove(self, *names: str) -> None:
        self.attributes = [a for a in self.attributes if a.name not in names]


@attrs.define
class MediaSection(AttributeList):
    """One ``m=`` section with its ``i=``, ``c=``, ``b=``, ``k=`` and ``a=`` lines."""

    kind: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    title: str | None = None
    connections: list[Connection] = attrs.Factory(list)
    bandwidths: list[Bandwidth] = attrs.Factory(list)
    key: str | None = None
    attributes: list[Attribute] = attrs.Factory(list)
    _mline_raw: str | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def direction(self) -> Direction | None:
        """The explicit direction attribute of this section, if any (RFC 8866 §6.7)."""
        found = None
        for attr in self.attributes:
            if attr.name in _DIRECTIONS:
                found = Direction(attr.name)
        return found

    @direction.setter
    def direction(self, value: Direction) -> None:
        # Replace in place so the attribute keeps its position (and the body stays
        # diff-friendly), else append.
        out: list[Attribute] = []
        placed = False
        for attr in self.attributes:
            if attr.name in _DIRECTIONS:
                if not placed:
                    out.append(Attribute(value.value))
                    placed = True
                continue
            out.append(attr)
        if not placed:
            out.append(Attribute(value.value))
        self.attributes = out

    # -- payload types ------------------------------------------------------

    @property
    def mid(self) -> str | None:
        return self.get("mid")

    @property
    def rejected(self) -> bool:
        """Port 0 marks a rejected or disabled stream (RFC 3264 §6, §8.2)."""
        return self.port == 0

    def rtpmap(self, pt: str) -> RtpMap | None:
        for value in self.get_all("rtpmap"):
            if split_pt(value)[0] == pt:
                try:
                    return RtpMap.parse(value)
                except SdpError:
                    return None
        return None

    def fmtp(self, pt: str) -> str | None:
        for value in self.get_all("fmtp"):
            got, params = split_pt(value)
            if got == pt:
                return params
        return None

    def fmtp_params(self, pt: str) -> dict[str, str]:
        params = self.fmtp(pt)
        return {} if params is None else fmtp_params(params)

    def rtcp_fb(self, pt: str) -> list[str]:
        """The ``a=rtcp-fb`` values (RFC 4585 §4.2) for ``pt``, including ``*`` ones."""
        out = []
        for value in self.get_all("rtcp-fb"):
            got, fb = split_pt(value)
            if got in (pt, "*"):
                out.append(fb)
        return out

    def keep_formats(self, keep: Iterable[str]) -> None:
        """Keep only these payload types (in this order) and drop their ``rtpmap``/
        ``fmtp``/``rtcp-fb`` lines for the others."""
        keep = list(dict.fromkeys(keep))
        gone = set(self.formats) - set(keep)
        self.formats = keep
        self.attributes = [
            a
            for a in self.attributes
            if not (a.name in ("rtpmap", "fmtp", "rtcp-fb") and split_pt(a.value or "")[0] in gone)
        ]

    # -- wire form ----------------------------------------------------------

    def _mline(self) -> MediaLine:
        line = MediaLine(self.kind, self.port, self.proto, tuple(self.formats), self.port_count)
        object.__setattr__(line, "raw", self._mline_raw)
        return line

    def lines(self) -> Iterator[str]:
        yield render("m", self._mline())
        if self.title is not None:
            yield f"i={self.title}"
        for conn in self.connections:
            yield render("c", conn)
        for bw in self.bandwidths:
            yield render("b", bw)
        if self.key is not None:
            yield f"k={self.key}"
        for attr in self.attributes:
            yield render("a", attr)


@attrs.define
class SessionDescription(AttributeList):
    """A whole SDP body: the session part and its media sections, in order."""

    origin: Origin
    session_name: str = "-"
    version: int = 0
    info: str | None = None
    uri: str | None = None
    emails: list[str] = attrs.Factory(list)
    phones: list[str] = attrs.Factory(list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = attrs.Factory(list)
    #: Lines written verbatim after the session ``c=``/``b=`` lines and before
    #: ``t=``: where the SDK's ``sipSDP`` lines go (see ``plugins/sip_sdp.py``).
    extra: list[str] = attrs.Factory(list)
    timings: list[Timing] = attrs.Factory(lambda: [Timing()])
    zone: str | None = None
    key: str | None = None
    attributes: list[Attribute] = attrs.Factory(list)
    media: list[MediaSection] = attrs.Factory(list)
    eol: str = "\r\n"
    #: What followed the last line (normally one ``eol``); kept for exact round trips.
    trailer: str = "\r\n"

    @property
    def direction(self) -> Direction | None:
        found = None
        for attr in self.attributes:
            if attr.name in _DIRECTIONS:
                found = Direction(attr.name)
        return found

    def direction_of(self, media: MediaSection) -> Direction:
        """Effective direction of ``media``: its own, else the session's, else sendrecv."""
        return media.direction or self.direction or Direction.SENDRECV

    def connection_of(self, media: MediaSection) -> Connection | None:
        """The ``c=`` that applies to ``media`` (its own overrides the session's, §5.7)."""
        return media.connections[0] if media.connections else self.connection

    # -- wire form --------------------------------------------------------------

    def lines(self) -> Iterator[str]:
        yield f"v={self.version}"
        yield render("o", self.origin)
        yield f"s={self.session_name}"
        if self.info is not None:
            yield f"i={self.info}"
        if self.uri is not None:
            yield f"u={self.uri}"
        yield from (f"e={e}" for e in self.emails)
        yield from (f"p={p}" for p in self.phones)
        if self.connection is not None:
            yield render("c", self.connection)
        yield from (render("b", b) for b in self.bandwidths)
        yield from self.extra
        for timing in self.timings:
            yield render("t", timing)
            yield from (f"r={r}" for r in timing.repeats)
        if self.zone is not None:
            yield f"z={self.zone}"
        if self.key is not None:
            yield f"k={self.key}"
        yield from (render("a", a) for a in self.attributes)
        for media in self.media:
            yield from media.lines()

    def to_text(self) -> str:
        return self.eol.join(self.lines()) + self.trailer

    def to_bytes(self) -> bytes:
        return self.to_text().encode("utf-8")

    def __str__(self) -> str:
        return self.to_text()

    def copy(self) -> SessionDescription:
        """A deep enough copy to edit lists of the copy without touching this one."""
        return SessionDescription.parse(self.to_text())

    @classmethod
    def parse(cls, body: str | bytes) -> SessionDescription:
        """Parse an SDP body; raise :class:`SdpError` naming the first bad line."""
        return _Parser().parse(body)


class _Parser:
    """Reads lines one by one; the section (session or media) decides what is allowed."""

    def parse(self, body: str | bytes) -> SessionDescription:
        if isinstance(body, bytes):
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SdpError(f"SDP is not UTF-8 text ({exc.reason})") from None
        content = body.rstrip("\r\n")
        if not content:
            raise SdpError("empty SDP body")
        eol = "\r\n" if "\r\n" in body else "\n"
        fields: dict[str, object] = {
            "eol": eol,
            "trailer": body[len(content) :],
            "timings": [],
            "attributes": [],
        }
        origin: Origin | None = None
        seen: set[str] = set()
        media: list[MediaSection] = []
        for number, text in enumerate(content.split("\n"), start=1):
            line = text[:-1] if text.endswith("\r") else text
            if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
                raise SdpError("not an SDP <type>=<value> line", line_no=number, line=line)
            letter, value = line[0], line[2:]
            try:
                if number == 1:
                    if letter != "v":
                        raise SdpError("SDP must start with v=")
                    if value != "0":
                        raise SdpError("unsupported SDP version")
                    continue
                if letter == "m":
                    mline = MediaLine.parse(value)
                    media.append(
                        MediaSection(
                            mline.kind, mline.port, mline.proto, list(mline.formats),
                            mline.port_count, mline_raw=mline.raw,
                        )
                    )
                elif media:
                    self._media_line(media[-1], letter, value)
                else:
                    if letter == "o":
                        if origin is not None:
                            raise SdpError("second o= line")
                        origin = Origin.parse(value)
                    else:
                        self._session_line(fields, seen, letter, value)
            except SdpError as exc:
                if exc.line is not None:
                    raise
                raise SdpError(exc.message, line_no=number, line=line) from None
        if origin is None:
            raise SdpError("SDP has no o= line")
        return SessionDescription(origin=origin, media=media, **fields)  # type: ignore[arg-type]

    @staticmethod
    def _session_line(fields: dict[str, object], seen: set[str], letter: str, value: str) -> None:
        if letter not in _SESSION_LETTERS:
            raise SdpError(f"unknown SDP line type {letter}=")
        if letter in "vsiuczk" and letter in seen:
            raise SdpError(f"second {letter}= line in the session part")
        seen.add(letter)
        timings: list[Timing] = fields["timings"]  # type: ignore[assignment]
        if letter == "v":
            raise SdpError("v= must be the first line only")
        if letter == "s":
            fields["session_name"] = value
        elif letter == "i":
            fields["info"] = value
        elif letter == "u":
            fields["uri"] = value
        elif letter == "e":
            fields.setdefault("emails", []).append(value)  # type: ignore[attr-defined]
        elif letter == "p":
            fields.setdefault("phones", []).append(value)  # type: ignore[attr-defined]
        elif letter == "c":
            fields["connection"] = Connection.parse(value)
        elif letter == "b":
            fields.setdefault("bandwidths", []).append(Bandwidth.parse(value))  # type: ignore[attr-defined]
        elif letter == "t":
            timings.append(Timing.parse(value))
        elif letter == "r":
            if not timings:
                raise SdpError("r= before any t=")
            timings[-1] = attrs.evolve(timings[-1], repeats=(*timings[-1].repeats, value))
        elif letter == "z":
            fields["zone"] = value
        elif letter == "k":
            fields["key"] = value
        else:  # "a"
            fields["attributes"].append(Attribute.parse(value))  # type: ignore[attr-defined]

    @staticmethod
    def _media_line(media: MediaSection, letter: str, value: str) -> None:
        if letter not in _MEDIA_LETTERS:
            if letter in _SESSION_LETTERS:
                raise SdpError(f"{letter}= is not allowed in a media section")
            raise SdpError(f"unknown SDP line type {letter}=")
        if letter == "i":
            if media.title is not None:
                raise SdpError("second i= line in a media section")
            media.title = value
        elif letter == "c":
            media.connections.append(Connection.parse(value))
        elif letter == "b":
            media.bandwidths.append(Bandwidth.parse(value))
        elif letter == "k":
            media.key = value
        else:
            media.attributes.append(Attribute.parse(value))
