"""ICE-lite agent: RFC 5769 vectors, checks, nomination, role conflict, consent."""

from __future__ import annotations

import pytest
from aioice import stun

from wcs_trio.core.webrtc.ice import (
    CONSENT_TIMEOUT,
    ICE_CHARS,
    AddressValidated,
    ConsentExpired,
    IceLiteAgent,
    IceState,
    PairNominated,
    generate_pwd,
    generate_ufrag,
    host_candidates,
    stun_local_ufrag,
)

# RFC 5769 §2.1 sample request (username "evtj:h6vY", ICE-CONTROLLED).
RFC5769_REQUEST = bytes.fromhex(
    "000100582112a442b7e7a701bc34d686fa87dfae"
    "802200105354554e20746573742063 6c69656e74".replace(" ", "")
    + "002400046e0001ff"
    "80290008932ff9b151263b36"
    "000600096576746a3a68367659202020"
    "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
    "80280004e57a3bcf"
)
# RFC 5769 §2.2 sample IPv4 response.
RFC5769_RESPONSE = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96"
)
RFC5769_PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"
PEER = ("192.0.2.1", 32853)


def test_rfc5769_request_vector_decodes_and_authenticates() -> None:
    message = stun.parse_message(RFC5769_REQUEST)  # also checks FINGERPRINT
    assert message.attributes["USERNAME"] == "evtj:h6vY"
    assert message.attributes["PRIORITY"] == 0x6E0001FF
    assert message.attributes["ICE-CONTROLLED"] == 0x932FF9B151263B36
    assert message.check_message_integrity(RFC5769_PASSWORD)
    assert not message.check_message_integrity(b"wrong")
    assert stun_local_ufrag(RFC5769_REQUEST) == "evtj"


def test_rfc5769_response_vector_decodes_and_authenticates() -> None:
    message = stun.parse_message(RFC5769_RESPONSE)
    assert message.attributes["XOR-MAPPED-ADDRESS"] == PEER
    assert message.check_message_integrity(RFC5769_PASSWORD)


def test_rfc5769_request_gets_authenticated_487_role_conflict() -> None:
    agent = IceLiteAgent(
        local_ufrag="evtj", local_pwd=RFC5769_PASSWORD.decode(), remote_ufrag="h6vY",
        remote_pwd="x" * 22, created_at=0.0,
    )
    reply = stun.parse_message(agent.handle_stun(RFC5769_REQUEST, PEER, 1.0))
    assert reply.message_class == stun.Class.ERROR
    assert reply.transaction_id == bytes.fromhex("b7e7a701bc34d686fa87dfae")
    assert reply.attributes["ERROR-CODE"] == (487, "Role Conflict")
    assert reply.check_message_integrity(RFC5769_PASSWORD)
    assert agent.next_event() is None and agent.nominated is None


def check(agent: IceLiteAgent, *, username: str | None = None, pwd: str | None = None,
          use_candidate: bool = False, role: str = "ICE-CONTROLLING",
          integrity: bool = True, fingerprint: bool = True) -> bytes:
    """A connectivity check as a controlling full agent sends it."""
    message = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    message.attributes["USERNAME"] = username or f"{agent.local_ufrag}:{agent.remote_ufrag}"
    message.attributes["PRIORITY"] = 1853824767
    message.attributes[role] = 0x1234
    if use_candidate:
        message.attributes["USE-CANDIDATE"] = None
    if integrity:
        message.add_message_integrity((pwd or agent.local_pwd).encode())
    if fingerprint:
        message.add_fingerprint()
    else:
        message.attributes.pop("FINGERPRINT", None)  # aioice adds it with integrity
    return bytes(message)


@pytest.fixture
def agent() -> IceLiteAgent:
    return IceLiteAgent.create(0.0, remote_ufrag="peer", remote_pwd="p" * 22)


def test_valid_check_answered_with_xor_mapped_address_and_integrity(agent: IceLiteAgent) -> None:
    request = check(agent)
    reply = stun.parse_message(agent.handle_stun(request, PEER, 1.0))
    assert reply.message_class == stun.Class.RESPONSE
    assert reply.transaction_id == stun.parse_message(request).transaction_id
    assert reply.attributes["XOR-MAPPED-ADDRESS"] == PEER
    assert reply.check_message_integrity(agent.local_pwd.encode())
    assert "FINGERPRINT" in reply.attributes
    assert agent.next_event() == AddressValidated(PEER)
    assert agent.next_event() is None
    assert agent.state is IceState.NEW  # validated, not yet nominated


def test_use_candidate_nominates_and_later_nomination_moves(agent: IceLiteAgent) -> None:
    agent.handle_stun(check(agent, use_candidate=True), PEER, 1.0)
    assert agent.next_event() == AddressValidated(PEER)
    assert agent.next_event() == PairNominated(PEER)
    assert agent.state is IceState.CONNECTED and agent.nominated == PEER
    agent.handle_stun(check(agent, use_candidate=True), PEER, 2.0)
    assert agent.next_event() is None  # same pair: nothing new
    other = ("::1", 5000)
    agent.handle_stun(check(agent, use_candidate=True), other, 3.0)
    assert [agent.next_event(), agent.next_event()] == [AddressValidated(other),
                                                        PairNominated(other)]
    assert agent.nominated == other


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"integrity": False}, 400),
        ({"fingerprint": False}, 400),
        ({"username": "nope:peer"}, 401),
        ({"username": "USERNAME_WITHOUT_COLON"}, 401),
        ({"pwd": "w" * 22}, 401),
        ({"role": "ICE-CONTROLLED"}, 487),
    ],
)
def test_rejected_checks(agent: IceLiteAgent, kwargs: dict, code: int) -> None:
    reply = stun.parse_message(agent.handle_stun(check(agent, **kwargs), PEER, 1.0))
    assert reply.message_class == stun.Class.ERROR
    assert reply.attributes["ERROR-CODE"][0] == code
    # 400/401 carry no MESSAGE-INTEGRITY (RFC 5389 §10.1.2); 487 does.
    assert ("MESSAGE-INTEGRITY" in reply.attributes) == (code == 487)
    assert agent.next_event() is None and not agent.validated and agent.last_consent is None


