"""The demo user agents over real loopback SIP and RTP: a test-side SipStack and UdpDrain call them."""

from __future__ import annotations

import logging
import secrets
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import numpy as np
import pytest
import trio

from tests.support.ports import free_port
from wcs_trio.codecs.g711 import PCMA, PCMU
from wcs_trio.codecs.opus import Opus
from wcs_trio.core.media.dtmf import digit_packets
from wcs_trio.core.media.ports import PortPool
from wcs_trio.core.media.udp import UdpDrain
from wcs_trio.core.sdp.model import SessionDescription
from wcs_trio.core.sip.dialog import Dialog
from wcs_trio.core.sip.headers import CSeq
from wcs_trio.core.sip.message import Request, Response
from wcs_trio.core.sip.stack import IncomingRequest, SipStack, Target
from wcs_trio.core.sip.transaction import Timers
from wcs_trio.core.sip.uri import NameAddr, SipUri
from wcs_trio.plugins.demo_ua import DemoEndpoints, demo_kind

FAST = Timers(T1=0.1, T2=0.4, T4=0.5, D=1.0)
HOST = "127.0.0.1"
G711_OFFER = "0 8 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
OPUS_OFFER = "111 101", "a=rtpmap:111 opus/48000/2\r\na=rtpmap:101 telephone-event/48000\r\n"
VIDEO = "m=video {port} RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"


def offer(port: int, audio: tuple[str, str] = G711_OFFER, video_port: int | None = None) -> bytes:
    formats, attributes = audio
    text = (f"v=0\r\no=test 1 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {formats}\r\n{attributes}")
    if video_port is not None:
        text += VIDEO.format(port=video_port)
    return text.encode()


@attrs.define(eq=False)
class Caller:
    """The calling side: its own SIP stack and RTP socket; records what it receives."""

    stack: SipStack
    rtp: UdpDrain
    demo_port: int
    received: list[tuple[float, bytes]] = attrs.field(factory=list)
    dialog: Dialog | None = None
    invite: Request | None = None
    answer: SessionDescription | None = None
    byes: list[Request] = attrs.field(factory=list)
    bye_seen: trio.Event = attrs.field(factory=trio.Event)

    def on_rtp(self, view: memoryview, address: tuple[str, int]) -> None:
        self.received.append((trio.current_time(), bytes(view)))

    async def call(self, user: str, body: bytes) -> Response:
        uri = SipUri(HOST, user, self.demo_port)
        request = Request("INVITE", uri)
        caller = NameAddr(SipUri(HOST, "caller", self.stack.ports["udp"]))
        caller.tag = "c" + secrets.token_hex(4)
        request.add("From", caller)
        request.add("To", NameAddr(uri))
        request.add("Call-ID", secrets.token_hex(8))
        request.add("CSeq", CSeq(1, "INVITE"))
        request.add("Contact", caller)
        request.add("Content-Type", "application/sdp")
        request.body = body
        self.invite = request
        out = await self.stack.start_request(request, Target("udp", HOST, self.demo_port))
        final = await out.wait()
        if 200 <= final.status < 300:
            self.dialog = Dialog.from_uac(request, final)
            await self.stack.send_ack(out, self.dialog.create_ack(request))
            self.stack.add_dialog(self.dialog, self.in_dialog)
            self.answer = SessionDescription.parse(final.body)
        return final

    async def in_dialog(self, incoming: IncomingRequest) -> None:
        if incoming.request.method == "BYE":
            self.byes.append(incoming.request)
            await incoming.respond(200)
            self.bye_seen.set()

    async def request(self, method: str, body: bytes = b"", content_type: str | None = None) -> Response:
        assert self.dialog is not None
        request = self.dialog.create_request(method, body=body, content_type=content_type)
        return await self.stack.request(request, Target("udp", HOST, self.demo_port))

    def send_rtp(self, payload_type: int, payload: bytes, seq: int, ts: int, marker: bool = False) -> None:
        assert self.answer is not None
        port = self.answer.media[0].port
        header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | payload_type, seq, ts, 0x1234)
        self.rtp.send(header + payload, (HOST, port))


