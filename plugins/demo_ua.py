"""The demo user agents (echo, tone, ivr) on trio: real SIP on the gateway's stack, real RTP.

:class:`DemoEndpoints` registers the demo names on a :class:`SipStack` and runs every
demo call in a nursery of its own, inside the service's nursery (which the gateway's
owns). A :class:`DemoCall` answers the INVITE with its own SDP (:mod:`.demo_sdp`) and an
RTP/RTCP port pair per stream from the SIP-side :class:`PortPool`, then:

- ``echo`` sends back every packet it receives (audio, video) after ``echo_delay``
  seconds, under its own SSRC (RFC 3550 §8.2: a reflected stream is a new source);
- ``tone[-HZ]`` plays a sine, encoded by the codec layer, one packet per 20 ms;
- ``ivr`` plays a prompt, logs ``ivr digit D`` and beeps back for each DTMF digit
  (RFC 4733 events and SIP INFO, RFC 6086), and hangs up with BYE on ``#``.

A BYE, a CANCEL, a missing ACK or the service stopping ends the call and frees its ports.
"""

from __future__ import annotations

import logging
import secrets
import struct
from collections import deque
from collections.abc import Callable

import attrs
import trio

from wcs_trio.core.calls.control import info_digits
from wcs_trio.core.errors import Refusal
from wcs_trio.core.media.dtmf import EventReceiver
from wcs_trio.core.media.ports import NoFreePorts, PortPool
from wcs_trio.core.media.transcode import AudioCodec, audio_codec
from wcs_trio.core.media.udp import Address, UdpDrain
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sip.dialog import Dialog, DialogState
from wcs_trio.core.sip.stack import Handler, IncomingRequest, SipStack, Target
from wcs_trio.core.webrtc.rtp import rtp_header_length
from wcs_trio.plugins.demo_audio import (
    BEEP_MS,
    FRAME_MS,
    PROMPT,
    RtpFramer,
    ToneSource,
    beep_for,
    tone_frequency,
)
from wcs_trio.plugins.demo_sdp import DemoStream, answer_offer

log = logging.getLogger("wcs_trio.demo")

KINDS = ("echo", "tone", "ivr")
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"
BYE_TIMEOUT = 1.5
_TS = struct.Struct("!I")


def demo_kind(name: str) -> str | None:
    """``echo``, ``ivr``, ``tone`` and ``tone-HZ`` name a demo endpoint; anything else does not."""
    if name in ("echo", "ivr"):
        return name
    if name == "tone" or (name.startswith("tone-") and tone_frequency(name) is not None):
        return "tone"
    return None


@attrs.define(eq=False)
class RtpPort:
    """One stream's RTP/RTCP socket pair; sends to the offerer, latching onto where it sends from."""

    stream: DemoStream
    rtp: UdpDrain
    rtcp: UdpDrain
    number: int  # the RTP port (kept: the socket closes before the pool gets it back)
    ssrc: int = attrs.field(factory=lambda: secrets.randbits(32))
    remote: Address | None = None

    def send(self, packet: bytes | bytearray) -> None:
        if self.remote is not None and self.stream.direction.sends:
            self.rtp.send(packet, self.remote)


