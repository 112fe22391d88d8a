"""The media bridge of one call: a WebRTC leg joined to SIP-side RTP streams.

Browser to SIP: the browser BUNDLEs audio and video on one leg, with payload types unique
across its m-lines (RFC 8843 §9.1 allows demultiplexing by PT then), so each packet is
routed by its PT to the SIP stream of its kind. SIP to browser: each stream's packets go
to the one leg. On the way the PT is rewritten to the receiving leg's number, and SSRC,
sequence number and timestamp are kept continuous toward each side by an
:class:`~wcs_trio.core.media.outbound.Outbound` per (side, kind).

Hot path: no await, no allocation beyond the one new packet a rewrite needs (the fixed
header packed afresh plus the payload: pylibsrtp wants ``bytes``). A packet needing no
rewrite goes out as received. RTCP is rare and rebuilt rather than patched
(:mod:`~wcs_trio.core.media.rtcpmap`). DTMF per RFC 4733: generated on the SIP stream by
:meth:`MediaBridge.send_dtmf`, reported once per digit from either side, relayed from the
browser when the SIP side negotiated telephone-event.

Wiring: the constructor sets ``leg.on_rtp``/``leg.on_rtcp`` and each stream's
``on_rtp``/``on_rtcp`` to the bridge's handlers.
"""

from __future__ import annotations

import enum
import secrets
import struct
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs
import trio

from wcs_trio.core.media import rtcpmap
from wcs_trio.core.media.dtmf import EventPacket, EventReceiver, check_digits, digit_packets
from wcs_trio.core.media.negotiated import sip_targets
from wcs_trio.core.media.outbound import Outbound
from wcs_trio.core.media.sipstream import SipRtpStream
from wcs_trio.core.media.stats import MediaCounters, MediaStats
from wcs_trio.core.media.udp import Address
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sdp.plan import CodecChoice, CodecPlan, MediaState
from wcs_trio.core.webrtc.errors import PacketError
from wcs_trio.core.webrtc.rtp import (
    PsfbFormat,
    RtcpType,
    build_fir,
    build_pli,
    iter_rtcp,
    rtp_header_length,
)

_HEAD = struct.Struct("!BBHII")
_SEQ_TS_SSRC = struct.Struct("!HII")
_EVENT = struct.Struct("!BBH")

BROWSER, SIP = "browser", "sip"
#: At most this many SIP → browser packets wait for the browser's DTLS (about 3 s of audio).
EARLY_PACKETS = 150


class NoTelephoneEvent(Exception):
    """The SIP side did not negotiate telephone-event (RFC 4733 §7.1): use SIP INFO."""


