"""``wcs-trio ops``: inspect a running server through its admin API."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="wcs-trio ops", description="inspect a running wcs-trio")
    parser.add_argument("--server", default=os.environ.get("WCS_TRIO_ADMIN", "http://127.0.0.1:9091"),
                        help="admin base URL (env WCS_TRIO_ADMIN)")
    parser.add_argument("--token", default=os.environ.get("WCS_TRIO_TOKEN", ""),
                        help="admin token (env WCS_TRIO_TOKEN)")
    commands = parser.add_subparsers(dest="what", required=True)
    commands.add_parser("snapshot", help="print the state world as JSON")
    args = parser.parse_args(argv)
    request = urllib.request.Request(f"{args.server.rstrip('/')}/api/snapshot",
                                     headers={"Authorization": f"Bearer {args.token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            print(json.dumps(json.load(response), indent=2, sort_keys=True))
    except urllib.error.HTTPError as error:
        print(f"wcs-trio ops: {error.code} {error.read().decode(errors='replace').strip()}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"wcs-trio ops: cannot reach {args.server}: {error}", file=sys.stderr)
        return 1
    return 0
