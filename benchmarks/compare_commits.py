"""Compare two commits' benchmark rows, interleaved: A, B, A, B, ... on the same machine.

    python benchmarks/compare_commits.py OLD NEW [--rounds 4] [--only bench_rnn ...] [--quick]

Each commit is checked out into a temporary git worktree; every round runs ``benchmarks/run_all.py``
of OLD and then of NEW (each commit's own benchmarks, with its own ``src`` first on the path), in
alternation, so that load from other processes falls on both alike. For every row the table shows
the median over the rounds of

* ``time ratio`` = OLD's scratchrnn ms / NEW's scratchrnn ms (above 1: NEW is faster), and
* ``speed-up ratio`` = NEW's speed-up over PyTorch / OLD's, which the PyTorch timings of the same
  run normalise for the machine's load at that moment,

with each round's value beside it. The raw results of every run are written to
``benchmarks/results/compare-OLD-NEW.json``. The worktrees are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _rows(payload: dict) -> dict[str, tuple[float, float]]:
    """Row label -> (scratchrnn median ms, the other side's median ms) of one benchmark's JSON."""
    name = payload.get("benchmark", "")
    if "rows" in payload:
        return {f"{name} {r['label']}": (r["scratchrnn"]["median_ms"], r["torch"]["median_ms"])
                for r in payload["rows"]}
    if "scratchrnn" in payload and "tutorial" in payload:  # bench_addition: one row, against the tutorial
        return {f"{name} task": (payload["scratchrnn"]["timing"]["median_ms"],
                                 payload["tutorial"]["timing"]["median_ms"])}
    return {}


def _run(tree: Path, args: list[str]) -> dict[str, tuple[float, float]]:
    results = tree / "benchmarks" / "results"
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    command = [sys.executable, str(tree / "benchmarks" / "run_all.py"), *args]
    subprocess.run(command, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    rows = {}
    for path in sorted(results.glob("*.json")):
        rows.update(_rows(json.loads(path.read_text())))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="compare_commits", description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--rounds", type=int, default=4, help="runs of each commit, alternating (default 4)")
    p.add_argument("--only", action="append", default=None, metavar="NAME", help="passed to run_all.py")
    p.add_argument("--quick", action="store_true", help="passed to run_all.py (a smoke run only)")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error(f"--rounds must be a positive integer, got {args.rounds}")
    forwarded = (["--quick"] if args.quick else []) + [a for n in (args.only or []) for a in ("--only", n)]
    shas = {which: _git("rev-parse", "--short", rev) for which, rev in (("old", args.old), ("new", args.new))}
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="compare-commits-") as tmp:
        trees = {}
        try:
            for which, sha in shas.items():
                trees[which] = Path(tmp) / which
                _git("worktree", "add", "--detach", str(trees[which]), sha)
            for r in range(args.rounds):
                for which in ("old", "new"):
                    print(f"round {r + 1}/{args.rounds}: {which} ({shas[which]})", flush=True)
                    runs[which].append(_run(trees[which], forwarded))
        finally:
            for tree in trees.values():
                _git("worktree", "remove", "--force", str(tree))
    labels = [k for k in runs["new"][0] if all(k in run for run in runs["old"] + runs["new"])]
    print(f"\nmedian over {args.rounds} interleaved rounds; time ratio = old / new ms (above 1: new faster)")
    print(f"{'row':<52} {'time ratio':>10} {'speed-up ratio':>15}  per round (time ratio)")
    table = []
    for label in labels:
        time_ratios = [o[label][0] / n[label][0] for o, n in zip(runs["old"], runs["new"], strict=True)]
        speedups = [(n[label][1] / n[label][0]) / (o[label][1] / o[label][0])
                    for o, n in zip(runs["old"], runs["new"], strict=True)]
        t, s = float(np.median(time_ratios)), float(np.median(speedups))
        table.append({"row": label, "time_ratio": t, "speedup_ratio": s, "time_ratios": time_ratios,
                      "speedup_ratios": speedups})
        rounds = " ".join(f"{v:.3f}" for v in time_ratios)
        print(f"{label:<52} {t:>10.3f} {s:>15.3f}  {rounds}")
    out = HERE / "results" / f"compare-{shas['old']}-{shas['new']}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"old": shas["old"], "new": shas["new"], "rounds": args.rounds, "rows": table,
                               "runs": runs}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
