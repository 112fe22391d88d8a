"""Dialog creation, route sets, CSeq rules, in-dialog requests and glare."""

from __future__ import annotations

import random

import pytest

from wcs_trio.core.sip.dialog import Dialog, DialogState, DialogTable
from wcs_trio.core.sip.message import Request, Response, parse_message
from wcs_trio.core.sip.uri import NameAddr, parse_uri


def invite() -> Request:
    req = Request("INVITE", "sip:bob@biloxi.example.com")
    req.add("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv1")
    req.add("Max-Forwards", "70")
    req.add("From", "Alice <sip:alice@atlanta.example.com>;tag=a-tag")
    req.add("To", "Bob <sip:bob@biloxi.example.com>")
    req.add("Call-ID", "dlg-1@192.0.2.1")
    req.add("CSeq", "10 INVITE")
    req.add("Contact", "<sip:alice@192.0.2.1:5060>")
    req.add("Record-Route", "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>")
    req.add("Authorization", 'Digest username="alice", response="x"')
    return req


def answer(req: Request, code: int = 200, contact: str = "<sip:bob@192.0.2.4:5070>") -> Response:
    resp = req.response(code, to_tag="b-tag")
    resp.add("Contact", contact)
    return parse_message(bytes(resp))


def test_uac_dialog_from_2xx_reverses_route_set():
    req = invite()
    d = Dialog.from_uac(req, answer(req))
    assert d.state is DialogState.CONFIRMED and d.is_uac
    assert d.id == ("dlg-1@192.0.2.1", "a-tag", "b-tag")
    assert [str(r.uri) for r in d.route_set] == ["sip:p2.example.com;lr", "sip:p1.example.com;lr"]
    assert str(d.remote_target) == "sip:bob@192.0.2.4:5070"
    assert d.local_seq == 10 and d.remote_seq is None
    bye = d.create_request("BYE")
    assert bye.cseq.seq == 11 and bye.cseq.method == "BYE"
    assert str(bye.uri) == "sip:bob@192.0.2.4:5070"
    assert [str(r.uri) for r in bye.routes] == ["sip:p2.example.com;lr", "sip:p1.example.com;lr"]
    assert bye.from_.tag == "a-tag" and bye.to.tag == "b-tag" and bye.call_id == d.call_id
    assert bye.to.display == "Bob" and "Contact" not in bye
    ack = d.create_ack(req)
    assert ack.cseq.seq == 10 and ack.cseq.method == "ACK"
    assert ack.get("Authorization") == req.get("Authorization")
    assert d.local_seq == 11  # ACK does not consume a sequence number


def test_uas_dialog_keeps_route_order_and_starts_own_cseq():
    req = invite()
    resp = req.response(200, to_tag="b-tag")
    resp.add("Contact", "<sip:bob@192.0.2.4:5070>")
    d = Dialog.from_uas(req, resp)
    assert not d.is_uac and d.id == ("dlg-1@192.0.2.1", "b-tag", "a-tag")
    assert [str(r.uri) for r in d.route_set] == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    assert str(d.remote_target) == "sip:alice@192.0.2.1:5060"
    assert d.remote_seq == 10 and d.local_seq is None
    bye = d.create_request("BYE")
    assert 1 <= bye.cseq.seq < 2**31
    assert bye.from_.tag == "b-tag" and bye.to.tag == "a-tag"
    assert bye.from_.uri == req.to.uri
    nxt = d.create_request("INFO", body=b"Signal=5\r\n", content_type="application/dtmf-relay")
    assert nxt.cseq.seq == bye.cseq.seq + 1 and nxt.get("Content-Type") == "application/dtmf-relay"


def test_strict_route_puts_target_last():
    req = invite()
    req.set("Record-Route", "<sip:strict.example.com;transport=tcp>")
    d = Dialog.from_uac(req, answer(req))
    bye = d.create_request("BYE")
    assert str(bye.uri) == "sip:strict.example.com"
    assert [str(r.uri) for r in bye.routes] == ["sip:bob@192.0.2.4:5070"]


