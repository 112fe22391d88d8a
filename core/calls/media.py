"""The media side of one call: SDP translation, the WebRTC leg, SIP RTP streams, the bridge.

:class:`CallMedia` runs the four offer/answer steps of :mod:`wcs_trio.core.sdp.translate`
and sets up what each needs: a WebRTC leg on the shared port for the browser, an RTP/RTCP
port pair per media kind on the SIP side, and once both answers are known the
:class:`~wcs_trio.core.media.bridge.MediaBridge` between them. Every task it starts
(the SIP streams' drain loops, DTMF pacing, generated media) runs in the call's nursery,
so the media ends with the call.

Generated media (``generate_av_for_ua``, MISSION.md known weakness 3): when the SIP user
agent is selected, the browser's answer keeps a video section the SIP side rejected
(``sendonly`` from us, VP8) and :mod:`wcs_trio.core.media.generator` sends a test picture
there, and comfort silence on audio, each after ``rtp_generator_start_timeout`` ms without
that kind of media from the SIP side and until it arrives.

Offerless INVITEs (RFC 3261 §13.2.1, RFC 3264 §4): the SIP side's offer is then due in
our 2xx and its answer in the ACK. The SDK cannot ask the browser for an offer, so
:meth:`CallMedia.incoming_offerless` plays the SIP side's part with a *virtual* offer of
what the gateway can bridge (:func:`virtual_sip_offer`) and runs the usual incoming
flow from it; the SDP that answers the virtual offer, listing what the browser picked
(plus the codecs we can transcode it to), is sent as our offer in the 200 OK, and
:meth:`CallMedia.offerless_ack` checks the ACK's answer and points the bridge at the
device. Until then the SIP streams have no remote address and send nothing.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from wcs_trio.core.media.bridge import SIP, Direction, MediaBridge
from wcs_trio.core.media.generator import (
    Generator,
    Silence,
    UnsupportedGeneratorCodec,
    VideoPattern,
    matches_user_agent,
    run_generator,
    silence_payload,
)
from wcs_trio.core.media.sipstream import SipRtpStream
from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.lines import Attribute, Connection, Origin
from wcs_trio.core.sdp.lines import Direction as SdpDirection
from wcs_trio.core.sdp.model import MediaSection, SessionDescription
from wcs_trio.core.sdp.offer_answer import negotiate
from wcs_trio.core.sdp.plan import CodecChoice, CodecPlan, MediaState
from wcs_trio.core.sdp.rtpcodec import CONFIG_CODECS, TELEPHONE_EVENT, Codec, codecs_of, same_codec
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

#: Audio codecs (``codecs`` setting names) every WebRTC browser decodes (RFC 7874 §3:
#: Opus and G.711; G.722 as well in practice): what a virtual offer may hold.
BROWSER_AUDIO = ("opus", "alaw", "ulaw", "g722")


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
    # The SIP side's User-Agent (or Server) header: generate_av_for_ua matches it.
    remote_user_agent: str = ""
    # The SIP offer we made up for an INVITE without SDP (None for other calls).
    virtual_offer: SessionDescription | None = None
    generators: list[Generator] = attrs.field(factory=list)
    # The media clock (the bridge's and the generators'); tests pass trio's.
    clock: Callable[[], float] = time.monotonic
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

    def outgoing_answer(self, sip_answer_body: bytes | str, remote_user_agent: str = "") -> SessionDescription:
        """The browser's answer for the SIP answer; the bridge starts relaying.

        ``remote_user_agent``: the answer's User-Agent (or Server) header, for
        ``generate_av_for_ua``.
        """
        assert self.browser_offer is not None and self.sip_offer is not None and self.leg is not None
        self.remote_user_agent = remote_user_agent or self.remote_user_agent
        sip_answer = SessionDescription.parse(sip_answer_body)
        answer, plan = sip_answer_to_browser(
            self.browser_offer, self.sip_offer, sip_answer, self.plan or CodecPlan(),
            self._webrtc_media(self.leg), self._origin(), self._transcodable())
        video_pt = self._keep_video(answer, plan) if self.generating else None
        self.sip_answer, self.browser_answer = sip_answer, answer
        self._bridge(plan, sip_answer)
        if self.generating:
            self._start_generators(video_pt)
        return answer

    # ------------------------------------------------------ incoming: SIP offers

    def incoming_offer(self, sip_offer_body: bytes | str, remote_user_agent: str = "") -> SessionDescription:
        """The offer the browser gets for the SIP side's offer (``remote_user_agent``: the
        INVITE's User-Agent header, for ``generate_av_for_ua``)."""
        self.remote_user_agent = remote_user_agent or self.remote_user_agent
        return self._offer_browser(SessionDescription.parse(sip_offer_body))

    def incoming_offerless(self, remote_user_agent: str = "") -> SessionDescription:
        """The offer the browser gets for an INVITE without SDP: made from a virtual SIP
        offer of the configured browser audio codecs (see the module docstring)."""
        self.remote_user_agent = remote_user_agent or self.remote_user_agent
        self.virtual_offer = virtual_sip_offer(self.gateway.settings.codecs, self._origin())
        return self._offer_browser(self.virtual_offer)

    def _offer_browser(self, sip_offer: SessionDescription) -> SessionDescription:
        endpoint = self.gateway.services["webrtc"]
        self.leg = endpoint.create_offer_leg(on_rtp=_ignore, on_rtcp=_ignore, on_state=self.on_leg_state)
        offer, plan = sip_offer_to_browser(sip_offer, self._webrtc_media(self.leg), self._origin())
        self.gateway.plugins.hook.wcs_rewrite_browser_offer(
            sdp=offer, call_options=self.call_options, settings=self.gateway.settings)
        self._open_streams({m.kind for m in offer.media if not m.rejected})
        self.sip_offer, self.browser_offer, self.plan = sip_offer, offer, plan
        return offer

    def incoming_answer(self, browser_sdp: str) -> SessionDescription:
        """The SIP answer (for the 200 OK) for the browser's answer; after
        :meth:`incoming_offerless`, our offer for the 200 OK (answered by the ACK)."""
        assert self.sip_offer is not None and self.browser_offer is not None and self.leg is not None
        answer = SessionDescription.parse(browser_sdp)
        transport = BrowserTransport.of(answer)
        sip_answer, plan = browser_answer_to_sip(
            self.sip_offer, self.browser_offer, answer, self.plan or CodecPlan(),
            self._sip_media(), self._origin(), self._transcodable())
        if self.virtual_offer is not None:
            self._offer_alternatives(sip_answer, plan)
            plan.negotiated = False  # until the ACK answers
        self.gateway.plugins.hook.wcs_rewrite_sip_answer(
            sdp=sip_answer, call_options=self.call_options, settings=self.gateway.settings)
        try:
            self.leg.set_remote(transport.ufrag, transport.pwd, list(transport.fingerprints),
                                transport.setup, trio.current_time())
        except DtlsError as error:
            raise SdpError(f"the browser's DTLS parameters are unusable: {error}") from None
        self.browser_answer, self.sip_answer, self.sip_sent = answer, sip_answer, sip_answer
        # Offerless: the virtual offer has no address; the ACK's answer will give one.
        self._bridge(plan, self.sip_offer if self.virtual_offer is None else None)
        if self.generating:
            self._start_generators(None)  # the browser was offered only what the SIP side has
        return sip_answer

    # ------------------------------------------------------ offerless INVITEs

    def _offer_alternatives(self, offer: SessionDescription, plan: CodecPlan) -> None:
        """Our 200 OK offer lists, after the browser's codec, the virtual offer's other
        codecs the bridge can transcode it to (RFC 3264 §5.1: in preference order), so
        a device without the browser's codec still finds one to answer."""
        assert self.virtual_offer is not None
        usable = self._transcodable()
        for entry in plan.media:
            if entry.state is not MediaState.ACTIVE or entry.browser is None or entry.sip_index is None:
                continue
            if entry.browser.name.lower() not in usable:
                continue
            section = offer.media[entry.sip_index]
            extra = [(pt, c) for pt, c in codecs_of(self.virtual_offer.media[entry.sip_index])
                     if c.is_media and c.key in usable and pt not in section.formats
                     and not same_codec(c, entry.browser.codec)]
            section.formats[1:1] = [pt for pt, _ in extra]
            lines = [Attribute("rtpmap", codec.rtpmap(pt)) for pt, codec in extra]
            lines += [Attribute("fmtp", f"{pt} {codec.fmtp}") for pt, codec in extra if codec.fmtp]
            # With the other rtpmap lines, before direction and ptime.
            at = max((i + 1 for i, a in enumerate(section.attributes) if a.name in ("rtpmap", "fmtp", "rtcp-fb")),
                     default=len(section.attributes))
            section.attributes[at:at] = lines

    def offerless_ack(self, ack_body: bytes | str) -> None:
        """The ACK's SDP answers the offer of our 200 OK (RFC 3264 §4): check its codecs
        (another one is transcoded when the bridge can, else :class:`SdpError`), take the
        device's payload type numbers and point the SIP streams at its addresses."""
        assert self.sip_sent is not None and self.plan is not None
        answer = SessionDescription.parse(ack_body)
        plan = self._plan_for_answer(self.sip_sent, answer, "the caller's ACK")
        self.sip_answer = answer
        self._bridge(plan, answer)

    def _plan_for_answer(self, offer: SessionDescription, answer: SessionDescription, who: str) -> CodecPlan:
        """The call's plan once the SIP side answered our ``offer`` with ``answer``."""
        assert self.plan is not None
        results = negotiate(offer, answer)
        plan = CodecPlan([attrs.evolve(m) for m in self.plan.media], negotiated=True)
        for entry in plan.media:
            res = results[entry.sip_index] if entry.sip_index is not None and entry.sip_index < len(results) else None
            if entry.state is not MediaState.ACTIVE or entry.sip is None or entry.browser is None:
                continue
            if res is None or not res.accepted or res.codec is None:
                entry.state = MediaState.REJECTED
                continue
            offer_pt, answer_pt, codec = res.codec
            if not same_codec(codec, entry.browser.codec) and not self._can_transcode(entry.browser, codec.name):
                raise SdpError(f"{who} answered {codec.name}, which cannot be "
                               f"bridged to the browser's {entry.browser.name}")
            # RFC 3264 §6.1: each side sends with the numbers the other one receives on.
            entry.sip = CodecChoice.of(codec, answer_pt, offer_pt)
            dtmf = res.dtmf(codec.clock_rate)
            entry.sip_dtmf = CodecChoice.of(dtmf[2], dtmf[1], dtmf[0]) if dtmf else None
            entry.sip_direction = answer.direction_of(answer.media[entry.sip_index]).value  # type: ignore[index]
        if not any(m.state is MediaState.ACTIVE for m in plan.media):
            raise SdpError(f"{who} accepted none of the call's streams")
        return plan

    # ------------------------------------------------------------------ bridge

    def _bridge(self, plan: CodecPlan, remote_sip_sdp: SessionDescription | None) -> None:
        self.plan = plan
        assert self.leg is not None and self._nursery is not None
        if self.bridge is None:
            self.bridge = MediaBridge(leg=self.leg, plan=plan, streams=self.streams, on_dtmf=self.on_dtmf,
                                      clock=self.clock)
            self._nursery.start_soon(self.bridge.run)
        if remote_sip_sdp is None:
            self.bridge.update_plan(plan)  # the SIP streams keep no remote address: nothing is sent
        else:
            self.bridge.apply_sip_sdp(plan, remote_sip_sdp)
        self.gateway.plugins.hook.wcs_codec_plan_chosen(call_id=self.call_options.get("callId", ""), plan=plan)

    # ------------------------------------------------------------------ generated media

    @property
    def generating(self) -> bool:
        """Whether ``generate_av_for_ua`` selects the SIP side's user agent."""
        return matches_user_agent(self.remote_user_agent, self.gateway.settings.generate_av_for_ua)

    def _keep_video(self, answer: SessionDescription, plan: CodecPlan) -> int | None:
        """Turn the browser answer's rejected video section into one we send VP8 on.

        Only where the browser offered to receive video with VP8 and the SIP side did
        not take it; the section gets the audio section's ICE and DTLS attributes (one
        BUNDLE transport, RFC 8843 §7.3) and joins the BUNDLE group. The plan keeps
        the stream rejected: nothing is relayed there. Returns the VP8 payload type.
        """
        assert self.browser_offer is not None
        template = next((m for m in answer.media if not m.rejected), None)
        for entry in plan.media:
            index = entry.browser_index
            if entry.kind != "video" or entry.state is not MediaState.REJECTED or index is None:
                continue
            offered = self.browser_offer.media[index]
            receives = self.browser_offer.direction_of(offered) in (SdpDirection.SENDRECV, SdpDirection.RECVONLY)
            vp8 = next(((pt, c) for pt, c in codecs_of(offered) if c.name.upper() == "VP8"), None)
            if template is None or offered.rejected or not receives or vp8 is None:
                continue
            answer.media[index] = _generated_video_section(offered, template, vp8[0], vp8[1].rtpmap(vp8[0]))
            mids = [m.mid for m in answer.media if not m.rejected and m.mid is not None]
            answer.remove("group")
            answer.add("group", "BUNDLE " + " ".join(mids))
            return int(vp8[0])
        return None

    def _start_generators(self, video_pt: int | None) -> None:
        """Comfort silence on audio and a test picture on the kept video section, each
        from ``rtp_generator_start_timeout`` on until the SIP side's own media comes."""
        bridge, plan = self.bridge, self.plan
        if bridge is None or plan is None or self._nursery is None or self.generators:
            return
        timeout = self.gateway.settings.rtp_generator_start_timeout / 1000
        now = bridge.clock()
        audio = plan.by_kind("audio")
        outbound = bridge.to_browser.get("audio")
        if audio is not None and audio.state is MediaState.ACTIVE and audio.browser and outbound:
            try:
                payload = silence_payload(audio.browser)
            except UnsupportedGeneratorCodec:
                pass
            else:
                self.generators.append(Generator.starting(
                    "audio", Silence(audio.browser.send_pt, outbound, payload), now, timeout))
        if video_pt is not None:
            self.generators.append(Generator.starting("video", VideoPattern(video_pt), now, timeout))

        def paused() -> bool:
            return bridge.direction not in (Direction.SENDRECV, Direction.RECVONLY)

        for generator in self.generators:
            def arrived(key: str = f"{SIP}.{generator.kind}") -> bool:
                # Read, never create: the bridge makes a kind's counters with its clock rate.
                counters = bridge.stats.counters.get(key)
                return counters is not None and counters.packets_received > 0
            self._nursery.start_soon(run_generator, generator, bridge.leg.send_rtp, arrived,
                                     bridge.clock, paused)

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

    # ------------------------------------------------------------------ transfer

    def transfer_offer(self) -> SessionDescription:
        """The offer for the INVITE to a REFER's target: our SIP streams (same ports),
        sendrecv, only the codec the call uses now (and telephone-event), so the browser's
        leg can go on unchanged (RFC 5589 §6)."""
        assert self.sip_sent is not None and self.plan is not None
        offer = hold_reoffer(self.sip_sent, False)
        for index, section in enumerate(offer.media):
            entry = self.plan.by_sip_index(index)
            if entry is None or entry.state is not MediaState.ACTIVE or entry.sip is None:
                section.port = 0  # RFC 3264 §5.1: offered as not wanted
                continue
            keep = [str(entry.sip.recv_pt)] + ([str(entry.sip_dtmf.recv_pt)] if entry.sip_dtmf else [])
            section.keep_formats(keep)
        return offer

    def transfer_answered(self, offer: SessionDescription, answer_body: bytes | str) -> None:
        """The REFER target answered :meth:`transfer_offer`: check its codecs (another one
        is transcoded when the bridge can, else :class:`SdpError`), recompute the plan and
        follow the target's addresses (the SIP streams latch afresh)."""
        answer = SessionDescription.parse(answer_body)
        plan = self._plan_for_answer(offer, answer, "the transfer target")
        self.sip_sent, self.sip_answer = offer, answer
        self._bridge(plan, answer)

    def _can_transcode(self, browser: CodecChoice, sip_name: str) -> bool:
        usable = self._transcodable()
        return browser.name.lower() in usable and sip_name.lower() in usable

    # ------------------------------------------------------------------ end

    def close(self) -> None:
        if self.bridge is not None:
            self.bridge.close()
        for stream in self.streams.values():
            stream.close()
        if self.leg is not None:
            self.gateway.services["webrtc"].close_leg(self.leg)
            self.leg = None


