"""DTLS-SRTP endpoint against itself through lossy in-memory pipes, fake clock."""

from __future__ import annotations

import random

import pytest

from wcs_trio.core.webrtc.dtls import (
    HANDSHAKE_TIMEOUT,
    DtlsConnected,
    DtlsContext,
    DtlsFailed,
    DtlsRole,
    DtlsSrtpEndpoint,
    DtlsState,
    Fingerprint,
    role_for_remote_setup,
    setup_for_role,
    split_records,
)
from wcs_trio.core.webrtc.errors import DtlsError, FingerprintMismatch
from wcs_trio.core.webrtc.srtp import SrtpContext, SrtpProfile


@pytest.fixture(scope="module")
def contexts() -> tuple[DtlsContext, DtlsContext]:
    return DtlsContext(), DtlsContext()


def pair(contexts, *, client_fp=None, server_fp=None):
    a_ctx, b_ctx = contexts
    client = DtlsSrtpEndpoint(a_ctx, DtlsRole.CLIENT, [server_fp or b_ctx.fingerprint])
    server = DtlsSrtpEndpoint(b_ctx, DtlsRole.SERVER, [client_fp or a_ctx.fingerprint])
    return client, server


def run(client, server, *, drop=lambda direction, n: False, limit=120.0):
    """Shuttle datagrams between the two with a fake clock; `drop(direction,
    index)` decides per datagram. Returns (events by side, final time)."""
    now = 0.0
    client.start(now)
    server.start(now)
    sent = {"c2s": 0, "s2c": 0}
    events = {"client": [], "server": []}
    while now < limit:
        moved = True
        while moved:
            moved = False
            for direction, src, dst in (("c2s", client, server), ("s2c", server, client)):
                for datagram in src.datagrams_to_send():
                    moved = True
                    index = sent[direction]
                    sent[direction] += 1
                    if not drop(direction, index):
                        dst.receive(datagram, now)
            for name, side in (("client", client), ("server", server)):
                while (event := side.next_event()) is not None:
                    events[name].append(event)
        timers = [t for t in (client.get_timer(), server.get_timer()) if t is not None]
        if not timers:
            break
        now = max(now, min(timers))
        client.handle_timer(now)
        server.handle_timer(now)
    return events, now


def assert_keys_work(c: DtlsConnected, s: DtlsConnected) -> None:
    assert c.profile == s.profile
    assert c.local_key == s.remote_key and c.remote_key == s.local_key
    assert c.local_key != c.remote_key
    rtp = bytes.fromhex("80 6f 0001 00000001 0000abcd") + b"hello"
    sender = SrtpContext(c.profile, c.local_key, c.remote_key)
    receiver = SrtpContext(s.profile, s.local_key, s.remote_key)
    protected = sender.protect_rtp(rtp)
    assert protected != rtp and receiver.unprotect_rtp(protected) == rtp


def test_handshake_lossless(contexts) -> None:
    client, server = pair(contexts)
    events, now = run(client, server)
    assert now == 0.0  # no timer needed
    (c,), (s,) = events["client"], events["server"]
    assert isinstance(c, DtlsConnected) and isinstance(s, DtlsConnected)
    assert c.profile is SrtpProfile.AEAD_AES_128_GCM  # preferred when both offer it
    assert len(c.local_key) == 16 + 12
    assert_keys_work(c, s)
    assert client.state is server.state is DtlsState.CONNECTED
    assert client.get_timer() is None and server.get_timer() is None


@pytest.mark.parametrize(
    ("direction", "index"),
    [("c2s", 0), ("s2c", 0), ("c2s", 1), ("s2c", 1)],
    ids=["client-hello", "server-flight", "client-finished", "server-finished"],
)
def test_each_flight_lost_once_is_recovered_by_timer(contexts, direction, index) -> None:
    client, server = pair(contexts)
    events, now = run(client, server, drop=lambda d, n: (d, n) == (direction, index))
    assert [type(e) for e in events["client"]] == [DtlsConnected]
    assert [type(e) for e in events["server"]] == [DtlsConnected]
    assert now >= 1.0  # a retransmission timer (1 s first, RFC 6347) was needed
    assert_keys_work(events["client"][0], events["server"][0])


