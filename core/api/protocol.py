"""The SDK wire protocol, sans-IO: frames in, validated messages out (see PROTOCOL.md).

Every frame both ways is JSON ``{"message": NAME, "data": [...]}``. Decoding checks the
envelope and, for the messages we know, each field's type, so that a bad request is
answered with a ``fail`` that names the offending field instead of failing later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

PROTOCOL_VERSION = 1


class ProtocolError(Exception):
    """A frame we refuse. ``field`` names what was wrong; ``api_method`` echoes the message name."""

    def __init__(self, info: str, *, field: str = "", api_method: str = "") -> None:
        super().__init__(info)
        self.info, self.field, self.api_method = info, field, api_method

    def as_fail(self) -> dict[str, Any]:
        body: dict[str, Any] = {"apiMethod": self.api_method or "unknown", "info": self.info}
        if self.field:
            body["field"] = self.field
        return body


@attrs.frozen
class Message:
    name: str
    data: tuple[Any, ...]

    @property
    def body(self) -> dict[str, Any]:
        """The first data element when it is an object (most messages), else ``{}``."""
        return self.data[0] if self.data and isinstance(self.data[0], dict) else {}


# Field kinds: what JSON values each field accepts. "port" takes 1..65535 as a number
# or numeric string, because the official pages send form input values as strings.
_STR, _BOOL, _PORT, _LIST, _OBJ, _ANY = "string", "boolean", "port", "array", "object", "any"

SCHEMAS: dict[str, dict[str, str]] = {
    "connection": {
        "appKey": _STR, "keepAlive": _BOOL, "authToken": _STR, "clientVersion": _STR,
        "mediaProviders": _LIST, "custom": _OBJ, "sipLogin": _STR, "sipAuthenticationName": _STR,
        "sipPassword": _STR, "sipDomain": _STR, "sipOutboundProxy": _STR, "sipProxy": _STR,
        "sipPort": _PORT, "sipRegisterRequired": _BOOL, "sipContactParams": _STR,
        "clientOSVersion": _STR, "clientBrowserVersion": _STR, "msePacketizationVersion": _ANY,
        "useWsTunnel": _BOOL, "useWsTunnelPacketization2": _BOOL, "useBase64BinaryEncoding": _BOOL,
    },
    "call": {
        "callId": _STR, "incoming": _BOOL, "hasVideo": _BOOL, "hasAudio": _BOOL, "status": _STR,
        "mediaProvider": _STR, "sdp": _STR, "sipSDP": _LIST, "sipHeaders": _OBJ, "caller": _STR,
        "callee": _STR, "custom": _OBJ, "visibleName": _STR, "stripCodecs": _STR,
    },
    "answer": {
        "callId": _STR, "incoming": _BOOL, "hasVideo": _BOOL, "hasAudio": _BOOL, "status": _STR,
        "mediaProvider": _STR, "sdp": _STR, "sipSDP": _LIST, "sipHeaders": _OBJ, "caller": _STR,
        "callee": _STR, "custom": _OBJ, "visibleName": _STR, "stripCodecs": _STR,
    },
    "hangup": {"callId": _STR},
    "hold": {"callId": _STR, "holdForTransfer": _BOOL},
    "unhold": {"callId": _STR},
    "sendDtmf": {"callId": _STR, "type": _STR, "dtmf": _STR},
    "transfer": {"callId": _STR, "target": _STR},
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "call": ("callId", "callee", "sdp"),
    "answer": ("callId", "sdp"),
    "hangup": ("callId",),
    "hold": ("callId",),
    "unhold": ("callId",),
    "sendDtmf": ("callId", "dtmf"),
    "transfer": ("callId", "target"),
}
# Messages that carry no object body, or one we do not validate field by field.
FREE_FORM = frozenset({"pong", "ping", "sendData", "updateCallToStream", "setOutputStream",
                       "submitBugReport", "sessionDebug"})
# Messages the official SDK may send that this server takes and ignores (PROTOCOL.md §2).
IGNORED = frozenset({"submitBugReport", "sessionDebug", "updateCallToStream", "setOutputStream"})


def _check(kind: str, value: Any) -> bool:
    if value is None:
        return True  # the SDK sends null for options the page left out
    if kind == _STR:
        return isinstance(value, str)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _LIST:
        return isinstance(value, list)
    if kind == _OBJ:
        return isinstance(value, dict)
    if kind == _PORT:
        if isinstance(value, str) and value.strip() == "":
            return True
        try:
            port = int(value)
        except (TypeError, ValueError):
            return False
        return not isinstance(value, bool) and 1 <= port <= 65535
    return True


def decode(frame: str | bytes) -> Message:
    """Parse and validate one frame; raise :class:`ProtocolError` naming what is wrong."""
    try:
        envelope = json.loads(frame)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise ProtocolError("frame must be a JSON object", field="message")
    name = envelope.get("message")
    if not isinstance(name, str) or not name:
        raise ProtocolError("'message' must be a non-empty string", field="message")
    data = envelope.get("data", [])
    if data is None:
        data = []
    if not isinstance(data, list):
        raise ProtocolError("'data' must be an array", field="data", api_method=name)
    message = Message(name, tuple(data))
    schema = SCHEMAS.get(name)
    if schema is not None:
        _validate(message, schema)
    elif name not in FREE_FORM:
        raise ProtocolError(f"unknown message {name!r}", field="message", api_method=name)
    return message


def _validate(message: Message, schema: Mapping[str, str]) -> None:
    if not message.data or not isinstance(message.data[0], dict):
        raise ProtocolError(
            f"{message.name}: data[0] must be an object", field="data", api_method=message.name
        )
    body = message.body
    for field in REQUIRED.get(message.name, ()):
        if body.get(field) in (None, ""):
            raise ProtocolError(f"{field} is required", field=field, api_method=message.name)
    for field, value in body.items():
        kind = schema.get(field, _ANY)
        if not _check(kind, value):
            raise ProtocolError(
                f"{field} must be a {kind}, got {type(value).__name__}",
                field=field, api_method=message.name,
            )


def encode(name: str, *data: Any) -> str:
    return json.dumps({"message": name, "data": list(data)}, separators=(",", ":"))