def _generated_video_section(offered: MediaSection, template: MediaSection, pt: str,
                             rtpmap: str) -> MediaSection:
    """The browser answer's video section for generated VP8: we send, it receives."""
    section = MediaSection("video", template.port, offered.proto, [pt])
    if offered.mid is not None:
        section.add("mid", offered.mid)
    for attribute in template.attributes:
        if attribute.name in ("ice-ufrag", "ice-pwd", "fingerprint", "setup"):
            section.add(attribute.name, attribute.value)
    section.direction = SdpDirection.SENDONLY
    if offered.has("rtcp-mux"):
        section.add("rtcp-mux")
    stream = (template.get("msid") or "wcs wcs-audio").split()[0]
    section.add("msid", f"{stream} {stream}-video")
    section.add("rtpmap", rtpmap)
    for attribute in template.attributes:
        if attribute.name in ("candidate", "end-of-candidates"):
            section.add(attribute.name, attribute.value)
    return section


def virtual_sip_offer(codecs: tuple[str, ...], origin: Origin) -> SessionDescription:
    """The SIP offer an offerless INVITE stands for: one audio stream with the browser
    codecs of the ``codecs`` setting (in its order) and telephone-event (RFC 4733).

    Audio only: the INVITE gives no hint that the caller wants video (the page is told
    ``hasVideo: false``). The address is ``0.0.0.0`` port 9, never used: nothing is sent
    to the SIP side before the ACK's answer says where (RFC 3264 §4).
    """
    sdp = SessionDescription(origin=origin, connection=Connection("0.0.0.0"))
    section = MediaSection("audio", 9, "RTP/AVP", [])
    chosen: list[tuple[str, Codec]] = []
    dynamic = iter(range(96, 128))
    for name in codecs:
        entry = CONFIG_CODECS.get(name)
        if entry is None or name not in BROWSER_AUDIO or any(same_codec(entry.codec, c) for _, c in chosen):
            continue
        chosen.append((str(entry.static_pt) if entry.static_pt is not None else str(next(dynamic)), entry.codec))
    if not chosen:
        raise SdpError("the codecs setting has no browser audio codec for an INVITE without SDP")
    chosen.append((str(next(dynamic)), CONFIG_CODECS[TELEPHONE_EVENT].codec))
    for pt, codec in chosen:
        section.formats.append(pt)
        section.add("rtpmap", codec.rtpmap(pt))
        if codec.fmtp:
            section.add("fmtp", f"{pt} {codec.fmtp}")
    section.direction = SdpDirection.SENDRECV
    sdp.media.append(section)
    return sdp
