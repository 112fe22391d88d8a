"""A sans-IO ICE-lite agent for one WebRTC leg.

We are always the lite side (RFC 8445 §2.5): we gather only host candidates,
never send connectivity checks, and answer the browser's checks. The agent
takes a datagram, its source address and `now`; it returns the reply to send
and queues events. Consent freshness (RFC 7675) is judged from the checks the
peer keeps sending: a peer that has not sent a valid check for
`CONSENT_TIMEOUT` seconds is declared dead. STUN encoding is `aioice.stun`.
"""

from __future__ import annotations

import enum
import ipaddress
import secrets
import struct

import attrs
from aioice import stun

from wcs_trio.core.webrtc.errors import StunError

#: RFC 7675 §5.1: consent expires 30 s after it was last refreshed. We also
#: give a fresh leg 30 s to receive its first valid check.
CONSENT_TIMEOUT = 30.0

#: RFC 8445 §5.3: ice-chars are ALPHA / DIGIT / "+" / "/".
ICE_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"

_STUN_HEADER = struct.Struct("!HHI12s")
_ATTR_HEADER = struct.Struct("!HH")
_USERNAME = 0x0006


class StunErrorCode(enum.IntEnum):
    """STUN error codes we send: RFC 5389 §15.6, RFC 8445 §7.3.1.1 (487)."""

    BAD_REQUEST = 400
    UNAUTHORIZED = 401
    ROLE_CONFLICT = 487


_REASONS = {
    StunErrorCode.BAD_REQUEST: "Bad Request",
    StunErrorCode.UNAUTHORIZED: "Unauthorized",
    StunErrorCode.ROLE_CONFLICT: "Role Conflict",
}


class IceState(enum.IntEnum):
    """Life of a lite agent's single component (RFC 8445 §8.2 for lite
    agents): NEW until a check is nominated, then CONNECTED; FAILED when
    consent expires; CLOSED when the owner closes it."""

    NEW = 0
    CONNECTED = 1
    FAILED = 2
    CLOSED = 3


Address = tuple[str, int]


@attrs.frozen
class AddressValidated:
    """A valid check arrived from `address` for the first time: media and
    DTLS from it belong to this leg."""

    address: Address


@attrs.frozen
class PairNominated:
    """The controlling peer nominated the pair whose remote end is `address`
    (USE-CANDIDATE, RFC 8445 §7.3.1.5); we send everything there."""

    address: Address


@attrs.frozen
class ConsentExpired:
    """No valid check for `CONSENT_TIMEOUT` seconds (RFC 7675 §5.1)."""

    silent_for: float


IceEvent = AddressValidated | PairNominated | ConsentExpired


@attrs.frozen
class IceCandidate:
    """A host candidate in the form of an SDP `a=candidate` line."""

    foundation: str
    priority: int
    host: str
    port: int
    component: int = 1

    def to_sdp(self) -> str:
        """The attribute value, without the leading `a=` (RFC 8839 §5.1)."""
        return (
            f"candidate:{self.foundation} {self.component} udp {self.priority} "
            f"{self.host} {self.port} typ host"
        )


def host_candidates(addresses: list[str], port: int) -> list[IceCandidate]:
    """Host candidates for the shared port on each address, best first.

    RFC 8445 §5.1.2.1: priority = 2^24 * type preference (126 for host) +
    2^8 * local preference + (256 - component); local preference falls with
    the position in `addresses` so the first one is preferred.
    """
    out = []
    for index, host in enumerate(addresses):
        ipaddress.ip_address(host)  # rejects names: candidates carry addresses
        local_pref = 65535 - index
        priority = (126 << 24) | (local_pref << 8) | (256 - 1)
        out.append(IceCandidate(foundation=str(index + 1), priority=priority, host=host, port=port))
    return out


def generate_ufrag() -> str:
    """8 ice-chars: 48 random bits, above the 24 of RFC 8445 §5.3."""
    return "".join(secrets.choice(ICE_CHARS) for _ in range(8))


def generate_pwd() -> str:
    """24 ice-chars: 144 random bits, above the 128 of RFC 8445 §5.3."""
    return "".join(secrets.choice(ICE_CHARS) for _ in range(24))


