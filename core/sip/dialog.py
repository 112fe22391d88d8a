"""SIP dialogs (RFC 3261 §12, §13.2.2.4, §14), sans-IO.

A :class:`Dialog` holds the state both ends keep: the dialog id (Call-ID and
tags), local and remote CSeq, remote target and route set. It builds the
in-dialog requests (BYE, re-INVITE, UPDATE, INFO, REFER, NOTIFY, OPTIONS and
the ACK for a 2xx) and checks the ones that arrive. It sends nothing itself.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable
from enum import Enum

from .headers import CSeq
from .message import Request, Response
from .uri import NameAddr, SipUri, Uri

#: Methods whose requests and 2xx responses refresh the remote target (§12.2, RFC 3311, RFC 6665).
TARGET_REFRESH = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})


class DialogState(Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def new_tag() -> str:
    return secrets.token_hex(6)


class Dialog:
    """One dialog, from the point of view of this user agent."""

    def __init__(
        self,
        *,
        call_id: str,
        local_tag: str,
        remote_tag: str,
        local_uri: NameAddr,
        remote_uri: NameAddr,
        remote_target: Uri,
        route_set: list[NameAddr],
        local_seq: int | None,
        remote_seq: int | None,
        is_uac: bool,
        state: DialogState,
        local_contact: NameAddr | None = None,
        secure: bool = False,
    ) -> None:
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.local_uri = local_uri
        self.remote_uri = remote_uri
        self.remote_target = remote_target
        self.route_set = route_set
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.is_uac = is_uac
        self.state = state
        self.local_contact = local_contact
        self.secure = secure
        #: an INVITE or UPDATE we sent is waiting for its final response
        self.client_offer_pending = False
        #: an INVITE we received is waiting for our final response
        self.server_invite_pending = False
        self.last_invite_cseq: int | None = None

    # -- identity -------------------------------------------------------------
    @property
    def id(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)

    def __repr__(self) -> str:
        role = "UAC" if self.is_uac else "UAS"
        return (
            f"<Dialog {role} {self.state.value} {self.call_id} {self.local_tag}/{self.remote_tag}>"
        )

    @staticmethod
    def id_of_request(req: Request) -> tuple[str, str | None, str | None]:
        """The id of the dialog an incoming request belongs to (UAS view)."""
        return (req.call_id, req.to.tag, req.from_.tag)

    @staticmethod
    def id_of_response(resp: Response) -> tuple[str, str | None, str | None]:
        """The id of the dialog an incoming response belongs to (UAC view)."""
        return (resp.call_id, resp.from_.tag, resp.to.tag)

    # -- creation ---------------------------------------------------------------
    @classmethod
    def from_uac(
        cls, request: Request, response: Response, local_contact: NameAddr | None = None
    ) -> Dialog:
        """§12.1.2: the dialog a 1xx (with To tag) or 2xx to our request creates."""
        if response.to.tag is None:
            raise ValueError("a response without To tag creates no dialog")
        contacts = response.contacts
        target = contacts[0].uri if contacts else request.uri
        return cls(
            call_id=request.call_id,
            local_tag=request.from_.tag or "",
            remote_tag=response.to.tag,
            local_uri=_strip_tag(request.from_),
            remote_uri=_strip_tag(response.to),
            remote_target=target.copy(),
            route_set=[r.copy() for r in reversed(response.record_routes)],
            local_seq=request.cseq.seq,
            remote_seq=None,
            is_uac=True,
            state=DialogState.CONFIRMED if 200 <= response.status < 300 else DialogState.EARLY,
            local_contact=local_contact or (request.contacts[0] if request.contacts else None),
            secure=request.uri.scheme == "sips",
        )

    @classmethod
    def from_uas(
        cls, request: Request, response: Response, local_contact: NameAddr | None = None
    ) -> Dialog:
        """§12.1.1: the dialog our 1xx/2xx (carrying our To tag) creates."""
        if response.to.tag is None:
            raise ValueError("the response needs our To tag")
        contacts = request.contacts
        target = contacts[0].uri if contacts else request.from_.uri
        return cls(
            call_id=request.call_id,
            local_tag=response.to.tag,
            remote_tag=request.from_.tag or "",
            local_uri=_strip_tag(request.to),
            remote_uri=_strip_tag(request.from_),
            remote_target=target.copy(),
            route_set=[r.copy() for r in request.record_routes],
            local_seq=None,
            remote_seq=request.cseq.seq,
            is_uac=False,
            state=DialogState.CONFIRMED if 200 <= response.status < 300 else DialogState.EARLY,
            local_contact=local_contact or (response.contacts[0] if response.contacts else None),
            secure=request.uri.scheme == "sips",
        )

    # -- requests we send ---------------------------------------------------------
    def _next_seq(self) -> int:
        if self.local_seq is None:
            # §12.2.1.1: empty local sequence number: start anywhere below 2**31
            self.local_seq = random.randint(1, 2**20)
        else:
            self.local_seq += 1
        return self.local_seq

    def _base(self, method: str, seq: int) -> Request:
        uri, routes = self._request_uri_and_routes()
        req = Request(method, uri)
        for r in routes:
            req.add("Route", r)
        req.add("Max-Forwards", "70")
        frm = self.local_uri.copy()
        frm.tag = self.local_tag
        to = self.remote_uri.copy()
        to.tag = self.remote_tag
        req.add("From", frm)
        req.add("To", to)
        req.add("Call-ID", self.call_id)
        req.add("CSeq", CSeq(seq, method))
        return req

    def _request_uri_and_routes(self) -> tuple[Uri, list[NameAddr]]:
        """§12.2.1.1: loose routing when the first route has ``lr``, else strict."""
        if not self.route_set:
            return self.remote_target.copy(), []
        first = self.route_set[0]
        if isinstance(first.uri, SipUri) and first.uri.lr:
            return self.remote_target.copy(), [r.copy() for r in self.route_set]
        # strict router: it becomes the Request-URI, the remote target the last route
        uri = first.uri.copy()
        if isinstance(uri, SipUri):
            for p in ("method", "maddr", "ttl", "transport", "lr"):
                uri.params.pop(p, None)
            uri.headers = None
        return uri, [r.copy() for r in self.route_set[1:]] + [NameAddr(self.remote_target.copy())]

    def create_request(
        self,
        method: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Iterable[tuple[str, object]] = (),
    ) -> Request:
        """A new in-dialog request (BYE, INVITE, UPDATE, INFO, REFER, NOTIFY, OPTIONS...)."""
        if method in ("ACK", "CANCEL"):
            raise ValueError(f"{method} is built with create_ack or the transaction layer")
        if self.state is DialogState.TERMINATED:
            raise ValueError("the dialog is terminated")
        req = self._base(method, self._next_seq())
        if method in TARGET_REFRESH and self.local_contact is not None:
            req.add("Contact", self.local_contact)
        for name, value in headers:
            req.add(name, value)
        if body:
            req.body = body
            if content_type:
                req.add("Content-Type", content_type)
        if method == "INVITE":
            self.last_invite_cseq = req.cseq.seq
        if method in ("INVITE", "UPDATE"):
            self.client_offer_pending = True
        return req

    def create_ack(
        self, invite: Request, *, body: bytes = b"", content_type: str | None = None
    ) -> Request:
        """The ACK for a 2xx to ``invite`` (§13.2.2.4): same CSeq number, same credentials."""
        ack = self._base("ACK", invite.cseq.seq)
        for name in ("Authorization", "Proxy-Authorization"):
            for v in invite.get_all(name):
                ack.add(name, v)
        if body:
            ack.body = body
            if content_type:
                ack.add("Content-Type", content_type)
        return ack

    # -- what arrives -------------------------------------------------------------
    def receive_request(self, request: Request) -> int | None:
        """Check and apply an in-dialog request (§12.2.2).

        Returns ``None`` when it may proceed, else the status to answer:
        500 for an out-of-order CSeq, 491 for an INVITE/UPDATE while our own
        offer is pending (glare, §14.2), 500 for an INVITE while we still
        answer the previous one.
        """
        method = request.method
        if method in ("ACK", "CANCEL"):
            return None
        seq = request.cseq.seq
        if self.remote_seq is not None and seq <= self.remote_seq:
            return 500
        if method in ("INVITE", "UPDATE"):
            if self.client_offer_pending:
                return 491
            if method == "INVITE" and self.server_invite_pending:
                return 500
        self.remote_seq = seq
        if method in TARGET_REFRESH:
            contacts = request.contacts
            if contacts and contacts[0].uri is not None:
                self.remote_target = contacts[0].uri.copy()
        if method == "INVITE":
            self.server_invite_pending = True
        return None

    def sent_response(self, request: Request, response: Response) -> None:
        """Note our final answer to an in-dialog request."""
        if response.status >= 200 and request.method == "INVITE":
            self.server_invite_pending = False
        if request.method == "BYE" and 200 <= response.status < 300:
            self.state = DialogState.TERMINATED

    def receive_response(self, request: Request, response: Response) -> None:
        """Apply a response to a request we sent in this dialog."""
        status = response.status
        if status >= 200 and request.method in ("INVITE", "UPDATE"):
            self.client_offer_pending = False
        if status in (408, 481):
            # §12.2.1.2: the dialog is gone
            self.state = DialogState.TERMINATED
            return
        if 200 <= status < 300:
            if request.method == "BYE":
                self.state = DialogState.TERMINATED
                return
            if self.state is DialogState.EARLY and request.method == "INVITE":
                self.state = DialogState.CONFIRMED
                self.route_set = [r.copy() for r in reversed(response.record_routes)]
            if request.method in TARGET_REFRESH:
                contacts = response.contacts
                if contacts and contacts[0].uri is not None:
                    self.remote_target = contacts[0].uri.copy()
        elif status < 200 and self.state is DialogState.EARLY:
            contacts = response.contacts
            if contacts and contacts[0].uri is not None:
                self.remote_target = contacts[0].uri.copy()
        elif status >= 300 and request.method == "INVITE" and self.state is DialogState.EARLY:
            self.state = DialogState.TERMINATED

    def terminate(self) -> None:
        self.state = DialogState.TERMINATED

    # -- glare --------------------------------------------------------------------
    def glare_retry_after(
        self, owns_call_id: bool | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retrying after a 491 (§14.1).

        The owner of the Call-ID (the UA that generated it: the UAC of the
        dialog by default) waits 2.1-4 s, the other 0-2 s, in 10 ms units.
        """
        r = rng or random
        owner = self.is_uac if owns_call_id is None else owns_call_id
        if owner:
            return r.randint(210, 400) / 100
        return r.randint(0, 200) / 100


def _strip_tag(na: NameAddr) -> NameAddr:
    out = na.copy()
    out.params.pop("tag", None)
    return out


class DialogTable:
    """The dialogs of one endpoint, found by the id of what arrives."""

    def __init__(self) -> None:
        self._dialogs: dict[tuple[str, str, str], Dialog] = {}

    def add(self, dialog: Dialog) -> None:
        self._dialogs[dialog.id] = dialog

    def remove(self, dialog: Dialog) -> None:
        if self._dialogs.get(dialog.id) is dialog:
            del self._dialogs[dialog.id]

    def for_request(self, request: Request) -> Dialog | None:
        call_id, local, remote = Dialog.id_of_request(request)
        if local is None or remote is None:
            return None
        return self._dialogs.get((call_id, local, remote))

    def for_response(self, response: Response) -> Dialog | None:
        call_id, local, remote = Dialog.id_of_response(response)
        if local is None or remote is None:
            return None
        return self._dialogs.get((call_id, local, remote))

    def __len__(self) -> int:
        return len(self._dialogs)

    def __iter__(self):
        return iter(list(self._dialogs.values()))
