"""Configuration: one typed, frozen :class:`Settings` built from a properties file.

Every key is an attrs field whose metadata carries its name in the file, its
documentation and its parser, so the key table, the parser, the ``--set``
overrides and the generated documentation (``wcs-trio serve --list-keys``) can
never disagree. Key names follow the product we replace wherever it has one
(``ip``, ``ws.port``, ``media_port_from`` ...).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(Exception):
    """A configuration problem, phrased for the operator: file, line and key."""

    def __init__(self, message: str, *, source: str = "", line: int = 0, key: str = "") -> None:
        where = source + (f":{line}" if line else "")
        prefix = f"{where}: " if where else ""
        keypart = f"key '{key}': " if key else ""
        super().__init__(f"{prefix}{keypart}{message}")
        self.source, self.line, self.key = source, line, key


# --------------------------------------------------------------------------
# Value parsers: text from the file -> typed value, ValueError with a reason.
# --------------------------------------------------------------------------


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def parse_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}..{high}")
        return value

    return parse


parse_port = parse_int(0, 65535)


def parse_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def parse_lower_list(text: str) -> tuple[str, ...]:
    return tuple(item.lower() for item in parse_list(text))


def parse_str(text: str) -> str:
    return text.strip()


def parse_address(text: str) -> str:
    """An IP address, or empty for "work it out" (see :func:`Settings.public_address`)."""
    value = text.strip()
    if value in ("", "auto"):
        return ""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"expected an IP address, got {value!r}") from None
    return value


def parse_path(text: str) -> str:
    value = text.strip()
    if value and not Path(value).is_file():
        raise ValueError(f"no readable file at {value!r}")
    return value


def parse_demo_prefix(text: str) -> str:
    """A SIP user-part prefix: letters, digits and ``-_.!~*'()`` (RFC 3261 §25.1 unreserved)."""
    value = text.strip()
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()")
    if any(ch not in allowed for ch in value):
        raise ValueError(f"expected letters, digits and -_.!~*'() only, got {text!r}")
    return value


def parse_log_level(text: str) -> str:
    value = text.strip().upper()
    if value not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {text!r}")
    return value


def parse_activity(text: str) -> tuple[bool, int]:
    """``rtp_activity_detecting``: ``true``/``false``, optionally ``,SECONDS`` as the product we replace writes it."""
    flag, _, seconds = text.partition(",")
    enabled = parse_bool(flag)
    timeout = parse_int(1, 86400)(seconds) if seconds.strip() else 60
    return enabled, timeout


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
        return f"{_fmt(value[0])},{value[1]}"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def key(name: str, default: Any, parse: Callable[[str], Any], doc: str) -> Any:
    return attrs.field(default=default, metadata={"key": name, "parse": parse, "doc": doc})


DEFAULT_CODECS = (
    "opus,alaw,ulaw,g729,speex16,g722,mpeg4-generic,telephone-event,h264,vp8,flv,mpv"
)


