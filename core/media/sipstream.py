"""One SIP-side media stream: an RTP/RTCP port pair facing a SIP device.

The stream is a thin trio adapter around two :class:`UdpDrain` loops. It knows where
the device said it wants media (the SDP's ``c=``/``m=`` port, RTCP on port + 1 per
RFC 3550 §11 unless ``a=rtcp`` or rtcp-mux says otherwise) and where media really
comes from: devices behind NAT and hosts sharing one address send from a port other
than the one they advertised, so after the first valid RTP packet from another source
we send to that source instead ("symmetric RTP", RFC 4961 §3 spirit). RTCP received on
the RTP port (rtcp-mux, RFC 5761 §4) is accepted and then answered on the RTP port.

What to do with a packet is the bridge's business: the stream only validates the RTP
version and header length, latches, counts, and calls ``on_rtp(stream, view)`` /
``on_rtcp(stream, view)`` synchronously with a view of the drain's reused buffer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import attrs
import trio

from wcs_trio.core.media.ports import PortPool
from wcs_trio.core.media.udp import Address, UdpDrain
from wcs_trio.core.webrtc.errors import PacketError
from wcs_trio.core.webrtc.rtp import is_rtcp, rtp_header_length

StreamHandler = Callable[["SipRtpStream", memoryview], None]


def _ignore(_stream: SipRtpStream, _view: memoryview) -> None:
    pass


def usable_address(address: Address | None) -> Address | None:
    """``None`` for the hold forms a device may advertise: ``c=0.0.0.0`` (RFC 3264 §8.4,
    the old RFC 2543 hold) or port 0."""
    if address is None or address[1] == 0:
        return None
    try:
        if ipaddress.ip_address(address[0]).is_unspecified:
            return None
    except ValueError:
        pass  # a host name: leave it to the socket layer
    return address


@attrs.define
class StreamCounters:
    """Per-stream datagram counters (what the socket saw, before the bridge)."""

    rtp_in: int = 0
    rtcp_in: int = 0
    rtp_out: int = 0
    rtcp_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    invalid: int = 0
    unsent: int = 0  # no remote address (not yet known, or held with 0.0.0.0)
    latched: int = 0


@attrs.define(eq=False)
class SipRtpStream:
    """RTP + RTCP toward one SIP device for one media kind (``audio``/``video``)."""

    kind: str
    pool: PortPool
    rtp: UdpDrain
    rtcp: UdpDrain
    remote_rtp: Address | None = None
    remote_rtcp: Address | None = None
    rtcp_mux: bool = False
    latching: bool = True
    on_rtp: StreamHandler = _ignore
    on_rtcp: StreamHandler = _ignore
    counters: StreamCounters = attrs.Factory(StreamCounters)
    _latched_rtp: bool = False
    _latched_rtcp: bool = False
    _scope: trio.CancelScope | None = None
    _closed: bool = False
    _port: int = 0

    def __attrs_post_init__(self) -> None:
        self._port = self.rtp.port

    @classmethod
    def open(cls, pool: PortPool, kind: str, *, latching: bool = True) -> SipRtpStream:
        """Take a port pair from ``pool``; the remote side is set later from the SDP."""
        stream: SipRtpStream
        rtp, rtcp = pool.open_pair(lambda v, a: stream._rtp_packet(v, a),
                                   lambda v, a: stream._rtcp_packet(v, a))
        stream = cls(kind, pool, rtp, rtcp, latching=latching)
        return stream

    # ------------------------------------------------------------ where to

    @property
    def local_port(self) -> int:
        """The RTP port to write in our SDP (RTCP is the next one)."""
        return self._port

    def set_remote(self, rtp: Address | None, rtcp: Address | None = None, *,
                   rtcp_mux: bool = False) -> None:
        """Where the SDP says to send (on offer/answer and every re-INVITE).

        A new SDP restarts latching: a device that moved tells us so in its SDP.
        """
        rtp = usable_address(rtp)
        if rtcp is None and rtp is not None:
            rtcp = rtp if rtcp_mux else (rtp[0], rtp[1] + 1)
        self.remote_rtp = rtp
        self.remote_rtcp = usable_address(rtcp)
        self.rtcp_mux = rtcp_mux
        self._latched_rtp = self._latched_rtcp = False

    # ------------------------------------------------------------ receiving

    def _rtp_packet(self, view: memoryview, address: Address) -> None:
        if is_rtcp(view):
            # RFC 5761 §4: the device multiplexes RTCP on the RTP port.
            self.rtcp_mux = True
            self._rtcp_in(view, address, mux=True)
            return
        try:
            rtp_header_length(view)
        except PacketError:
            self.counters.invalid += 1
            return
        counters = self.counters
        counters.rtp_in += 1
        counters.bytes_in += len(view)
        if self.latching and not self._latched_rtp:
            self._latched_rtp = True
            if address != self.remote_rtp:
                counters.latched += 1
                self.remote_rtp = address
                if self.rtcp_mux:
                    self.remote_rtcp = address
                elif not self._latched_rtcp:
                    # Until its RTCP shows up, guess the device's NAT kept port parity.
                    self.remote_rtcp = (address[0], address[1] + 1)
        self.on_rtp(self, view)

    def _rtcp_packet(self, view: memoryview, address: Address) -> None:
        self._rtcp_in(view, address, mux=False)

    def _rtcp_in(self, view: memoryview, address: Address, *, mux: bool) -> None:
        if len(view) < 8 or view[0] >> 6 != 2:
            self.counters.invalid += 1
            return
        self.counters.rtcp_in += 1
        self.counters.bytes_in += len(view)
        if self.latching and not self._latched_rtcp:
            self._latched_rtcp = True
            self.remote_rtcp = address
        self.on_rtcp(self, view)

    # ------------------------------------------------------------ sending

    def send_rtp(self, packet: bytes | bytearray | memoryview) -> bool:
        address = self.remote_rtp
        if address is None:
            self.counters.unsent += 1
            return False
        self.rtp.send(packet, address)
        self.counters.rtp_out += 1
        self.counters.bytes_out += len(packet)
        return True

    def send_rtcp(self, packet: bytes | bytearray | memoryview) -> bool:
        address = self.remote_rtcp
        if address is None:
            self.counters.unsent += 1
            return False
        drain = self.rtp if self.rtcp_mux else self.rtcp
        drain.send(packet, address)
        self.counters.rtcp_out += 1
        self.counters.bytes_out += len(packet)
        return True

    # ------------------------------------------------------------ lifetime

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Drain both sockets until cancelled or :meth:`close`; the ports are released on exit."""
        if self._closed:
            task_status.started()
            return
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                async with trio.open_nursery() as nursery:
                    await nursery.start(self.rtp.run)
                    await nursery.start(self.rtcp.run)
                    task_status.started()
        finally:
            self._scope = None
            self._release()

    def close(self) -> None:
        """Stop the drains (if running) and give the ports back to the pool."""
        self._closed = True
        if self._scope is not None:
            self._scope.cancel()
        else:
            self._release()

    def _release(self) -> None:
        self.remote_rtp = self.remote_rtcp = None  # late sends become counted no-ops
        self.rtp.sock.close()
        self.rtcp.sock.close()
        self.pool.release(self._port)
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed and self._scope is None
