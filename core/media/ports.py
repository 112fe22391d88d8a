"""The SIP-side RTP port range (``media_port_from``..``media_port_to``).

RTP takes an even port and RTCP the next one (RFC 3550 §11), so a media stream
holds a pair. Ports in use by another program are skipped, not fatal.
"""

from __future__ import annotations

import attrs

from wcs_trio.core.errors import Refusal
from wcs_trio.core.media.udp import PacketHandler, UdpDrain


class NoFreePorts(Refusal):
    """Every RTP port pair of the configured range is taken."""


@attrs.define(eq=False)
class PortPool:
    host: str
    low: int
    high: int
    _in_use: set[int] = attrs.field(factory=set)
    _next: int = 0

    def __attrs_post_init__(self) -> None:
        self._next = self.low + (self.low % 2)

    @property
    def pairs(self) -> int:
        first = self.low + (self.low % 2)
        return max(0, (self.high - first + 1) // 2)

    def open_pair(self, on_rtp: PacketHandler, on_rtcp: PacketHandler) -> tuple[UdpDrain, UdpDrain]:
        """Bind the next free even/odd pair; round-robin so a port is not reused at once."""
        first = self.low + (self.low % 2)
        for _ in range(self.pairs):
            port = self._next
            self._next = port + 2 if port + 3 <= self.high else first
            if port in self._in_use:
                continue
            try:
                rtp = UdpDrain.bind(self.host, port, on_rtp)
            except OSError:
                continue
            try:
                rtcp = UdpDrain.bind(self.host, port + 1, on_rtcp)
            except OSError:
                rtp.sock.close()
                continue
            self._in_use.add(port)
            return rtp, rtcp
        raise NoFreePorts(f"no free RTP port pair in {self.low}-{self.high}")

    def release(self, rtp_port: int) -> None:
        self._in_use.discard(rtp_port)

    @property
    def in_use(self) -> frozenset[int]:
        return frozenset(self._in_use)
