"""Transaction state machines driven by a fake clock: exact deadlines, no sockets."""

from __future__ import annotations

import pytest

from wcs_trio.core.sip.message import Request, Response, parse_message
from wcs_trio.core.sip.transaction import (
    TRANSITIONS,
    AckTimedOut,
    CancelRequested,
    Deliver,
    Kind,
    Send,
    State,
    TimedOut,
    Timers,
    TransactionError,
    TransactionLayer,
    TransportFailed,
    diagram,
)

T = Timers(T1=0.5, T2=4.0, T4=5.0)
DEST = ("udp", "192.0.2.9", 5060)


def make_request(method: str = "INVITE", branch: str = "z9hG4bKtest1", cseq: int = 1) -> Request:
    req = Request(method, "sip:bob@192.0.2.9")
    req.add("Via", f"SIP/2.0/UDP 192.0.2.1:5060;branch={branch};rport")
    req.add("Max-Forwards", "70")
    req.add("From", "<sip:alice@example.com>;tag=a1")
    req.add("To", "<sip:bob@example.com>")
    req.add("Call-ID", "call-1@192.0.2.1")
    req.add("CSeq", f"{cseq} {method}")
    return req


def response_to(req: Request, code: int, to_tag: str | None = "b1") -> Response:
    # through the wire, as a peer would send it
    return parse_message(bytes(req.response(code, to_tag=to_tag)))


def sends(actions):
    return [a for a in actions if isinstance(a, Send)]


def run_until(layer: TransactionLayer, end: float):
    """Fire every timer up to ``end``; return [(time, actions)]."""
    log = []
    while (t := layer.get_timer()) is not None and t <= end:
        log.append((t, layer.handle_timer(t)))
    return log


# ----------------------------------------------------------------- INVITE client
def test_invite_client_timer_a_doubles_and_b_times_out():
    layer = TransactionLayer(T)
    tx, actions = layer.send_request(make_request(), DEST, reliable=False, now=0.0)
    assert [type(a) for a in actions] == [Send] and tx.state is State.CALLING
    assert tx.timer("A") == 0.5 and tx.timer("B") == 32.0
    log = run_until(layer, 100.0)
    times = [t for t, acts in log if sends(acts)]
    # A: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 (T1 doubling, never capped), then B at 64*T1
    assert times == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    last_t, last = log[-1]
    assert last_t == 32.0 and [type(a) for a in last] == [TimedOut]
    assert tx.state is State.TERMINATED and len(layer) == 0 and layer.get_timer() is None


def test_invite_client_reliable_has_no_retransmissions():
    layer = TransactionLayer(T)
    tx, _ = layer.send_request(make_request(), DEST, reliable=True, now=0.0)
    assert tx.timer("A") is None and tx.get_timer() == 32.0


def test_invite_client_non2xx_builds_ack_and_waits_timer_d():
    layer = TransactionLayer(T)
    req = make_request()
    tx, _ = layer.send_request(req, DEST, False, 0.0)
    out = layer.receive(response_to(req, 180), DEST, False, 0.2)
    assert [type(a) for a in out] == [Deliver] and tx.state is State.PROCEEDING
    assert tx.get_timer() is None  # A and B stopped
    busy = response_to(req, 486)
    out = layer.receive(busy, DEST, False, 1.0)
    assert [type(a) for a in out] == [Send, Deliver] and tx.state is State.COMPLETED
    ack = out[0].message
    assert ack.method == "ACK" and ack.cseq.seq == 1 and ack.cseq.method == "ACK"
    assert ack.get_all("Via") == [req.get_all("Via")[0]]
    assert ack.to.tag == "b1" and str(ack.uri) == str(req.uri)
    assert tx.timer("D") == 33.0
    # a retransmitted 486 gets the ACK again, without reaching the TU
    out = layer.receive(busy, DEST, False, 2.0)
    assert [type(a) for a in out] == [Send] and out[0].message.method == "ACK"
    assert run_until(layer, 100.0) == [(33.0, [])]
    assert tx.state is State.TERMINATED


def test_invite_client_non2xx_reliable_terminates_at_once():
    layer = TransactionLayer(T)
    req = make_request()
    tx, _ = layer.send_request(req, DEST, True, 0.0)
    layer.receive(response_to(req, 503), DEST, True, 1.0)
    assert tx.state is State.TERMINATED and len(layer) == 0


def test_invite_client_2xx_accepted_until_timer_m():
    layer = TransactionLayer(T)
    req = make_request()
    tx, _ = layer.send_request(req, DEST, False, 0.0)
    ok = response_to(req, 200)
    out = layer.receive(ok, DEST, False, 0.3)
    assert [type(a) for a in out] == [Deliver] and tx.state is State.ACCEPTED
    assert tx.timer("M") == 0.3 + 32.0
    # 2xx retransmissions go to the TU (which re-sends its ACK)
    assert [type(a) for a in layer.receive(ok, DEST, False, 1.0)] == [Deliver]
    run_until(layer, 40.0)
    assert tx.state is State.TERMINATED