@attrs.define(eq=False)
class DemoCall:
    endpoints: DemoEndpoints
    kind: str
    name: str
    dialog: Dialog | None = None
    ports: list[RtpPort] = attrs.field(factory=list)
    source: ToneSource | None = None
    answer: SessionDescription | None = None
    done: trio.Event = attrs.field(factory=trio.Event)
    _session_id: str = attrs.field(factory=lambda: str(secrets.randbelow(2**62)))
    _nursery: trio.Nursery | None = None
    _events: EventReceiver = attrs.field(factory=EventReceiver)
    _echo: deque[tuple[float, RtpPort, bytes]] = attrs.field(factory=deque)
    _echo_ready: trio.Event = attrs.field(factory=trio.Event)

    @property
    def stack(self) -> SipStack:
        return self.endpoints.stack

    # ------------------------------------------------------------------ set-up

    async def run(self, incoming: IncomingRequest) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if await self._answer(incoming):
                    log.info("demo %s answered (%s)", self.name, self._codecs())
                    nursery.start_soon(self._watch_ack, incoming)
                    self._start_behaviour(nursery)
                    await self.done.wait()
                nursery.cancel_scope.cancel()
        finally:
            self._release()
            log.info("demo %s ended", self.name)

    def _codecs(self) -> str:
        return ", ".join(f"{p.stream.kind} {p.stream.codec.name}/{p.stream.codec.clock_rate}" for p in self.ports)

    async def _answer(self, incoming: IncomingRequest) -> bool:
        request = incoming.request
        drains: dict[int, tuple[UdpDrain, UdpDrain]] = {}
        try:
            offer = SessionDescription.parse(request.body)
            drains = self._open_ports(offer)
            answer, streams = answer_offer(
                offer, address=self.endpoints.address, video=self.kind == "echo", session_id=self._session_id,
                ports={index: rtp.port for index, (rtp, _) in drains.items()})
        except Refusal as error:  # SdpError (488) or NoFreePorts (503)
            self._close_unused(drains, set())
            status = 503 if isinstance(error, NoFreePorts) else 488
            await incoming.respond(status)
            log.info("demo %s refused (%s): %s", self.name, status, error)
            return False
        self._close_unused(drains, {s.index for s in streams})
        for stream in streams:
            rtp, rtcp = drains[stream.index]
            port = RtpPort(stream, rtp, rtcp, rtp.port, remote=stream.remote)
            rtp.on_packet = self._receiver(port)
            self.ports.append(port)
            assert self._nursery is not None
            self._nursery.start_soon(rtp.run)
            self._nursery.start_soon(rtcp.run)
        self.answer = answer
        contact = self.stack.contact_for(request.uri.user, _target(incoming))  # type: ignore[attr-defined]
        response = incoming.response(200, "OK", body=answer.to_bytes(), content_type="application/sdp",
                                     headers=[("Contact", contact), ("Allow", ALLOW)])
        self.dialog = Dialog.from_uas(request, response, contact)
        self.stack.add_dialog(self.dialog, self._in_dialog)
        if not await incoming.respond(response):  # CANCELled before our 200 went out
            return False
        return True

    def _open_ports(self, offer: SessionDescription) -> dict[int, tuple[UdpDrain, UdpDrain]]:
        drains: dict[int, tuple[UdpDrain, UdpDrain]] = {}
        wanted = ("audio", "video") if self.kind == "echo" else ("audio",)
        for index, media in enumerate(offer.media):
            if media.kind in wanted and not media.rejected and all(
                    offer.media[i].kind != media.kind for i in drains):
                try:
                    drains[index] = self.endpoints.pool.open_pair(_ignore_packet, _ignore_packet)
                except NoFreePorts:
                    self._close_unused(drains, set())
                    raise
        return drains

    def _close_unused(self, drains: dict[int, tuple[UdpDrain, UdpDrain]], used: set[int]) -> None:
        for index, (rtp, rtcp) in drains.items():
            if index not in used:
                self.endpoints.pool.release(rtp.port)
                rtp.sock.close()
                rtcp.sock.close()

    def _release(self) -> None:
        if self.dialog is not None:
            self.stack.remove_dialog(self.dialog)
            self.dialog.terminate()
        for port in self.ports:
            self.endpoints.pool.release(port.number)
            port.rtp.sock.close()
            port.rtcp.sock.close()
        self.ports = []

    async def _watch_ack(self, incoming: IncomingRequest) -> None:
        """RFC 3261 §13.3.1.4: a 2xx never ACKed ends the dialog (the stack's Timer H/L)."""
        await incoming.ack_timeout.wait()
        if not incoming.acked.is_set():
            log.info("demo %s: our 200 was never ACKed", self.name)
            self.done.set()

    # ------------------------------------------------------------------ behaviours

    def _start_behaviour(self, nursery: trio.Nursery) -> None:
        audio = next(p for p in self.ports if p.stream.kind == "audio")
        if self.kind == "echo":
            nursery.start_soon(self._echo_loop)
            return
        codec = audio_codec(audio.stream.codec)
        if self.kind == "tone":
            frequency = tone_frequency(self.name[len(self.endpoints.prefix):]) or 440.0
            self.source = ToneSource(codec.sample_rate, then=(frequency,))
        else:
            self.source = ToneSource(codec.sample_rate)
            self.source.play(*PROMPT)
        nursery.start_soon(self._speak, audio, codec, self.source)

    async def _speak(self, port: RtpPort, codec: AudioCodec, source: ToneSource) -> None:
        """One encoded frame every 20 ms, paced against the clock (not the previous send)."""
        framer = RtpFramer(port.ssrc, secrets.randbits(16), secrets.randbits(32))
        ticks = codec.clock_rate * FRAME_MS // 1000
        pt = port.stream.codec.send_pt
        due = trio.current_time()
        first = True
        while True:
            port.send(framer.packet(pt, codec.encode(source.next_frame()), ticks, marker=first))
            first = False
            due += FRAME_MS / 1000
            now = trio.current_time()
            if due < now - 0.2:  # we were held up (a slow encoder start): do not burst to catch up
                due = now
            await trio.sleep_until(due)

    def _receiver(self, port: RtpPort) -> Callable[[memoryview, Address], None]:
        delay = self.endpoints.echo_delay
        dtmf_pt = port.stream.dtmf_pt

        def on_rtp(view: memoryview, address: Address) -> None:
            if len(view) < 12 or view[0] >> 6 != 2:
                return
            port.remote = address  # symmetric RTP (RFC 4961): answer where it comes from
            pt = view[1] & 0x7F
            if pt not in port.stream.pts:
                return
            if self.kind == "echo":
                packet = bytearray(view)
                packet[8:12] = port.ssrc.to_bytes(4, "big")
                self._echo.append((trio.current_time() + delay, port, bytes(packet)))
                self._echo_ready.set()
            elif pt == dtmf_pt:
                header = rtp_header_length(view)
                digit = self._events.receive(view[header:], _TS.unpack_from(view, 4)[0])
                if digit is not None:
                    self.digit(digit, "RFC 4733")

        return on_rtp

    async def _echo_loop(self) -> None:
        while True:
            if not self._echo:
                self._echo_ready = trio.Event()
                await self._echo_ready.wait()
                continue
            due, port, packet = self._echo[0]
            await trio.sleep_until(due)
            self._echo.popleft()
            port.send(packet)

    def digit(self, digit: str, via: str) -> None:
        """A DTMF digit arrived: the IVR reports it, beeps it back, and ``#`` hangs up."""
        if self.kind != "ivr" or self.source is None or self._nursery is None:
            return
        log.info("ivr digit %s", digit, extra={"via": via, "endpoint": self.name})
        self.source.clear()  # barge-in: a digit cuts the prompt short
        self.source.play(beep_for(digit))
        if digit == "#":
            self._nursery.start_soon(self._hang_up_after, (BEEP_MS + 100) / 1000)

    async def _hang_up_after(self, seconds: float) -> None:
        await trio.sleep(seconds)
        await self.hang_up()

    async def hang_up(self) -> None:
        """BYE (RFC 3261 §15.1.1); the call ends whatever the answer."""
        dialog = self.dialog
        if dialog is not None and dialog.state is DialogState.CONFIRMED:
            bye = dialog.create_request("BYE")
            with trio.move_on_after(BYE_TIMEOUT):
                out = await self.stack.start_request(bye, _next_hop(dialog))
                dialog.receive_response(bye, await out.wait())
        self.done.set()

    # ------------------------------------------------------------------ in dialog

    async def _in_dialog(self, incoming: IncomingRequest) -> None:
        request, dialog = incoming.request, self.dialog
        if dialog is None or request.method == "ACK":
            return
        refused = dialog.receive_request(request)
        if refused is not None:
            await incoming.respond(refused)
            return
        method = request.method
        if method in ("INVITE", "UPDATE") and request.body:
            response = self._reanswer(incoming)
        elif method == "INFO":
            digits = info_digits(request)
            response = incoming.response(200 if digits or not request.body else 415)
            for digit in digits:
                self.digit(digit, "INFO")
        elif method in ("BYE", "INVITE", "UPDATE", "OPTIONS"):
            response = incoming.response(200)
        else:
            response = incoming.response(501)
        dialog.sent_response(request, response)
        await incoming.respond(response)
        if method == "BYE":
            self.done.set()

    def _reanswer(self, incoming: IncomingRequest) -> object:
        """A re-offer (hold, resume, new address): same ports, a new answer (RFC 3264 §8)."""
        previous = self.answer
        assert previous is not None
        try:
            offer = SessionDescription.parse(incoming.request.body)
            answer, streams = answer_offer(
                offer, address=self.endpoints.address, video=self.kind == "echo",
                ports={p.stream.index: p.rtp.port for p in self.ports}, session_id=self._session_id,
                version=previous.origin.sess_version + 1)
        except Refusal as error:
            log.info("demo %s refused a re-offer: %s", self.name, error)
            return incoming.response(488)
        for port in self.ports:
            for stream in streams:
                if stream.index == port.stream.index:
                    port.stream, port.remote = stream, stream.remote or port.remote
        self.answer = answer
        return incoming.response(200, body=answer.to_bytes(), content_type="application/sdp")


