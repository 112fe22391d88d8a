"""SDP captured from a real baresip in the lab: it parses, round-trips byte for byte, and
translates into an offer a browser can take (issue 6: capture baresip's SDP ourselves)."""

from pathlib import Path

import pytest
import trio

from tests.support.lab import Phone, running_lab
from tests.support.netns import HOST_A
from wcs_trio.core.sdp.lines import Origin
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sdp.translate import WebRtcMedia, sip_offer_to_browser
from wcs_trio.core.sip.stack import IncomingRequest, SipStack

pytestmark = pytest.mark.peers


async def test_baresip_offer_round_trips_and_translates(tmp_path: Path, nursery: trio.Nursery) -> None:
    async with running_lab(tmp_path, [Phone("10005", 440)], gateway=False) as rig:
        captured: list[bytes] = []

        async def capture(incoming: IncomingRequest) -> None:
            if incoming.request.method == "INVITE":
                captured.append(incoming.request.body)
                await incoming.respond(486)

        stack = await nursery.start(SipStack(HOST_A, 0, None, intercept=capture).run)
        phone = rig.phones["10005"]
        reply = await phone.control.command("dial", f"sip:capture@{HOST_A}:{stack.ports['udp']}")
        assert reply["ok"], reply
        with trio.fail_after(10):
            while not captured:
                await trio.sleep(0.05)
        stack.close()
    body = captured[0]
    (tmp_path / "baresip_offer.sdp").write_bytes(body)
    offer = SessionDescription.parse(body)
    assert offer.to_bytes() == body  # byte for byte
    audio = offer.media[0]
    assert audio.kind == "audio" and audio.proto == "RTP/AVP"
    names = {audio.rtpmap(pt).encoding.upper() for pt in audio.formats if audio.rtpmap(pt)}
    assert {"PCMU", "PCMA", "G722", "OPUS", "TELEPHONE-EVENT"} <= names, names
    assert "10.99.0.2" in offer.connection_of(audio).address  # its own address, not loopback
    webrtc = WebRtcMedia("ufrag", "pwd" * 8, "sha-256 " + ":".join(["AB"] * 32), HOST_A, 31000,
                         ("1 1 udp 2130706431 10.99.0.1 31000 typ host",))
    browser, plan = sip_offer_to_browser(offer, webrtc, Origin("wcs-trio", "1", 1))
    text = browser.to_text()
    assert "a=ice-lite" in text and "a=setup:actpass" in text and "UDP/TLS/RTP/SAVPF" in text
    assert "a=rtcp-mux" in text and "a=group:BUNDLE 0" in text
    assert plan.by_kind("audio") is not None
