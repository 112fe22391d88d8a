"""Non-blocking UDP sockets drained in batches: the I/O half of the media hot path.

One ``trio.lowlevel.wait_readable`` per wake-up, then every queued datagram is read
into one preallocated buffer and handed to a synchronous callback as a memoryview:
no await and no allocation per packet (DESIGN.md: packets per wake-up dominate).
The callback must use or copy the view before returning; the buffer is reused.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

import attrs
import trio

Address = tuple[str, int]
PacketHandler = Callable[[memoryview, Address], None]

MAX_DATAGRAM = 65536
# Errors a UDP send may meet that concern one packet only (a full buffer, an ICMP
# unreachable reported late): the packet is dropped, the loop goes on.
_TRANSIENT = (errno.EAGAIN, errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EPERM)


@attrs.define(eq=False)
class UdpDrain:
    sock: socket.socket
    on_packet: PacketHandler
    buffer: bytearray = attrs.field(factory=lambda: bytearray(MAX_DATAGRAM))
    received: int = 0
    dropped_sends: int = 0
    handler_errors: int = 0

    @classmethod
    def bind(cls, host: str, port: int, on_packet: PacketHandler) -> UdpDrain:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        return cls(sock, on_packet)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def send(self, data: bytes | bytearray | memoryview, address: Address) -> None:
        try:
            self.sock.sendto(data, address)
        except OSError as exc:
            if exc.errno not in _TRANSIENT and not isinstance(exc, BlockingIOError):
                raise
            self.dropped_sends += 1

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        view = memoryview(self.buffer)
        recv = self.sock.recvfrom_into
        handler = self.on_packet
        task_status.started()
        try:
            while True:
                await trio.lowlevel.wait_readable(self.sock)
                while True:
                    try:
                        size, address = recv(self.buffer)
                    except BlockingIOError:
                        break
                    except OSError:
                        continue  # e.g. ECONNREFUSED queued from an earlier send
                    self.received += 1
                    try:
                        handler(view[:size], address)
                    except Exception:
                        # A bad packet must never end the loop; count it and go on.
                        self.handler_errors += 1
        finally:
            self.sock.close()
