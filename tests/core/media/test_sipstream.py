from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest
import trio

from tests.support.ports import free_port
from wcs_trio.core.media.ports import PortPool
from wcs_trio.core.media.sipstream import SipRtpStream, usable_address
from wcs_trio.core.webrtc.rtp import build_rr


def rtp(seq: int, ssrc: int = 0x1234, pt: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, seq * 160, ssrc) + bytes(160)


@pytest.fixture
def pool() -> PortPool:
    base = free_port(socket.SOCK_DGRAM)
    return PortPool("127.0.0.1", base, base + 40)


@pytest.fixture
def device() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A device's advertised socket and the socket it really sends from (NAT)."""
    advertised = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    actual = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for sock in (advertised, actual):
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2)
    yield advertised, actual
    advertised.close()
    actual.close()


async def wait_for(predicate: object) -> None:
    with trio.fail_after(2):
        while not predicate():  # type: ignore[operator]
            await trio.sleep(0.005)


async def test_latches_to_the_real_source_and_counts(pool: PortPool, device) -> None:
    advertised, actual = device
    got_rtp: list[bytes] = []
    got_rtcp: list[bytes] = []
    stream = SipRtpStream.open(pool, "audio")
    stream.on_rtp = lambda s, v: got_rtp.append(bytes(v))
    stream.on_rtcp = lambda s, v: got_rtcp.append(bytes(v))
    assert stream.local_port % 2 == 0 and stream.local_port in pool.in_use
    stream.set_remote(advertised.getsockname())
    assert stream.remote_rtcp == ("127.0.0.1", advertised.getsockname()[1] + 1)
    async with trio.open_nursery() as nursery:
        await nursery.start(stream.run)
        # Before any packet: send where the SDP said.
        assert stream.send_rtp(rtp(1))
        assert advertised.recvfrom(2048)[0] == rtp(1)
        actual.sendto(rtp(7), ("127.0.0.1", stream.local_port))
        actual.sendto(b"\x00" * 20, ("127.0.0.1", stream.local_port))  # not RTP v2
        actual.sendto(build_rr(0x1234), ("127.0.0.1", stream.local_port + 1))
        await wait_for(lambda: len(got_rtp) == 1 and len(got_rtcp) == 1)
        assert got_rtp == [rtp(7)]
        assert stream.remote_rtp == actual.getsockname()
        assert stream.remote_rtcp == actual.getsockname()
        assert stream.send_rtp(rtp(2))
        assert actual.recvfrom(2048)[0] == rtp(2)
        assert stream.send_rtcp(build_rr(9))
        data, source = actual.recvfrom(2048)
        assert data == build_rr(9) and source[1] == stream.local_port + 1
        # Latching happens once per SDP: a stray source later does not steal the stream.
        advertised.sendto(rtp(8), ("127.0.0.1", stream.local_port))
        await wait_for(lambda: len(got_rtp) == 2)
        assert stream.remote_rtp == actual.getsockname()
        c = stream.counters
        assert (c.rtp_in, c.rtcp_in, c.invalid, c.latched, c.rtp_out, c.rtcp_out) == (2, 1, 1, 1, 2, 1)
        assert c.bytes_in == 2 * 172 + 8 and c.bytes_out == 2 * 172 + 8
        stream.close()
    assert stream.closed and stream.local_port not in pool.in_use
    with pytest.raises(OSError):
        stream.rtp.sock.getsockname()


async def test_rtcp_mux_on_the_rtp_port(pool: PortPool, device) -> None:
    _, actual = device
    got_rtcp: list[bytes] = []
    stream = SipRtpStream.open(pool, "video")
    stream.on_rtcp = lambda s, v: got_rtcp.append(bytes(v))
    stream.set_remote(actual.getsockname())
    async with trio.open_nursery() as nursery:
        await nursery.start(stream.run)
        actual.sendto(build_rr(5), ("127.0.0.1", stream.local_port))
        await wait_for(lambda: got_rtcp)
        assert stream.rtcp_mux and stream.counters.rtp_in == 0
        stream.send_rtcp(build_rr(6))
        data, source = actual.recvfrom(2048)
        assert data == build_rr(6) and source[1] == stream.local_port
        nursery.cancel_scope.cancel()
    assert stream.local_port not in pool.in_use


async def test_hold_address_sends_nothing(pool: PortPool) -> None:
    stream = SipRtpStream.open(pool, "audio", latching=False)
    stream.set_remote(("0.0.0.0", 4000))
    assert stream.remote_rtp is None and stream.remote_rtcp is None
    assert not stream.send_rtp(rtp(1)) and not stream.send_rtcp(build_rr(1))
    assert stream.counters.unsent == 2
    stream.close()  # never ran: the ports go back at once
    assert stream.closed and pool.in_use == frozenset()
    async with trio.open_nursery() as nursery:
        await nursery.start(stream.run)  # a closed stream's run returns at once


def test_usable_address() -> None:
    assert usable_address(("0.0.0.0", 5004)) is None
    assert usable_address(("10.0.0.1", 0)) is None
    assert usable_address(None) is None
    assert usable_address(("10.0.0.1", 5004)) == ("10.0.0.1", 5004)
    assert usable_address(("pbx.example", 5004)) == ("pbx.example", 5004)