@pytest.mark.parametrize("seed", range(8))
def test_random_30_percent_loss(contexts, seed) -> None:
    rng = random.Random(seed)
    client, server = pair(contexts)
    events, now = run(client, server, drop=lambda d, n: rng.random() < 0.3)
    assert [type(e) for e in events["client"]] == [DtlsConnected], now
    assert [type(e) for e in events["server"]] == [DtlsConnected], now
    assert_keys_work(events["client"][0], events["server"][0])


def test_retransmission_backs_off(contexts) -> None:
    client, _ = pair(contexts)
    client.start(0.0)
    first = client.datagrams_to_send()
    times = []
    now = 0.0
    for _ in range(4):
        now = client.get_timer()
        client.handle_timer(now)
        assert client.datagrams_to_send() == first  # the ClientHello again
        times.append(now)
    assert times == [1.0, 3.0, 7.0, 15.0]


def test_handshake_timeout_fails(contexts) -> None:
    client, server = pair(contexts)
    events, now = run(client, server, drop=lambda d, n: d == "s2c")
    assert now == HANDSHAKE_TIMEOUT
    (failed,) = events["client"]
    assert isinstance(failed, DtlsFailed) and "not complete" in str(failed.error)
    assert client.state is DtlsState.FAILED


def test_wrong_fingerprint_fails_server_side(contexts) -> None:
    wrong = Fingerprint("sha-256", ":".join(["AB"] * 32))
    client, server = pair(contexts, client_fp=wrong)
    events, _ = run(client, server)
    server_events = events["server"]
    assert len(server_events) == 1 and isinstance(server_events[0], DtlsFailed)
    assert isinstance(server_events[0].error, FingerprintMismatch)
    # The alert reached the client, which fails too instead of hanging.
    assert [type(e) for e in events["client"]] == [DtlsFailed]


def test_wrong_fingerprint_fails_client_side(contexts) -> None:
    wrong = Fingerprint("sha-256", ":".join(["CD"] * 32))
    client, server = pair(contexts, server_fp=wrong)
    events, _ = run(client, server)
    assert isinstance(events["client"][0].error, FingerprintMismatch)
    assert not any(isinstance(e, DtlsConnected) for e in events["server"])


def test_garbage_during_handshake_does_not_raise(contexts) -> None:
    _, server = pair(contexts)
    server.start(0.0)
    server.receive(b"\x16\xfe\xfd" + bytes(20), 0.0)  # a broken record
    assert server.state in (DtlsState.HANDSHAKING, DtlsState.FAILED)


def test_fingerprint_parse_and_roles() -> None:
    fp = Fingerprint.parse("SHA-256 ab:cd")
    assert fp == Fingerprint("sha-256", "AB:CD") and str(fp) == "sha-256 AB:CD"
    assert role_for_remote_setup("actpass") is DtlsRole.CLIENT
    assert role_for_remote_setup("passive") is DtlsRole.CLIENT
    assert role_for_remote_setup("active") is DtlsRole.SERVER
    assert setup_for_role(DtlsRole.CLIENT) == "active"
    with pytest.raises(DtlsError):
        role_for_remote_setup("holdconn")
    with pytest.raises(DtlsError):
        DtlsSrtpEndpoint(DtlsContext.__new__(DtlsContext), DtlsRole.CLIENT, [])


def test_split_records_never_straddles() -> None:
    def record(size: int) -> bytes:
        return bytes([22, 0xFE, 0xFD]) + bytes(8) + size.to_bytes(2, "big") + bytes(size)

    data = record(500) + record(600) + record(100) + record(1100)
    out = split_records(data, mtu=1200)
    assert [len(d) for d in out] == [513 + 613, 113, 1113]
    assert b"".join(out) == data
