"""WebRtcLeg sans-IO: a scripted browser (aioice checks + our DTLS client)."""

from __future__ import annotations

import pytest
from aioice import stun

from wcs_trio.core.webrtc.dtls import DtlsContext, DtlsRole, DtlsSrtpEndpoint
from wcs_trio.core.webrtc.errors import DtlsError, LegUsageError
from wcs_trio.core.webrtc.leg import LegClosed, LegConnected, LegFailed, LegState, WebRtcLeg
from wcs_trio.core.webrtc.srtp import SrtpContext

BROWSER = ("127.0.0.1", 50000)
RTP = bytes.fromhex("80 6f 0001 00000001 0000abcd") + b"media"


@pytest.fixture(scope="module")
def contexts() -> tuple[DtlsContext, DtlsContext]:
    return DtlsContext(), DtlsContext()


def make(contexts, fingerprint=None):
    ours, browser_ctx = contexts
    wire: list[tuple[bytes, tuple]] = []
    got: dict[str, list] = {"rtp": [], "rtcp": [], "state": []}
    leg = WebRtcLeg(
        context=ours, candidates=(), remote_ufrag="brws", remote_pwd="b" * 22,
        remote_fingerprints=[fingerprint or browser_ctx.fingerprint], remote_setup="active",
        now=0.0, transmit=lambda d, a: wire.append((d, a)),
        on_rtp=lambda leg, p: got["rtp"].append(p), on_rtcp=lambda leg, p: got["rtcp"].append(p),
        on_state=lambda leg, e: got["state"].append(e),
    )
    browser = DtlsSrtpEndpoint(browser_ctx, DtlsRole.CLIENT, [ours.fingerprint])
    return leg, browser, wire, got


def ice_check(leg: WebRtcLeg) -> bytes:
    check = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    check.attributes.update({"USERNAME": f"{leg.local.ice_ufrag}:brws", "PRIORITY": 1,
                             "ICE-CONTROLLING": 1, "USE-CANDIDATE": None})
    check.add_message_integrity(leg.local.ice_pwd.encode())
    return bytes(check)


def connect(leg, browser, wire, now=1.0) -> None:
    leg.receive_stun(ice_check(leg), BROWSER, now)
    reply, address = wire.pop(0)
    assert address == BROWSER and stun.parse_message(reply).message_class == stun.Class.RESPONSE
    browser.start(now)
    for _ in range(10):
        for datagram in browser.datagrams_to_send():
            leg.receive_dtls(datagram, BROWSER, now)
        while wire:
            browser.receive(wire.pop(0)[0], now)


def test_leg_connects_and_carries_media_both_ways(contexts) -> None:
    leg, browser, wire, got = make(contexts)
    assert leg.local.setup == "passive" and leg.state is LegState.NEW
    assert leg.send_rtp(RTP) is False  # no keys yet
    connect(leg, browser, wire)
    assert leg.state is LegState.CONNECTED
    (event,) = got["state"]
    assert isinstance(event, LegConnected) and event.remote_address == BROWSER
    keys = browser.next_event()
    b_srtp = SrtpContext(keys.profile, keys.local_key, keys.remote_key)
    leg.receive_media(b_srtp.protect_rtp(RTP))
    assert got["rtp"] == [RTP]
    rtcp = bytes.fromhex("80c90001 00000001")
    leg.receive_media(b_srtp.protect_rtcp(rtcp))
    assert got["rtcp"] == [rtcp]
    assert leg.send_rtp(RTP)
    data, address = wire.pop()
    assert address == BROWSER and b_srtp.unprotect_rtp(data) == RTP
    # Tampered, replayed and short packets are counted, never raised.
    protected = b_srtp.protect_rtp(RTP[:2] + b"\x00\x02" + RTP[4:])
    leg.receive_media(protected[:-1] + bytes([protected[-1] ^ 1]))
    leg.receive_media(protected)
    leg.receive_media(protected)
    leg.receive_media(b"\x80\x00")
    assert len(got["rtp"]) == 2
    assert leg.stats.dropped == {"not_connected": 1, "auth": 1, "replay": 1, "short": 1}
    assert leg.stats.rtp_in == 2 and leg.stats.rtp_out == 1


def test_wrong_fingerprint_fails_leg(contexts) -> None:
    from wcs_trio.core.webrtc.dtls import Fingerprint

    leg, browser, wire, got = make(contexts, Fingerprint("sha-256", "00:11"))
    connect(leg, browser, wire)
    assert leg.state is LegState.FAILED
    (event,) = got["state"]
    assert isinstance(event, LegFailed) and "fingerprint" in event.reason


def test_consent_loss_fails_leg(contexts) -> None:
    leg, browser, wire, got = make(contexts)
    connect(leg, browser, wire, now=1.0)
    assert leg.get_timer() == 31.0
    leg.handle_timer(31.0)
    assert leg.state is LegState.FAILED and "consent" in got["state"][-1].reason
    assert leg.send_rtp(RTP) is False


def test_close_sends_close_notify(contexts) -> None:
    leg, browser, wire, _ = make(contexts)
    connect(leg, browser, wire)
    leg.close()
    assert leg.state is LegState.CLOSED and wire  # the close_notify alert
    browser.next_event()
    browser.receive(wire.pop()[0], 2.0)
    assert type(browser.next_event()).__name__ == "DtlsClosed"


# ------------------------------------------------------ we offer, browser answers


def make_offer(contexts):
    ours, _ = contexts
    wire: list[tuple[bytes, tuple]] = []
    got: dict[str, list] = {"rtp": [], "state": [], "remote": []}
    leg = WebRtcLeg(
        context=ours, candidates=(), now=0.0, transmit=lambda d, a: wire.append((d, a)),
        on_rtp=lambda leg, p: got["rtp"].append(p),
        on_state=lambda leg, e: got["state"].append(e),
        on_remote=lambda leg, disowned: got["remote"].append(disowned),
    )
    return leg, wire, got


