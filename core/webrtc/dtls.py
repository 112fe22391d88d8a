"""A sans-IO DTLS-SRTP endpoint (RFC 5763, RFC 5764) over OpenSSL memory BIOs.

`DtlsContext` holds the one ECDSA P-256 certificate the process makes at
start-up and the OpenSSL context every leg shares. `DtlsSrtpEndpoint` runs
one handshake: datagrams and `now` in; datagrams, events and the next
deadline out. It never touches a socket or a clock.
"""

from __future__ import annotations

import datetime
import enum
import hmac
import struct

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto

from wcs_trio.core.webrtc.errors import DtlsError, FingerprintMismatch
from wcs_trio.core.webrtc.srtp import PROFILES, SrtpProfile, profile_from_openssl_name

#: Largest datagram we emit; leaves room for IP/UDP headers and TURN
#: framing on a 1280-byte IPv6 minimum path.
DTLS_MTU = 1200
#: A handshake not finished this long after it started fails the leg.
HANDSHAKE_TIMEOUT = 30.0
#: RFC 6347 §4.2.4.1: initial retransmission timer 1 s, doubled up to 60 s.
INITIAL_RTO = 1.0
MAX_RTO = 60.0

DTLS1_2_VERSION = 0xFEFD
_RECORD_HEADER = struct.Struct("!BHHIHH")  # type, version, epoch, seq(48 bits), length
_CONTENT_CCS = 20
_CONTENT_HANDSHAKE = 22
_HASHES = {
    "sha-1": hashes.SHA1,
    "sha-224": hashes.SHA224,
    "sha-256": hashes.SHA256,
    "sha-384": hashes.SHA384,
    "sha-512": hashes.SHA512,
}


class DtlsRole(enum.IntEnum):
    """Who sends the ClientHello. RFC 5763 §5 / RFC 4145 §4: `a=setup:active`
    is the DTLS client, `passive` the server."""

    CLIENT = 0
    SERVER = 1


def role_for_remote_setup(remote_setup: str, prefer: DtlsRole = DtlsRole.CLIENT) -> DtlsRole:
    """Our role given the peer's `a=setup` value.

    An `actpass` offer lets us choose (`prefer`); RFC 5763 §5 recommends the
    answerer be active, so the handshake can start as soon as ICE has a path.
    """
    setup = remote_setup.strip().lower()
    if setup == "active":
        return DtlsRole.SERVER
    if setup == "passive":
        return DtlsRole.CLIENT
    if setup == "actpass":
        return prefer
    raise DtlsError(f"unsupported a=setup:{remote_setup}")


def role_for_answer_setup(answer_setup: str) -> DtlsRole:
    """Our role when we offered `actpass` and the peer answered `answer_setup`.

    RFC 5763 §5 / RFC 4145 §4.1: the answerer MUST pick `active` (it is the
    DTLS client, we serve) or `passive` (we are the client); an answer that
    says `actpass` or `holdconn` cannot be used.
    """
    setup = answer_setup.strip().lower()
    if setup == "active":
        return DtlsRole.SERVER
    if setup == "passive":
        return DtlsRole.CLIENT
    raise DtlsError(f"a=setup:{answer_setup} in an answer: must be active or passive")


def setup_for_role(role: DtlsRole) -> str:
    """The `a=setup` value we announce for `role`."""
    return "active" if role is DtlsRole.CLIENT else "passive"


def format_fingerprint(digest: bytes) -> str:
    """RFC 8122 §5 form: upper-case hex pairs joined by colons."""
    return ":".join(f"{b:02X}" for b in digest)


