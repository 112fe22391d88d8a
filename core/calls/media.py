"""The media side of one call: SDP translation, the WebRTC leg, SIP RTP streams, the bridge.

:class:`CallMedia` runs the four offer/answer steps of :mod:`wcs_trio.core.sdp.translate`
and sets up what each needs: a WebRTC leg on the shared port for the browser, an RTP/RTCP
port pair per media kind on the SIP side, and once both answers are known the
:class:`~wcs_trio.core.media.bridge.MediaBridge` between them. Every task it starts
(the SIP streams' drain loops, DTMF pacing) runs in the call's nursery, so the media
ends with the call.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from wcs_trio.core.media.bridge import MediaBridge
from wcs_trio.core.media.sipstream import SipRtpStream
from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.lines import Origin
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sdp.plan import CodecPlan
from wcs_trio.core.sdp.translate import (
    KINDS,
    SipMedia,
    WebRtcMedia,
    answer_sip_reoffer,
    browser_answer_to_sip,
    browser_offer_to_sip,
    hold_reoffer,
    sip_answer_to_browser,
    sip_offer_to_browser,
)
from wcs_trio.core.webrtc.errors import DtlsError
from wcs_trio.core.webrtc.leg import LegEvent, WebRtcLeg

if TYPE_CHECKING:
    from wcs_trio.core.gateway import Gateway

LegStateHandler = Callable[[WebRtcLeg, LegEvent], None]


def _ignore(*_: object) -> None:
    return None


@attrs.frozen
class BrowserTransport:
    """The browser's ICE and DTLS parameters from its SDP (media level wins, RFC 8839 §5.4)."""

    ufrag: str
    pwd: str
    fingerprints: tuple[str, ...]
    setup: str

    @classmethod
    def of(cls, sdp: SessionDescription) -> BrowserTransport:
        active = [m for m in sdp.media if not m.rejected] or sdp.media

        def first(name: str) -> str | None:
            for media in active:
                value = media.get(name)
                if value:
                    return value
            return sdp.get(name)

        ufrag, pwd = first("ice-ufrag"), first("ice-pwd")
        fingerprints = [f for m in active for f in m.get_all("fingerprint")] or (
            [sdp.get("fingerprint")] if sdp.get("fingerprint") else [])
        if not ufrag or not pwd:
            raise SdpError("the browser's SDP has no a=ice-ufrag/a=ice-pwd")
        if not fingerprints:
            raise SdpError("the browser's SDP has no a=fingerprint (DTLS-SRTP is required)")
        return cls(ufrag, pwd, tuple(dict.fromkeys(f for f in fingerprints if f)), first("setup") or "actpass")