def exchange(leg, browser, wire, now) -> None:
    for _ in range(10):
        for datagram in browser.datagrams_to_send():
            leg.receive_dtls(datagram, BROWSER, now)
        while wire:
            browser.receive(wire.pop(0)[0], now)


def media_flows(leg, browser, wire, got) -> None:
    keys = browser.next_event()
    b_srtp = SrtpContext(keys.profile, keys.local_key, keys.remote_key)
    leg.receive_media(b_srtp.protect_rtp(RTP))
    assert got["rtp"] == [RTP]
    assert leg.send_rtp(RTP)
    data, address = wire.pop()
    assert address == BROWSER and b_srtp.unprotect_rtp(data) == RTP


def test_offer_leg_answer_passive_makes_us_dtls_client(contexts) -> None:
    leg, wire, got = make_offer(contexts)
    assert leg.local.setup == "actpass" and leg.role is None and leg.get_timer() is None
    # The browser checks before its answer reaches us: answered at once.
    leg.receive_stun(ice_check(leg), BROWSER, 5.0)
    assert stun.parse_message(wire.pop(0)[0]).message_class == stun.Class.RESPONSE
    assert leg.get_timer() == 35.0 and not wire  # no DTLS before the answer
    leg.set_remote("brws", "b" * 22, [contexts[1].fingerprint], "passive", 6.0)
    assert leg.role is DtlsRole.CLIENT and got["remote"] == [[]]
    # The path is known, so the ClientHello leaves with set_remote.
    (hello, address), = wire
    assert address == BROWSER and hello[0] == 22
    assert leg.get_timer() == 7.0  # RFC 6347 initial RTO
    browser = DtlsSrtpEndpoint(contexts[1], DtlsRole.SERVER, [contexts[0].fingerprint])
    exchange(leg, browser, wire, 6.0)
    assert leg.state is LegState.CONNECTED and isinstance(got["state"][0], LegConnected)
    media_flows(leg, browser, wire, got)
    assert leg.local.setup == "actpass"  # what we offered; `role` is the outcome


def test_offer_leg_answer_active_uses_the_early_client_hello(contexts) -> None:
    leg, wire, got = make_offer(contexts)
    leg.receive_stun(ice_check(leg), BROWSER, 1.0)
    wire.clear()
    browser = DtlsSrtpEndpoint(contexts[1], DtlsRole.CLIENT, [contexts[0].fingerprint])
    browser.start(1.0)
    for datagram in browser.datagrams_to_send():  # ClientHello before the answer
        leg.receive_dtls(datagram, BROWSER, 1.0)
    assert not wire and leg.state is LegState.NEW
    leg.set_remote("brws", "b" * 22, [contexts[1].fingerprint], "active", 2.0)
    assert leg.role is DtlsRole.SERVER
    assert wire  # our server flight answers the buffered ClientHello at once
    exchange(leg, browser, wire, 2.0)
    assert leg.state is LegState.CONNECTED
    media_flows(leg, browser, wire, got)


def test_offer_leg_answer_active_then_client_hello(contexts) -> None:
    leg, wire, _ = make_offer(contexts)
    # a=fingerprint values as text are accepted, as by create_leg
    leg.set_remote("brws", "b" * 22, [str(contexts[1].fingerprint)], "active", 0.0)
    assert leg.get_timer() == 30.0  # consent wait and the DTLS handshake limit
    connect(leg, DtlsSrtpEndpoint(contexts[1], DtlsRole.CLIENT, [contexts[0].fingerprint]),
            wire, now=1.0)
    assert leg.state is LegState.CONNECTED


def test_offer_leg_wrong_fingerprint_in_answer_fails(contexts) -> None:
    from wcs_trio.core.webrtc.dtls import Fingerprint

    leg, wire, got = make_offer(contexts)
    leg.set_remote("brws", "b" * 22, [Fingerprint("sha-256", "00:11")], "active", 0.0)
    connect(leg, DtlsSrtpEndpoint(contexts[1], DtlsRole.CLIENT, [contexts[0].fingerprint]),
            wire, now=1.0)
    assert leg.state is LegState.FAILED and "fingerprint" in got["state"][-1].reason


@pytest.mark.parametrize("setup", ["actpass", "holdconn", "bogus"])
def test_offer_leg_rejects_unusable_answer_setup(contexts, setup) -> None:
    leg, _, _ = make_offer(contexts)
    with pytest.raises(DtlsError):
        leg.set_remote("brws", "b" * 22, [contexts[1].fingerprint], setup, 0.0)
    with pytest.raises(DtlsError):
        leg.set_remote("brws", "b" * 22, [], "active", 0.0)
    assert leg.role is None  # unchanged: a good answer may still follow
    leg.set_remote("brws", "b" * 22, [contexts[1].fingerprint], "active", 0.0)
    with pytest.raises(LegUsageError):
        leg.set_remote("brws", "b" * 22, [contexts[1].fingerprint], "active", 0.0)


def test_set_remote_on_an_answering_leg_is_a_usage_error(contexts) -> None:
    leg, _, _, _ = make(contexts)
    with pytest.raises(LegUsageError):
        leg.set_remote("brws", "b" * 22, [contexts[1].fingerprint], "active", 0.0)


def test_offer_leg_close_before_answer(contexts) -> None:
    leg, wire, got = make_offer(contexts)
    leg.close()
    assert leg.state is LegState.CLOSED and not wire and got["state"] == [LegClosed()]
    leg.set_remote("brws", "b" * 22, [contexts[1].fingerprint], "active", 0.0)  # ignored
    assert leg.get_timer() is None and not wire