class Direction(enum.StrEnum):
    """The SIP stream's direction from the gateway's side, as in its SDP (RFC 3264 §5.1;
    §8.4 puts a stream on hold with ``sendonly``/``inactive``)."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"  # we send to the SIP device, it sends nothing to relay
    RECVONLY = "recvonly"
    INACTIVE = "inactive"


class Leg(Protocol):
    on_rtp: Callable[[Any, bytes], None]
    on_rtcp: Callable[[Any, bytes], None]

    def send_rtp(self, packet: bytes) -> bool: ...
    def send_rtcp(self, packet: bytes) -> bool: ...


class Transcoder(Protocol):
    def transcode(self, payload: bytes | memoryview) -> list[tuple[bytes, int]]:
        """Frames of the output codec, each with its length in output clock ticks."""
        ...


TranscoderFactory = Callable[[CodecChoice, CodecChoice], Transcoder]


def _default_transcoder(source: CodecChoice, target: CodecChoice) -> Transcoder:
    # Imported here: PyAV is only loaded by calls that really transcode.
    from wcs_trio.core.media.transcode import make_transcoder

    return make_transcoder(source, target)


def _ignore(*_: object) -> None:
    pass


@attrs.frozen
class MediaActivity:
    """Monotonic time of the last RTP packet received from each side (``None``: never)."""

    from_browser: float | None
    from_sip: float | None


@attrs.define
class BridgeCounters:
    unknown_pt: int = 0
    held: int = 0  # dropped because that direction is on hold
    bad_packets: int = 0
    keyframes_to_sip: int = 0
    keyframes_to_browser: int = 0
    keyframes_unsupported: int = 0
    nacks: int = 0
    dtmf_packets_sent: int = 0


@attrs.define(eq=False)
class _Route:
    """Where packets of one payload type from one side go."""

    kind: str
    out_pt: int | None  # None: received and counted, not relayed
    outbound: Outbound
    send: Callable[[bytes], object]
    counters: MediaCounters
    out_counters: MediaCounters
    is_dtmf: bool = False
    enabled: bool = True
    transcoder: Transcoder | None = None
    dtmf_ratio: float = 1.0  # out/in clock rate for telephone-event re-timing
    retime: bool = False  # events get new timestamps (transcoded call or other clock)
    events: EventReceiver | None = None
    on_digit: Callable[[str], None] = _ignore
    event_in_ts: int | None = None
    event_out_ts: int = 0


@attrs.define(eq=False)
class MediaBridge:
    leg: Leg
    plan: CodecPlan
    streams: Mapping[str, SipRtpStream]
    sip_feedback: Mapping[str, rtcpmap.Feedback] = attrs.Factory(dict)
    browser_feedback: Mapping[str, rtcpmap.Feedback] = attrs.Factory(dict)
    on_dtmf: Callable[[str], None] = _ignore  # digits received from the SIP side
    on_browser_dtmf: Callable[[str], None] = _ignore  # digits of the browser's RTCDTMFSender
    clock: Callable[[], float] = time.monotonic
    transcoders: TranscoderFactory = _default_transcoder
    cname: bytes = b"wcs-trio"
    stats: MediaStats = attrs.Factory(MediaStats)
    counters: BridgeCounters = attrs.Factory(BridgeCounters)
    direction: Direction = Direction.SENDRECV
    last_from_browser: float | None = None
    last_from_sip: float | None = None
    to_sip: dict[str, Outbound] = attrs.Factory(dict)
    to_browser: dict[str, Outbound] = attrs.Factory(dict)
    _from_browser: dict[int, _Route] = attrs.Factory(dict)
    _from_sip: dict[str, dict[int, _Route]] = attrs.Factory(dict)
    _rtcp_ssrc: dict[str, int] = attrs.Factory(dict)
    _fir_seq: int = 0
    # SIP → browser packets that came before the leg connected (None once it has).
    early: deque[bytes] | None = attrs.Factory(lambda: deque(maxlen=EARLY_PACKETS))

    def __attrs_post_init__(self) -> None:
        self.leg.on_rtp = self.browser_rtp
        self.leg.on_rtcp = self.browser_rtcp
        for stream in self.streams.values():
            stream.on_rtp = self.sip_rtp
            stream.on_rtcp = self.sip_rtcp
        self._build_routes()

    # ------------------------------------------------------------ plan

    def _build_routes(self) -> None:
        from_browser: dict[int, _Route] = {}
        from_sip: dict[str, dict[int, _Route]] = {}
        for media in self.plan.media:
            kind, stream = media.kind, self.streams.get(media.kind)
            if (media.state is not MediaState.ACTIVE or stream is None or media.browser is None
                    or media.sip is None or kind in from_sip):
                continue
            b, s = media.browser, media.sip
            to_sip = self._outbound(self.to_sip, kind, s.clock_rate, s.send_pt)
            to_browser = self._outbound(self.to_browser, kind, b.clock_rate, b.send_pt)
            b_in = self.stats.get(BROWSER, kind, b.clock_rate)
            s_in = self.stats.get(SIP, kind, s.clock_rate)
            transcode = media.transcode
            up = _Route(kind, s.send_pt, to_sip, stream.send_rtp, b_in, s_in)
            down = _Route(kind, b.send_pt, to_browser, self._send_browser, s_in, b_in)
            if transcode:
                try:
                    up.transcoder = self.transcoders(b, s)
                    down.transcoder = self.transcoders(s, b)
                except Exception:
                    up.out_pt = down.out_pt = None  # no codec for it: nothing to relay
            from_browser[b.recv_pt] = up
            from_sip[kind] = {s.recv_pt: down}
            # RFC 4733 telephone-events: relayed where the other side negotiated them too.
            if media.browser_dtmf is not None:
                ev = _Route(kind, media.sip_dtmf.send_pt if media.sip_dtmf else None, to_sip,
                            stream.send_rtp, b_in, s_in, is_dtmf=True,
                            events=EventReceiver(), on_digit=self.on_browser_dtmf)
                if media.sip_dtmf is not None:
                    ev.dtmf_ratio = media.sip_dtmf.clock_rate / media.browser_dtmf.clock_rate
                    # A transcoded stream numbers its own packets: events must be placed
                    # in it, not mapped through offsets that do not exist.
                    ev.retime = transcode or ev.dtmf_ratio != 1.0
                from_browser[media.browser_dtmf.recv_pt] = ev
            if media.sip_dtmf is not None:
                ev = _Route(kind, None, to_browser, self._send_browser, s_in, b_in,
                            is_dtmf=True, events=EventReceiver(), on_digit=self.on_dtmf)
                same = (media.browser_dtmf is not None and not transcode
                        and media.browser_dtmf.clock_rate == media.sip_dtmf.clock_rate)
                if same:
                    ev.out_pt = media.browser_dtmf.send_pt  # type: ignore[union-attr]
                from_sip[kind][media.sip_dtmf.recv_pt] = ev
        self._from_browser, self._from_sip = from_browser, from_sip
        self._apply_direction()

    @staticmethod
    def _outbound(table: dict[str, Outbound], kind: str, clock_rate: int, pt: int) -> Outbound:
        out = table.get(kind)
        if out is None:
            out = table[kind] = Outbound(clock_rate=clock_rate)
        elif out.clock_rate != clock_rate:
            # A re-INVITE changed the codec: continue our stream in the new clock.
            out.clock_rate = clock_rate
            out.resync = True
        return out

    def update_plan(self, plan: CodecPlan, targets: Mapping[str, Address | None] | None = None,
                    *, rtcp_targets: Mapping[str, Address | None] | None = None) -> None:
        """Follow a re-INVITE: new codec plan and, per kind, the SIP side's new RTP address
        (``None`` for the ``c=0.0.0.0`` hold form; kinds absent keep their address)."""
        self.plan = plan
        for kind, address in (targets or {}).items():
            stream = self.streams.get(kind)
            if stream is not None:
                stream.set_remote(address, (rtcp_targets or {}).get(kind),
                                  rtcp_mux=stream.rtcp_mux)
        self._build_routes()

    def apply_sip_sdp(self, plan: CodecPlan, sdp: SessionDescription) -> None:
        """Follow the SIP side's (new) SDP: addresses, RTCP port or mux, feedback, plan."""
        targets = sip_targets(plan, sdp)
        for kind, target in targets.items():
            stream = self.streams.get(kind)
            if stream is not None:
                stream.set_remote(target.rtp, target.rtcp, rtcp_mux=target.rtcp_mux)
        self.sip_feedback = {kind: target.feedback for kind, target in targets.items()}
        self.update_plan(plan)

    def hold(self, direction: Direction | str) -> None:
        """Pause and resume directions as the SIP stream's negotiated direction says."""
        self.direction = Direction(direction)
        self._apply_direction()

    def _apply_direction(self) -> None:
        up = self.direction in (Direction.SENDRECV, Direction.SENDONLY)
        down = self.direction in (Direction.SENDRECV, Direction.RECVONLY)
        down_routes = [r for table in self._from_sip.values() for r in table.values()]
        for routes, enabled in ((list(self._from_browser.values()), up), (down_routes, down)):
            for route in routes:
                if enabled and not route.enabled:
                    route.outbound.resync = True  # continue seq/ts after the pause
                route.enabled = enabled

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Drain every SIP stream until cancelled (run it in the call's nursery); each
        stream releases its ports when this ends."""
        async with trio.open_nursery() as nursery:
            for stream in self.streams.values():
                await nursery.start(stream.run)
            task_status.started()

    def close(self) -> None:
        """Stop relaying: detach from the leg and close the SIP streams."""
        self.leg.on_rtp = _ignore
        self.leg.on_rtcp = _ignore
        for stream in self.streams.values():
            stream.close()

    @property
    def activity(self) -> MediaActivity:
        return MediaActivity(self.last_from_browser, self.last_from_sip)

    # ------------------------------------------------------------ RTP (hot path)

    def _send_browser(self, packet: bytes) -> bool:
        if self.leg.send_rtp(packet):
            return True
        if self.early is not None:
            # The browser's DTLS is not done yet (an IVR answers and speaks at once):
            # keep the first seconds so its greeting is heard from the first word.
            self.early.append(bytes(packet))
        return False

    def browser_connected(self) -> None:
        """The WebRTC leg has its SRTP keys: play what arrived before, in order, once."""
        early, self.early = self.early, None
        for packet in early or ():
            self.leg.send_rtp(packet)

    def browser_rtp(self, _leg: object, packet: bytes) -> None:
        """A decrypted RTP packet from the WebRTC leg."""
        if len(packet) < 12:
            self.counters.bad_packets += 1
            return
        route = self._from_browser.get(packet[1] & 0x7F)
        if route is None:
            self.counters.unknown_pt += 1  # rtx, red, FEC: WebRTC-only, never to SIP
            return
        now = self.clock()
        self.last_from_browser = now
        self._relay(route, packet, now)

    def sip_rtp(self, stream: SipRtpStream, view: memoryview) -> None:
        """An RTP packet from a SIP stream (already validated by the stream)."""
        routes = self._from_sip.get(stream.kind)
        route = routes.get(view[1] & 0x7F) if routes is not None else None
        if route is None:
            self.counters.unknown_pt += 1  # comfort noise, codecs outside the plan
            return
        now = self.clock()
        self.last_from_sip = now
        self._relay(route, view, now)

    def _relay(self, route: _Route, packet: bytes | memoryview, now: float) -> None:
        seq, ts, ssrc = _SEQ_TS_SSRC.unpack_from(packet, 2)
        route.counters.received(ssrc, seq, ts, len(packet), now)
        if route.events is not None:
            try:
                digit = route.events.receive(packet[rtp_header_length(packet):], ts)
            except PacketError:
                self.counters.bad_packets += 1
                return
            if digit is not None:
                route.on_digit(digit)
        if not route.enabled:
            self.counters.held += 1
            return
        if route.out_pt is None:
            return
        if route.transcoder is not None:
            self._transcode(route, packet, now)
            return
        if route.retime:
            self._retime_event(route, packet, ts, now)
            return
        out = route.outbound
        if ssrc != out.source or out.resync:
            self._switch(route, ssrc, seq, ts, now)
        seq_out = (seq + out.seq_offset) & 0xFFFF
        ts_out = (ts + out.ts_offset) & 0xFFFFFFFF
        second = packet[1]
        new_second = (second & 0x80) | route.out_pt
        if route.is_dtmf:
            # Events carry their start time: only the sequence number moves us on.
            if out.last_seq is None or (seq_out - out.last_seq) & 0xFFFF < 0x8000:
                out.last_seq = seq_out
        else:
            out.sent(seq_out, ts_out, now)
            if out.mark:
                new_second |= 0x80
                out.mark = False
        if new_second == second and ssrc == out.ssrc and seq_out == seq and ts_out == ts:
            data = packet if isinstance(packet, bytes) else bytes(packet)
        else:
            data = _HEAD.pack(packet[0], new_second, seq_out, ts_out, out.ssrc) + \
                memoryview(packet)[12:]
        route.out_counters.sent(len(data))
        route.send(data)

    def _switch(self, route: _Route, ssrc: int, seq: int, ts: int, now: float) -> None:
        out = route.outbound
        out.switch(ssrc, seq, ts, now)
        # Toward the browser every kind shares one BUNDLE session: two SIP streams that
        # happen to use one SSRC must not collide there (RFC 8843 §9.2).
        if out is self.to_browser.get(route.kind) and any(
                o is not out and o.ssrc == out.ssrc for o in self.to_browser.values()):
            out.ssrc = secrets.randbits(32)

    def _transcode(self, route: _Route, packet: bytes | memoryview, now: float) -> None:
        try:
            start = rtp_header_length(packet)
        except PacketError:
            self.counters.bad_packets += 1
            return
        end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)
        out = route.outbound
        for payload, ticks in route.transcoder.transcode(memoryview(packet)[start:end]):  # type: ignore[union-attr]
            seq_out, ts_out = out.generate(ticks, now)
            if out.ssrc is None:
                out.ssrc = secrets.randbits(32)
            second = route.out_pt | (0x80 if out.mark else 0)  # type: ignore[operator]
            out.mark = False
            data = _HEAD.pack(0x80, second, seq_out, ts_out, out.ssrc) + payload
            route.out_counters.sent(len(data))
            route.send(data)

    def _retime_event(self, route: _Route, packet: bytes | memoryview, ts: int, now: float) -> None:
        """Relay a telephone-event between different clock rates (transcoded calls):
        a new start timestamp on our stream, the duration scaled (RFC 4733 §2.5.1.3)."""
        out = route.outbound
        start = rtp_header_length(packet)
        if len(packet) < start + 4:
            return
        code, flags, duration = _EVENT.unpack_from(packet, start)
        if ts != route.event_in_ts:
            route.event_in_ts = ts
            route.event_out_ts = out.position(now)
        event = EventPacket(_EVENT.pack(code, flags, min(0xFFFF, int(duration * route.dtmf_ratio))),
                            bool(packet[1] & 0x80), 0, bool(flags & 0x80))
        self._emit_event(route.kind, event, route.event_out_ts, route.out_pt, now)  # type: ignore[arg-type]

    # ------------------------------------------------------------ DTMF out

    def _sip_dtmf(self) -> tuple[str, CodecChoice]:
        media = self.plan.by_kind("audio")
        if media is None or media.sip_dtmf is None or "audio" not in self.streams:
            raise NoTelephoneEvent("the SIP side did not negotiate telephone-event")
        return media.kind, media.sip_dtmf

    def _emit_event(self, kind: str, event: EventPacket, start_ts: int, pt: int, now: float) -> None:
        out = self.to_sip[kind]
        seq = out.insert(now)
        header = _HEAD.pack(0x80, (0x80 if event.marker else 0) | pt, seq,
                            (start_ts + event.timestamp_offset) & 0xFFFFFFFF, out.ssrc)
        data = header + event.payload
        self.counters.dtmf_packets_sent += 1
        self.stats.get(SIP, kind).sent(len(data))
        self.streams[kind].send_rtp(data)

    def dtmf_event(self, event: EventPacket, start_ts: int | None) -> int:
        """Send one telephone-event packet on the SIP audio stream (sans-IO step of
        :meth:`send_dtmf`); returns the event's timestamp, to pass back for its next packets."""
        kind, choice = self._sip_dtmf()
        now = self.clock()
        if kind not in self.to_sip:
            self.to_sip[kind] = Outbound(clock_rate=choice.clock_rate)
        if start_ts is None:
            start_ts = self.to_sip[kind].position(now)
        if self.direction in (Direction.SENDRECV, Direction.SENDONLY):
            self._emit_event(kind, event, start_ts, choice.send_pt, now)
        return start_ts

    async def send_dtmf(self, digits: str, *, duration_ms: int = 160, gap_ms: int = 60,
                        volume: int = 10) -> None:
        """Play ``digits`` as RFC 4733 events on the SIP stream, one packet per 20 ms
        (§2.5.1.2), the end packet three times (§2.5.1.4), ``gap_ms`` between digits.
        Run it in the call's nursery; audio keeps flowing in between."""
        digits = check_digits(digits)
        _, choice = self._sip_dtmf()
        for index, digit in enumerate(digits):
            if index:
                await trio.sleep(gap_ms / 1000)
            start: int | None = None
            for number, event in enumerate(digit_packets(
                    digit, clock_rate=choice.clock_rate, duration_ms=duration_ms, volume=volume)):
                if number:
                    await trio.sleep(0.020)
                start = self.dtmf_event(event, start)

    # ------------------------------------------------------------ RTCP

    def _report_ssrc(self, table: dict[str, Outbound], kind: str, side: str) -> int:
        out = table.get(kind)
        if out is not None and out.ssrc is not None:
            return out.ssrc
        key = f"{side}.{kind}"
        if key not in self._rtcp_ssrc:
            self._rtcp_ssrc[key] = secrets.randbits(32)
        return self._rtcp_ssrc[key]

    def _kind_of(self, table: dict[str, Outbound], ssrc: int, attr: str) -> str | None:
        for kind, out in table.items():
            if getattr(out, attr) == ssrc:
                return kind
        return None

    def browser_rtcp(self, _leg: object, packet: bytes) -> None:
        """A decrypted (compound) RTCP packet from the WebRTC leg: split per kind."""
        try:
            per_kind = self._translate(packet, from_table=self.to_sip, back_table=self.to_browser,
                                       feedback=self.sip_feedback, toward=SIP)
        except PacketError:
            self.counters.bad_packets += 1
            return
        for kind, compound in per_kind.items():
            stream = self.streams.get(kind)
            if stream is not None:
                stream.send_rtcp(compound)

    def sip_rtcp(self, stream: SipRtpStream, view: memoryview) -> None:
        try:
            per_kind = self._translate(bytes(view), from_table=self.to_browser,
                                       back_table=self.to_sip, feedback=self.browser_feedback,
                                       toward=BROWSER, only_kind=stream.kind)
        except PacketError:
            self.counters.bad_packets += 1
            return
        for compound in per_kind.values():
            self.leg.send_rtcp(compound)

    def _translate(self, packet: bytes, *, from_table: dict[str, Outbound],
                   back_table: dict[str, Outbound], feedback: Mapping[str, rtcpmap.Feedback],
                   toward: str, only_kind: str | None = None) -> dict[str, bytes]:
        """Rebuild a compound for the other side.

        ``from_table``: our streams toward that side (their ``source`` is the sender of this
        compound); ``back_table``: our streams toward this sender (its reports speak of them).
        """
        sender_info: dict[str, bytes] = {}
        blocks: dict[str, list[bytes]] = {}
        extra: dict[str, list[bytes]] = {}
        transcoded = {m.kind for m in self.plan.media if m.transcode}
        for header in iter_rtcp(packet):
            kind: str | None
            if header.packet_type in (RtcpType.SR, RtcpType.RR):
                report = rtcpmap.parse_report(packet, header)
                kind = only_kind or self._kind_of(from_table, report.ssrc, "source")
                out = from_table.get(kind) if kind else None
                if (report.sender_info is not None and out is not None
                        and out.source == report.ssrc and kind not in transcoded):
                    sender_info[kind] = rtcpmap.map_sender_info(  # type: ignore[index]
                        report.sender_info, out.ts_offset)
                for block in report.blocks:
                    about = rtcpmap.block_ssrc(block)
                    bkind = self._kind_of(back_table, about, "ssrc")
                    back = back_table.get(bkind) if bkind else None
                    if back is None or back.source is None or bkind in transcoded:
                        continue
                    blocks.setdefault(bkind, []).append(  # type: ignore[arg-type]
                        rtcpmap.map_block(block, back.source, back.seq_offset))
            elif header.packet_type == RtcpType.PSFB and header.count in (PsfbFormat.PLI,
                                                                          PsfbFormat.FIR):
                targets = ([rtcpmap.psfb_media_ssrc(packet, header)]
                           if header.count == PsfbFormat.PLI else rtcpmap.fir_targets(packet, header))
                for target in targets:
                    kind = self._kind_of(back_table, target, "ssrc")
                    if kind is not None and (only_kind is None or kind == only_kind):
                        fb = self._keyframe(kind, from_table, back_table, feedback, toward)
                        if fb is not None:
                            extra.setdefault(kind, []).append(fb)
            elif header.packet_type == RtcpType.RTPFB and header.count == rtcpmap.RtpfbFormat.NACK:
                media, pairs = rtcpmap.parse_nack(packet, header)
                kind = self._kind_of(back_table, media, "ssrc")
                back = back_table.get(kind) if kind else None
                fb_ok = kind is not None and feedback.get(kind, self._default_fb(toward)).nack
                if back is not None and back.source is not None and fb_ok and kind not in transcoded:
                    mapped = [((pid - back.seq_offset) & 0xFFFF, blp) for pid, blp in pairs]
                    sender = self._report_ssrc(from_table, kind, toward)  # type: ignore[arg-type]
                    extra.setdefault(kind, []).append(  # type: ignore[arg-type]
                        rtcpmap.build_nack(sender, back.source, mapped))
                    self.counters.nacks += 1
            # SDES, BYE, APP, XR, REMB, transport-cc: meaningless across the bridge.
        result = {}
        for kind in {*sender_info, *blocks, *extra}:
            ssrc = self._report_ssrc(from_table, kind, toward)
            parts = [rtcpmap.build_report(ssrc, sender_info.get(kind), blocks.get(kind, [])),
                     rtcpmap.build_sdes(ssrc, self.cname), *extra.get(kind, [])]
            result[kind] = b"".join(parts)
        return result

    @staticmethod
    def _default_fb(toward: str) -> rtcpmap.Feedback:
        return rtcpmap.BROWSER_FEEDBACK if toward == BROWSER else rtcpmap.Feedback()

    def _keyframe(self, kind: str, from_table: dict[str, Outbound], back_table: dict[str, Outbound],
                  feedback: Mapping[str, rtcpmap.Feedback], toward: str) -> bytes | None:
        """A key-frame request for the other side's source of ``kind``, in the form that
        side negotiated: PLI (RFC 4585 §6.3.1) or else FIR (RFC 5104 §4.3.1)."""
        media = back_table[kind].source
        fb = feedback.get(kind, self._default_fb(toward))
        if media is None or not (fb.pli or fb.fir):
            self.counters.keyframes_unsupported += 1
            return None
        sender = self._report_ssrc(from_table, kind, toward)
        if toward == SIP:
            self.counters.keyframes_to_sip += 1
        else:
            self.counters.keyframes_to_browser += 1
        if fb.pli:
            return build_pli(sender, media)
        self._fir_seq = (self._fir_seq + 1) & 0xFF
        return build_fir(sender, media, self._fir_seq)
