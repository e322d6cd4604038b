"""Run every ``benchmarks/bench_*.py`` module's ``main()`` in turn, in one process.

``--quick`` is passed through to each benchmark; ``--only NAME`` (repeatable) picks modules by name,
e.g. ``--only bench_rnn``. The matmul peak and the thread setup are measured once and shared,
because every module uses the same ``common`` helpers.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Names of the benchmark modules next to this file, sorted."""
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="run_all", description="Run every benchmarks/bench_*.py.")
    parser.add_argument("--quick", action="store_true", help="few repeats: for checking that everything runs")
    parser.add_argument("--only", action="append", default=None, metavar="NAME", help="run only this module")
    args = parser.parse_args(argv)
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    names = discover()
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; available: {names}")
        names = [n for n in names if n in args.only]
    forwarded = ["--quick"] if args.quick else []
    failed = []
    for name in names:
        print(f"\n== {name} {' '.join(forwarded)}".rstrip(), flush=True)
        t0 = time.perf_counter()
        module = importlib.import_module(name)
        try:
            module.main(forwarded)
        except Exception as exc:  # one broken benchmark should not hide the others' results
            failed.append(name)
            print(f"{name} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        print(f"({name} took {time.perf_counter() - t0:.0f} s)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
