"""HTTP Digest authentication for SIP clients (RFC 2617, RFC 7616, RFC 8760).

Answers ``401``/``407`` challenges with ``Authorization`` /
``Proxy-Authorization``. Algorithms MD5, SHA-256 and SHA-512-256 and their
``-sess`` variants, ``qop=auth`` (``auth-int`` when it is the only offer), nonce
counting, ``userhash``. Among several challenges for one realm the strongest
algorithm wins (SHA-512-256 > SHA-256 > MD5, RFC 8760 §2.4).

Passwords live in :class:`Credentials`, whose ``repr`` hides them; nothing in
this module logs.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from .errors import SipError
from .message import Request, Response
from .uri import TOKEN_CHARS, WSP, quote, read_quoted, unquote


def _sha512_256(data: bytes) -> str:
    return hashlib.new("sha512_256", data).hexdigest()


ALGORITHMS: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda b: hashlib.md5(b).hexdigest(),
    "SHA-256": lambda b: hashlib.sha256(b).hexdigest(),
    "SHA-512-256": _sha512_256,
}
#: Higher is preferred.
STRENGTH = {"MD5": 1, "SHA-256": 2, "SHA-512-256": 3}


class AuthError(SipError):
    """A challenge cannot be answered (unknown algorithm/qop, no credentials)."""


class Credentials:
    """A user name and password; never shown by ``repr`` or ``str``."""

    __slots__ = ("_password", "username")

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self._password = password

    @property
    def password(self) -> str:
        return self._password

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<hidden>)"

    __str__ = __repr__


class Challenge:
    """One ``Digest`` challenge from WWW-Authenticate or Proxy-Authenticate."""

    __slots__ = (
        "algorithm",
        "opaque",
        "params",
        "proxy",
        "qop",
        "realm",
        "scheme",
        "stale",
        "userhash",
    )

    def __init__(self, scheme: str, params: dict[str, str], proxy: bool = False) -> None:
        self.scheme = scheme
        self.params = params
        self.proxy = proxy
        self.realm = params.get("realm", "")
        alg = params.get("algorithm", "MD5")
        self.algorithm = alg.upper()
        self.opaque = params.get("opaque")
        self.qop = [q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()]
        self.stale = params.get("stale", "").lower() == "true"
        self.userhash = params.get("userhash", "").lower() == "true"

    @property
    def nonce(self) -> str:
        return self.params.get("nonce", "")

    @property
    def base_algorithm(self) -> str:
        return self.algorithm[:-5] if self.algorithm.endswith("-SESS") else self.algorithm

    @property
    def supported(self) -> bool:
        return (
            self.scheme.lower() == "digest"
            and self.base_algorithm in ALGORITHMS
            and bool(self.nonce)
            and (not self.qop or "auth" in self.qop or "auth-int" in self.qop)
        )

    def __repr__(self) -> str:
        return f"Challenge({self.scheme} realm={self.realm!r} algorithm={self.algorithm} qop={self.qop})"


def parse_challenges(value: str, proxy: bool = False) -> list[Challenge]:
    """Parse a WWW-/Proxy-Authenticate value; it may hold several challenges."""
    out: list[Challenge] = []
    i, n = 0, len(value)
    scheme: str | None = None
    params: dict[str, str] = {}
    while i < n:
        i = _skip(value, i)
        if i >= n:
            break
        j = i
        while j < n and value[j] in TOKEN_CHARS:
            j += 1
        word = value[i:j]
        k = _skip(value, j)
        if word and k < n and value[k] == "=":
            # auth-param
            k = _skip(value, k + 1)
            if k < n and value[k] == '"':
                raw, k = read_quoted(value, k, "challenge")
                params[word.lower()] = unquote(raw)
            else:
                m = k
                while m < n and value[m] not in ", \t":
                    m += 1
                params[word.lower()] = value[k:m]
                k = m
            i = k
        elif word:
            # a scheme token starts a new challenge
            if scheme is not None:
                out.append(Challenge(scheme, params, proxy))
            scheme, params = word, {}
            i = k
        else:
            i = j + 1
        i = _skip(value, i)
        if i < n and value[i] == ",":
            i += 1
    if scheme is not None:
        out.append(Challenge(scheme, params, proxy))
    return out


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in WSP:
        i += 1
    return i


def challenges_of(response: Response) -> list[Challenge]:
    """Every challenge a 401 or 407 carries."""
    if response.status == 407:
        name, proxy = "Proxy-Authenticate", True
    else:
        name, proxy = "WWW-Authenticate", False
    out: list[Challenge] = []
    for v in response.get_all(name):
        out.extend(parse_challenges(v, proxy))
    return out


def choose(challenges: list[Challenge]) -> list[Challenge]:
    """The challenge to answer per realm: the strongest supported algorithm."""
    best: dict[tuple[str, bool], Challenge] = {}
    for ch in challenges:
        if not ch.supported:
            continue
        key = (ch.realm, ch.proxy)
        cur = best.get(key)
        if cur is None or STRENGTH[ch.base_algorithm] > STRENGTH[cur.base_algorithm]:
            best[key] = ch
    return list(best.values())


def digest_response(
    challenge: Challenge,
    credentials: Credentials,
    method: str,
    uri: str,
    *,
    nc: int = 1,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The header value answering ``challenge`` (RFC 7616 §3.4)."""
    if not challenge.supported:
        raise AuthError(f"cannot answer {challenge!r}")
    H = ALGORITHMS[challenge.base_algorithm]

    def h(s: str) -> str:
        return H(s.encode("utf-8"))

    qop = None
    if challenge.qop:
        qop = "auth" if "auth" in challenge.qop else "auth-int"
    if cnonce is None:
        cnonce = secrets.token_hex(12)
    nonce = challenge.nonce
    realm = challenge.realm
    username = credentials.username
    ha1 = h(f"{username}:{realm}:{credentials.password}")
    if challenge.algorithm.endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    a2 = f"{method}:{uri}" if qop != "auth-int" else f"{method}:{uri}:{H(body)}"
    ha2 = h(a2)
    ncs = f"{nc:08x}"
    if qop:
        response = h(f"{ha1}:{nonce}:{ncs}:{cnonce}:{qop}:{ha2}")
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
    shown_user = h(f"{username}:{realm}") if challenge.userhash else username
    parts = [
        f"username={quote(shown_user)}",
        f"realm={quote(realm)}",
        f"nonce={quote(nonce)}",
        f"uri={quote(uri)}",
        f"response={quote(response)}",
    ]
    if "algorithm" in challenge.params:
        parts.append(f"algorithm={challenge.params['algorithm']}")
    if qop:
        parts += [f"cnonce={quote(cnonce)}", f"qop={qop}", f"nc={ncs}"]
    if challenge.opaque is not None:
        parts.append(f"opaque={quote(challenge.opaque)}")
    if challenge.userhash:
        parts.append("userhash=true")
    return "Digest " + ", ".join(parts)


