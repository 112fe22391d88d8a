"""The trio side: one UDP socket shared by every WebRTC leg.

`WebRtcEndpoint.run` owns the socket. Each wakeup is one
`trio.lowlevel.wait_readable`, after which the non-blocking socket is
drained into one preallocated buffer; datagrams are sorted by first byte
(RFC 7983), STUN goes to the leg named by the USERNAME's ufrag, DTLS and
SRTP to the leg that owns the source address (learned from a valid ICE
check). Sends are synchronous `sendto` on the non-blocking socket: a full
socket buffer drops the packet, as a router would. Nothing a peer sends can
raise out of the loop; drops are counted by reason. Leg deadlines (DTLS
retransmission, ICE consent) sit in a heap served by a second task that
sleeps until the earliest one.
"""

from __future__ import annotations

import heapq
import itertools
import math
import socket
from collections.abc import Callable
from typing import Any

import attrs
import trio

from wcs_trio.core.webrtc.dtls import DtlsContext, DtlsRole, Fingerprint
from wcs_trio.core.webrtc.ice import generate_ufrag, host_candidates, stun_local_ufrag
from wcs_trio.core.webrtc.leg import LegEvent, LegState, WebRtcLeg
from wcs_trio.core.webrtc.rtp import PACKET_CLASS_BY_FIRST_BYTE, PacketClass

#: Default UDP port for all WebRTC media (configurable per endpoint).
DEFAULT_PORT = 31000
#: Datagrams handled per wakeup before yielding to other trio tasks.
MAX_BATCH = 512
_BUFFER_SIZE = 2048


@attrs.frozen
class EndpointStats:
    """A snapshot of the endpoint's counters."""

    legs: int
    received: int
    sent: int
    wakeups: int
    dropped: dict[str, int]