@asynccontextmanager
async def demo(prefix: str = "", echo_delay: float = 0.2) -> AsyncIterator[tuple[DemoEndpoints, Caller]]:
    low = 42000 + (free_port() % 400) * 20
    async with trio.open_nursery() as nursery:
        stack = await nursery.start(SipStack(HOST, 0, 0, timers=FAST).run)
        endpoints = DemoEndpoints(stack, PortPool(HOST, low, low + 19), HOST, prefix, echo_delay)
        await nursery.start(endpoints.run)
        caller_stack = await nursery.start(SipStack(HOST, 0, 0, timers=FAST).run)
        caller = Caller(caller_stack, UdpDrain.bind(HOST, 0, lambda v, a: None), stack.ports["udp"])
        caller.rtp.on_packet = caller.on_rtp
        nursery.start_soon(caller.rtp.run)
        yield endpoints, caller
        nursery.cancel_scope.cancel()


def payloads(caller: Caller, payload_type: int | None = None) -> list[bytes]:
    return [p[12:] for _, p in caller.received if payload_type is None or p[1] & 0x7F == payload_type]


def dominant_hz(pcm: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(float)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[:3] = 0
    return float(np.argmax(spectrum)) * rate / len(samples)


async def all_freed(endpoints: DemoEndpoints) -> None:
    with trio.fail_after(2):
        while endpoints.calls or endpoints.pool.in_use:
            await trio.sleep(0.02)


def test_names() -> None:
    assert [demo_kind(n) for n in ("echo", "ivr", "tone", "tone-1000", "tone-5", "tone-x", "bob")] == [
        "echo", "ivr", "tone", "tone", None, None, None]


async def test_echo_sends_back_what_it_hears_after_the_delay_under_its_own_ssrc() -> None:
    async with demo(echo_delay=0.2) as (endpoints, caller):
        final = await caller.call("echo", offer(caller.rtp.port))
        assert final.status == 200
        assert caller.answer is not None and caller.answer.media[0].formats == ["0", "101"]
        sent_at = trio.current_time()
        for n in range(10):
            caller.send_rtp(0, bytes([n]) * 160, 100 + n, 160 * n)
            await trio.sleep(0.02)
        with trio.fail_after(2):
            while len(caller.received) < 10:
                await trio.sleep(0.01)
        first_at, first = caller.received[0]
        assert first_at - sent_at >= 0.19
        assert [p[0] for p in payloads(caller)] == list(range(10))
        assert struct.unpack_from("!I", first, 8)[0] != 0x1234
        assert (await caller.request("BYE")).status == 200
        await all_freed(endpoints)


async def test_echo_reflects_video_too() -> None:
    async with demo(echo_delay=0.0) as (endpoints, caller):
        video = UdpDrain.bind(HOST, 0, lambda v, a: None)
        got: list[bytes] = []
        video.on_packet = lambda view, address: got.append(bytes(view))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(video.run)
            assert (await caller.call("echo", offer(caller.rtp.port, video_port=video.port))).status == 200
            assert caller.answer is not None
            assert caller.answer.media[1].port != 0 and caller.answer.media[1].formats == ["96"]
            header = struct.pack("!BBHII", 0x80, 96, 1, 0, 0x99)
            video.send(header + b"frame", (HOST, caller.answer.media[1].port))
            with trio.fail_after(2):
                while not got:
                    await trio.sleep(0.01)
            assert got[0].endswith(b"frame")
            nursery.cancel_scope.cancel()
        assert (await caller.request("BYE")).status == 200
        await all_freed(endpoints)


@pytest.mark.parametrize(("user", "law", "hz"), [("tone-1000", PCMU, 1000), ("tone", PCMA, 440)])
async def test_tone_plays_the_frequency_of_its_name_in_g711(user: str, law: object, hz: int) -> None:
    body = offer(0) if law is PCMU else offer(0, ("8", "a=rtpmap:8 PCMA/8000\r\n"))
    async with demo() as (endpoints, caller):
        body = body.replace(b"m=audio 0 ", f"m=audio {caller.rtp.port} ".encode())
        assert (await caller.call(user, body)).status == 200
        await trio.sleep(0.5)
        packets = payloads(caller)
        assert 20 <= len(packets) <= 30  # 20 ms pacing
        pcm = b"".join(law.decode(p) for p in packets)  # type: ignore[attr-defined]
        assert abs(dominant_hz(pcm, 8000) - hz) < 15
        assert (await caller.request("BYE")).status == 200
        await all_freed(endpoints)


async def test_tone_speaks_opus_when_opus_is_negotiated() -> None:
    async with demo() as (endpoints, caller):
        assert (await caller.call("tone-1000", offer(caller.rtp.port, OPUS_OFFER))).status == 200
        assert caller.answer is not None and caller.answer.media[0].formats == ["111", "101"]
        await trio.sleep(0.6)
        decoder = Opus()
        pcm = b"".join(decoder.decode(p) for p in payloads(caller, 111))
        assert abs(dominant_hz(pcm[9600:], 48000) - 1000) < 15
        assert (await caller.request("BYE")).status == 200
        await all_freed(endpoints)


async def test_ivr_reports_rfc4733_and_info_digits_and_hangs_up_on_hash(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "wcs_trio.demo")
    async with demo() as (endpoints, caller):
        assert (await caller.call("ivr", offer(caller.rtp.port))).status == 200
        seq = 1
        for n, digit in enumerate("12"):
            for packet in digit_packets(digit):
                caller.send_rtp(101, packet.payload, seq, 8000 * (n + 1), packet.marker)
                seq += 1
                await trio.sleep(0.005)
        info = await caller.request("INFO", b"Signal=3\r\nDuration=160\r\n", "application/dtmf-relay")
        assert info.status == 200
        assert (await caller.request("INFO", b"4", "application/dtmf")).status == 200
        with trio.fail_after(2):
            while caplog.text.count("ivr digit") < 4:
                await trio.sleep(0.02)
        assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("ivr digit")] == [
            "ivr digit 1", "ivr digit 2", "ivr digit 3", "ivr digit 4"]
        assert (await caller.request("INFO", b"#", "application/dtmf")).status == 200
        with trio.fail_after(2):
            await caller.bye_seen.wait()
        await all_freed(endpoints)
        # it spoke all along: the prompt, then the beeps
        pcm = b"".join(PCMU.decode(p) for p in payloads(caller, 0))
        assert len(pcm) > 2 * 8000 * 0.3 and max(abs(s) for s in np.frombuffer(pcm, np.int16)) > 3000


