"""The ``wcs-trio`` command: ``serve``, ``ops`` and ``--version``."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wcs-trio", description="WebRTC-to-SIP gateway")
    parser.add_argument("--version", action="version", version=f"wcs-trio {version('wcs-trio')}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", metavar="FILE", help="properties file (key=value lines)")
    serve.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                       help="override one key (repeatable)")
    serve.add_argument("--list-keys", action="store_true",
                       help="print every configuration key with its default, and exit")
    commands.add_parser("ops", help="inspect and act on a running server (wcs-trio ops -h)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ops"]:
        # Everything after "ops" is the ops CLI's own (argparse's REMAINDER drops leading options).
        from wcs_trio.ops.cli import main as ops_main

        return ops_main(argv[1:])
    args = _parser().parse_args(argv)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    from wcs_trio.core.config import ConfigError, describe_keys, load_settings

    if args.list_keys:
        print(describe_keys(), end="")
        return 0
    try:
        settings = load_settings(args.config, args.set)
    except ConfigError as error:
        print(f"wcs-trio: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG

    import trio

    from wcs_trio.core.logs import setup_logging
    from wcs_trio.core.server import serve

    setup_logging(settings.log_level)
    try:
        trio.run(serve, settings)
    except OSError as error:
        print(f"wcs-trio: cannot start: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
