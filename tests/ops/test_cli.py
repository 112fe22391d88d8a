"""`wcs-trio ops` against a running gateway with a live call (aiortc as the browser, SIPp as
the SIP device): list sessions and calls, read the SIP trace, hang the call up."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import open_websocket_url

from tests.core.calls.test_calls_sipp_aiortc import aiortc, connect, receive, sipp
from tests.support.ports import free_port
from tests.support.serve import Server, running_server

pytestmark = pytest.mark.peers
TOKEN = "ops-t0ken"


async def ops(server: Server, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "wcs_trio.core", "ops", "--server", server.http_url,
               "--token", token, *args]
    return await trio.to_thread.run_sync(
        lambda: subprocess.run(command, capture_output=True, text=True, timeout=20))


async def test_ops_lists_traces_and_hangs_up_a_live_call(tmp_path: Path) -> None:
    sipp_port = free_port()
    async with sipp(tmp_path, "-sn", "uas", "-p", str(sipp_port)) as callee, \
            running_server(tmp_path, [f"admin_token={TOKEN}"]) as server, \
            aiortc("--seconds", "8", "--no-video") as browser, \
            open_websocket_url(server.ws_url) as ws:
        await connect(server, ws, f"127.0.0.1:{sipp_port}")
        offer = (await browser.read())["offer"]
        await ws.send_message(json.dumps({"message": "call", "data": [{
            "callId": "ops-call", "callee": "service", "sdp": offer, "hasAudio": True}]}))
        seen: list[dict[str, Any]] = []
        await browser.write({"answer": (await receive(ws, "setRemoteSDP", seen))["data"][1]})
        await receive(ws, "talk", seen)
        await trio.sleep(2.5)  # media counters are sampled every second

        sessions = await ops(server, "sessions")
        assert sessions.returncode == 0, sessions.stderr
        header, row = sessions.stdout.splitlines()
        assert header.split()[:3] == ["SESSION", "REMOTE", "STATUS"]
        session_id = row.split()[0]
        assert "alice" in row and row.split()[-1] == "1"

        calls = await ops(server, "calls")
        assert "ops-call" in calls.stdout and "ESTABLISHED" in calls.stdout and "outgoing" in calls.stdout
        detail = json.loads((await ops(server, "call", "ops-call")).stdout)
        assert detail["plan"]["media"][0]["kind"] == "audio"
        assert detail["stats"]["browser.audio"]["packets_received"] > 20  # live counters from the bridge

        trace = await ops(server, "trace", session_id)
        assert "INVITE sip:service@" in trace.stdout and "SIP/2.0 200 OK" in trace.stdout

        denied = await ops(server, "calls", token="wrong")
        assert denied.returncode == 1 and "401" in denied.stderr
        missing = await ops(server, "hangup", "no-such-call")
        assert missing.returncode == 1 and "404" in missing.stderr

        hung = await ops(server, "hangup", "ops-call")
        assert hung.returncode == 0, hung.stderr
        finish = (await receive(ws, "finish", seen))["data"][0]
        assert finish["status"] == "FINISH" and finish["info"] == "Hung up by the operator"
        with trio.fail_after(5):
            await callee.wait()
        assert callee.returncode == 0  # SIPp got our BYE and answered it
        assert "ops-call" not in (await ops(server, "calls")).stdout
