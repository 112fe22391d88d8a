from pathlib import Path

import attrs
import pytest

from wcs_trio.core.config import KEYS, ConfigError, Settings, describe_keys, load_settings

MISSION_KEYS = (
    "codecs", "codecs_exclude_sip", "allow_outside_codecs", "sip_use_tls", "rtp_activity_detecting",
    "client_timeout", "client_timeout_check_interval", "generate_av_for_ua",
    "rtp_generator_start_timeout", "profiles", "proxy_use_h264_packetization_mode_1_only",
    "ip", "ip_local", "ws.port", "wss.port", "http.port", "https.port", "media_port_from", "media_port_to",
)


def test_defaults_follow_the_product_we_replace() -> None:
    settings = load_settings()
    assert (settings.ws_port, settings.wss_port, settings.http_port, settings.https_port) == (8080, 8443, 9091, 8888)
    assert (settings.media_port_from, settings.media_port_to) == (31001, 32000)
    assert settings.codecs[:3] == ("opus", "alaw", "ulaw")
    assert settings.codecs_exclude_sip == ("mpeg4-generic", "flv", "mpv")
    assert settings.client_timeout == 3_600_000
    assert settings.public_address  # works out an address with no config at all


@pytest.mark.parametrize("name", MISSION_KEYS)
def test_every_named_key_exists_and_is_documented(name: str) -> None:
    assert name in KEYS
    assert f"`{name}`" in describe_keys()


def test_file_and_overrides(tmp_path: Path) -> None:
    config = tmp_path / "wcs.properties"
    config.write_text("# comment\n! also a comment\n\nws.port = 8081\ncodecs=PCMA, Opus\n"
                      "rtp_activity_detecting=true,15\nsip_use_tls=true\n")
    settings = load_settings(str(config), ["ws.port=9000", "allow_outside_codecs=yes"])
    assert settings.ws_port == 9000
    assert settings.codecs == ("pcma", "opus")
    assert settings.rtp_activity_detecting == (True, 15)
    assert settings.sip_use_tls and settings.allow_outside_codecs


def test_settings_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Settings().ws_port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ws.port=8080\nbogus_key=1\n", "wcs.properties:2: key 'bogus_key': unknown key"),
        ("http.port=nine\n", "wcs.properties:1: key 'http.port': bad value: expected a whole number"),
        ("http.port=70000\n", "key 'http.port': bad value: 70000 is outside 0..65535"),
        ("sip_use_tls=maybe\n", "key 'sip_use_tls': bad value: expected true or false"),
        ("ip=not-an-ip\n", "key 'ip': bad value: expected an IP address"),
        ("log_level=loud\n", "key 'log_level': bad value"),
        ("sip_ca_file=/nonexistent/ca.pem\n", "key 'sip_ca_file': bad value: no readable file"),
        ("just some words\n", "wcs.properties:1: key 'just some words': expected KEY=VALUE"),
        ("media_port_from=5000\nmedia_port_to=4000\n", "key 'media_port_from'"),
    ],
)
def test_bad_config_names_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    config = tmp_path / "wcs.properties"
    config.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(str(config))
    assert expected in str(info.value)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.properties"
    with pytest.raises(ConfigError, match=r"nope\.properties: cannot read"):
        load_settings(str(missing))


def test_bad_override_is_named() -> None:
    with pytest.raises(ConfigError, match=r"--set:2: key .ws\.port.: bad value"):
        load_settings(None, ["http.port=1", "ws.port=-1"])


def test_readme_documents_every_key_as_the_code_does() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("<!-- keys:start -->\n", 1)[1].split("<!-- keys:end -->", 1)[0]
    assert table == describe_keys(), "README key table is stale: paste `wcs-trio serve --list-keys`"