def test_cancel_waits_for_provisional():
    layer = TransactionLayer(T)
    req = make_request()
    tx, _ = layer.send_request(req, DEST, False, 0.0)
    cancel_tx, out = layer.cancel(tx, 0.1)
    assert cancel_tx is None and out == [] and tx.cancel_pending
    out = layer.receive(response_to(req, 180), DEST, False, 0.2)
    cancels = [a.message for a in sends(out)]
    assert [c.method for c in cancels] == ["CANCEL"]
    cancel = cancels[0]
    assert cancel.get_all("Via") == req.get_all("Via") and cancel.cseq.seq == 1
    assert cancel.to.tag is None
    # Timer B guards the cancelled INVITE (§9.1)
    assert tx.timer("B") == 0.2 + 32.0
    out = layer.receive(response_to(cancel, 200), DEST, False, 0.3)
    assert [type(a) for a in out] == [Deliver]
    out = layer.receive(response_to(req, 487), DEST, False, 0.4)
    assert [type(a) for a in out] == [Send, Deliver]


# ------------------------------------------------------------- non-INVITE client
def test_non_invite_client_timer_e_caps_at_t2_and_f_at_64t1():
    layer = TransactionLayer(T)
    tx, _ = layer.send_request(make_request("REGISTER"), DEST, False, 0.0)
    assert tx.timer("E") == 0.5 and tx.timer("F") == 32.0
    log = run_until(layer, 100.0)
    times = [t for t, acts in log if sends(acts)]
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert log[-1][0] == 32.0 and [type(a) for a in log[-1][1]] == [TimedOut]


def test_non_invite_client_proceeding_retransmits_every_t2():
    layer = TransactionLayer(T)
    req = make_request("OPTIONS")
    tx, _ = layer.send_request(req, DEST, False, 0.0)
    layer.receive(response_to(req, 100, None), DEST, False, 0.2)
    assert tx.state is State.PROCEEDING
    log = run_until(layer, 10.0)
    assert [t for t, a in log if sends(a)] == [0.5, 4.5, 8.5]
    out = layer.receive(response_to(req, 200), DEST, False, 9.0)
    assert [type(a) for a in out] == [Deliver] and tx.state is State.COMPLETED
    assert tx.timer("K") == 14.0
    assert layer.receive(response_to(req, 200), DEST, False, 9.5) == []  # absorbed
    run_until(layer, 14.0)
    assert tx.state is State.TERMINATED


def test_non_invite_client_reliable():
    layer = TransactionLayer(T)
    req = make_request("OPTIONS")
    tx, _ = layer.send_request(req, DEST, True, 0.0)
    assert tx.get_timer() == 32.0
    layer.receive(response_to(req, 200), DEST, True, 1.0)
    assert tx.state is State.TERMINATED  # Timer K is zero


def test_transport_error_and_timer_values_from_config():
    layer = TransactionLayer(Timers(T1=0.1, T2=0.4, T4=1.0))
    tx, _ = layer.send_request(make_request("MESSAGE"), DEST, False, 0.0)
    assert tx.timer("F") == pytest.approx(6.4)
    out = layer.transport_error(tx, 0.05)
    assert [type(a) for a in out] == [TransportFailed] and tx.state is State.TERMINATED


# ------------------------------------------------------------------ INVITE server
def test_invite_server_error_response_retransmits_until_ack():
    layer = TransactionLayer(T)
    req = make_request()
    out = layer.receive(req, DEST, False, 0.0)
    assert [type(a) for a in out] == [Send, Deliver]
    assert out[0].message.status == 100
    tx = out[1].tx
    assert tx.state is State.PROCEEDING
    # retransmitted INVITE: the last response (100) again
    out = layer.receive(req, DEST, False, 0.1)
    assert [a.message.status for a in sends(out)] == [100]
    out = layer.respond(tx, req.response(486, to_tag="b1"), 1.0)
    assert [a.message.status for a in sends(out)] == [486] and tx.state is State.COMPLETED
    assert tx.timer("G") == 1.5 and tx.timer("H") == 33.0
    log = run_until(layer, 12.0)
    # G: T1 doubling up to T2
    assert [t for t, a in log if sends(a)] == [1.5, 2.5, 4.5, 8.5]
    ack = make_request("ACK")
    ack.set("To", "<sip:bob@example.com>;tag=b1")
    out = layer.receive(ack, DEST, False, 12.0)
    assert out == [] and tx.state is State.CONFIRMED and tx.timer("I") == 17.0
    run_until(layer, 17.0)
    assert tx.state is State.TERMINATED and len(layer) == 0