class DigestClient:
    """Answers the challenges of one dialog or registration.

    Keeps the nonce count per nonce (RFC 7616 §3.4: ``nc`` increases with each
    request sent with the same nonce) and remembers the last challenges so
    that later requests can be authorised pre-emptively.
    """

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._nc: dict[str, int] = {}
        self._current: list[Challenge] = []

    def __repr__(self) -> str:
        return f"DigestClient({self.credentials!r})"

    def accept(self, response: Response, *, retried: bool) -> bool:
        """Take the challenges of a 401/407. False when they must not be answered.

        ``retried``: the request that got this response already carried our
        credentials; then only a ``stale=true`` challenge is worth answering
        (anything else means a wrong password).
        """
        chosen = choose(challenges_of(response))
        if not chosen:
            return False
        if retried and not any(ch.stale for ch in chosen):
            # We answered and were challenged again without stale=true: the
            # credentials are wrong (RFC 7616 §3.3). Answering again would loop.
            return False
        self._current = chosen
        return True

    def authorize(self, request: Request) -> None:
        """Add Authorization/Proxy-Authorization for the current challenges."""
        request.remove("Authorization")
        request.remove("Proxy-Authorization")
        uri = str(request.uri)
        for ch in self._current:
            nc = self._nc.get(ch.nonce, 0) + 1
            self._nc[ch.nonce] = nc
            value = digest_response(
                ch, self.credentials, request.method, uri, nc=nc, body=request.body
            )
            request.add("Proxy-Authorization" if ch.proxy else "Authorization", value)

    @property
    def has_challenge(self) -> bool:
        return bool(self._current)
