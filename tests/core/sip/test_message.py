"""Parser, serializer and stream framer, driven by RFC 4475's torture messages."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

from wcs_trio.core.sip.errors import SipParseError
from wcs_trio.core.sip.headers import Via, parse_via
from wcs_trio.core.sip.message import (
    PING,
    PONG,
    Request,
    Response,
    StreamFramer,
    error_response,
    parse_message,
)
from wcs_trio.core.sip.uri import (
    AbsoluteUri,
    NameAddr,
    SipUri,
    parse_name_addr,
    parse_uri,
    unescape,
)

_spec = importlib.util.spec_from_file_location(
    "rfc4475", pathlib.Path(__file__).with_name("rfc4475.py")
)
rfc4475 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rfc4475)
VECTORS = rfc4475.VECTORS

VALID_VECTORS = [
    v for v in VECTORS if v[3] == rfc4475.VALID or (isinstance(v[3], tuple) and v[3][0] == "stack")
]
INVALID_VECTORS = [v for v in VECTORS if v not in VALID_VECTORS]


def _ids(vectors):
    return [f"{v[1]}-{v[0]}" for v in vectors]


@pytest.mark.parametrize("name,section,data,expected", VALID_VECTORS, ids=_ids(VALID_VECTORS))
def test_valid_vectors_parse_and_round_trip(name, section, data, expected):
    msg = parse_message(data)
    again = parse_message(bytes(msg))
    assert type(again) is type(msg)
    assert list(again.headers) == [
        (n, str(len(msg.body)) if n.lower() in ("content-length", "l") else v)
        for n, v in msg.headers
    ]
    assert again.body == msg.body
    if isinstance(msg, Request):
        assert again.method == msg.method and str(again.uri) == str(msg.uri)
        assert [str(v) for v in again.vias] == [str(v) for v in msg.vias]
    else:
        assert (again.status, again.reason) == (msg.status, msg.reason)


@pytest.mark.parametrize("name,section,data,expected", INVALID_VECTORS, ids=_ids(INVALID_VECTORS))
def test_invalid_vectors_raise_naming_the_problem(name, section, data, expected):
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    err = info.value
    if expected == rfc4475.DROP:
        assert err.drop and err.status is None
        assert error_response(err) is None
    else:
        status, words = expected
        assert err.status == status
        assert words.lower() in err.reason.lower()
        resp = error_response(err, to_tag="abc")
        assert resp is not None and resp.status == status and resp.reason == err.reason
        # the reply itself is a well-formed message carrying the request's Via
        wire = bytes(resp)
        assert wire.startswith(f"SIP/2.0 {status} ".encode())
        assert resp.get_all("Via") == err.raw.headers.get_all("Via")


def test_wsinv_fields():
    msg = parse_message(rfc4475.crlf(rfc4475.WSINV))
    assert msg.method == "INVITE"
    assert isinstance(msg.uri, SipUri) and "unknownparam" in msg.uri.params
    assert msg.uri.params["unknownparam"] is None
    assert msg.to.tag == "1918181833n" and msg.to.display is None
    assert msg.from_.tag == "98asjd8"
    assert msg.from_.display_decoded == 'J Rosenberg \\"'
    assert msg.max_forwards == 68
    assert msg.cseq.seq == 9 and msg.cseq.method == "INVITE"
    assert msg.call_id == "wsinv.ndaksdj@192.0.2.1"
    vias = msg.vias
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert msg.get("Subject") == ""
    assert msg.get("s") == ""
    assert msg.get("newfangledheader") == "newfangled value continued newfangled value"
    assert msg.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (contact,) = msg.contacts
    assert contact.display_decoded == 'Quoted string ""'
    assert contact.params["newparam"] == "newvalue"
    assert contact.params["secondparam"] is None
    assert contact.params["q"] == "0.33"
    (route,) = msg.routes
    assert route.uri.lr and route.uri.params["unknown-no-value"] is None
    assert len(msg.body) == 150 and msg.content_type == "application/sdp"


def test_intmeth_fields():
    msg = parse_message(rfc4475.crlf(rfc4475.INTMETH))
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert msg.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert msg.to.display_decoded == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_.display == "token1~` token2'+_ token3*%!.-"
    assert msg.from_.tag == "_token~1'+`*%!-."
    assert msg.from_.params["fromParam''~+*_!.-%"] == '"работающий"'
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    assert msg.via.branch == "z9hG4bK-.!%66*_+`'~"


def test_escapes():
    esc01 = parse_message(rfc4475.crlf(rfc4475.ESC01))
    assert esc01.uri.user_decoded == "sips:user@example.com"
    assert esc01.to.uri.user_decoded == "user"
    assert esc01.from_.uri.user_decoded == "I have spaces"
    (contact,) = esc01.contacts
    assert contact.uri.user_decoded == "caller"
    # unescaping is never recursive: value%41, not valueA
    assert unescape(contact.uri.params["n%61me"]) == "value%41"
    escnull = parse_message(rfc4475.crlf(rfc4475.ESCNULL))
    assert escnull.to.uri.user_decoded == "null-\x00-null"
    assert [c.uri.user_decoded for c in escnull.contacts] == ["\x00", "\x00\x00"]
    esc02 = parse_message(rfc4475.crlf(rfc4475.ESC02))
    assert esc02.method == "RE%47IST%45R" and esc02.cseq.method == "RE%47IST%45R"
    assert [c.uri.user for c in esc02.contacts] == ["alias1", "alias3"]
    assert esc02.to.display_decoded == "%Z%45"
    assert esc02.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_other_valid_details():
    semi = parse_message(rfc4475.crlf(rfc4475.SEMIURI))
    assert semi.uri.user == "user;par=u%40example.net" and semi.uri.host == "example.com"
    assert semi.values("Accept") == [
        "application/sdp",
        "application/pkcs7-mime",
        "multipart/mixed",
        "multipart/signed",
        "message/sip",
        "message/sipfrag",
    ]
    tr = parse_message(rfc4475.crlf(rfc4475.TRANSPORTS))
    assert [v.transport for v in tr.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    dbl = parse_message(rfc4475.crlf(rfc4475.DBLREQ))
    assert dbl.method == "REGISTER" and dbl.body == b""
    unr = parse_message(rfc4475.crlf(rfc4475.UNREASON))
    assert unr.status == 200 and unr.reason.startswith("= 2**3 * 5**2 но")
    nor = parse_message(rfc4475.crlf(rfc4475.NOREASON))
    assert nor.status == 100 and nor.reason == ""
    mp = parse_message(rfc4475.MPART01)
    assert mp.body.endswith(b"--boundary42--\r\n") and bytes(range(256)) in mp.body
    lwsdisp = parse_message(rfc4475.crlf(rfc4475.LWSDISP))
    assert lwsdisp.from_.display == "caller"
    unk = parse_message(rfc4475.crlf(rfc4475.UNKSCM))
    assert isinstance(unk.uri, AbsoluteUri) and unk.uri.scheme == "nobarscheme"


# --------------------------------------------------------------- framer
STREAMABLE = [v for v in VECTORS if v[0] not in ("clerr", "ncl", "dblreq", "mcl01")]


@pytest.mark.parametrize("name,section,data,expected", STREAMABLE, ids=_ids(STREAMABLE))
def test_framer_whole_bytewise_and_trailing(name, section, data, expected):
    msg_len = len(data)
    # whole
    assert StreamFramer().feed(data) == [data[:msg_len]]
    # byte by byte
    framer = StreamFramer()
    got = []
    for i in range(len(data)):
        got += framer.feed(data[i : i + 1])
    assert got == [data]
    assert framer.pending == 0
    # with trailing data: the next message's beginning stays buffered
    framer = StreamFramer()
    assert framer.feed(data + b"\r\n\r\n" + data + b"OPTIONS sip:x") == [data, PING, data]
    assert framer.pending == len(b"OPTIONS sip:x")
    # the framed message parses exactly as the datagram did
    if expected in (rfc4475.VALID,) or (isinstance(expected, tuple) and expected[0] == "stack"):
        assert bytes(parse_message(data, datagram=False)) == bytes(parse_message(data))


def test_framer_keepalives_and_errors():
    f = StreamFramer()
    out = []
    for b in b"\r\n\r\n":
        out += f.feed(bytes([b]))
    assert out == [PING]
    assert f.feed(b"\r\nSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n") == [
        PONG,
        b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    ]
    for unframeable in (rfc4475.NCL, rfc4475.MCL01):
        with pytest.raises(SipParseError):
            StreamFramer().feed(rfc4475.crlf(unframeable))
    clerr = rfc4475.crlf(rfc4475.CLERR)
    f = StreamFramer()
    assert f.feed(clerr) == []  # waits for the 9999 announced bytes
    with pytest.raises(SipParseError) as info:
        StreamFramer(max_head=100).feed(b"INVITE " + b"x" * 200)
    assert info.value.status == 513


# ------------------------------------------------------ model and helpers
INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport\r\n"
    b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Timestamp: 54\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    b"X-Custom: kept as is ; really\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n\r\nv=0\r"
)


def test_response_helper_copies_headers():
    req = parse_message(INVITE)
    r = req.response(180, to_tag="xyz")
    assert r.status == 180 and r.reason == "Ringing"
    assert r.get_all("Via") == req.get_all("Via")
    assert r.to.tag == "xyz" and r.from_.tag == "1928301774"
    assert r.call_id == req.call_id and r.cseq == req.cseq
    assert r.get_all("Record-Route") == req.get_all("Record-Route")
    assert "X-Custom" not in r
    trying = req.response(100, to_tag="xyz")
    assert trying.to.tag is None and trying.get("Timestamp") == "54"
    parsed = parse_message(bytes(r))
    assert isinstance(parsed, Response) and parsed.to.tag == "xyz"


def test_serializer_keeps_unknown_headers_and_fixes_content_length():
    req = parse_message(INVITE)
    req.body = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"
    wire = bytes(req)
    assert b"X-Custom: kept as is ; really\r\n" in wire
    assert f"Content-Length: {len(req.body)}\r\n".encode() in wire
    assert wire.endswith(req.body)


def test_header_mutation_and_compact_names():
    req = parse_message(INVITE)
    assert req.get("v") == req.get("VIA") == req.get_all("Via")[0]
    via = req.via
    via.params["received"] = "192.0.2.1"
    via.params["rport"] = "5062"
    req.set_vias([via, *req.vias[1:]])
    assert req.via.received == "192.0.2.1" and req.via.rport == 5062
    assert len(req.vias) == 2
    req.add("Route", "<sip:r.example.com;lr>")
    assert [str(r.uri) for r in req.routes] == ["sip:r.example.com;lr"]
    req.remove("route")
    assert req.routes == []


def test_uri_and_name_addr_helpers():
    u = parse_uri("sips:alice:secret@[2001:db8::1]:5061;transport=tls;lr?Subject=x&Priority=urgent")
    assert (u.scheme, u.user, u.password, u.host, u.port, u.transport, u.lr) == (
        "sips",
        "alice",
        "secret",
        "[2001:db8::1]",
        5061,
        "tls",
        True,
    )
    assert (
        str(u) == "sips:alice:secret@[2001:db8::1]:5061;transport=tls;lr?Subject=x&Priority=urgent"
    )
    assert parse_uri("sip:A%6Cice@EXAMPLE.com") == parse_uri("sip:Alice@example.com")
    na = parse_name_addr('"A \\"B\\"" <sip:a@b.c>;tag=1;x')
    assert (
        na.display_decoded == 'A "B"'
        and na.tag == "1"
        and str(na) == '"A \\"B\\"" <sip:a@b.c>;tag=1;x'
    )
    star = parse_name_addr("*", allow_wildcard=True)
    assert star.wildcard and str(star) == "*"
    assert str(NameAddr(parse_uri("sip:x@y"))) == "<sip:x@y>"
    for bad in ("sip:", "sip:a@", "sip:a@b:99999", "sip:a b@c", "sip:a@[::1", "sip:a%zz@b"):
        with pytest.raises(SipParseError):
            parse_uri(bad)


def test_via_parse_and_format():
    v = parse_via(
        "SIP / 2.0 / tcp  host.example.com : 5070 ; branch = z9hG4bKx ; rport ; received=1.2.3.4"
    )
    assert (v.transport, v.host, v.port, v.branch, v.received, v.has_rport, v.rport) == (
        "TCP",
        "host.example.com",
        5070,
        "z9hG4bKx",
        "1.2.3.4",
        True,
        None,
    )
    assert str(v) == "SIP/2.0/TCP host.example.com:5070;branch=z9hG4bKx;rport;received=1.2.3.4"
    assert (
        str(Via("udp", "[::1]", 5060, {"branch": "z9hG4bK1"}))
        == "SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1"
    )
    for bad in (
        "SIP/2.0/UDP",
        "SIP/2.0 UDP host",
        "SIP/2.0/UDP host;branch=",
        "SIP/2.0/UDP host;rport=x",
    ):
        with pytest.raises(SipParseError):
            parse_via(bad)


def test_garbage_never_raises_anything_but_parse_errors():
    import random

    rng = random.Random(4475)
    samples = [d for _, _, d, _ in VECTORS] + [INVITE]
    for _ in range(3000):
        base = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 8)):
            op = rng.random()
            pos = rng.randrange(len(base) + 1)
            if op < 0.4 and base:
                del base[pos : pos + rng.randint(1, 20)]
            elif op < 0.8:
                base[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 5)))
            else:
                base[pos:pos] = rng.choice([b"\r\n", b",", b";", b"<", b'"', b":", b" ", b"%"])
        try:
            msg = parse_message(bytes(base))
            bytes(msg)
        except SipParseError as exc:
            resp = error_response(exc)
            if resp is not None:
                bytes(resp)
        f = StreamFramer()
        try:
            f.feed(bytes(base))
        except SipParseError:
            pass
