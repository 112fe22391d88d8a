from __future__ import annotations

import pluggy
import pytest

from wcs_trio.core.config import Settings
from wcs_trio.core.pluginmanager import make_plugin_manager
from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.plugins.sip_sdp import normalize_line

from .conftest import sip_offer_from, vector

# MISSION.md: sipSDP lines go after c= and before t=; b-TIAS:2500000 is b=TIAS:2500000.
MISSION_EXAMPLE = ["b=AS:3000", "b-TIAS:2500000"]


def test_mission_example_in_the_invite_offer(pm: pluggy.PluginManager, settings: Settings) -> None:
    sdp = sip_offer_from()
    pm.hook.wcs_rewrite_sip_offer(sdp=sdp, call_options={"sipSDP": MISSION_EXAMPLE}, settings=settings)
    lines = sdp.to_text().split("\r\n")
    c = lines.index("c=IN IP4 192.0.2.1")
    assert lines[c + 1 : c + 4] == ["b=AS:3000", "b=TIAS:2500000", "t=0 0"]
    again = SessionDescription.parse(sdp.to_text())
    assert [(b.bwtype, b.bandwidth) for b in again.bandwidths] == [("AS", 3000), ("TIAS", 2500000)]


def test_in_the_200_ok_answer_and_with_attributes(pm: pluggy.PluginManager, settings: Settings) -> None:
    sdp = vector("asterisk_answer_audio.sdp")
    pm.hook.wcs_rewrite_sip_answer(
        sdp=sdp, call_options={"sipSDP": ["a-X-custom:1", " b=AS:64 "]}, settings=settings
    )
    text = sdp.to_text()
    assert "c=IN IP4 192.0.2.10\r\na=X-custom:1\r\nb=AS:64\r\nt=0 0\r\n" in text


def test_applying_twice_adds_nothing(pm: pluggy.PluginManager, settings: Settings) -> None:
    sdp = sip_offer_from()
    for _ in range(2):
        pm.hook.wcs_rewrite_sip_offer(sdp=sdp, call_options={"sipSDP": MISSION_EXAMPLE}, settings=settings)
        sdp = sdp.copy()
    assert sdp.to_text().count("b=AS:3000") == 1


def test_no_sip_sdp_adds_no_line(pm: pluggy.PluginManager, settings: Settings) -> None:
    for options in ({}, {"sipSDP": []}, {"sipSDP": None}):
        sdp = sip_offer_from()
        pm.hook.wcs_rewrite_sip_offer(sdp=sdp, call_options=options, settings=settings)
        assert sdp.extra == [] and sdp.bandwidths == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("b=AS", "sipSDP entry 1: b= must be"),
        ("b=AS:lots", "not a decimal number"),
        ("x=1", "not a session-level b= or a= SDP line"),
        ("c=IN IP4 10.0.0.1", "not a session-level b= or a= SDP line"),
        ("hello", "not a session-level"),
        ("a=", "not a session-level"),
        ("a=x y:1", "contains spaces"),
        ("a=ok\r\nm=audio 1 RTP/AVP 0", "line break"),
        (42, "not a string"),
    ],
)
def test_invalid_lines_are_refused_naming_them(entry: object, message: str, settings: Settings) -> None:
    manager = make_plugin_manager(load_entry_points=False)  # the gateway's: SdpError passes
    with pytest.raises(SdpError, match=message) as info:
        manager.hook.wcs_rewrite_sip_offer(
            sdp=sip_offer_from(), call_options={"sipSDP": [entry]}, settings=settings
        )
    assert info.value.line in (entry, repr(entry))
    assert info.value.status == 488


def test_normalize_line() -> None:
    assert normalize_line("b-TIAS:2500000", 1) == "b=TIAS:2500000"
    assert normalize_line("a-fmtp-like:x-y", 1) == "a=fmtp-like:x-y"
    assert normalize_line("a=sendrecv", 1) == "a=sendrecv"
