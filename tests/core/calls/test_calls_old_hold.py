"""Issue 8: hold from the SIP side in the forms baresip cannot send, with SIPp as the caller.

SIPp (scenario ``old_hold.xml``) calls a session's user; aiortc plays the browser and answers.
SIPp then holds in the RFC 2543 form (re-INVITE with ``c=IN IP4 0.0.0.0``, RFC 3264 §8.4),
resumes by re-INVITE, holds and resumes by UPDATE (RFC 3311) with ``a=sendonly`` /
``a=sendrecv``, and hangs up. The page must see HOLD and ESTABLISHED in that order, and SIPp
every 200 it expects (its exit code 0).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import open_websocket_url

from tests.core.calls.test_calls_sipp_aiortc import aiortc, connect, receive, sipp
from tests.support.ports import free_port
from tests.support.serve import running_server
from tests.support.sipp import SCENARIOS

pytestmark = pytest.mark.peers

STATUS_MESSAGES = ("notifyTryingResponse", "ring", "talk", "hold", "finish")


def answers(trace: str, method: str) -> list[str]:
    """The bodies of the 200 OKs SIPp received for ``method`` requests, in order."""
    bodies = []
    for text in re.findall(r"message received \[\d+\] bytes :\n\n(.*?)(?=\n-{10,}|\Z)", trace, re.S):
        if text.startswith("SIP/2.0 200") and re.search(rf"^CSeq:\s*\d+ {method}\s*$", text, re.M | re.I):
            bodies.append(text.split("\n\n", 1)[1] if "\n\n" in text else "")
    return bodies


def direction(sdp: str) -> str:
    found = re.findall(r"^a=(sendrecv|sendonly|recvonly|inactive)\s*$", sdp, re.M)
    return found[0] if found else "sendrecv"  # RFC 3264 §5.1: none means sendrecv


async def test_old_style_hold_and_update_hold_reach_the_page_in_order(tmp_path: Path) -> None:
    async with running_server(tmp_path, ["admin_token=t0ken"]) as server, \
            open_websocket_url(server.ws_url) as ws:
        await connect(server, ws, "127.0.0.1")
        async with aiortc("--answer", "active", "--seconds", "30", "--no-video") as browser, \
                sipp(tmp_path, f"127.0.0.1:{server.sip_port}", "-sf", str(SCENARIOS / "old_hold.xml"),
                     "-s", "alice", "-p", str(free_port()), "-trace_msg") as caller:
            seen: list[dict[str, Any]] = []
            offer = await receive(ws, "setRemoteSDP", seen)
            call_id = offer["data"][0]
            await receive(ws, "notifyIncomingCall", seen)
            await browser.write({"offer": offer["data"][1]})
            answer = (await browser.read())["answer"]
            await ws.send_message(json.dumps({"message": "answer", "data": [{
                "callId": call_id, "incoming": True, "sdp": answer, "hasAudio": True}]}))
            await receive(ws, "finish", seen)  # after the holds and resumes, SIPp's BYE
            with trio.fail_after(10):
                await caller.wait()
            trace = "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("*_messages.log"))
            assert caller.returncode == 0, trace[-6000:]
    statuses = [(m["message"], m["data"][0]["status"]) for m in seen
                if m["message"] in STATUS_MESSAGES and m["data"][0].get("callId") == call_id]
    assert statuses == [
        ("ring", "RING"), ("talk", "ESTABLISHED"),
        ("hold", "HOLD"), ("talk", "ESTABLISHED"),  # re-INVITE c=0.0.0.0, then back
        ("hold", "HOLD"), ("talk", "ESTABLISHED"),  # UPDATE sendonly, then sendrecv
        ("finish", "FINISH"),
    ], seen
    # RFC 3264 §6.1: a sendonly offer is answered recvonly, a sendrecv one sendrecv. The
    # answer to the old form keeps a real address (§8.4 puts 0.0.0.0 only in the holder's SDP).
    invites = answers(trace, "INVITE")
    assert len(invites) == 3, trace[-6000:]
    assert "c=IN IP4 0.0.0.0" not in invites[1] and direction(invites[2]) == "sendrecv", invites
    updates = answers(trace, "UPDATE")
    assert [direction(body) for body in updates] == ["recvonly", "sendrecv"], updates