def test_early_dialog_confirmed_and_target_refresh():
    req = invite()
    ringing = answer(req, 180, "<sip:bob@early.example.com>")
    d = Dialog.from_uac(req, ringing)
    assert d.state is DialogState.EARLY
    ok = answer(req, 200, "<sip:bob@final.example.com>")
    ok.set("Record-Route", "<sip:only.example.com;lr>")
    d.receive_response(req, ok)
    assert d.state is DialogState.CONFIRMED
    assert str(d.remote_target) == "sip:bob@final.example.com"
    assert [str(r.uri) for r in d.route_set] == ["sip:only.example.com;lr"]
    # a re-INVITE from the peer refreshes the target
    reinvite = Request("INVITE", "sip:alice@192.0.2.1:5060")
    reinvite.add("Via", "SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKre")
    reinvite.add("From", "<sip:bob@biloxi.example.com>;tag=b-tag")
    reinvite.add("To", "<sip:alice@atlanta.example.com>;tag=a-tag")
    reinvite.add("Call-ID", "dlg-1@192.0.2.1")
    reinvite.add("CSeq", "5 INVITE")
    reinvite.add("Contact", "<sip:bob@moved.example.com>")
    assert d.receive_request(reinvite) is None
    assert str(d.remote_target) == "sip:bob@moved.example.com" and d.remote_seq == 5
    # the same CSeq again is out of order
    assert d.receive_request(reinvite) == 500


def test_methods_and_contact_on_target_refresh_requests():
    req = invite()
    d = Dialog.from_uac(
        req, answer(req), local_contact=NameAddr(parse_uri("sip:alice@10.0.0.1:5062"))
    )
    for method in ("INVITE", "UPDATE", "REFER", "NOTIFY"):
        r = d.create_request(method)
        assert r.contacts[0].uri == parse_uri("sip:alice@10.0.0.1:5062"), method
        d.receive_response(r, Response(200))  # clear the pending offer
    for method in ("INFO", "OPTIONS", "BYE"):
        assert "Contact" not in d.create_request(method)
    with pytest.raises(ValueError):
        d.create_request("ACK")


def test_glare_491_and_retry_timing():
    req = invite()
    d = Dialog.from_uac(req, answer(req))
    reinvite = d.create_request("INVITE", body=b"v=0\r\n", content_type="application/sdp")
    assert d.client_offer_pending
    incoming = Request("INVITE", "sip:alice@192.0.2.1")
    incoming.add("Via", "SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKx")
    incoming.add("From", "<sip:bob@biloxi.example.com>;tag=b-tag")
    incoming.add("To", "<sip:alice@atlanta.example.com>;tag=a-tag")
    incoming.add("Call-ID", "dlg-1@192.0.2.1")
    incoming.add("CSeq", "7 INVITE")
    assert d.receive_request(incoming) == 491
    rng = random.Random(1)
    owner = [d.glare_retry_after(rng=rng) for _ in range(200)]
    assert all(2.1 <= x <= 4.0 for x in owner) and all(
        abs(round(x * 100) - x * 100) < 1e-9 for x in owner
    )
    other = [d.glare_retry_after(owns_call_id=False, rng=rng) for _ in range(200)]
    assert all(0 <= x <= 2.0 for x in other)
    d.receive_response(reinvite, Response(491))
    assert not d.client_offer_pending and d.state is DialogState.CONFIRMED


def test_bye_and_481_terminate_and_table_lookup():
    req = invite()
    d = Dialog.from_uac(req, answer(req))
    table = DialogTable()
    table.add(d)
    ok = answer(req)
    assert table.for_response(ok) is d
    bye_in = Request("BYE", "sip:alice@192.0.2.1")
    bye_in.add("Via", "SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKbye")
    bye_in.add("From", "<sip:bob@biloxi.example.com>;tag=b-tag")
    bye_in.add("To", "<sip:alice@atlanta.example.com>;tag=a-tag")
    bye_in.add("Call-ID", "dlg-1@192.0.2.1")
    bye_in.add("CSeq", "9 BYE")
    assert table.for_request(bye_in) is d
    assert d.receive_request(bye_in) is None
    d.sent_response(bye_in, bye_in.response(200))
    assert d.state is DialogState.TERMINATED
    table.remove(d)
    assert table.for_request(bye_in) is None
    d2 = Dialog.from_uac(req, answer(req))
    info = d2.create_request("INFO")
    d2.receive_response(info, Response(481))
    assert d2.state is DialogState.TERMINATED
