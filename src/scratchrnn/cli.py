"""Command-line front end: ``scratchrnn COMMAND [options]``. The only module that prints.

Errors a user can cause (bad input, missing files) are reported as one line on stderr with exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


class UsageError(Exception):
    """A problem with what the user asked for; reported as one line, exit status 2."""


def _cmd_gradcheck(args: argparse.Namespace) -> int:
    from .gradcheck import run_matrix

    rows = run_matrix(quick=args.quick)
    worst_ok = True
    print(f"{'config':<58} {'parameter':<20} {'max rel err':>12}  ok")
    for row in rows:
        ok = row["ok"]
        worst_ok &= ok
        print(f"{row['config']:<58} {row['param']:<20} {row['rel_err']:>12.3e}  {'yes' if ok else 'NO'}")
    print(f"{len(rows)} checks, {sum(not r['ok'] for r in rows)} above tolerance")
    return 0 if worst_ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scratchrnn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("gradcheck", help="finite-difference check of every layer x nonlinearity x loss x truncation")
    p.add_argument("--quick", action="store_true", help="a smaller matrix (for smoke tests)")
    p.set_defaults(func=_cmd_gradcheck)
    return parser


def _version() -> str:
    from . import __version__

    return f"scratchrnn {__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"scratchrnn: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scratchrnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