class WebRtcEndpoint:
    """All WebRTC legs of this process on one UDP port.

    `host` is the address to bind; `advertised` lists the addresses put in
    host candidates (public first), defaulting to `host`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        advertised: list[str] | None = None,
        context: DtlsContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.advertised = advertised or [host]
        self.context = context or DtlsContext()
        self._sock: socket.socket | None = None
        self._by_ufrag: dict[str, WebRtcLeg] = {}
        self._by_address: dict[tuple, WebRtcLeg] = {}
        self._timers: list[tuple[float, int, WebRtcLeg]] = []
        self._scheduled: dict[int, float] = {}
        self._order = itertools.count()
        #: The timer task's current sleep, pulled earlier when a leg gets an
        #: earlier deadline (a packet, a new leg, `set_remote`).
        self._sleep: trio.CancelScope | None = None
        self._received = 0
        self._sent = 0
        self._wakeups = 0
        self._dropped: dict[str, int] = {}

    # --------------------------------------------------------------- API

    def create_leg(
        self,
        *,
        remote_ufrag: str,
        remote_pwd: str,
        remote_fingerprints: list[Fingerprint] | list[str],
        remote_setup: str,
        on_rtp: Callable[[WebRtcLeg, bytes], None],
        on_rtcp: Callable[[WebRtcLeg, bytes], None],
        on_state: Callable[[WebRtcLeg, LegEvent], None],
        prefer_role: DtlsRole = DtlsRole.CLIENT,
    ) -> WebRtcLeg:
        """A new leg for the remote SDP's ICE and DTLS parameters.

        `leg.local` carries what our SDP must say (ufrag, pwd, fingerprint,
        setup, candidates). `prefer_role` picks our DTLS role when the peer
        offers `actpass`. Raises `DtlsError` for an unusable a=setup or a
        missing fingerprint.
        """
        fingerprints = [
            fp if isinstance(fp, Fingerprint) else Fingerprint.parse(fp)
            for fp in remote_fingerprints
        ]
        return self._add_leg(
            remote_ufrag=remote_ufrag,
            remote_pwd=remote_pwd,
            remote_fingerprints=fingerprints,
            remote_setup=remote_setup,
            prefer_role=prefer_role,
            on_rtp=on_rtp,
            on_rtcp=on_rtcp,
            on_state=on_state,
        )

    def create_offer_leg(
        self,
        *,
        on_rtp: Callable[[WebRtcLeg, bytes], None],
        on_rtcp: Callable[[WebRtcLeg, bytes], None],
        on_state: Callable[[WebRtcLeg, LegEvent], None],
    ) -> WebRtcLeg:
        """A new leg for an SDP offer we send (an incoming SIP call).

        `leg.local` carries the offer's ufrag, pwd, fingerprint, candidates
        and `setup` "actpass". Checks are answered at once; call
        `leg.set_remote(ufrag, pwd, fingerprints, setup, trio.current_time())`
        when the answer arrives. No deadline runs until then.
        """
        return self._add_leg(on_rtp=on_rtp, on_rtcp=on_rtcp, on_state=on_state)

    def _add_leg(self, **kwargs: Any) -> WebRtcLeg:
        # ufrags must be unique on the port: the USERNAME routes STUN.
        ufrag = generate_ufrag()
        while ufrag in self._by_ufrag:
            ufrag = generate_ufrag()
        leg = WebRtcLeg(
            context=self.context,
            candidates=tuple(host_candidates(self.advertised, self.port)),
            now=trio.current_time(),
            local_ufrag=ufrag,
            transmit=self._transmit,
            on_remote=self._remote_set,
            **kwargs,
        )
        self._by_ufrag[leg.ice.local_ufrag] = leg
        self._schedule(leg)
        return leg

    def close_leg(self, leg: WebRtcLeg) -> None:
        """Close `leg` (close_notify if connected) and forget it."""
        leg.close()
        self._forget(leg)

    def stats(self) -> EndpointStats:
        return EndpointStats(
            legs=len(self._by_ufrag),
            received=self._received,
            sent=self._sent,
            wakeups=self._wakeups,
            dropped=dict(self._dropped),
        )

    # ---------------------------------------------------------- the loop

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Bind, report the bound port through `task_status`, serve forever."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind((self.host, self.port))
            self.port = sock.getsockname()[1]
            self._sock = sock
            task_status.started(self.port)
            await self._serve(sock)
        finally:
            self._sock = None
            sock.close()

    async def _serve(self, sock: socket.socket) -> None:
        # Two tasks: timers in their own (rarely waking) task keep the
        # receive loop down to one `wait_readable` per wakeup, with no cancel
        # scope and no extra checkpoint: per-wakeup cost is what dominates
        # at realistic rates of a few packets per wakeup (DESIGN.md).
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._timer_loop)
            await self._receive_loop(sock)

    async def _receive_loop(self, sock: socket.socket) -> None:
        buf = bytearray(_BUFFER_SIZE)
        view = memoryview(buf)
        recv = sock.recvfrom_into
        dispatch = self._dispatch
        by_address = self._by_address  # never rebound, so safe to hold
        wait_readable = trio.lowlevel.wait_readable
        batch = range(MAX_BATCH)
        while True:
            await wait_readable(sock)  # a checkpoint: other tasks run here
            self._wakeups += 1
            received = 0
            for _ in batch:
                try:
                    n, address = recv(buf)
                except BlockingIOError:
                    break
                except OSError:
                    # ICMP errors (port unreachable) surface here on Linux.
                    self._drop("socket_error")
                    continue
                received += 1
                try:
                    # SRTP/SRTCP, the bulk of the traffic (RFC 7983: first
                    # byte 128-191), skips the general dispatch: the leg
                    # copies straight from the receive buffer into libsrtp.
                    if n and 127 < buf[0] < 192:
                        leg = by_address.get(address)
                        if leg is None:
                            self._drop("unknown_address")
                        else:
                            leg.receive_media(buf, n)
                    else:
                        dispatch(view, n, address)
                except Exception:
                    # A bug in a callback must not stop every other call.
                    self._drop("internal_error")
            self._received += received

    async def _timer_loop(self) -> None:
        """Sleep until the earliest leg deadline, run what is due, repeat.
        `_schedule` pulls the sleep earlier when a deadline comes before it."""
        while True:
            deadline = self._timers[0][0] if self._timers else math.inf
            with trio.CancelScope(deadline=deadline) as self._sleep:
                await trio.sleep_forever()
            self._sleep = None
            self._run_timers(trio.current_time())

    def _dispatch(self, view: memoryview, n: int, address: tuple) -> None:
        if n == 0:
            self._drop("empty")
            return
        now = trio.current_time()
        kind = PACKET_CLASS_BY_FIRST_BYTE[view[0]]
        if kind is PacketClass.RTP:  # reached only when called directly
            leg = self._by_address.get(address)
            if leg is None:
                self._drop("unknown_address")
                return
            leg.receive_media(view, n)
        elif kind is PacketClass.STUN:
            data = bytes(view[:n])
            leg = self._by_ufrag.get(stun_local_ufrag(data) or "")
            if leg is None:
                self._drop("unknown_ufrag")
                return
            leg.receive_stun(data, address, now)
            if address in leg.ice.validated and self._by_address.get(address) is not leg:
                # The latest valid check wins: a peer that reuses its port for
                # a new leg (the old one dying silently) proves with this
                # leg's password that the address is now this leg's.
                self._by_address[address] = leg
            self._schedule(leg)
        elif kind is PacketClass.DTLS:
            leg = self._by_address.get(address)
            if leg is None:
                self._drop("unknown_address")
                return
            leg.receive_dtls(bytes(view[:n]), address, now)
            self._schedule(leg)
        else:
            self._drop("unsupported_class")

    def _transmit(self, data: bytes, address: tuple) -> None:
        sock = self._sock
        if sock is None:
            self._drop("not_running")
            return
        try:
            sock.sendto(data, address)
        except OSError:  # BlockingIOError included: the buffer is full
            self._drop("send_failed")
            return
        self._sent += 1

    # ------------------------------------------------------------ timers

    def _schedule(self, leg: WebRtcLeg) -> None:
        if leg.state in (LegState.FAILED, LegState.CLOSED):
            self._forget(leg)
            return
        deadline = leg.get_timer()
        key = id(leg)
        if deadline is None:
            self._scheduled.pop(key, None)
        elif self._scheduled.get(key) != deadline:
            self._scheduled[key] = deadline
            heapq.heappush(self._timers, (deadline, next(self._order), leg))
            sleep = self._sleep
            if sleep is not None and deadline < sleep.deadline:
                sleep.deadline = deadline

    def _remote_set(self, leg: WebRtcLeg, disowned: list[tuple]) -> None:
        for address in disowned:
            if self._by_address.get(address) is leg:
                del self._by_address[address]
        self._schedule(leg)

    def _run_timers(self, now: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            deadline, _, leg = heapq.heappop(timers)
            if self._scheduled.get(id(leg)) != deadline:
                continue  # superseded by a later push
            del self._scheduled[id(leg)]
            leg.handle_timer(now)
            self._schedule(leg)

    def _forget(self, leg: WebRtcLeg) -> None:
        if self._by_ufrag.get(leg.ice.local_ufrag) is leg:
            del self._by_ufrag[leg.ice.local_ufrag]
        for address in leg.ice.validated:
            if self._by_address.get(address) is leg:
                del self._by_address[address]
        self._scheduled.pop(id(leg), None)

    def _drop(self, reason: str) -> None:
        self._dropped[reason] = self._dropped.get(reason, 0) + 1