async def test_cancel_free_ports_refuse_and_unknown_names() -> None:
    async with demo(prefix="demo-") as (endpoints, caller):
        assert (await caller.call("echo", offer(caller.rtp.port))).status == 404  # only prefixed names
        no_audio = offer(caller.rtp.port, ("9", "a=rtpmap:9 G722/8000\r\n"))
        assert (await caller.call("demo-echo", no_audio)).status == 488
        assert (await caller.call("demo-tone-440", offer(caller.rtp.port))).status == 200
        assert (await caller.request("BYE")).status == 200
        await all_freed(endpoints)


async def test_a_reoffer_on_hold_is_answered_and_the_tone_stops() -> None:
    async with demo() as (endpoints, caller):
        assert (await caller.call("tone", offer(caller.rtp.port))).status == 200
        held = offer(caller.rtp.port).replace(b"t=0 0\r\n", b"t=0 0\r\na=sendonly\r\n")
        reply = await caller.request("INVITE", held, "application/sdp")
        assert reply.status == 200 and b"a=recvonly" in reply.body
        await trio.sleep(0.1)
        count = len(caller.received)
        await trio.sleep(0.2)
        assert len(caller.received) == count
        assert (await caller.request("BYE")).status == 200
        await all_freed(endpoints)


async def test_a_user_logged_in_under_a_demo_name_comes_first_and_leaves_it_intact() -> None:
    async with demo() as (endpoints, caller):
        async def busy(incoming: IncomingRequest) -> None:
            await incoming.respond(486)

        endpoints.stack.add_user("echo", busy)
        assert (await caller.call("echo", offer(caller.rtp.port))).status == 486
        endpoints.stack.remove_user("echo")
        assert (await caller.call("tone-2500", offer(caller.rtp.port))).status == 200
