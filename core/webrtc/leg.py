"""One WebRTC leg: the ICE-lite agent, the DTLS-SRTP endpoint and the SRTP
context of a call's browser side, tied together without any I/O.

The owner (`WebRtcEndpoint`) feeds it datagrams already sorted by RFC 7983
class and gives it a `transmit(data, address)` function; the leg hands
decrypted RTP/RTCP to the media bridge's callbacks and reports state
changes. Everything the leg sends goes through `transmit`, so the hot path
(`receive_media`, `send_rtp`) makes no list and no event object per packet.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import attrs

from wcs_trio.core.webrtc.dtls import (
    DtlsClosed,
    DtlsConnected,
    DtlsContext,
    DtlsFailed,
    DtlsRole,
    DtlsSrtpEndpoint,
    DtlsState,
    Fingerprint,
    role_for_answer_setup,
    role_for_remote_setup,
    setup_for_role,
)
from wcs_trio.core.webrtc.errors import DtlsError, LegUsageError, SrtpError
from wcs_trio.core.webrtc.ice import (
    AddressValidated,
    ConsentExpired,
    IceCandidate,
    IceLiteAgent,
    PairNominated,
)
from wcs_trio.core.webrtc.srtp import Buffer, SrtpContext, SrtpProfile

Address = tuple
Transmit = Callable[[bytes, Address], None]

#: Early DTLS datagrams kept for `set_remote`: a ClientHello flight is one or
#: two; the peer retransmits anything beyond.
MAX_EARLY_DTLS = 8


class LegState(enum.IntEnum):
    """NEW until DTLS-SRTP keys exist; CONNECTED while media flows; FAILED
    (ICE consent lost, DTLS error, fingerprint mismatch) or CLOSED at the end."""

    NEW = 0
    CONNECTED = 1
    FAILED = 2
    CLOSED = 3


@attrs.frozen
class LegConnected:
    """ICE and DTLS are done; `profile` protects the media."""

    profile: SrtpProfile
    remote_address: Address


@attrs.frozen
class LegFailed:
    reason: str


@attrs.frozen
class LegClosed:
    """Closed by us (`close()`) or by the peer's close_notify."""


LegEvent = LegConnected | LegFailed | LegClosed


@attrs.frozen
class LocalParameters:
    """What the SDP answer (or offer) must carry for this leg."""

    ice_ufrag: str
    ice_pwd: str
    fingerprint: Fingerprint
    setup: str
    candidates: tuple[IceCandidate, ...]
    ice_lite: bool = True


@attrs.define
class LegStats:
    """Per-leg counters; `dropped` is keyed by reason."""

    rtp_in: int = 0
    rtcp_in: int = 0
    rtp_out: int = 0
    rtcp_out: int = 0
    dropped: dict[str, int] = attrs.field(factory=dict)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


def _ignore(*_: object) -> None:
    return None


