import socket

import pytest
import trio

from tests.support.ports import free_port
from wcs_trio.core.media.ports import NoFreePorts, PortPool
from wcs_trio.core.media.udp import UdpDrain


def ignore(view: memoryview, address: tuple[str, int]) -> None:
    pass


def test_pairs_are_even_odd_and_skip_busy_ports() -> None:
    base = 0
    while base == 0 or base % 2:
        base = free_port(socket.SOCK_DGRAM)
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", base))
    pool = PortPool("127.0.0.1", base, base + 5)
    opened = []
    try:
        rtp, rtcp = pool.open_pair(ignore, ignore)
        opened += [rtp, rtcp]
        assert rtp.port % 2 == 0 and rtcp.port == rtp.port + 1 and rtp.port != base
        rtp2, rtcp2 = pool.open_pair(ignore, ignore)
        opened += [rtp2, rtcp2]
        with pytest.raises(NoFreePorts):
            pool.open_pair(ignore, ignore)
        first_port = rtp.port
        pool.release(first_port)
        rtp.sock.close()
        rtcp.sock.close()
        again, again_rtcp = pool.open_pair(ignore, ignore)
        opened += [again, again_rtcp]
        assert again.port == first_port
    finally:
        busy.close()
        for drain in opened:
            drain.sock.close()


async def test_drain_reads_batches_and_survives_a_failing_handler() -> None:
    seen: list[bytes] = []

    def handler(view: memoryview, address: tuple[str, int]) -> None:
        if view[0] == 0xFF:
            raise ValueError("bad packet")
        seen.append(bytes(view))

    drain = UdpDrain.bind("127.0.0.1", 0, handler)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    async with trio.open_nursery() as nursery:
        await nursery.start(drain.run)
        for index in range(50):
            sender.sendto(bytes([0xFF if index == 10 else index]) * 20, ("127.0.0.1", drain.port))
        with trio.fail_after(2):
            while len(seen) < 49:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    sender.close()
    assert drain.handler_errors == 1 and drain.received == 50
    assert seen[0] == bytes(20) and seen[-1] == bytes([49]) * 20
