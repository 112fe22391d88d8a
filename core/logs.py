"""Structured logs: one ``key=value`` line per record, carrying the session id.

The session id lives in a context variable; trio copies the context into every task
a session's nursery starts, so everything a session does is tagged without passing
ids around.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time

session_id: contextvars.ContextVar[str] = contextvars.ContextVar("session_id", default="-")

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _quote(value: object) -> str:
    text = str(value)
    if not text or any(ch in text for ch in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class KeyValueFormatter(logging.Formatter):
    """``ts=… level=… logger=… session=… msg="…" key=value…`` (extra= fields appended)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [
            f"ts={stamp}.{int(record.msecs):03d}Z",
            f"level={record.levelname}",
            f"logger={record.name}",
            f"session={_quote(getattr(record, 'session', session_id.get()))}",
            f"msg={_quote(record.getMessage())}",
        ]
        for name, value in record.__dict__.items():
            if name not in _RESERVED and name != "session":
                parts.append(f"{name}={_quote(value)}")
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter stays at WARNING unless we debug.
    for noisy in ("hypercorn", "trio-websocket", "aioice"):
        logging.getLogger(noisy).setLevel(level if level == "DEBUG" else "WARNING")
