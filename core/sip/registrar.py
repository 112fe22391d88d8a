"""A small sans-IO registrar with digest authentication.

Not part of the gateway's call path: it is what the tests and the benchmark
register against when no real registrar is wanted ("in-process, no network"),
and it documents what the client expects of one (RFC 3261 §10.3, RFC 7616).
"""

from __future__ import annotations

import hashlib
import secrets

from .auth import ALGORITHMS, parse_challenges
from .message import Request, Response
from .uri import quote


class FakeRegistrar:
    """Challenges REGISTERs, checks the digest, keeps bindings.

    ``passwords`` maps user names to passwords; ``algorithms`` are offered in
    that order (one WWW-Authenticate each); ``min_expires`` makes it answer
    423; ``stale_after`` makes every nonce stale after that many uses.
    """

    def __init__(
        self,
        passwords: dict[str, str],
        realm: str = "example.com",
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        min_expires: int = 0,
        stale_after: int | None = None,
    ) -> None:
        self.passwords = passwords
        self.realm = realm
        self.algorithms = algorithms
        self.min_expires = min_expires
        self.stale_after = stale_after
        self.nonces: dict[str, int] = {}
        self.bindings: dict[str, dict[str, int]] = {}
        self.requests = 0

    def _challenge(self, req: Request, stale: bool = False) -> Response:
        resp = req.response(401, to_tag=secrets.token_hex(4))
        nonce = secrets.token_hex(16)
        self.nonces[nonce] = 0
        for alg in self.algorithms:
            value = (
                f'Digest realm={quote(self.realm)}, nonce="{nonce}", qop="auth", algorithm={alg}'
            )
            if stale:
                value += ", stale=true"
            resp.add("WWW-Authenticate", value)
        return resp

    def handle(self, req: Request) -> Response:
        self.requests += 1
        if req.method != "REGISTER":
            return req.response(405, headers=[("Allow", "REGISTER")])
        auth = req.get("Authorization")
        if auth is None:
            return self._challenge(req)
        (answer,) = parse_challenges(auth)  # same grammar as a challenge
        p = answer.params
        nonce = p.get("nonce", "")
        if nonce not in self.nonces:
            return self._challenge(req, stale=True)
        uses = self.nonces[nonce] = self.nonces[nonce] + 1
        if self.stale_after is not None and uses > self.stale_after:
            del self.nonces[nonce]
            return self._challenge(req, stale=True)
        user = p.get("username", "")
        password = self.passwords.get(user)
        alg = p.get("algorithm", "MD5").upper()
        H = ALGORITHMS.get(alg)
        if password is None or H is None:
            return req.response(403, "Forbidden")

        def h(s: str) -> str:
            return H(s.encode())

        ha1 = h(f"{user}:{self.realm}:{password}")
        ha2 = h(f"REGISTER:{p.get('uri', '')}")
        expected = h(
            f"{ha1}:{nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:{p.get('qop', '')}:{ha2}"
        )
        if p.get("response") != expected:
            return self._challenge(req)
        aor_user = req.to.uri.user_decoded if hasattr(req.to.uri, "user_decoded") else None
        if aor_user != user:
            return req.response(403, "Auth user != To user")
        expires = req.expires if req.expires is not None else 3600
        if 0 < expires < self.min_expires:
            resp = req.response(423, to_tag=secrets.token_hex(4))
            resp.add("Min-Expires", str(self.min_expires))
            return resp
        binding = self.bindings.setdefault(user, {})
        for c in req.contacts:
            key = str(c.uri)
            if expires == 0:
                binding.pop(key, None)
            else:
                binding[key] = expires
        resp = req.response(200, to_tag=secrets.token_hex(4))
        for uri, exp in binding.items():
            resp.add("Contact", f"<{uri}>;expires={exp}")
        return resp


def md5_hex(text: str) -> str:  # pragma: no cover - convenience for ad-hoc checks
    return hashlib.md5(text.encode()).hexdigest()
