"""Digest authentication against the RFC examples and a challenge/response loop."""

from __future__ import annotations

import hashlib

from wcs_trio.core.sip.auth import (
    Credentials,
    DigestClient,
    challenges_of,
    choose,
    digest_response,
    parse_challenges,
)
from wcs_trio.core.sip.message import Request, Response

# RFC 7616 §3.9.1: one 401 carrying a SHA-256 and an MD5 challenge.
RFC7616_CHALLENGES = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", '
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
MUFASA = Credentials("Mufasa", "Circle of Life")
CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def _param(header: str, name: str) -> str:
    for part in header[len("Digest ") :].split(", "):
        k, _, v = part.partition("=")
        if k == name:
            return v.strip('"')
    raise KeyError(name)


def test_rfc7616_sha256_and_md5_examples():
    sha, md5 = parse_challenges(RFC7616_CHALLENGES)
    assert (sha.algorithm, md5.algorithm) == ("SHA-256", "MD5")
    assert (
        sha.qop == ["auth", "auth-int"]
        and sha.opaque == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
    )
    h = digest_response(sha, MUFASA, "GET", "/dir/index.html", nc=1, cnonce=CNONCE)
    assert (
        _param(h, "response") == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    )
    assert _param(h, "nc") == "00000001" and _param(h, "qop") == "auth"
    assert _param(h, "opaque") == sha.opaque and _param(h, "algorithm") == "SHA-256"
    h = digest_response(md5, MUFASA, "GET", "/dir/index.html", nc=1, cnonce=CNONCE)
    assert _param(h, "response") == "8ca523f5e9506fed4657c9700eebdbec"


def test_rfc2617_example():
    (ch,) = parse_challenges(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    h = digest_response(
        ch, Credentials("Mufasa", "Circle Of Life"), "GET", "/dir/index.html", cnonce="0a4f113b"
    )
    assert _param(h, "response") == "6629fae49393a05397450978507c4ef1"
    assert "algorithm" not in h  # not sent when the challenge named none


def test_prefers_sha256_and_handles_sess_and_userhash():
    resp = Response(401)
    resp.add("WWW-Authenticate", 'Digest realm="r", nonce="n1", algorithm=MD5, qop="auth"')
    resp.add(
        "WWW-Authenticate",
        'Digest realm="r", nonce="n2", algorithm=SHA-256-sess, qop="auth", userhash=true',
    )
    resp.add("WWW-Authenticate", 'Basic realm="r"')
    chosen = choose(challenges_of(resp))
    assert [c.algorithm for c in chosen] == ["SHA-256-SESS"]
    h = digest_response(chosen[0], Credentials("bob", "pw"), "REGISTER", "sip:r", nc=1, cnonce="c")
    sha = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731
    ha1 = sha(f"{sha('bob:r:pw')}:n2:c")
    expected = sha(f"{ha1}:n2:00000001:c:auth:{sha('REGISTER:sip:r')}")
    assert _param(h, "response") == expected
    assert _param(h, "username") == sha("bob:r") and "userhash=true" in h


def test_no_qop_rfc2069_style():
    (ch,) = parse_challenges('Digest realm="r", nonce="abc"')
    h = digest_response(ch, Credentials("u", "p"), "INVITE", "sip:x@y")
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    assert _param(h, "response") == md5(f"{md5('u:r:p')}:abc:{md5('INVITE:sip:x@y')}")
    assert "nc=" not in h and "cnonce" not in h


def _register() -> Request:
    req = Request("REGISTER", "sip:example.com")
    for name, value in (
        ("Via", "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKabc"),
        ("From", "<sip:alice@example.com>;tag=1"),
        ("To", "<sip:alice@example.com>"),
        ("Call-ID", "c1"),
        ("CSeq", "1 REGISTER"),
    ):
        req.add(name, value)
    return req


def test_client_counts_nonces_and_handles_stale():
    client = DigestClient(Credentials("alice", "secret"))
    challenge = Response(401)
    challenge.add(
        "WWW-Authenticate", 'Digest realm="example.com", nonce="N1", qop="auth", algorithm=SHA-256'
    )
    assert client.accept(challenge, retried=False)
    req = _register()
    client.authorize(req)
    assert _param(req.get("Authorization"), "nc") == "00000001"
    client.authorize(req)
    assert _param(req.get("Authorization"), "nc") == "00000002"
    assert len(req.get_all("Authorization")) == 1
    # challenged again after answering, not stale: wrong password -> give up
    assert not client.accept(challenge, retried=True)
    stale = Response(401)
    stale.add(
        "WWW-Authenticate",
        'Digest realm="example.com", nonce="N2", qop="auth", algorithm=SHA-256, stale=TRUE',
    )
    assert client.accept(stale, retried=True)
    client.authorize(req)
    assert _param(req.get("Authorization"), "nonce") == "N2"
    assert _param(req.get("Authorization"), "nc") == "00000001"


def test_proxy_challenge_goes_to_proxy_authorization():
    client = DigestClient(Credentials("alice", "secret"))
    challenge = Response(407)
    challenge.add("Proxy-Authenticate", 'Digest realm="proxy", nonce="P", qop="auth"')
    assert client.accept(challenge, retried=False)
    req = _register()
    client.authorize(req)
    assert req.get("Authorization") is None
    assert req.get("Proxy-Authorization").startswith('Digest username="alice", realm="proxy"')


def test_credentials_never_shown():
    creds = Credentials("alice", "s3cr3t-pw")
    client = DigestClient(creds)
    for text in (repr(creds), str(creds), repr(client), str(client)):
        assert "s3cr3t-pw" not in text