@attrs.frozen
class Fingerprint:
    """An SDP `a=fingerprint` (RFC 8122): hash function name and value."""

    algorithm: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Fingerprint:
        """From the attribute value, e.g. `sha-256 AB:CD:...`."""
        algorithm, _, value = text.strip().partition(" ")
        return cls(algorithm.lower(), value.strip().upper())

    def matches(self, der: bytes) -> bool:
        algorithm = _HASHES.get(self.algorithm)
        if algorithm is None:
            return False
        digest = hashes.Hash(algorithm())
        digest.update(der)
        return hmac.compare_digest(format_fingerprint(digest.finalize()), self.value)

    def __str__(self) -> str:
        return f"{self.algorithm} {self.value}"


class DtlsContext:
    """The process-wide certificate and OpenSSL context, made once at start-up.

    RFC 8827 §6.5 lets an endpoint reuse one certificate for many
    associations; its fingerprint goes into every answer.
    """

    def __init__(self, lifetime_days: int = 30) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wcs-trio")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=lifetime_days))
            .sign(key, hashes.SHA256())
        )
        self.fingerprint = Fingerprint("sha-256", format_fingerprint(cert.fingerprint(hashes.SHA256())))
        ctx = SSL.Context(SSL.DTLS_METHOD)
        ctx.set_min_proto_version(DTLS1_2_VERSION)
        ctx.set_max_proto_version(DTLS1_2_VERSION)
        ctx.use_certificate(cert)
        ctx.use_privatekey(key)
        # Self-signed certificates are the norm in WebRTC: trust comes from
        # the fingerprint in the signalled SDP (RFC 5763 §5), checked in the
        # callback so a mismatch aborts the handshake with an alert.
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, _verify_callback)
        ctx.set_options(SSL.OP_NO_QUERY_MTU)
        # GCM first: the server picks, and we prefer it where the peer offers
        # it (RFC 7714); SHA1_80 is what every browser supports.
        ctx.set_tlsext_use_srtp(
            b":".join(PROFILES[p].openssl_name for p in
                      (SrtpProfile.AEAD_AES_128_GCM, SrtpProfile.AES128_CM_SHA1_80))
        )
        self.ssl_context = ctx


def _verify_callback(conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int,
                     ok: int) -> bool:
    endpoint = conn.get_app_data()
    if depth != 0:
        return True
    return endpoint._verify_peer(cert)


@attrs.frozen
class DtlsConnected:
    """The handshake finished and the peer's certificate matched the SDP.

    `local_key` / `remote_key` are master key + salt for our sending and the
    peer's sending direction, as RFC 5764 §4.2 splits the exporter output.
    """

    profile: SrtpProfile
    local_key: bytes
    remote_key: bytes


@attrs.frozen
class DtlsFailed:
    error: DtlsError


@attrs.frozen
class DtlsClosed:
    """The peer sent close_notify (or a fatal alert after the handshake)."""


DtlsEvent = DtlsConnected | DtlsFailed | DtlsClosed


class DtlsState(enum.IntEnum):
    NEW = 0
    HANDSHAKING = 1
    CONNECTED = 2
    FAILED = 3
    CLOSED = 4


def split_records(data: bytes, mtu: int = DTLS_MTU) -> list[bytes]:
    """Pack the DTLS records in `data` into datagrams of at most `mtu` bytes.

    A memory BIO is a byte stream, so flights come out glued together; a
    record must never straddle two datagrams (RFC 6347 §4.1.1).
    """
    datagrams: list[bytes] = []
    current = bytearray()
    pos = 0
    while pos + 13 <= len(data):
        size = 13 + struct.unpack_from("!H", data, pos + 11)[0]
        record = data[pos : pos + size]
        if current and len(current) + size > mtu:
            datagrams.append(bytes(current))
            current.clear()
        current += record
        pos += size
    if current:
        datagrams.append(bytes(current))
    return datagrams


