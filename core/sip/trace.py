"""Bounded traces of the SIP messages a session sent and received (for ops)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator

import attrs

_AUTH_RE = re.compile(r'(?im)^((?:proxy-)?authorization:.*?response=)"[0-9a-f]+"')


@attrs.frozen
class TraceEntry:
    """One message on the wire. ``text`` is the message with digest responses masked."""

    time: float
    direction: str  # "in" | "out"
    transport: str
    remote: str
    first_line: str
    text: str

    def to_json(self) -> dict[str, object]:
        return attrs.asdict(self)


class MessageTrace:
    """The last ``maxlen`` messages of one session or account."""

    def __init__(self, maxlen: int = 200, max_text: int = 8192) -> None:
        self._entries: deque[TraceEntry] = deque(maxlen=maxlen)
        self.max_text = max_text
        self.dropped = 0

    @property
    def maxlen(self) -> int:
        return self._entries.maxlen or 0

    def record(self, time: float, direction: str, transport: str, remote: str, data: bytes) -> None:
        if len(self._entries) == self._entries.maxlen:
            self.dropped += 1
        text = data[: self.max_text].decode("utf-8", "replace")
        first = text.split("\r\n", 1)[0][:200]
        text = _AUTH_RE.sub(r'\1"…"', text)
        self._entries.append(TraceEntry(time, direction, transport, remote, first, text))

    def __iter__(self) -> Iterator[TraceEntry]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def to_json(self) -> list[dict[str, object]]:
        return [e.to_json() for e in self._entries]

    def __repr__(self) -> str:
        return f"<MessageTrace {len(self)}/{self.maxlen}>"