@attrs.define(eq=False)
class DemoEndpoints:
    """The demo names on a SIP stack; one nursery per call inside the service's own."""

    stack: SipStack
    pool: PortPool
    address: str  # what our SDP says (the gateway's SIP side sends RTP there)
    prefix: str = ""
    echo_delay: float = 0.5
    calls: set[DemoCall] = attrs.field(factory=set)
    _nursery: trio.Nursery | None = None

    def _match(self, user: str) -> Handler | None:
        """The stack's matcher: our handler for every demo name (prefixed), None otherwise.
        A browser that logs in under a demo name is served first while it is there."""
        if not user.startswith(self.prefix) or demo_kind(user[len(self.prefix):]) is None:
            return None
        return self._on_request

    async def run(self, *, task_status: trio.TaskStatus[DemoEndpoints] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self.stack.add_user_matcher(self._match)
                task_status.started(self)
                await trio.sleep_forever()
        finally:
            self.stack.remove_user_matcher(self._match)

    def _on_request(self, incoming: IncomingRequest) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(self._serve, incoming)

    async def _serve(self, incoming: IncomingRequest) -> None:
        request = incoming.request
        if request.method != "INVITE":
            await incoming.respond(405, headers=[("Allow", ALLOW)])
            return
        name = request.uri.user_decoded  # type: ignore[attr-defined]
        kind = demo_kind(name[len(self.prefix):])
        assert kind is not None  # only our names are routed here
        call = DemoCall(self, kind, name)
        self.calls.add(call)
        try:
            await call.run(incoming)
        finally:
            self.calls.discard(call)


def _ignore_packet(view: memoryview, address: Address) -> None:
    return None


def _target(incoming: IncomingRequest) -> Target:
    """Where the caller is (its Contact, else where the request came from), for our Contact."""
    contacts = incoming.request.contacts
    if contacts:
        return Target.from_uri(contacts[0].uri)  # type: ignore[arg-type]
    transport, (host, port) = incoming.source.transport, incoming.source.addr
    return Target(transport, host, port)


def _next_hop(dialog: Dialog) -> Target:
    first = dialog.route_set[0].uri if dialog.route_set else dialog.remote_target
    return Target.from_uri(first)  # type: ignore[arg-type]