def test_wrong_remote_ufrag_rejected(agent: IceLiteAgent) -> None:
    request = check(agent, username=f"{agent.local_ufrag}:other")
    assert stun.parse_message(agent.handle_stun(request, PEER, 1.0)).error_code == 401


@pytest.mark.parametrize(
    "datagram",
    [b"", b"\x00\x01\x00\x00", RFC5769_RESPONSE, RFC5769_REQUEST[:-1],
     RFC5769_REQUEST[:-1] + b"\x00"],  # truncated; corrupted fingerprint
)
def test_garbage_and_responses_are_dropped_silently(agent: IceLiteAgent, datagram: bytes) -> None:
    assert agent.handle_stun(datagram, PEER, 1.0) is None


def test_indication_ignored(agent: IceLiteAgent) -> None:
    message = stun.Message(stun.Method.BINDING, stun.Class.INDICATION)
    message.add_fingerprint()
    assert agent.handle_stun(bytes(message), PEER, 1.0) is None


def test_consent_expires_after_30s_of_silence(agent: IceLiteAgent) -> None:
    agent.handle_stun(check(agent, use_candidate=True), PEER, 5.0)
    assert agent.get_timer() == 5.0 + CONSENT_TIMEOUT
    agent.handle_stun(check(agent), PEER, 10.0)  # consent refreshed
    assert agent.get_timer() == 40.0
    agent.handle_timer(39.9)
    assert agent.state is IceState.CONNECTED
    while agent.next_event():
        pass
    agent.handle_timer(40.0)
    assert agent.state is IceState.FAILED
    assert agent.next_event() == ConsentExpired(silent_for=30.0)
    assert agent.get_timer() is None
    assert agent.handle_stun(check(agent), PEER, 41.0) is None  # dead stays dead


def test_leg_never_checked_fails_30s_after_creation() -> None:
    agent = IceLiteAgent.create(100.0)
    assert agent.get_timer() == 130.0
    agent.handle_timer(130.0)
    assert agent.next_event() == ConsentExpired(silent_for=30.0)


def test_remote_ufrag_unknown_accepts_any_rfrag() -> None:
    agent = IceLiteAgent.create(0.0)
    request = check(agent, username=f"{agent.local_ufrag}:whatever")
    assert stun.parse_message(agent.handle_stun(request, PEER, 1.0)).message_class == \
        stun.Class.RESPONSE


def test_credentials_and_candidates() -> None:
    ufrag, pwd = generate_ufrag(), generate_pwd()
    assert len(ufrag) == 8 and len(pwd) == 24
    assert set(ufrag + pwd) <= set(ICE_CHARS)
    assert generate_ufrag() != ufrag
    first, second = host_candidates(["203.0.113.7", "10.0.0.2"], 40000)
    assert first.to_sdp() == "candidate:1 1 udp 2130706431 203.0.113.7 40000 typ host"
    assert second.priority < first.priority and second.foundation == "2"
    with pytest.raises(ValueError):
        host_candidates(["example.com"], 1)


# ------------------------------------------- we offered: checks before the answer


def test_offerer_answers_checks_before_the_answer_and_keeps_them() -> None:
    agent = IceLiteAgent.create(0.0, awaiting_remote=True)
    assert agent.get_timer() is None  # the callee may ring for minutes
    request = check(agent, username=f"{agent.local_ufrag}:brws", use_candidate=True)
    reply = stun.parse_message(agent.handle_stun(request, PEER, 50.0))
    # RFC 8445 §7.3: answered at once, on our own password.
    assert reply.message_class == stun.Class.RESPONSE
    assert reply.check_message_integrity(agent.local_pwd.encode())
    assert [agent.next_event(), agent.next_event()] == [AddressValidated(PEER), PairNominated(PEER)]
    assert agent.get_timer() == 80.0  # consent from the early check
    assert agent.set_remote("brws", "p" * 22, 60.0) == []
    assert agent.validated == {PEER} and agent.nominated == PEER
    assert agent.get_timer() == 80.0
    # From now on the USERNAME must name the answer's ufrag.
    wrong = check(agent, username=f"{agent.local_ufrag}:else")
    assert stun.parse_message(agent.handle_stun(wrong, PEER, 61.0)).error_code == 401


def test_offerer_disowns_checks_that_named_another_answer() -> None:
    agent = IceLiteAgent.create(0.0, awaiting_remote=True)
    other = ("192.0.2.9", 4000)
    agent.handle_stun(check(agent, username=f"{agent.local_ufrag}:brws"), PEER, 1.0)
    agent.handle_stun(check(agent, username=f"{agent.local_ufrag}:evil", use_candidate=True),
                      other, 2.0)
    assert agent.nominated == other and agent.state is IceState.CONNECTED
    assert agent.set_remote("brws", "p" * 22, 3.0) == [other]
    assert agent.validated == {PEER} and agent.nominated is None
    assert agent.state is IceState.NEW


def test_offerer_timer_starts_at_the_answer_without_checks() -> None:
    agent = IceLiteAgent.create(0.0, awaiting_remote=True)
    agent.handle_timer(1000.0)
    assert agent.state is IceState.NEW and agent.next_event() is None
    agent.set_remote("brws", "p" * 22, 100.0)
    assert agent.get_timer() == 100.0 + CONSENT_TIMEOUT
