"""``python -m scratchrnn COMMAND``: the command line, with SIGINT and SIGTERM taken first.

The signals are taken on the first lines, before anything heavy is imported, so an interrupt during
start-up ends the process quietly with status 130 (SIGINT) or 143 (SIGTERM) instead of a
traceback; once the command is done they go back to their defaults, so one that comes during the
exit ends it at once.
"""

from __future__ import annotations

import _signal  # the C module under `signal`: taken before `signal`'s enum imports (about 12 ms)
import sys


def _quiet_exit(signum, frame):
    raise SystemExit(128 + signum)  # until the guard below takes over: nothing to save yet


if __name__ == "__main__":  # run as a program: imported, the module leaves the handlers alone
    for _number in (_signal.SIGINT, _signal.SIGTERM):
        _signal.signal(_number, _quiet_exit)

from .runs import SIGNAL_GUARD, Interrupted  # noqa: E402 - after the signals are taken

__all__ = ["main"]


def main(argv: list[str] | None = None, after=None) -> int:
    """Run ``scratchrnn.cli.main`` with the signals in hand; returns the exit status.

    ``after``: the handler SIGINT and SIGTERM get when it returns (None: the ones they had).
    """
    try:
        with SIGNAL_GUARD.installed(then=after):
            from .cli import main as cli_main

            return cli_main(argv)
    except Interrupted as exc:
        return exc.status
    except ImportError:
        # a signal inside an extension's initialisation (numpy's) leaves as that module's
        # ImportError, not as the Interrupted its handler raised
        if SIGNAL_GUARD.received is not None:
            return 128 + SIGNAL_GUARD.received
        raise


if __name__ == "__main__":
    sys.exit(main(after=_signal.SIG_DFL))