class WebRtcLeg:
    """The sans-IO core of one browser leg; see the module docstring.

    `on_rtp(leg, packet)` and `on_rtcp(leg, packet)` receive decrypted
    `bytes`; `on_state(leg, event)` receives `LegEvent`s.
    """

    def __init__(
        self,
        *,
        context: DtlsContext,
        candidates: tuple[IceCandidate, ...],
        remote_ufrag: str | None = None,
        remote_pwd: str | None = None,
        remote_fingerprints: list[Fingerprint] | None = None,
        remote_setup: str | None = None,
        now: float,
        prefer_role: DtlsRole = DtlsRole.CLIENT,
        local_ufrag: str | None = None,
        transmit: Transmit = _ignore,
        on_rtp: Callable[[WebRtcLeg, bytes], None] = _ignore,
        on_rtcp: Callable[[WebRtcLeg, bytes], None] = _ignore,
        on_state: Callable[[WebRtcLeg, LegEvent], None] = _ignore,
        on_remote: Callable[[WebRtcLeg, list[Address]], None] = _ignore,
    ) -> None:
        """Without `remote_setup` the leg is an offerer's: `local.setup` is
        `actpass` and nothing happens on DTLS until `set_remote`.
        `on_remote(leg, disowned_addresses)` tells the owner that the remote
        parameters arrived (timers may have changed)."""
        self.context = context
        self.offering = remote_setup is None
        self.ice = IceLiteAgent.create(now, remote_ufrag, remote_pwd, local_ufrag,
                                       awaiting_remote=self.offering)
        self.dtls: DtlsSrtpEndpoint | None = None
        self.state = LegState.NEW
        self.failure: str | None = None
        self.remote_address: Address | None = None
        self.srtp: SrtpContext | None = None
        self.stats = LegStats()
        self.transmit = transmit
        self.on_rtp = on_rtp
        self.on_rtcp = on_rtcp
        self.on_state = on_state
        self.on_remote = on_remote
        #: DTLS records that arrived before `set_remote` (the answerer may be
        #: the DTLS client and start before its answer reaches us).
        self._early_dtls: list[bytes] = []
        if remote_setup is None:
            setup = "actpass"  # RFC 5763 §5: the offerer MUST offer actpass
        else:
            role = role_for_remote_setup(remote_setup, prefer_role)
            self._start_dtls(role, list(remote_fingerprints or ()), now)
            setup = setup_for_role(role)
        self.local = LocalParameters(
            ice_ufrag=self.ice.local_ufrag,
            ice_pwd=self.ice.local_pwd,
            fingerprint=context.fingerprint,
            setup=setup,
            candidates=tuple(candidates),
        )

    def set_remote(
        self,
        remote_ufrag: str,
        remote_pwd: str,
        remote_fingerprints: list[Fingerprint] | list[str],
        remote_setup: str,
        now: float,
    ) -> None:
        """The answer to our offer arrived: fix the DTLS role from its
        a=setup (active: we are the DTLS server; passive: the client) and
        start. Fingerprints may be `Fingerprint`s or a=fingerprint values.
        Raises `DtlsError` for an unusable a=setup or no fingerprint (the leg
        is unchanged then, so the caller can reject the answer)."""
        if not self.offering or self.dtls is not None:
            raise LegUsageError("set_remote is for a leg made by create_offer_leg, once")
        role = role_for_answer_setup(remote_setup)
        fingerprints = [fp if isinstance(fp, Fingerprint) else Fingerprint.parse(fp)
                        for fp in remote_fingerprints]
        if not fingerprints:
            raise DtlsError("no remote a=fingerprint: cannot authenticate the peer")
        if self.state in (LegState.FAILED, LegState.CLOSED):
            return
        disowned = self.ice.set_remote(remote_ufrag, remote_pwd, now)
        if self.remote_address in disowned:
            self.remote_address = self.ice.nominated
        self._start_dtls(role, fingerprints, now)
        early, self._early_dtls = self._early_dtls, []
        if role is DtlsRole.SERVER:
            for datagram in early:
                self.dtls.receive(datagram, now)
        elif self.remote_address is not None:
            # A check already proved a path: the ClientHello can go now.
            self.dtls.start(now)
        self._dtls_output()
        self.on_remote(self, disowned)

    def _start_dtls(self, role: DtlsRole, fingerprints: list[Fingerprint], now: float) -> None:
        self.dtls = DtlsSrtpEndpoint(self.context, role, fingerprints)
        if role is DtlsRole.SERVER:
            self.dtls.start(now)  # arms the handshake timeout

    @property
    def role(self) -> DtlsRole | None:
        """Our DTLS role; None while an offer awaits its answer."""
        return None if self.dtls is None else self.dtls.role

    # ------------------------------------------------------------ input

    def receive_stun(self, data: bytes, address: Address, now: float) -> None:
        reply = self.ice.handle_stun(data, address, now)
        if reply is not None:
            self.transmit(reply, address)
        self._ice_events(now)

    def receive_dtls(self, data: bytes, address: Address, now: float) -> None:
        if self.state in (LegState.FAILED, LegState.CLOSED):
            return
        if self.remote_address is None:
            self.remote_address = address
        if self.dtls is None:
            if len(self._early_dtls) < MAX_EARLY_DTLS:
                self._early_dtls.append(bytes(data))
            return
        self.dtls.receive(data, now)
        self._dtls_output()

    def receive_media(self, data: Buffer, n: int = -1) -> None:
        """An SRTP or SRTCP datagram from the peer (hot path): the first `n`
        bytes of `data` (all of it if -1). `data` may be the endpoint's
        receive buffer: it is copied once, into libsrtp, and not kept."""
        srtp = self.srtp
        if srtp is None:
            self.stats.drop("no_keys")
            return
        if n < 0:
            n = len(data)
        try:
            # RFC 5761 §4: RTCP packet types 192-223 in the second byte.
            if n > 1 and 191 < data[1] < 224:
                packet = srtp.unprotect_rtcp(data, n)
                self.stats.rtcp_in += 1
                self.on_rtcp(self, packet)
            else:
                packet = srtp.unprotect_rtp(data, n)
                self.stats.rtp_in += 1
                self.on_rtp(self, packet)
        except SrtpError as error:
            self.stats.drop(error.reason)

    # ----------------------------------------------------------- output

    def send_rtp(self, packet: Buffer) -> bool:
        """Protect and send one RTP packet (any bytes-like object, not kept);
        False if it could not be sent."""
        srtp, address = self.srtp, self.remote_address
        if srtp is None or address is None:
            self.stats.drop("not_connected")
            return False
        try:
            data = srtp.protect_rtp(packet)
        except SrtpError as error:
            self.stats.drop(error.reason)
            return False
        self.stats.rtp_out += 1
        self.transmit(data, address)
        return True

    def send_rtcp(self, packet: Buffer) -> bool:
        srtp, address = self.srtp, self.remote_address
        if srtp is None or address is None:
            self.stats.drop("not_connected")
            return False
        try:
            data = srtp.protect_rtcp(packet)
        except SrtpError as error:
            self.stats.drop(error.reason)
            return False
        self.stats.rtcp_out += 1
        self.transmit(data, address)
        return True

    # ----------------------------------------------------------- timers

    def get_timer(self) -> float | None:
        ice = self.ice.get_timer()
        dtls = None if self.dtls is None else self.dtls.get_timer()
        if ice is None or dtls is None:
            return dtls if ice is None else ice
        return min(ice, dtls)

    def handle_timer(self, now: float) -> None:
        if self.state in (LegState.FAILED, LegState.CLOSED):
            return
        self.ice.handle_timer(now)
        self._ice_events(now)
        if self.dtls is not None:
            self.dtls.handle_timer(now)
            self._dtls_output()

    def close(self) -> None:
        """Send close_notify if connected and stop; reports `LegClosed`."""
        if self.state in (LegState.FAILED, LegState.CLOSED):
            return
        if self.dtls is not None:
            self.dtls.close()
            self._send_dtls_datagrams()
        self.ice.close()
        self.state = LegState.CLOSED
        self.srtp = None
        self.on_state(self, LegClosed())

    # ---------------------------------------------------------- private

    def _ice_events(self, now: float) -> None:
        while (event := self.ice.next_event()) is not None:
            if isinstance(event, AddressValidated):
                if self.remote_address is None:
                    self.remote_address = event.address
                dtls = self.dtls
                if dtls is not None and dtls.state is DtlsState.NEW and dtls.role is DtlsRole.CLIENT:
                    # As DTLS client we may speak once a path is known to work.
                    dtls.start(now)
                    self._dtls_output()
            elif isinstance(event, PairNominated):
                self.remote_address = event.address
            elif isinstance(event, ConsentExpired):
                self._fail(f"ICE consent expired: peer silent for {event.silent_for:g} s")

    def _send_dtls_datagrams(self) -> None:
        if self.dtls is None:
            return
        address = self.remote_address
        for datagram in self.dtls.datagrams_to_send():
            if address is not None:
                self.transmit(datagram, address)

    def _dtls_output(self) -> None:
        if self.dtls is None:
            return
        self._send_dtls_datagrams()
        while (event := self.dtls.next_event()) is not None:
            if isinstance(event, DtlsConnected):
                self.srtp = SrtpContext(event.profile, event.local_key, event.remote_key)
                self.state = LegState.CONNECTED
                self.on_state(self, LegConnected(event.profile, self.remote_address))
            elif isinstance(event, DtlsFailed):
                self._fail(str(event.error))
            elif isinstance(event, DtlsClosed):
                self.state = LegState.CLOSED
                self.srtp = None
                self.on_state(self, LegClosed())

    def _fail(self, reason: str) -> None:
        if self.state in (LegState.FAILED, LegState.CLOSED):
            return
        self.state = LegState.FAILED
        self.failure = reason
        self.srtp = None
        self.ice.close()
        self.on_state(self, LegFailed(reason))