def test_invite_server_timer_h_without_ack():
    layer = TransactionLayer(T)
    req = make_request()
    tx = layer.receive(req, DEST, True, 0.0)[-1].tx
    layer.respond(tx, req.response(404, to_tag="x"), 0.0)
    assert tx.get_timer() == 32.0  # reliable: no G, just H
    log = run_until(layer, 40.0)
    assert [type(a) for a in log[-1][1]] == [TimedOut]


def test_invite_server_2xx_retransmitted_until_ack_then_l():
    layer = TransactionLayer(T)
    req = make_request()
    tx = layer.receive(req, DEST, False, 0.0)[-1].tx
    layer.respond(tx, req.response(200, to_tag="b1"), 0.0)
    assert tx.state is State.ACCEPTED and tx.timer("G") == 0.5 and tx.timer("L") == 32.0
    log = run_until(layer, 2.0)
    assert [t for t, a in log if sends(a)] == [0.5, 1.5]
    # the 2xx ACK has its own branch and still finds the transaction
    ack = make_request("ACK", branch="z9hG4bKother")
    out = layer.receive(ack, DEST, False, 2.0)
    assert [type(a) for a in out] == [Deliver] and tx.timer("G") is None
    assert layer.receive(ack, DEST, False, 2.1) == []  # delivered once
    run_until(layer, 40.0)
    assert tx.state is State.TERMINATED


def test_invite_server_2xx_never_acked():
    layer = TransactionLayer(T)
    req = make_request()
    tx = layer.receive(req, DEST, True, 0.0)[-1].tx
    layer.respond(tx, req.response(200, to_tag="b1"), 0.0)
    log = run_until(layer, 40.0)
    assert log[-1][0] == 32.0 and [type(a) for a in log[-1][1]] == [AckTimedOut]


def test_cancel_matches_invite_server():
    layer = TransactionLayer(T)
    req = make_request()
    tx = layer.receive(req, DEST, False, 0.0)[-1].tx
    cancel = make_request("CANCEL")
    out = layer.receive(cancel, DEST, False, 0.5)
    assert [a.message.status for a in sends(out)] == [200]
    (cr,) = [a for a in out if isinstance(a, CancelRequested)]
    assert cr.tx is tx
    out = layer.receive(make_request("CANCEL", branch="z9hG4bKnomatch"), DEST, False, 0.6)
    assert [a.message.status for a in sends(out)] == [481]


# --------------------------------------------------------------- non-INVITE server
def test_non_invite_server_absorbs_and_resends():
    layer = TransactionLayer(T)
    req = make_request("OPTIONS")
    out = layer.receive(req, DEST, False, 0.0)
    assert [type(a) for a in out] == [Deliver]
    tx = out[0].tx
    assert layer.receive(req, DEST, False, 0.1) == []  # Trying: absorbed
    layer.respond(tx, req.response(200), 0.2)
    assert tx.timer("J") == 32.2
    out = layer.receive(req, DEST, False, 1.0)
    assert [a.message.status for a in sends(out)] == [200]
    run_until(layer, 33.0)
    assert tx.state is State.TERMINATED


def test_rfc2543_fallback_matching():
    layer = TransactionLayer(T)
    req = make_request("OPTIONS", branch="oldstyle")  # no magic cookie
    tx = layer.receive(req, DEST, False, 0.0)[0].tx
    layer.respond(tx, req.response(200), 0.1)
    again = make_request("OPTIONS", branch="oldstyle")
    assert [a.message.status for a in sends(layer.receive(again, DEST, False, 0.2))] == [200]
    # a different CSeq is a different transaction
    other = make_request("OPTIONS", branch="oldstyle", cseq=2)
    assert [type(a) for a in layer.receive(other, DEST, False, 0.3)] == [Deliver]


def test_stray_response_and_bad_tu_calls():
    layer = TransactionLayer(T)
    out = layer.receive(response_to(make_request(), 200), DEST, False, 0.0)
    assert [type(a) for a in out] == [Deliver] and out[0].tx is None
    req = make_request("OPTIONS")
    tx = layer.receive(req, DEST, False, 0.0)[0].tx
    layer.respond(tx, req.response(200), 0.0)
    with pytest.raises(TransactionError):
        layer.respond(tx, req.response(200), 0.1)


def test_server_transaction_cap_answers_503():
    layer = TransactionLayer(T, max_server_transactions=2)
    for i in range(2):
        layer.receive(make_request("OPTIONS", branch=f"z9hG4bK{i}"), DEST, False, 0.0)
    out = layer.receive(make_request("OPTIONS", branch="z9hG4bKmore"), DEST, False, 0.0)
    assert [a.message.status for a in sends(out)] == [503]


def test_table_is_complete_and_diagrams_render():
    for kind in Kind:
        assert any(k == kind and s is None for k, s, _ in TRANSITIONS)
        text = diagram(kind)
        assert text.startswith("stateDiagram-v2") and "[*]" in text
