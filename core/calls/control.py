"""In-call requests: hold and unhold (re-INVITE), blind transfer (REFER), DTMF over SIP INFO.

These run on an established :class:`~wcs_trio.core.calls.call.Call` and its dialog.
RFC 3264 §8.4 (hold), RFC 3515 and RFC 5589 (REFER, NOTIFY with message/sipfrag),
RFC 6086 (INFO); the ``application/dtmf-relay`` body is the de-facto form most PBXs read.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from wcs_trio.core.api.protocol import ProtocolError
from wcs_trio.core.calls import status as notices
from wcs_trio.core.calls.status import CallStatus, Notice
from wcs_trio.core.sdp.errors import SdpError
from wcs_trio.core.sip.auth import Credentials, DigestClient
from wcs_trio.core.sip.dialog import Dialog, DialogState
from wcs_trio.core.sip.errors import SipAccountError
from wcs_trio.core.sip.headers import CSeq
from wcs_trio.core.sip.message import Request, Response
from wcs_trio.core.sip.stack import IncomingRequest
from wcs_trio.core.sip.uri import NameAddr

if TYPE_CHECKING:
    from wcs_trio.core.calls.call import Call

log = logging.getLogger("wcs_trio.calls")

DTMF_DURATION_MS = 160


async def send_in_dialog(call: Call, request: Request, dialog: Dialog | None = None) -> Response:
    """Send an in-dialog request (of ``dialog``, else the call's) and wait for its final
    answer (one digest retry)."""
    from wcs_trio.core.calls.call import next_hop

    dialog = dialog or call.dialog
    assert dialog is not None
    trace = call.session.extensions.get("sip_trace")
    digest = DigestClient(Credentials(call.account.auth_user, call.account.password))
    for attempt in range(2):
        out = await call.stack.start_request(request, next_hop(dialog, call.account), trace=trace)
        response = await out.wait()
        if response.status in (401, 407) and attempt == 0 and digest.accept(response, retried=False):
            request = request.copy()
            request.remove("Via")
            dialog.local_seq = (dialog.local_seq or 0) + 1
            request.set("CSeq", CSeq(dialog.local_seq, request.method))
            digest.authorize(request)
            continue
        dialog.receive_response(request, response)
        if request.method == "INVITE" and 200 <= response.status < 300:
            await call.stack.send_ack(out, dialog.create_ack(request))
        return response
    return response


def _established(call: Call, api_method: str) -> None:
    if call.dialog is None or call.dialog.state is not DialogState.CONFIRMED or call.ended:
        raise ProtocolError("the call is not established", field="callId", api_method=api_method)


async def hold(call: Call, on_hold: bool) -> None:
    """The page's hold/unhold: our re-offer with sendonly (inactive if held already) or sendrecv."""
    api_method = "hold" if on_hold else "unhold"
    _established(call, api_method)
    if on_hold == (call.status is CallStatus.HOLD):
        return  # already there; the page gets its status again below
    offer = call.media.hold_offer(on_hold)
    request = call.dialog.create_request(  # type: ignore[union-attr]
        "INVITE", body=offer.to_bytes(), content_type="application/sdp",
        headers=[("Contact", call.stack.contact_for(call.account.user, call.account.target))])
    for _ in range(2):  # RFC 3261 §14.1: one retry after glare
        response = await send_in_dialog(call, request)
        if response.status != 491:
            break
        await trio.sleep(call.dialog.glare_retry_after(owns_call_id=call.direction == "outgoing"))  # type: ignore[union-attr]
        request = call.dialog.create_request(  # type: ignore[union-attr]
            "INVITE", body=offer.to_bytes(), content_type="application/sdp")
    if not 200 <= response.status < 300:
        await call.session.send("fail", {
            "apiMethod": api_method, "callId": call.call_id, "sipStatus": response.status,
            "sipMessage": response.reason, "info": f"{response.status} {response.reason}"})
        return
    if response.body:
        call.media.reoffer_accepted(offer, response.body)
    bridge = call.media.bridge
    if bridge is not None:
        # The holder's party hears nothing from the holder either: both ways pause, and
        # resume with continuous sequence numbers and timestamps.
        bridge.hold("inactive" if on_hold else "sendrecv")
    await call.notify(Notice("hold", CallStatus.HOLD) if on_hold else notices.established())


async def transfer(call: Call, target: str) -> None:
    """Blind transfer (RFC 5589 §6): REFER the other party to ``target``; NOTIFYs report progress."""
    _established(call, "transfer")
    try:
        refer_to = call.account.uri_for(target)
    except (SipAccountError, ValueError) as error:
        raise ProtocolError(f"target: {error}", field="target", api_method="transfer") from None
    request = call.dialog.create_request("REFER", headers=[  # type: ignore[union-attr]
        ("Refer-To", NameAddr(refer_to)),
        ("Referred-By", NameAddr(call.account.aor)),
        ("Contact", call.stack.contact_for(call.account.user, call.account.target)),
    ])
    response = await send_in_dialog(call, request)
    if 200 <= response.status < 300:
        call.transferring = True
        await transfer_event(call, "ACCEPTED", response.status, response.reason)
    else:
        await transfer_event(call, "FAILED", response.status, response.reason)


async def transfer_event(call: Call, status: str, sip_status: int | None = None, reason: str = "") -> None:
    body: dict[str, object] = {"callId": call.call_id, "status": status}
    if sip_status is not None:
        body.update(sipStatus=sip_status, sipMessage=reason)
    await call.session.send("notifyTransferEvent", body)


async def refer_notify(call: Call, incoming: IncomingRequest) -> None:
    """A NOTIFY about our REFER (RFC 3515 §2.4.5): its sipfrag says how the transfer goes."""
    request = incoming.request
    await incoming.respond(200)
    if not call.transferring or not (request.get("Event") or "").lower().startswith("refer"):
        return
    line = request.body.decode("utf-8", "replace").split("\r\n", 1)[0].split("\n", 1)[0]
    parts = line.split(" ", 2)
    try:
        code = int(parts[1])
    except (IndexError, ValueError):
        return
    reason = parts[2] if len(parts) > 2 else ""
    if code < 200:
        await transfer_event(call, "TRYING", code, reason)
        return
    call.transferring = False
    if code < 300:
        await transfer_event(call, "COMPLETED", code, reason)
        await call.hangup("Transferred")  # RFC 5589 §6: the transferor leaves the call
    else:
        await transfer_event(call, "FAILED", code, reason)


async def send_info_dtmf(call: Call, digits: str, content_type: str) -> None:
    """DTMF as SIP INFO, one request per digit (``application/dtmf-relay`` or ``application/dtmf``)."""
    _established(call, "sendDtmf")
    for digit in digits:
        if content_type == "application/dtmf-relay":
            body = f"Signal={digit}\r\nDuration={DTMF_DURATION_MS}\r\n".encode()
        else:
            body = digit.encode()
        request = call.dialog.create_request("INFO", body=body, content_type=content_type)  # type: ignore[union-attr]
        response = await send_in_dialog(call, request)
        if not 200 <= response.status < 300:
            await call.session.send("fail", {
                "apiMethod": "sendDtmf", "callId": call.call_id, "sipStatus": response.status,
                "sipMessage": response.reason, "info": f"INFO: {response.status} {response.reason}"})
            return


def info_digits(request: Request) -> str:
    """The digits of an INFO carrying DTMF, in either common form; '' when it carries none."""
    ctype = (request.content_type or "").lower()
    text = request.body.decode("utf-8", "replace")
    if ctype == "application/dtmf-relay":
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal":
                return value.strip()[:1].upper()
        return ""
    if ctype == "application/dtmf":
        return text.strip()[:1].upper()
    return ""


async def refer_received(call: Call, incoming: IncomingRequest) -> None:
    """A REFER from the SIP side (RFC 3515, RFC 5589 §6): call the target for the browser.

    The transferor gets 202 and a NOTIFY "100 Trying"; the gateway sends a new INVITE to the
    Refer-To target, with Referred-By, carrying the SDP of our SIP streams (same ports), so
    the browser's WebRTC leg is kept and sees one call continuing. On a 2xx the call's dialog
    becomes the new one, the bridge follows the target's answer, the transferor gets NOTIFY
    "200 OK" and a BYE. A failure is reported in the final NOTIFY and the old call goes on.
    """
    request = incoming.request
    old = call.dialog
    assert old is not None
    refer_to = (request.get("Refer-To") or "").strip()
    target_text = refer_to[1:refer_to.find(">")] if refer_to.startswith("<") else refer_to.split(";", 1)[0]
    target_text = target_text.split("?", 1)[0]  # URI headers (Replaces: attended) are not supported
    try:
        target = call.account.uri_for(target_text)
    except (SipAccountError, ValueError):
        target = None
    if target is None or call.status is not CallStatus.ESTABLISHED or call.transferring:
        response = incoming.response(400 if target is None else 491, "Bad Refer-To" if target is None else None)
        old.sent_response(request, response)
        await incoming.respond(response)
        return
    call.transferring = True
    response = incoming.response(202, "Accepted", headers=[
        ("Contact", call.stack.contact_for(call.account.user, call.account.target))])
    old.sent_response(request, response)
    await incoming.respond(response)
    try:
        await _sipfrag_notify(call, old, 100, "Trying", final=False)
        status, reason, new = await _invite_target(call, target, request.get("Referred-By") or "")
        await _sipfrag_notify(call, old, status, reason, final=True)
    finally:
        call.transferring = False
    if new is None:
        return
    if old.state is DialogState.CONFIRMED:
        bye = old.create_request("BYE")
        with trio.move_on_after(2.0):
            await send_in_dialog(call, bye, old)
    call.stack.remove_dialog(old)
    old.terminate()


async def _sipfrag_notify(call: Call, dialog: Dialog, code: int, reason: str, *, final: bool) -> None:
    """RFC 3515 §2.4.4: the implicit subscription's NOTIFY with a message/sipfrag body."""
    state = "terminated;reason=noresource" if final else "active;expires=60"
    notify = dialog.create_request(
        "NOTIFY", body=f"SIP/2.0 {code} {reason}\r\n".encode(), content_type="message/sipfrag;version=2.0",
        headers=[("Event", "refer"), ("Subscription-State", state),
                 ("Contact", call.stack.contact_for(call.account.user, call.account.target))])
    with trio.move_on_after(2.0):
        await send_in_dialog(call, notify, dialog)


async def _invite_target(call: Call, target: object, referred_by: str) -> tuple[int, str, Dialog | None]:
    """INVITE the Refer-To target with our SIP streams and the call's codec; on a 2xx ACK
    it, check its answer and adopt its dialog. The final status and reason go in the
    transferor's last NOTIFY."""
    offer = call.media.transfer_offer()
    request = call.build_invite(target, offer.to_bytes())
    if referred_by:
        request.add("Referred-By", referred_by)
    digest = DigestClient(Credentials(call.account.auth_user, call.account.password))
    trace = call.session.extensions.get("sip_trace")
    for attempt in range(2):
        out = await call.stack.start_request(request, call.account.target, trace=trace)
        with trio.move_on_after(60):
            await out.done.wait()
        if not out.done.is_set():
            await out.cancel()
        response = await out.wait()
        if response.status in (401, 407) and attempt == 0 and digest.accept(response, retried=False):
            request = request.copy()
            request.remove("Via")
            request.set("CSeq", CSeq(request.cseq.seq + 1, "INVITE"))
            digest.authorize(request)
            continue
        break
    if not 200 <= response.status < 300:
        return response.status, response.reason, None
    new = Dialog.from_uac(request, response)
    await call.stack.send_ack(out, new.create_ack(request))
    try:
        if not response.body:
            raise SdpError("the transfer target's 2xx has no SDP answer")
        call.media.transfer_answered(offer, response.body)
    except (SdpError, ValueError) as error:
        # RFC 3261 §13.2.2.4: an unusable answer in a 2xx is ended with a BYE; the old
        # call goes on, and the transferor hears why.
        log.info("transfer target's answer refused: %s", error, extra={"call": call.call_id})
        with trio.move_on_after(2.0):
            await send_in_dialog(call, new.create_request("BYE"), new)
        return 488, "Not Acceptable Here", None
    call.replace_dialog(new, request)
    return response.status, response.reason, new
