"""WebRTC SDP <-> plain SIP SDP, as pure functions.

Calls that start in the browser (outgoing)::

    sip_offer, plan = browser_offer_to_sip(browser_offer, sip_media, origin)
    pm.hook.wcs_rewrite_sip_offer(sdp=sip_offer, ...)   # codec policy, sipSDP
    ... INVITE with sip_offer; 200 OK brings sip_answer ...
    browser_answer, plan = sip_answer_to_browser(browser_offer, sip_offer, sip_answer,
                                                 plan, webrtc, origin)

Calls that start on the SIP side (incoming)::

    browser_offer, plan = sip_offer_to_browser(sip_offer, webrtc, origin)
    pm.hook.wcs_rewrite_browser_offer(sdp=browser_offer, ...)
    ... setRemoteSDP to the browser; its answer comes back ...
    sip_answer, plan = browser_answer_to_sip(sip_offer, browser_offer, browser_answer,
                                             plan, sip_media, origin)
    pm.hook.wcs_rewrite_sip_answer(sdp=sip_answer, ...)

An offerless INVITE (the offer goes in our 200 OK, the answer comes in the ACK) runs
the incoming flow on a virtual SIP offer of what the gateway can bridge: the browser
answers it, ``browser_answer_to_sip``'s result is our offer in the 200 OK, and the
ACK's SDP answers it (see :meth:`wcs_trio.core.calls.media.CallMedia.incoming_offerless`).

Re-INVITEs: :func:`hold_reoffer` builds our re-offer for hold/unhold (RFC 3264
§8.4) with the ``o=`` version bumped; :func:`answer_sip_reoffer` answers the SIP
side's re-offer (hold by ``sendonly``/``inactive`` or ``c=0.0.0.0``, refresh)
from our previous answer, keeping the negotiated codec.

Toward SIP we drop what a plain RTP device cannot use: ICE, DTLS, BUNDLE, mid,
msid, ssrc, ssrc-group, extmap, rtcp-mux, rtx/red/FEC payloads and all rtcp-fb
but ``nack pli`` and ``ccm fir`` (RFC 4585/5104 feedback many SIP video phones
implement); duplicate payload formats are dropped so the INVITE stays small.
Toward the browser we add our ICE-lite credentials and candidates, the DTLS
fingerprint and setup role (RFC 8842), rtcp-mux, mid and BUNDLE (RFC 8843), and
renumber payload types that would collide inside the bundle.

Every function returns the :class:`CodecPlan` with what it learned; a fault in a
peer's SDP raises :class:`SdpError`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import attrs

from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sdp.lines import Connection, Direction, Origin
from wcs_trio.core.sdp.model import MediaSection, SessionDescription
from wcs_trio.core.sdp.offer_answer import (
    MediaResult,
    answer_direction,
    hold_direction,
    is_on_hold,
    negotiate,
    select_codecs,
    with_next_version,
)
from wcs_trio.core.sdp.plan import CodecChoice, CodecPlan, MediaPlan, MediaState
from wcs_trio.core.sdp.rtpcodec import WEBRTC_ONLY, Codec, codecs_of, same_codec

#: rtcp-fb kinds a plain RTP device understands (RFC 4585 §6.3, RFC 5104 §7.1).
KEPT_RTCP_FB = ("nack pli", "ccm fir")
SIP_PROTOS = ("RTP/AVP", "RTP/AVPF")
WEBRTC_PROTO = "UDP/TLS/RTP/SAVPF"
KINDS = ("audio", "video")


@attrs.frozen
class SipMedia:
    """Our RTP address on the SIP leg: one port per media kind."""

    address: str
    ports: Mapping[str, int]
    addrtype: str = "IP4"


@attrs.frozen
class WebRtcMedia:
    """Our ICE-lite/DTLS identity on the browser leg.

    ``fingerprint`` is the ``a=fingerprint`` value (``"sha-256 AB:CD:..."``);
    ``setup`` our role when the browser offers ``actpass`` (RFC 8842 §5.2);
    ``candidates`` the ``a=candidate`` values of our host candidates, and
    ``address``/``port`` the default candidate for ``c=``/``m=``.
    """

    ice_ufrag: str
    ice_pwd: str
    fingerprint: str
    address: str
    port: int
    candidates: tuple[str, ...] = ()
    setup: str = "passive"
    stream_id: str = "wcs"
    addrtype: str = "IP4"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _session(origin: Origin, address: str, addrtype: str) -> SessionDescription:
    return SessionDescription(origin=origin, connection=Connection(address, addrtype))


def _add_codec(media: MediaSection, pt: str | int, codec: Codec, feedback: list[str]) -> None:
    media.formats.append(str(pt))
    media.add("rtpmap", codec.rtpmap(pt))
    if codec.fmtp:
        media.add("fmtp", f"{pt} {codec.fmtp}")
    for fb in feedback:
        media.add("rtcp-fb", f"{pt} {fb}")


def _kept_fb(media: MediaSection, pt: str) -> list[str]:
    return [fb for fb in dict.fromkeys(media.rtcp_fb(pt)) if fb in KEPT_RTCP_FB]


def _lean_codecs(media: MediaSection) -> list[tuple[str, Codec]]:
    """Codecs of ``media`` without WebRTC-only formats and without duplicates."""
    out: list[tuple[str, Codec]] = []
    for pt, codec in codecs_of(media):
        if codec.key in WEBRTC_ONLY:
            continue
        if any(same_codec(codec, kept) for _, kept in out):
            continue
        out.append((pt, codec))
    return out


def _collapse_feedback(media: MediaSection) -> None:
    """One ``a=rtcp-fb:* ...`` (RFC 4585 §4.2) when every format has the same feedback."""
    per_pt = {pt: media.rtcp_fb(pt) for pt in media.formats if media.rtpmap(pt)}
    kinds = {tuple(fb) for pt, fb in per_pt.items() if not media.rtpmap(pt).encoding.lower()
             == "telephone-event"}
    if len(kinds) != 1 or not next(iter(kinds)):
        return
    feedback = next(iter(kinds))
    media.attributes = [a for a in media.attributes if a.name != "rtcp-fb"]
    for fb in feedback:
        media.add("rtcp-fb", f"* {fb}")


def _rejected(kind: str, proto: str, formats: list[str]) -> MediaSection:
    # A rejected stream keeps its kind and lists at least one format (RFC 3264 §6).
    return MediaSection(kind, 0, proto, formats[:1] or ["0"])


def _pick(
    offered: list[tuple[str, Codec]], want: Codec, transcodable: Collection[str] | None
) -> tuple[tuple[str, Codec] | None, bool]:
    """The offered codec equal to ``want`` (pass-through), else the first we can
    transcode to; the flag says whether it is pass-through."""
    for pt, codec in offered:
        if same_codec(codec, want):
            return (pt, codec), True
    for pt, codec in offered:
        if codec.is_media and (transcodable is None or codec.key in transcodable):
            return (pt, codec), False
    return None, False


def _dtmf(offered: list[tuple[str, Codec]], clock_rate: int) -> tuple[str, Codec] | None:
    events = [(pt, c) for pt, c in offered if c.is_dtmf]
    same_clock = [e for e in events if e[1].clock_rate == clock_rate]
    return (same_clock or events or [None])[0]


def _webrtc_transport(media: MediaSection, webrtc: WebRtcMedia, setup: str) -> None:
    media.add("ice-ufrag", webrtc.ice_ufrag)
    media.add("ice-pwd", webrtc.ice_pwd)
    media.add("fingerprint", webrtc.fingerprint)
    media.add("setup", setup)


def _candidates(media: MediaSection, webrtc: WebRtcMedia) -> None:
    for candidate in webrtc.candidates:
        media.add("candidate", candidate)
    if webrtc.candidates:
        media.add("end-of-candidates")


def _answer_setup(offered: str | None, ours: str) -> str:
    # RFC 8842 §5.3: answer "active" to "passive" and vice versa; choose for actpass.
    return {"active": "passive", "passive": "active"}.get(offered or "actpass", ours)


# ---------------------------------------------------------------------------
# outgoing calls: browser offers
# ---------------------------------------------------------------------------


def browser_offer_to_sip(
    browser_offer: SessionDescription, sip: SipMedia, origin: Origin
) -> tuple[SessionDescription, CodecPlan]:
    """The SIP offer for a browser's offer, and the plan listing what was offered.

    One stream per kind goes to SIP (further ones and data channels are left out
    and rejected in the browser answer). Payload types keep the browser's numbers.
    """
    out = _session(origin, sip.address, sip.addrtype)
    plan = CodecPlan()
    for index, bm in enumerate(browser_offer.media):
        codecs = _lean_codecs(bm) if bm.kind in KINDS and "RTP" in bm.proto else []
        taken = any(m.kind == bm.kind for m in out.media)
        if bm.rejected or not codecs or taken or bm.kind not in sip.ports:
            plan.media.append(MediaPlan(bm.kind, index, None, MediaState.REJECTED))
            continue
        sm = MediaSection(bm.kind, sip.ports[bm.kind], "RTP/AVP", [])
        for pt, codec in codecs:
            _add_codec(sm, pt, codec, _kept_fb(bm, pt))
        _collapse_feedback(sm)
        for name in ("ptime", "maxptime"):
            value = bm.get(name)
            if value:
                sm.add(name, value)
        direction = browser_offer.direction_of(bm)
        sm.direction = direction
        plan.media.append(
            MediaPlan(bm.kind, index, len(out.media), browser_direction=direction.value)
        )
        out.media.append(sm)
    if not out.media:
        raise SdpError("the browser's offer has no audio or video stream to send to SIP")
    return out, plan


def sip_answer_to_browser(
    browser_offer: SessionDescription,
    sip_offer: SessionDescription,
    sip_answer: SessionDescription,
    plan: CodecPlan,
    webrtc: WebRtcMedia,
    origin: Origin,
    transcodable: Collection[str] | None = None,
) -> tuple[SessionDescription, CodecPlan]:
    """The browser's answer for the SIP side's answer, and the negotiated plan.

    ``transcodable`` holds lower-case encoding names the media bridge can
    transcode (``None``: any); it is used only when the browser lacks the codec
    the SIP side chose. Streams the SIP side rejected are rejected here.
    """
    results = negotiate(sip_offer, sip_answer)
    out = _session(origin, webrtc.address, webrtc.addrtype)
    out.add("ice-lite")
    new_plan = CodecPlan(negotiated=True)
    bundle: list[str] = []
    for index, bm in enumerate(browser_offer.media):
        entry = plan.by_browser_index(index) or MediaPlan(bm.kind, index, None)
        res = results[entry.sip_index] if entry.sip_index is not None else None
        fb = sip_answer.media[entry.sip_index].rtcp_fb(res.codec[1]) if res and res.codec else []
        am, media_plan = _browser_answer_media(
            browser_offer, bm, res, entry, webrtc, transcodable, fb
        )
        if not am.rejected and bm.mid is not None:
            bundle.append(bm.mid)
        out.media.append(am)
        new_plan.media.append(media_plan)
    group = browser_offer.get("group") or ""
    if group.startswith("BUNDLE") and bundle:
        out.add("group", "BUNDLE " + " ".join(bundle))
    return out, new_plan


def _browser_answer_media(
    browser_offer: SessionDescription,
    bm: MediaSection,
    res: MediaResult | None,
    entry: MediaPlan,
    webrtc: WebRtcMedia,
    transcodable: Collection[str] | None,
    sip_feedback: list[str],
) -> tuple[MediaSection, MediaPlan]:
    rejected = MediaPlan(bm.kind, entry.browser_index, entry.sip_index, MediaState.REJECTED)
    chosen = res.codec if res is not None and res.accepted else None
    picked, passthrough = (None, False)
    if chosen is not None:
        picked, passthrough = _pick(codecs_of(bm), chosen[2], transcodable)
    if chosen is None or picked is None or res is None:
        am = _rejected(bm.kind, bm.proto, bm.formats)
        if bm.mid is not None:
            am.add("mid", bm.mid)
        return am, rejected
    offer_pt, answer_pt, sip_codec = chosen
    bpt, bcodec = picked
    # What we declare is what the SIP device receives when we pass through; when
    # transcoding we decode ourselves and accept the browser's own parameters.
    declared = attrs.evolve(bcodec, fmtp=sip_codec.fmtp) if passthrough else bcodec
    am = MediaSection(bm.kind, webrtc.port, bm.proto, [])
    if bm.mid is not None:
        am.add("mid", bm.mid)
    _webrtc_transport(am, webrtc, _answer_setup(bm.get("setup"), webrtc.setup))
    am.direction = res.direction
    if bm.has("rtcp-mux"):
        am.add("rtcp-mux")
    if res.direction.sends:
        am.add("msid", f"{webrtc.stream_id} {webrtc.stream_id}-{bm.kind}")
    # Feedback the device does not answer would go unanswered when passing through.
    feedback = _kept_fb(bm, bpt)
    if passthrough:
        feedback = [fb for fb in feedback if fb in sip_feedback]
    _add_codec(am, bpt, declared, feedback)
    sip_dtmf = res.dtmf(sip_codec.clock_rate)
    browser_dtmf = _dtmf(codecs_of(bm), bcodec.clock_rate) if sip_dtmf else None
    if browser_dtmf is not None:
        _add_codec(am, browser_dtmf[0], browser_dtmf[1], [])
    _candidates(am, webrtc)
    plan = MediaPlan(
        bm.kind,
        entry.browser_index,
        entry.sip_index,
        MediaState.ACTIVE,
        browser=CodecChoice.of(bcodec, bpt),
        sip=CodecChoice.of(sip_codec, answer_pt, offer_pt),
        browser_dtmf=CodecChoice.of(browser_dtmf[1], browser_dtmf[0]) if browser_dtmf else None,
        sip_dtmf=CodecChoice.of(sip_dtmf[2], sip_dtmf[1], sip_dtmf[0]) if sip_dtmf else None,
        browser_direction=browser_offer.direction_of(bm).value,
        sip_direction=res.direction.value,
    )
    return am, plan


# ---------------------------------------------------------------------------
# incoming calls: the SIP side offers
# ---------------------------------------------------------------------------


def sip_offer_to_browser(
    sip_offer: SessionDescription, webrtc: WebRtcMedia, origin: Origin
) -> tuple[SessionDescription, CodecPlan]:
    """The browser offer for a SIP offer (BUNDLEd, rtcp-mux, ICE-lite, DTLS actpass).

    Streams the browser cannot take (non-RTP, SDES-SRTP, a second stream of a
    kind) are left out and rejected later by :func:`browser_answer_to_sip`. Payload
    types already used by an earlier bundled stream for another codec get a free
    number (RFC 8843 §9.1); the plan maps codecs, not numbers.
    """
    out = _session(origin, webrtc.address, webrtc.addrtype)
    out.add("ice-lite")
    plan = CodecPlan()
    used: dict[str, Codec] = {}
    for index, sm in enumerate(sip_offer.media):
        codecs = [(pt, c) for pt, c in codecs_of(sm) if c.key not in WEBRTC_ONLY]
        taken = any(m.kind == sm.kind for m in out.media)
        usable = sm.kind in KINDS and sm.proto in SIP_PROTOS and not sm.rejected
        if not usable or not codecs or taken:
            plan.media.append(MediaPlan(sm.kind, None, index, MediaState.REJECTED))
            continue
        direction = sip_offer.direction_of(sm)
        mid = str(len(out.media))
        bm = MediaSection(sm.kind, webrtc.port, WEBRTC_PROTO, [])
        bm.add("mid", mid)
        _webrtc_transport(bm, webrtc, "actpass")
        bm.direction = direction
        bm.add("rtcp-mux")
        if direction.sends:  # the SIP side sends, so we forward a track to the browser
            bm.add("msid", f"{webrtc.stream_id} {webrtc.stream_id}-{sm.kind}")
        for pt, codec in codecs:
            bpt = pt if used.get(pt, codec) == codec else _free_pt(used)
            used[bpt] = codec
            _add_codec(bm, bpt, codec, _kept_fb(sm, pt))
        _candidates(bm, webrtc)
        plan.media.append(MediaPlan(sm.kind, len(out.media), index, sip_direction=direction.value))
        out.media.append(bm)
    if not out.media:
        raise SdpError("the SIP offer has no audio or video stream the browser can take")
    out.add("group", "BUNDLE " + " ".join(m.mid or "" for m in out.media))
    out.add("msid-semantic", f" WMS {webrtc.stream_id}")
    return out, plan


def _free_pt(used: Mapping[str, Codec]) -> str:
    # Dynamic range first (RFC 3551 §3), then the ranges RFC 5761 §4 leaves free of
    # RTCP packet types.
    for pt in (*range(96, 128), *range(35, 64)):
        if str(pt) not in used:
            return str(pt)
    raise SdpError("no free payload type left for the browser offer")


def browser_answer_to_sip(
    sip_offer: SessionDescription,
    browser_offer: SessionDescription,
    browser_answer: SessionDescription,
    plan: CodecPlan,
    sip: SipMedia,
    origin: Origin,
    transcodable: Collection[str] | None = None,
) -> tuple[SessionDescription, CodecPlan]:
    """The SIP answer for the browser's answer, and the negotiated plan.

    Mirrors every ``m=`` line of the SIP offer (RFC 3264 §6), rejecting those the
    browser did not take. When the browser picked a codec the SIP offer lacks,
    the first SIP codec in ``transcodable`` is answered and the plan says so.
    """
    results = negotiate(browser_offer, browser_answer)
    out = _session(origin, sip.address, sip.addrtype)
    new_plan = CodecPlan(negotiated=True)
    for index, sm in enumerate(sip_offer.media):
        entry = plan.by_sip_index(index) or MediaPlan(sm.kind, None, index)
        res = results[entry.browser_index] if entry.browser_index is not None else None
        chosen = res.codec if res is not None and res.accepted else None
        picked, passthrough = (None, False)
        if chosen is not None:
            picked, passthrough = _pick(codecs_of(sm), chosen[2], transcodable)
        if res is None or chosen is None or picked is None or sm.kind not in sip.ports:
            out.media.append(_rejected(sm.kind, sm.proto, sm.formats))
            new_plan.media.append(
                MediaPlan(sm.kind, entry.browser_index, index, MediaState.REJECTED)
            )
            continue
        offer_pt, answer_pt, browser_codec = chosen
        spt, scodec = picked
        declared = attrs.evolve(scodec, fmtp=browser_codec.fmtp) if passthrough else scodec
        am = MediaSection(sm.kind, sip.ports[sm.kind], sm.proto, [])
        feedback = _kept_fb(sm, spt)
        if passthrough:
            answered = browser_answer.media[entry.browser_index].rtcp_fb(answer_pt)
            feedback = [fb for fb in feedback if fb in answered]
        _add_codec(am, spt, declared, feedback)
        browser_dtmf = res.dtmf(browser_codec.clock_rate)
        sip_dtmf = _dtmf(codecs_of(sm), scodec.clock_rate) if browser_dtmf else None
        if sip_dtmf is not None:
            _add_codec(am, sip_dtmf[0], sip_dtmf[1], [])
        for name in ("ptime", "maxptime"):
            value = sm.get(name)
            if value:
                am.add(name, value)
        am.direction = res.direction
        out.media.append(am)
        new_plan.media.append(
            MediaPlan(
                sm.kind,
                entry.browser_index,
                index,
                MediaState.ACTIVE,
                browser=CodecChoice.of(browser_codec, answer_pt, offer_pt),
                sip=CodecChoice.of(scodec, spt),
                browser_dtmf=(
                    CodecChoice.of(browser_dtmf[2], browser_dtmf[1], browser_dtmf[0])
                    if browser_dtmf
                    else None
                ),
                sip_dtmf=CodecChoice.of(sip_dtmf[1], sip_dtmf[0]) if sip_dtmf else None,
                browser_direction=res.direction.value,
                sip_direction=sip_offer.direction_of(sm).value,
            )
        )
    return out, new_plan


# ---------------------------------------------------------------------------
# re-INVITEs
# ---------------------------------------------------------------------------


def hold_reoffer(previous: SessionDescription, hold: bool) -> SessionDescription:
    """Our re-offer putting every active stream on hold (or taking it off), §8.4.

    ``previous`` is the last SDP we sent on that leg; the result carries the same
    ``o=`` line with the version bumped.
    """
    new = previous.copy()
    for media in new.media:
        if not media.rejected:
            media.direction = hold_direction(previous.direction_of(media), hold)
    new.remove(*(d.value for d in Direction))
    return with_next_version(new, previous)


def answer_sip_reoffer(
    reoffer: SessionDescription, previous_answer: SessionDescription, plan: CodecPlan
) -> tuple[SessionDescription, CodecPlan]:
    """Answer a SIP re-INVITE's offer from our previous answer (RFC 3264 §8).

    Keeps the negotiated codec (refusing a re-offer that drops it: the call layer
    answers 488 and the old session stays, §8.3.2 / RFC 3261 §14.2), states the
    direction the re-offer allows, notes hold (``sendonly``/``inactive``/
    ``c=0.0.0.0``) in the plan, and bumps the ``o=`` version only if the answer
    changed. New ``m=`` lines are rejected.
    """
    if len(reoffer.media) < len(previous_answer.media):
        raise SdpError("re-offer removes m= lines (RFC 3264 §8)")
    new = previous_answer.copy()
    new_plan = CodecPlan([attrs.evolve(m) for m in plan.media], plan.negotiated)
    for index, om in enumerate(reoffer.media):
        if index >= len(new.media):
            new.media.append(_rejected(om.kind, om.proto, om.formats))
            continue
        am = new.media[index]
        entry = new_plan.by_sip_index(index)
        if om.kind != am.kind:
            raise SdpError(f"re-offer changes m= line {index + 1} from {am.kind} to {om.kind}")
        if om.rejected:
            am.port = 0
            if entry is not None:
                entry.state = MediaState.REJECTED
            continue
        if am.rejected or entry is None or entry.sip is None:
            continue
        kept = select_codecs(om, [entry.sip.codec])
        if not kept or int(kept[0][0]) != entry.sip.recv_pt:
            raise SdpError(f"re-offer drops the negotiated {entry.sip.name} on {om.kind}")
        offered = reoffer.direction_of(om)
        am.direction = answer_direction(offered)
        entry.held = is_on_hold(reoffer, om)
        entry.sip_direction = offered.value
    return with_next_version(new, previous_answer), new_plan


def media_targets(sdp: SessionDescription) -> list[tuple[str, str, int] | None]:
    """Per ``m=`` line, where its RTP goes: (kind, address, port), ``None`` if rejected."""
    out: list[tuple[str, str, int] | None] = []
    for media in sdp.media:
        conn = sdp.connection_of(media)
        if media.rejected or conn is None:
            out.append(None)
        else:
            out.append((media.kind, conn.address.split("/")[0], media.port))
    return out