def stun_local_ufrag(data: bytes | bytearray | memoryview) -> str | None:
    """The receiving agent's ufrag from a STUN request's USERNAME, read
    without decoding the message: the endpoint finds the leg with it.

    RFC 8445 §7.2.2: USERNAME is "LFRAG:RFRAG", LFRAG being ours.
    """
    n = len(data)
    if n < 20:
        return None
    length = _STUN_HEADER.unpack_from(data, 0)[1]
    end = min(n, 20 + length)
    pos = 20
    while pos + 4 <= end:
        attr_type, attr_len = _ATTR_HEADER.unpack_from(data, pos)
        if attr_type == _USERNAME:
            raw = bytes(data[pos + 4 : min(end, pos + 4 + attr_len)])
            local, sep, _ = raw.partition(b":")
            return local.decode("utf-8", "replace") if sep else None
        pos += 4 + attr_len + (-attr_len % 4)
    return None


@attrs.define
class IceLiteAgent:
    """ICE-lite, controlled role, one component (rtcp-mux and BUNDLE)."""

    local_ufrag: str
    local_pwd: str
    remote_ufrag: str | None
    remote_pwd: str | None
    created_at: float
    state: IceState = IceState.NEW
    nominated: Address | None = None
    last_consent: float | None = None
    #: Addresses that sent a valid check; a set keeps them unique.
    validated: set[Address] = attrs.field(factory=set)
    #: An offerer's agent before the answer: no deadline yet (the callee may
    #: ring for minutes), and checks are answered on our password alone.
    awaiting_remote: bool = False
    #: The remote ufrag each early check named, by source address, so that
    #: `set_remote` can disown checks from someone else's answer.
    _early_rfrags: dict[Address, str] = attrs.field(factory=dict)
    _events: list[IceEvent] = attrs.field(factory=list)

    @classmethod
    def create(
        cls,
        now: float,
        remote_ufrag: str | None = None,
        remote_pwd: str | None = None,
        local_ufrag: str | None = None,
        *,
        awaiting_remote: bool = False,
    ) -> IceLiteAgent:
        return cls(
            local_ufrag=local_ufrag or generate_ufrag(),
            local_pwd=generate_pwd(),
            remote_ufrag=remote_ufrag,
            remote_pwd=remote_pwd,
            created_at=now,
            awaiting_remote=awaiting_remote,
        )

    def set_remote(self, remote_ufrag: str, remote_pwd: str, now: float) -> list[Address]:
        """Learn the answer's credentials (we offered); returns the addresses
        whose early checks named another remote ufrag and are now disowned.

        RFC 8445 §7.3: the offerer very likely gets checks before the answer
        and MUST answer them at once; our own password is all a lite agent
        needs for that. Once the answer is known, checks must name its ufrag
        (RFC 8445 §7.3.1.1 via RFC 5389 §10.1.2), including those already
        answered. The wait for a first check starts now.
        """
        self.remote_ufrag = remote_ufrag
        self.remote_pwd = remote_pwd
        self.awaiting_remote = False
        if self.last_consent is None:
            self.created_at = now
        disowned = [a for a, rfrag in self._early_rfrags.items() if rfrag != remote_ufrag]
        self._early_rfrags.clear()
        for address in disowned:
            self.validated.discard(address)
            if self.nominated == address:
                self.nominated = None
                if self.state is IceState.CONNECTED:
                    self.state = IceState.NEW
        if not self.validated:
            # Consent came only from disowned checks: none at all, really.
            self.last_consent = None
            self.created_at = now
        return disowned

    # ----------------------------------------------------------- input

    def handle_stun(self, data: bytes, address: Address, now: float) -> bytes | None:
        """Process one STUN datagram; return the reply to send, if any.

        Never raises for the peer's mistakes: a request we reject gets its
        error response, and anything unanswerable is dropped (None).
        """
        if self.state in (IceState.FAILED, IceState.CLOSED):
            return None
        try:
            message = stun.parse_message(bytes(data))
        except ValueError:
            return None  # bad length, fingerprint or method: not worth an answer
        if message.message_method != stun.Method.BINDING:
            return None
        if message.message_class != stun.Class.REQUEST:
            # Indications are keepalives (RFC 8445 §11); responses cannot
            # happen, as a lite agent sends no requests.
            return None
        try:
            self._check_request(message)
        except StunError as error:
            if error.code is None:
                return None
            return self._error_response(message, error.code)
        return self._accept(message, address, now)

    def _check_request(self, message: stun.Message) -> None:
        # RFC 5389 §10.1.2 order: missing credentials -> 400, unknown
        # username or wrong integrity -> 401. RFC 8445 §7.2.2: checks carry
        # FINGERPRINT.
        attrs_ = message.attributes
        if "USERNAME" not in attrs_ or "MESSAGE-INTEGRITY" not in attrs_:
            raise StunError("check lacks USERNAME or MESSAGE-INTEGRITY", code=400)
        if "FINGERPRINT" not in attrs_:
            raise StunError("check lacks FINGERPRINT", code=400)
        local, sep, remote = attrs_["USERNAME"].partition(":")
        if not sep or local != self.local_ufrag:
            raise StunError("USERNAME is not ours", code=401)
        if self.remote_ufrag is not None and remote != self.remote_ufrag:
            raise StunError("USERNAME names another remote ufrag", code=401)
        if not message.check_message_integrity(self.local_pwd.encode()):
            raise StunError("MESSAGE-INTEGRITY does not match", code=401)
        if "ICE-CONTROLLED" in attrs_:
            # RFC 8445 §7.3.1.1 would have a controlled agent with the larger
            # tie-breaker switch to controlling; a lite agent cannot control
            # (§6.1.1), so it always answers 487 and the full peer switches.
            raise StunError("peer also claims the controlled role", code=487)

    def _accept(self, message: stun.Message, address: Address, now: float) -> bytes:
        self.last_consent = now
        if self.remote_ufrag is None:
            self._early_rfrags[address] = message.attributes["USERNAME"].partition(":")[2]
        if address not in self.validated:
            self.validated.add(address)
            self._events.append(AddressValidated(address))
        if "USE-CANDIDATE" in message.attributes and address != self.nominated:
            # RFC 8445 §7.3.1.5 / §8.2: the latest nomination from the
            # controlling agent wins (it moves a call to a better path).
            self.nominated = address
            self.state = IceState.CONNECTED
            self._events.append(PairNominated(address))
        response = stun.Message(
            message_method=stun.Method.BINDING,
            message_class=stun.Class.RESPONSE,
            transaction_id=message.transaction_id,
        )
        # RFC 8445 §7.3.1.2: the mapped address is the source of the request.
        response.attributes["XOR-MAPPED-ADDRESS"] = address[:2]  # IPv6 tuples have 4 items
        response.add_message_integrity(self.local_pwd.encode())
        return bytes(response)

    def _error_response(self, message: stun.Message, code: int) -> bytes:
        code = StunErrorCode(code)
        response = stun.Message(
            message_method=stun.Method.BINDING,
            message_class=stun.Class.ERROR,
            transaction_id=message.transaction_id,
        )
        response.attributes["ERROR-CODE"] = (int(code), _REASONS[code])
        if code == StunErrorCode.ROLE_CONFLICT:
            # The request was authenticated, so the answer is too (§7.3.1.1).
            response.add_message_integrity(self.local_pwd.encode())
        else:
            # RFC 5389 §10.1.2: 400 and 401 carry no MESSAGE-INTEGRITY.
            response.add_fingerprint()
        return bytes(response)

    # ---------------------------------------------------------- output

    def next_event(self) -> IceEvent | None:
        return self._events.pop(0) if self._events else None

    def get_timer(self) -> float | None:
        """When consent (or the wait for a first check) runs out."""
        if self.state in (IceState.FAILED, IceState.CLOSED):
            return None
        if self.awaiting_remote and self.last_consent is None:
            return None
        since = self.created_at if self.last_consent is None else self.last_consent
        return since + CONSENT_TIMEOUT

    def handle_timer(self, now: float) -> None:
        deadline = self.get_timer()
        if deadline is None or now < deadline:
            return
        since = self.created_at if self.last_consent is None else self.last_consent
        self.state = IceState.FAILED
        self._events.append(ConsentExpired(silent_for=now - since))

    def close(self) -> None:
        self.state = IceState.CLOSED
