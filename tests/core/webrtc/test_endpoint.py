"""WebRtcEndpoint's timer heap on a virtual clock (autojump_clock).

The endpoint runs for real on a loopback UDP port; a scripted browser on
another loopback socket sends checks and DTLS, and records when each
datagram arrives. Loopback delivery is synchronous, so the virtual clock
only moves while everything waits on a timer, and every deadline the
endpoint honours shows up as an exact virtual time. The endpoint's timer
task sleeps until the heap's earliest deadline and nothing else, so a
deadline set from outside (a new leg, `set_remote`) must pull that sleep
earlier or it would be missed.
"""

from __future__ import annotations

import pytest
import trio
from aioice import stun

from wcs_trio.core.webrtc.dtls import DtlsContext, DtlsRole, DtlsSrtpEndpoint
from wcs_trio.core.webrtc.endpoint import WebRtcEndpoint
from wcs_trio.core.webrtc.leg import LegConnected, LegFailed, LegState, WebRtcLeg
from wcs_trio.core.webrtc.srtp import SrtpContext

RTP = bytes.fromhex("80 6f 0001 00000001 0000abcd") + b"media"


@pytest.fixture(scope="module")
def browser_ctx() -> DtlsContext:
    return DtlsContext()


class Browser:
    """One browser on a loopback socket: sends checks, optionally plays a
    DTLS peer, and logs (virtual time, kind) of every datagram it gets."""

    def __init__(self, port: int) -> None:
        self.dest = ("127.0.0.1", port)
        self.sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        self.log: list[tuple[float, str]] = []
        self.dtls: DtlsSrtpEndpoint | None = None

    async def bind(self) -> None:
        await self.sock.bind(("127.0.0.1", 0))

    async def check(self, leg: WebRtcLeg, rfrag: str = "brws") -> None:
        message = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        message.attributes.update({"USERNAME": f"{leg.local.ice_ufrag}:{rfrag}",
                                   "PRIORITY": 1, "ICE-CONTROLLING": 1, "USE-CANDIDATE": None})
        message.add_message_integrity(leg.local.ice_pwd.encode())
        await self.sock.sendto(bytes(message), self.dest)

    async def flush_dtls(self) -> None:
        assert self.dtls is not None
        for datagram in self.dtls.datagrams_to_send():
            await self.sock.sendto(datagram, self.dest)

    async def receive_forever(self) -> None:
        while True:
            data = await self.sock.recv(2048)
            kind = "stun" if data[0] < 4 else "dtls" if 20 <= data[0] <= 63 else "media"
            self.log.append((trio.current_time(), kind))
            if kind == "dtls" and self.dtls is not None:
                self.dtls.receive(data, trio.current_time())
                await self.flush_dtls()

    def times(self, kind: str) -> list[float]:
        return [t for t, k in self.log if k == kind]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[float, object]] = []

    def on_state(self, leg: WebRtcLeg, event: object) -> None:
        self.events.append((trio.current_time(), event))


async def start(nursery: trio.Nursery) -> tuple[WebRtcEndpoint, Browser, Recorder]:
    endpoint = WebRtcEndpoint("127.0.0.1", 0)
    port = await nursery.start(endpoint.run)
    browser = Browser(port)
    await browser.bind()
    nursery.start_soon(browser.receive_forever)
    return endpoint, browser, Recorder()


def ignore(*_: object) -> None:
    return None


async def test_dtls_client_retransmits_on_rfc6347_schedule_then_times_out(
        autojump_clock: trio.testing.MockClock, browser_ctx: DtlsContext) -> None:
    async with trio.open_nursery() as nursery:
        endpoint, browser, rec = await start(nursery)
        t0 = trio.current_time()
        leg = endpoint.create_leg(
            remote_ufrag="brws", remote_pwd="b" * 22, remote_fingerprints=[browser_ctx.fingerprint],
            remote_setup="passive", on_rtp=ignore, on_rtcp=ignore, on_state=rec.on_state,
        )
        await browser.check(leg)  # a path: our ClientHello leaves; nobody answers it
        await trio.sleep_until(t0 + 20)
        await browser.check(leg)  # consent lives on, so the DTLS limit is what fails
        await trio.sleep_until(t0 + 100)
        nursery.cancel_scope.cancel()
    # RFC 6347 §4.2.4.1: 1 s, doubling; the handshake gives up at 30 s.
    assert [t - t0 for t in browser.times("dtls")] == [0, 1, 3, 7, 15]
    assert [t - t0 for t in browser.times("stun")] == [0, 20]
    ((when, event),) = rec.events
    assert when - t0 == 30 and isinstance(event, LegFailed) and "not complete" in event.reason
    assert endpoint.stats().legs == 0


