"""A real Chromium offer: parse, byte-exact round trip, lean SIP offer, and back.

Starts Debian's headless Chromium through Playwright on an about:blank page (no
network: host candidates are mDNS names or loopback) and closes it whatever the
outcome. Fails, never skips, when Chromium or Playwright is missing.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from wcs_trio.core.config import Settings
from wcs_trio.core.pluginmanager import make_plugin_manager
from wcs_trio.core.sdp.lines import Origin
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sdp.translate import (
    SipMedia,
    WebRtcMedia,
    browser_offer_to_sip,
    sip_answer_to_browser,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
OFFER_AND_ANSWER = """async (answerSdp) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio', {direction: 'sendrecv'});
  pc.addTransceiver('video', {direction: 'sendrecv'});
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  if (answerSdp === null) { const sdp = offer.sdp; pc.close(); return sdp; }
  return null;
}"""
APPLY_ANSWER = """async ([answerTemplate]) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio', {direction: 'sendrecv'});
  pc.addTransceiver('video', {direction: 'sendrecv'});
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const answer = await window.makeAnswer(offer.sdp);
  try {
    await pc.setRemoteDescription({type: 'answer', sdp: answer});
    return ['ok', pc.getTransceivers().map(t => t.currentDirection).join(',')];
  } catch (e) { return ['error', String(e)]; } finally { pc.close(); }
}"""

SIP = SipMedia("127.0.0.1", {"audio": 20000, "video": 20002})
WEBRTC = WebRtcMedia(
    ice_ufrag="gw01",
    ice_pwd="0123456789abcdefghijklmn",
    fingerprint="sha-256 " + ":".join(["AB"] * 32),
    address="127.0.0.1",
    port=30000,
    candidates=("1 1 udp 2130706431 127.0.0.1 30000 typ host",),
)
ORIGIN = Origin("wcs-trio", "1", 1, address="127.0.0.1")
SIP_ANSWER = (
    "v=0\r\no=pbx 9 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 7000 RTP/AVP 8 126\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n"
    "m=video 0 RTP/AVP 96\r\n"
)


def to_sip(offer_text: str) -> tuple[SessionDescription, SessionDescription, object]:
    offer = SessionDescription.parse(offer_text)
    sip_offer, plan = browser_offer_to_sip(offer, SIP, ORIGIN)
    manager = make_plugin_manager(load_entry_points=False)
    manager.hook.wcs_rewrite_sip_offer(
        sdp=sip_offer, call_options={"sipSDP": ["b=AS:3000"]}, settings=Settings()
    )
    return offer, sip_offer, plan


@pytest.mark.peers
def test_real_chromium_offer_parses_round_trips_and_translates() -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page()
            page.goto("about:blank")
            offer_text = page.evaluate(OFFER_AND_ANSWER, None)

            # Chromium also accepts the answer we build for the SIP side's answer.
            def make_answer(sdp: str) -> str:
                offer, sip_offer, plan = to_sip(sdp)
                answer, _ = sip_answer_to_browser(
                    offer, sip_offer, SessionDescription.parse(SIP_ANSWER), plan, WEBRTC, ORIGIN
                )
                return answer.to_text()

            page.expose_function("makeAnswer", make_answer)
            status, detail = page.evaluate(APPLY_ANSWER, [None])
        finally:
            browser.close()

    assert SessionDescription.parse(offer_text).to_text() == offer_text
    offer, sip_offer, _ = to_sip(offer_text)
    assert [m.kind for m in offer.media] == ["audio", "video"]
    size = len(sip_offer.to_bytes())
    assert size < 900, size
    text = sip_offer.to_text()
    for gone in ("ice-", "fingerprint", "candidate", "BUNDLE", "msid", "ssrc", "extmap", "rtx/"):
        assert gone not in text
    assert "PCMA/8000" in text and "H264/90000" in text and "VP8/90000" in text
    # audio negotiated; the rejected video transceiver is stopped and gone
    assert (status, detail) == ("ok", "sendrecv")