@attrs.frozen(kw_only=True)
class Settings:
    """Everything ``wcs-trio serve`` is configured with. Every key has a working default."""

    # ---- codec policy (names as in the product we replace) ----
    codecs: tuple[str, ...] = key(
        "codecs", parse_lower_list(DEFAULT_CODECS), parse_lower_list,
        "Codecs offered to the SIP side, in this order.")
    codecs_exclude_sip: tuple[str, ...] = key(
        "codecs_exclude_sip", ("mpeg4-generic", "flv", "mpv"), parse_lower_list,
        "Codecs never offered to the SIP side.")
    allow_outside_codecs: bool = key(
        "allow_outside_codecs", False, parse_bool,
        "Keep codecs the browser offers beyond `codecs` (false drops them).")
    profiles: tuple[str, ...] = key(
        "profiles", ("42e01f", "640028"), parse_lower_list,
        "H.264 profile-level-ids the gateway accepts, matched so no transcoding starts.")
    proxy_use_h264_packetization_mode_1_only: bool = key(
        "proxy_use_h264_packetization_mode_1_only", False, parse_bool,
        "Offer and accept only H.264 packetization-mode=1.")

    # ---- SIP ----
    sip_use_tls: bool = key(
        "sip_use_tls", False, parse_bool,
        "Talk SIP over TLS to the SIP server (certificate checked against the system store and `sip_ca_file`).")
    sip_ca_file: str = key(
        "sip_ca_file", "", parse_path,
        "Extra trusted CA certificate(s), PEM, for SIP over TLS (self-signed PBX certificates).")
    sip_port: int = key(
        "sip.port", 5080, parse_port,
        "The gateway's SIP port, UDP and TCP (0 = any free port).")
    sip_tls_port: int = key(
        "sip.tls_port", 5081, parse_port,
        "The gateway's SIP-over-TLS listening port (used with `tls.cert_file`).")

    # ---- media ----
    rtp_activity_detecting: tuple[bool, int] = key(
        "rtp_activity_detecting", (True, 60), parse_activity,
        "Hang up a call whose media stopped both ways: `true[,SECONDS]` or `false`.")
    generate_av_for_ua: tuple[str, ...] = key(
        "generate_av_for_ua", ("none",), parse_list,
        "SIP User-Agents (substrings, or `all` / `none`) for which missing audio/video is generated.")
    rtp_generator_start_timeout: int = key(
        "rtp_generator_start_timeout", 2000, parse_int(0, 600_000),
        "Milliseconds without media after which the generator starts (ms).")
    ip: str = key(
        "ip", "", parse_address,
        "Public address put in SDP and ICE candidates (empty: `ip_local`).")
    ip_local: str = key(
        "ip_local", "", parse_address,
        "Local address media sockets use (empty: the address of the default route, else 127.0.0.1).")
    webrtc_port: int = key(
        "webrtc.port", 31000, parse_port,
        "The one UDP port every WebRTC leg shares (ICE, DTLS, SRTP).")
    media_port_from: int = key(
        "media_port_from", 31001, parse_port, "First RTP/RTCP port for SIP-side media.")
    media_port_to: int = key(
        "media_port_to", 32000, parse_port, "Last RTP/RTCP port for SIP-side media.")

    # ---- WebSocket and HTTP ----
    listen: str = key(
        "listen", "0.0.0.0", parse_address, "Address the WebSocket, HTTP and SIP endpoints listen on.")
    ws_port: int = key("ws.port", 8080, parse_port, "WebSocket port for the SDK.")
    wss_port: int = key("wss.port", 8443, parse_port, "Secure WebSocket port (with `tls.cert_file`).")
    http_port: int = key("http.port", 9091, parse_port, "HTTP port: SDK script, example pages, admin API, metrics.")
    https_port: int = key("https.port", 8888, parse_port, "HTTPS port (with `tls.cert_file`).")
    tls_cert_file: str = key(
        "tls.cert_file", "", parse_path, "PEM certificate chain for wss:// and https:// (empty: both off).")
    tls_key_file: str = key("tls.key_file", "", parse_path, "PEM private key for `tls.cert_file`.")
    client_timeout: int = key(
        "client_timeout", 3_600_000, parse_int(1000, 10**9),
        "How long a keepAlive session outlives its WebSocket (ms).")
    client_timeout_check_interval: int = key(
        "client_timeout_check_interval", 300_000, parse_int(100, 10**9),
        "How often detached keepAlive sessions are checked for expiry (ms).")
    keep_alive_interval: int = key(
        "keep_alive.interval", 5000, parse_int(100, 600_000),
        "Milliseconds between server pings on a WebSocket.")
    keep_alive_probes: int = key(
        "keep_alive.probes", 3, parse_int(1, 100),
        "Unanswered pings after which the client is dropped.")
    ws_max_message_size: int = key(
        "ws.max_message_size", 262_144, parse_int(1024, 16 * 2**20),
        "Largest WebSocket message accepted (bytes).")
    ws_max_messages_per_second: int = key(
        "ws.max_messages_per_second", 50, parse_int(1, 100_000),
        "Messages a session may send per second before it is refused.")

    # ---- operations ----
    admin_token: str = key(
        "admin_token", "", parse_str, "Bearer token for the admin API (empty: admin API off).")
    log_level: str = key("log_level", "INFO", parse_log_level, "DEBUG, INFO, WARNING or ERROR.")
    demo_enabled: bool = key(
        "demo.enabled", True, parse_bool, "Built-in demo endpoints (echo, tone, ivr).")
    demo_prefix: str = key(
        "demo.prefix", "", parse_demo_prefix,
        "User-part prefix of the demo endpoints (e.g. `demo-`: `demo-echo`); a prefixed callee reaches "
        "them from any session, even one registered at a SIP server.")
    demo_echo_delay_ms: int = key(
        "demo.echo_delay_ms", 500, parse_int(0, 10_000),
        "How long the `echo` endpoint holds what it hears before sending it back (ms).")

    @property
    def local_address(self) -> str:
        return self.ip_local or default_local_address()

    @property
    def public_address(self) -> str:
        return self.ip or self.local_address


def default_local_address() -> str:
    """The source address of the default route, without sending anything; else loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            # connect() on UDP only picks a route; no packet leaves the machine.
            probe.connect(("192.0.2.1", 9))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


# --------------------------------------------------------------------------
# The key table, the properties reader and the documentation.
# --------------------------------------------------------------------------

KEYS: dict[str, attrs.Attribute] = {  # type: ignore[type-arg]
    f.metadata["key"]: f for f in attrs.fields(Settings)
}


def _apply(values: dict[str, Any], name: str, text: str, *, source: str, line: int) -> None:
    field = KEYS.get(name)
    if field is None:
        raise ConfigError("unknown key", source=source, line=line, key=name)
    try:
        values[field.name] = field.metadata["parse"](text)
    except ValueError as exc:
        raise ConfigError(f"bad value: {exc}", source=source, line=line, key=name) from None


def parse_properties(text: str, source: str) -> Iterable[tuple[int, str, str]]:
    """Yield ``(line number, key, value)`` from ``key=value`` lines (``#``/``!`` comments)."""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise ConfigError("expected KEY=VALUE", source=source, line=number, key=name.strip())
        yield number, name.strip(), value.strip()


def load_settings(path: str | None = None, overrides: Iterable[str] = ()) -> Settings:
    """Build the settings from an optional properties file, then ``KEY=VALUE`` overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read: {exc}", source=path) from None
        for number, name, value in parse_properties(text, path):
            _apply(values, name, value, source=path, line=number)
    for number, item in enumerate(overrides, start=1):
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError("expected KEY=VALUE", source="--set", line=number, key=name)
        _apply(values, name.strip(), value.strip(), source="--set", line=number)
    settings = Settings(**values)
    _check_consistency(settings, path or "--set")
    return settings


def _check_consistency(settings: Settings, source: str) -> None:
    if settings.media_port_from > settings.media_port_to:
        raise ConfigError("media_port_from is above media_port_to", source=source, key="media_port_from")
    if bool(settings.tls_cert_file) != bool(settings.tls_key_file):
        raise ConfigError("tls.cert_file and tls.key_file go together", source=source, key="tls.key_file")


def describe_keys() -> str:
    """Every key, its default and meaning, as a Markdown table (``wcs-trio serve --list-keys``)."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for name, field in KEYS.items():
        rows.append(f"| `{name}` | `{_fmt(field.default)}` | {field.metadata['doc']} |")
    return "\n".join(rows) + "\n"