@attrs.define(eq=False)
class CallMedia:
    gateway: Gateway
    call_options: dict[str, Any]
    on_leg_state: LegStateHandler = _ignore
    on_dtmf: Callable[[str], None] = _ignore
    leg: WebRtcLeg | None = None
    streams: dict[str, SipRtpStream] = attrs.field(factory=dict)
    bridge: MediaBridge | None = None
    plan: CodecPlan | None = None
    browser_offer: SessionDescription | None = None
    browser_answer: SessionDescription | None = None
    sip_offer: SessionDescription | None = None
    sip_answer: SessionDescription | None = None
    # The last SDP we sent on the SIP side: re-offers (hold) start from it.
    sip_sent: SessionDescription | None = None
    _session_id: str = attrs.field(factory=lambda: str(secrets.randbelow(2**62)))
    _nursery: trio.Nursery | None = None

    # ------------------------------------------------------------------ set-up

    def _origin(self) -> Origin:
        return Origin("wcs-trio", self._session_id, 1, address=self.gateway.settings.public_address)

    def _sip_media(self) -> SipMedia:
        return SipMedia(self.gateway.settings.public_address,
                        {kind: stream.local_port for kind, stream in self.streams.items()})

    def _webrtc_media(self, leg: WebRtcLeg) -> WebRtcMedia:
        local = leg.local
        candidates = tuple(c.to_sdp().split(":", 1)[1] for c in local.candidates)
        default = local.candidates[0] if local.candidates else None
        return WebRtcMedia(
            ice_ufrag=local.ice_ufrag,
            ice_pwd=local.ice_pwd,
            fingerprint=str(local.fingerprint),
            address=default.host if default else self.gateway.settings.public_address,
            port=default.port if default else 9,
            candidates=candidates,
            setup=local.setup,
        )

    def _open_streams(self, kinds: set[str]) -> None:
        pool = self.gateway.services["port_pool"]
        for kind in sorted(kinds & set(KINDS)):
            if kind not in self.streams:
                self.streams[kind] = SipRtpStream.open(pool, kind)

    def attach(self, nursery: trio.Nursery) -> None:
        """The call's nursery: the bridge (and so the SIP streams' drains) will run there."""
        self._nursery = nursery

    def _transcodable(self) -> set[str]:
        return set(self.gateway.services.get("transcodable", ()))

    # ------------------------------------------------------ outgoing: browser offers

    def outgoing_offer(self, browser_sdp: str) -> SessionDescription:
        """The SIP offer for the browser's offer (the WebRTC leg is created from it)."""
        offer = SessionDescription.parse(browser_sdp)
        transport = BrowserTransport.of(offer)
        self._open_streams({m.kind for m in offer.media if not m.rejected})
        sip_offer, plan = browser_offer_to_sip(offer, self._sip_media(), self._origin())
        self.gateway.plugins.hook.wcs_rewrite_sip_offer(
            sdp=sip_offer, call_options=self.call_options, settings=self.gateway.settings)
        endpoint = self.gateway.services["webrtc"]
        try:
            self.leg = endpoint.create_leg(
                remote_ufrag=transport.ufrag, remote_pwd=transport.pwd,
                remote_fingerprints=list(transport.fingerprints), remote_setup=transport.setup,
                on_rtp=_ignore, on_rtcp=_ignore, on_state=self.on_leg_state)
        except DtlsError as error:
            raise SdpError(f"the browser's DTLS parameters are unusable: {error}") from None
        self.browser_offer, self.sip_offer, self.sip_sent, self.plan = offer, sip_offer, sip_offer, plan
        return sip_offer

    def outgoing_answer(self, sip_answer_body: bytes | str) -> SessionDescription:
        """The browser's answer for the SIP answer; the bridge starts relaying."""
        assert self.browser_offer is not None and self.sip_offer is not None and self.leg is not None
        sip_answer = SessionDescription.parse(sip_answer_body)
        answer, plan = sip_answer_to_browser(
            self.browser_offer, self.sip_offer, sip_answer, self.plan or CodecPlan(),
            self._webrtc_media(self.leg), self._origin(), self._transcodable())
        self.sip_answer, self.browser_answer = sip_answer, answer
        self._bridge(plan, sip_answer)
        return answer

    # ------------------------------------------------------ incoming: SIP offers

    def incoming_offer(self, sip_offer_body: bytes | str) -> SessionDescription:
        """The offer the browser gets for the SIP side's offer."""
        sip_offer = SessionDescription.parse(sip_offer_body)
        endpoint = self.gateway.services["webrtc"]
        self.leg = endpoint.create_offer_leg(on_rtp=_ignore, on_rtcp=_ignore, on_state=self.on_leg_state)
        offer, plan = sip_offer_to_browser(sip_offer, self._webrtc_media(self.leg), self._origin())
        self.gateway.plugins.hook.wcs_rewrite_browser_offer(
            sdp=offer, call_options=self.call_options, settings=self.gateway.settings)
        self._open_streams({m.kind for m in offer.media if not m.rejected})
        self.sip_offer, self.browser_offer, self.plan = sip_offer, offer, plan
        return offer

    def incoming_answer(self, browser_sdp: str) -> SessionDescription:
        """The SIP answer (for the 200 OK) for the browser's answer."""
        assert self.sip_offer is not None and self.browser_offer is not None and self.leg is not None
        answer = SessionDescription.parse(browser_sdp)
        transport = BrowserTransport.of(answer)
        sip_answer, plan = browser_answer_to_sip(
            self.sip_offer, self.browser_offer, answer, self.plan or CodecPlan(),
            self._sip_media(), self._origin(), self._transcodable())
        self.gateway.plugins.hook.wcs_rewrite_sip_answer(
            sdp=sip_answer, call_options=self.call_options, settings=self.gateway.settings)
        try:
            self.leg.set_remote(transport.ufrag, transport.pwd, list(transport.fingerprints),
                                transport.setup, trio.current_time())
        except DtlsError as error:
            raise SdpError(f"the browser's DTLS parameters are unusable: {error}") from None
        self.browser_answer, self.sip_answer, self.sip_sent = answer, sip_answer, sip_answer
        self._bridge(plan, self.sip_offer)
        return sip_answer

    # ------------------------------------------------------------------ bridge

    def _bridge(self, plan: CodecPlan, remote_sip_sdp: SessionDescription) -> None:
        self.plan = plan
        assert self.leg is not None and self._nursery is not None
        if self.bridge is None:
            self.bridge = MediaBridge(leg=self.leg, plan=plan, streams=self.streams, on_dtmf=self.on_dtmf)
            self._nursery.start_soon(self.bridge.run)
        self.bridge.apply_sip_sdp(plan, remote_sip_sdp)
        self.gateway.plugins.hook.wcs_codec_plan_chosen(call_id=self.call_options.get("callId", ""), plan=plan)

    # ------------------------------------------------------------------ re-INVITEs

    def hold_offer(self, hold: bool) -> SessionDescription:
        assert self.sip_sent is not None
        return hold_reoffer(self.sip_sent, hold)

    def sip_reoffer(self, body: bytes | str) -> SessionDescription:
        """Answer the SIP side's re-offer; the bridge follows the new targets and directions."""
        assert self.sip_sent is not None and self.plan is not None
        reoffer = SessionDescription.parse(body)
        answer, plan = answer_sip_reoffer(reoffer, self.sip_sent, self.plan)
        self.sip_sent = answer
        self._bridge(plan, reoffer)
        return answer

    def reoffer_accepted(self, offer: SessionDescription, answer_body: bytes | str) -> None:
        """Our re-offer (hold/unhold) was answered: follow the SIP side's new targets."""
        answer = SessionDescription.parse(answer_body)
        self.sip_sent = offer
        if self.plan is not None:
            self._bridge(self.plan, answer)

    def sip_offer_answered_again(self, body: bytes | str) -> None:
        """The 2xx carried an answer that differs from the early one: follow its targets."""
        answer = SessionDescription.parse(body)
        self.sip_answer = answer
        if self.plan is not None:
            self._bridge(self.plan, answer)

    def held_by_sip(self) -> bool:
        """Whether the SIP side's last offer put the call on hold (sendonly, inactive, 0.0.0.0)."""
        return self.plan is not None and any(m.held for m in self.plan.media)

    # ------------------------------------------------------------------ end

    def close(self) -> None:
        if self.bridge is not None:
            self.bridge.close()
        for stream in self.streams.values():
            stream.close()
        if self.leg is not None:
            self.gateway.services["webrtc"].close_leg(self.leg)
            self.leg = None