async def test_consent_expiry_30s_after_the_last_check(
        autojump_clock: trio.testing.MockClock, browser_ctx: DtlsContext) -> None:
    async with trio.open_nursery() as nursery:
        endpoint, browser, rec = await start(nursery)
        t0 = trio.current_time()
        leg = endpoint.create_leg(
            remote_ufrag="brws", remote_pwd="b" * 22, remote_fingerprints=[browser_ctx.fingerprint],
            remote_setup="active", on_rtp=ignore, on_rtcp=ignore, on_state=rec.on_state,
        )
        browser.dtls = DtlsSrtpEndpoint(browser_ctx, DtlsRole.CLIENT, [endpoint.context.fingerprint])
        await browser.check(leg)
        browser.dtls.start(t0)
        await browser.flush_dtls()
        await trio.sleep(0.001)
        assert leg.state is LegState.CONNECTED and rec.events[0][0] == t0
        keys = browser.dtls.next_event()
        srtp = SrtpContext(keys.profile, keys.local_key, keys.remote_key)
        for at in (10, 20):
            await trio.sleep_until(t0 + at)
            await browser.check(leg)
        await trio.sleep_until(t0 + 60)
        # The dead leg is forgotten: its address and ufrag route nowhere.
        await browser.sock.sendto(srtp.protect_rtp(RTP), browser.dest)
        await browser.check(leg)
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    (connected_at, connected), (failed_at, failed) = rec.events
    assert connected_at == t0
    assert isinstance(connected, LegConnected)
    assert failed_at - t0 == 50 and isinstance(failed, LegFailed) and "consent" in failed.reason
    assert [t - t0 for t in browser.times("stun")] == [0, 10, 20]
    stats = endpoint.stats()
    assert stats.legs == 0
    assert stats.dropped == {"unknown_address": 1, "unknown_ufrag": 1}


async def test_offer_leg_waits_for_the_answer_then_retransmits_on_time(
        autojump_clock: trio.testing.MockClock, browser_ctx: DtlsContext) -> None:
    async with trio.open_nursery() as nursery:
        endpoint, browser, rec = await start(nursery)
        t0 = trio.current_time()
        leg = endpoint.create_offer_leg(on_rtp=ignore, on_rtcp=ignore, on_state=rec.on_state)
        # No deadline while the callee rings: nothing happens for 1000 s.
        await trio.sleep_until(t0 + 1000)
        assert leg.state is LegState.NEW and not rec.events and not browser.log
        await browser.check(leg)  # the browser checks before we see its answer
        await trio.sleep_until(t0 + 1000.25)
        # set_remote from another task: the ClientHello leaves at once and the
        # sleeping loop is woken for the 1 s retransmission.
        leg.set_remote("brws", "b" * 22, [browser_ctx.fingerprint], "passive", trio.current_time())
        await trio.sleep_until(t0 + 1001)
        # Only now does the browser play DTLS server; it answers the resend.
        browser.dtls = DtlsSrtpEndpoint(browser_ctx, DtlsRole.SERVER, [endpoint.context.fingerprint])
        await trio.sleep_until(t0 + 1010)
        nursery.cancel_scope.cancel()
    assert [t - t0 for t in browser.times("stun")] == [1000]
    dtls = [t - t0 for t in browser.times("dtls")]
    assert dtls[:2] == [1000.25, 1001.25] and set(dtls[2:]) == {1001.25}
    ((when, event),) = rec.events
    assert when - t0 == 1001.25 and isinstance(event, LegConnected)
    # Consent runs from the early check at t0 + 1000.
    assert leg.ice.get_timer() - t0 == 1030


async def test_address_moves_to_the_leg_of_the_latest_valid_check(
        autojump_clock: trio.testing.MockClock, browser_ctx: DtlsContext) -> None:
    async with trio.open_nursery() as nursery:
        endpoint, browser, old = await start(nursery)
        new = Recorder()
        legs = [endpoint.create_leg(
            remote_ufrag="brws", remote_pwd="b" * 22, remote_fingerprints=[browser_ctx.fingerprint],
            remote_setup="active", on_rtp=ignore, on_rtcp=ignore, on_state=r.on_state,
        ) for r in (old, new)]
        await browser.check(legs[0])
        await trio.sleep(1)
        # The same browser address, now with the second leg's credentials.
        await browser.check(legs[1])
        browser.dtls = DtlsSrtpEndpoint(browser_ctx, DtlsRole.CLIENT, [endpoint.context.fingerprint])
        browser.dtls.start(trio.current_time())
        await browser.flush_dtls()
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert not old.events and legs[0].state is LegState.NEW
    assert isinstance(new.events[0][1], LegConnected)