class DtlsSrtpEndpoint:
    """One DTLS-SRTP association, sans-IO.

    Timers: OpenSSL keeps its own retransmission clock, which we cannot
    feed. After each step `DTLSv1_get_timeout()` tells us whether a flight
    awaits an answer; the deadline follows RFC 6347 §4.2.4.1 (1 s, doubling
    to 60 s) on the caller's clock. `handle_timer(now)` calls
    `DTLSv1_handle_timeout()`; if OpenSSL's clock says "not yet" while ours
    says "due" (a virtual clock in tests, or drift) we resend the last
    flight as it was: a peer that already has those records discards them
    as replays, one that lost them completes the handshake.
    """

    def __init__(self, context: DtlsContext, role: DtlsRole,
                 remote_fingerprints: list[Fingerprint]) -> None:
        if not remote_fingerprints:
            raise DtlsError("no remote a=fingerprint: cannot authenticate the peer")
        self.role = role
        self.remote_fingerprints = list(remote_fingerprints)
        self.state = DtlsState.NEW
        self.profile: SrtpProfile | None = None
        self._conn = SSL.Connection(context.ssl_context, None)
        self._conn.set_app_data(self)
        self._conn.set_ciphertext_mtu(DTLS_MTU)
        if role is DtlsRole.CLIENT:
            self._conn.set_connect_state()
        else:
            self._conn.set_accept_state()
        self._outgoing: list[bytes] = []
        self._events: list[DtlsEvent] = []
        self._last_flight: list[bytes] = []
        self._deadline: float | None = None
        self._rto = INITIAL_RTO
        self._started_at: float | None = None
        self._mismatch: FingerprintMismatch | None = None

    # ------------------------------------------------------------ input

    def start(self, now: float) -> None:
        """Begin the handshake (a client sends its ClientHello; a server
        starts its handshake timeout and waits)."""
        if self.state is not DtlsState.NEW:
            return
        self.state = DtlsState.HANDSHAKING
        self._started_at = now
        if self.role is DtlsRole.CLIENT:
            self._handshake(now)

    def receive(self, data: bytes, now: float) -> None:
        """Feed one datagram received from the peer."""
        if self.state is DtlsState.NEW:
            self.start(now)
        if self.state in (DtlsState.FAILED, DtlsState.CLOSED):
            return
        self._conn.bio_write(bytes(data))
        if self.state is DtlsState.HANDSHAKING:
            self._handshake(now)
        else:
            self._read_after_handshake(data)

    def _handshake(self, now: float) -> None:
        try:
            self._conn.do_handshake()
        except SSL.WantReadError:
            self._flush(now, new_flight=True)
            return
        except SSL.Error as error:
            self._flush(now, new_flight=True)  # carries our alert to the peer
            self._fail(self._mismatch or DtlsError(f"DTLS handshake failed: {error}"))
            return
        self._flush(now, new_flight=True)
        self._complete()

    def _complete(self) -> None:
        # The verify callback already checked the fingerprint; check again
        # here so no path (session resumption, a callback skipped) lets an
        # unauthenticated peer through.
        cert = self._conn.get_peer_certificate()
        if cert is None or not self._verify_peer(cert):
            self._fail(self._mismatch or FingerprintMismatch("peer sent no certificate"))
            return
        try:
            profile = profile_from_openssl_name(self._conn.get_selected_srtp_profile())
        except Exception as error:
            self._fail(DtlsError(f"no SRTP profile negotiated: {error}"))
            return
        info = PROFILES[profile]
        # RFC 5764 §4.2: client key, server key, client salt, server salt.
        k, s = info.key_length, info.salt_length
        material = self._conn.export_keying_material(b"EXTRACTOR-dtls_srtp", 2 * (k + s))
        client = material[:k] + material[2 * k : 2 * k + s]
        server = material[k : 2 * k] + material[2 * k + s :]
        local, remote = (client, server) if self.role is DtlsRole.CLIENT else (server, client)
        self.profile = profile
        self.state = DtlsState.CONNECTED
        self._deadline = None
        self._events.append(DtlsConnected(profile, local, remote))

    def _read_after_handshake(self, data: bytes) -> None:
        try:
            self._conn.recv(2048)  # no application data is expected on this leg
        except SSL.WantReadError:
            pass
        except SSL.ZeroReturnError:
            self.state = DtlsState.CLOSED
            self._events.append(DtlsClosed())
            return
        except SSL.Error:
            self.state = DtlsState.CLOSED
            self._events.append(DtlsClosed())
            return
        produced = self._drain_bio()
        if produced:
            self._outgoing.extend(produced)
        elif self._looks_like_retransmitted_flight(data):
            # RFC 6347 §4.2.4: the side that sent the final flight resends it
            # when the peer retransmits its previous one (our Finished was lost).
            self._outgoing.extend(self._last_flight)

    @staticmethod
    def _looks_like_retransmitted_flight(data: bytes) -> bool:
        return len(data) >= 13 and data[0] in (_CONTENT_HANDSHAKE, _CONTENT_CCS)

    def _verify_peer(self, cert: crypto.X509) -> bool:
        der = cert.to_cryptography().public_bytes(Encoding.DER)
        if any(fp.matches(der) for fp in self.remote_fingerprints):
            return True
        self._mismatch = FingerprintMismatch(
            "peer certificate does not match a=fingerprint "
            + ", ".join(str(fp) for fp in self.remote_fingerprints)
        )
        return False

    # ----------------------------------------------------------- output

    def _drain_bio(self) -> list[bytes]:
        chunks = []
        while True:
            try:
                chunks.append(self._conn.bio_read(65536))
            except SSL.WantReadError:
                break
        return split_records(b"".join(chunks)) if chunks else []

    def _flush(self, now: float, *, new_flight: bool) -> None:
        datagrams = self._drain_bio()
        if datagrams:
            self._outgoing.extend(datagrams)
            if new_flight:
                self._last_flight = datagrams
                self._rto = INITIAL_RTO
        # OpenSSL's timer says whether a flight awaits an answer; the
        # schedule itself is ours (RFC 6347 §4.2.4.1), on the caller's clock.
        active = self._conn.DTLSv1_get_timeout() is not None
        self._deadline = now + self._rto if active else None

    def datagrams_to_send(self) -> list[bytes]:
        """Take the datagrams produced so far, in order."""
        out, self._outgoing = self._outgoing, []
        return out

    def next_event(self) -> DtlsEvent | None:
        return self._events.pop(0) if self._events else None

    def get_timer(self) -> float | None:
        """The next retransmission or the handshake timeout, whichever first."""
        if self.state is not DtlsState.HANDSHAKING or self._started_at is None:
            return None
        limit = self._started_at + HANDSHAKE_TIMEOUT
        return limit if self._deadline is None else min(self._deadline, limit)

    def handle_timer(self, now: float) -> None:
        if self.state is not DtlsState.HANDSHAKING or self._started_at is None:
            return
        if now >= self._started_at + HANDSHAKE_TIMEOUT:
            self._fail(DtlsError(f"DTLS handshake not complete after {HANDSHAKE_TIMEOUT:g} s"))
            return
        if self._deadline is None or now < self._deadline:
            return
        try:
            self._conn.DTLSv1_handle_timeout()
        except SSL.Error as error:
            self._fail(DtlsError(f"DTLS retransmission failed: {error}"))
            return
        datagrams = self._drain_bio()
        if datagrams:
            self._outgoing.extend(datagrams)
            self._last_flight = datagrams
        else:
            self._outgoing.extend(self._last_flight)
        self._rto = min(self._rto * 2, MAX_RTO)
        self._deadline = now + self._rto

    def close(self) -> None:
        """Send close_notify if connected; the endpoint is then unusable."""
        if self.state is DtlsState.CONNECTED:
            try:
                self._conn.shutdown()
            except SSL.Error:
                pass
            self._outgoing.extend(self._drain_bio())
        self.state = DtlsState.CLOSED

    def _fail(self, error: DtlsError) -> None:
        self.state = DtlsState.FAILED
        self._deadline = None
        self._events.append(DtlsFailed(error))
