"""``wcs-trio ops``: inspect and act on a running server through its admin API.

    wcs-trio ops sessions              sessions, their SIP login, registration and calls
    wcs-trio ops calls                 calls with status, codec plan and media counters
    wcs-trio ops call CALL_ID          one call in full (JSON)
    wcs-trio ops trace SESSION_ID      the session's SIP messages, oldest first
    wcs-trio ops hangup CALL_ID        hang a call up (BYE/CANCEL as its state requires)
    wcs-trio ops snapshot              the whole state world (JSON)

The server is ``--server`` (env WCS_TRIO_ADMIN, default http://127.0.0.1:9091) and the
token ``--token`` (env WCS_TRIO_TOKEN): the server's ``admin_token``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any


class OpsError(Exception):
    """The server could not be reached or refused the request; the message says why."""


def _request(server: str, token: str, path: str, method: str = "GET") -> Any:
    request = urllib.request.Request(f"{server.rstrip('/')}/api/{path}", method=method,
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise OpsError(f"{error.code} {error.read().decode(errors='replace').strip()}") from None
    except OSError as error:
        raise OpsError(f"cannot reach {server}: {error}") from None


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=False)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines)


def _sessions(data: list[dict[str, Any]]) -> str:
    rows = []
    for s in data:
        registration = (s.get("registration") or {}).get("status") or "-"
        rows.append([s["session_id"], s["remote"], s["status"], s.get("sip_login") or "-",
                     registration, str(len(s["calls"]))])
    return _table(rows, ["SESSION", "REMOTE", "STATUS", "SIP LOGIN", "REGISTRATION", "CALLS"])


def _calls(data: list[dict[str, Any]]) -> str:
    rows = []
    for c in data:
        stats = c.get("stats") or {}
        packets = "/".join(str(stats.get(f"{leg}.audio", {}).get("packets_received", 0))
                            for leg in ("browser", "sip"))
        rows.append([c["call_id"], c["session_id"] or "-", c["direction"], c["caller"], c["callee"],
                     c["status"], packets])
    return _table(rows, ["CALL", "SESSION", "DIRECTION", "CALLER", "CALLEE", "STATUS",
                         "AUDIO PKTS IN (browser/sip)"])


def _trace(data: list[dict[str, Any]]) -> str:
    out = []
    for entry in data:
        arrow = "<-" if entry["direction"] == "in" else "->"
        out.append(f"{entry['time']:.3f} {arrow} {entry['transport']} {entry['remote']}\n{entry['text']}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="wcs-trio ops", description="inspect a running wcs-trio")
    parser.add_argument("--server", default=os.environ.get("WCS_TRIO_ADMIN", "http://127.0.0.1:9091"),
                        help="admin base URL (env WCS_TRIO_ADMIN)")
    parser.add_argument("--token", default=os.environ.get("WCS_TRIO_TOKEN", ""),
                        help="admin token (env WCS_TRIO_TOKEN)")
    commands = parser.add_subparsers(dest="what", required=True)
    commands.add_parser("sessions", help="list sessions")
    commands.add_parser("calls", help="list calls")
    commands.add_parser("call", help="one call in full").add_argument("call_id")
    commands.add_parser("trace", help="a session's SIP messages").add_argument("session_id")
    commands.add_parser("hangup", help="hang a call up").add_argument("call_id")
    commands.add_parser("snapshot", help="the state world as JSON")
    args = parser.parse_args(argv)
    try:
        if args.what == "sessions":
            print(_sessions(_request(args.server, args.token, "sessions")))
        elif args.what == "calls":
            print(_calls(_request(args.server, args.token, "calls")))
        elif args.what == "call":
            print(json.dumps(_request(args.server, args.token, f"calls/{args.call_id}"), indent=2))
        elif args.what == "trace":
            print(_trace(_request(args.server, args.token, f"sessions/{args.session_id}/trace")))
        elif args.what == "hangup":
            print(json.dumps(_request(args.server, args.token, f"calls/{args.call_id}/hangup", "POST")))
        else:
            print(json.dumps(_request(args.server, args.token, "snapshot"), indent=2, sort_keys=True))
    except OpsError as error:
        print(f"wcs-trio ops: {error}", file=sys.stderr)
        return 1
    return 0
