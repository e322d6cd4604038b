"""The search behind ``scratchrnn train``'s defaults: which recipe gives the lowest validation loss
after a fixed wall time on the shipped corpus.

Each candidate is a set of model and training settings. One run per candidate: a fresh process
builds a ``CharLM`` with the candidate's settings and fits it on the shipped Shakespeare (the same
split as ``scratchrnn train``: the last 10% held out) until the largest budget, with no
validation during the run, so the wall time is all training. When the training time first
passes each budget, at the end of that step (as ``--time-limit`` does), the weights are saved.
Afterwards, untimed, every saved model scores the whole held-out text (about 103,000 characters,
one stream, state carried: ``CharLM.evaluate``). With a constant rate the weights at 2 minutes
are exactly those a ``--time-limit 2`` run of the same recipe ends with (same seed, same steps);
a schedule that needs the run's length (``cosine``, ``step``) gets ``steps``, set from the
constant-rate run of the same recipe so that the schedule ends near the budget.

    python benchmarks/recipe_search.py --list
    python benchmarks/recipe_search.py --budgets 2 --only default --only gru   # a 2-minute screen
    python benchmarks/recipe_search.py --budgets 2,10 --only default

Results are merged into ``benchmarks/results/recipe-search.json`` (keyed by candidate, budget list
and seed) after every run, so an interrupted search keeps what it measured. Runs use every core
the machine has (two here) and should run on a machine doing nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "recipe-search.json"

# the defaults of ``scratchrnn train`` before the search (and the fit arguments the CLI passes)
BASE = {"cell": "lstm", "hidden_size": 256, "num_layers": 2, "embedding_dim": None, "dropout": 0.0,
        "batch_size": 32, "window": 100, "optimizer": "adam", "lr": 2e-3, "clip_norm": 5.0,
        "lr_schedule": None, "warmup": 0, "steps": None}
MODEL_KEYS = ("cell", "hidden_size", "num_layers", "embedding_dim", "dropout")

CANDIDATES = {
    "default": {},
    "gru": {"cell": "gru"},
    "lr4e-3": {"lr": 4e-3},
    "b64-lr3e-3": {"batch_size": 64, "lr": 3e-3},
    "b16": {"batch_size": 16},
    "w50": {"window": 50},
    "1x512": {"num_layers": 1, "hidden_size": 512},
    "2x384": {"hidden_size": 384},
    "2x128-lr4e-3": {"hidden_size": 128, "lr": 4e-3},
    "emb64": {"embedding_dim": 64},
    "rmsprop": {"optimizer": "rmsprop"},
    "gru-2x384": {"cell": "gru", "hidden_size": 384},
    # the second round: the first round's gains together
    "gru-lr4e-3": {"cell": "gru", "lr": 4e-3},
    "gru-w50": {"cell": "gru", "window": 50},
    "gru-w50-lr4e-3": {"cell": "gru", "window": 50, "lr": 4e-3},
    "gru-b16-w50": {"cell": "gru", "batch_size": 16, "window": 50},
    "gru-2x384-w50": {"cell": "gru", "hidden_size": 384, "window": 50},
    "gru-emb64": {"cell": "gru", "embedding_dim": 64},
    "gru-emb64-w50": {"cell": "gru", "embedding_dim": 64, "window": 50},
    "gru-2x384-emb64": {"cell": "gru", "hidden_size": 384, "embedding_dim": 64},
    # the third round: at 10 minutes (about 14 passes over the text) the models overfit
    "gru-emb64-d0.2": {"cell": "gru", "embedding_dim": 64, "dropout": 0.2},
    "gru-emb64-d0.4": {"cell": "gru", "embedding_dim": 64, "dropout": 0.4},
    "gru-2x384-emb64-d0.4": {"cell": "gru", "hidden_size": 384, "embedding_dim": 64, "dropout": 0.4},
}


def settings(name: str, overrides: dict | None = None) -> dict:
    out = dict(BASE)
    out.update(CANDIDATES[name])
    out.update(overrides or {})
    return out


def worker(spec: dict) -> dict:
    """One run in this process: fit until the largest budget, save at each, score each save."""

    from scratchrnn import CharLM
    from scratchrnn.data.text import load_corpus

    s, budgets = spec["settings"], sorted(spec["budgets"])
    text = load_corpus("shakespeare")
    held_out = text[len(text) - int(len(text) * 0.1):]
    folder = Path(spec["folder"])
    saved: list[dict] = []

    def at_budget(event, trainer, record):
        if event != "step" or len(saved) == len(budgets):
            return
        if record["elapsed"] >= budgets[len(saved)] * 60.0:
            path = folder / f"at-{budgets[len(saved)]:g}min.npz"
            lm.save(path)
            saved.append({"minutes": budgets[len(saved)], "path": str(path), "step": record["step"],
                          "elapsed": record["elapsed"], "train_loss": record["loss"]})

    lm = CharLM(**{k: s[k] for k in MODEL_KEYS}, seed=spec["seed"])
    steps = s["steps"] or 10**8
    started = time.perf_counter()
    lm.fit(text, steps=steps, batch_size=s["batch_size"], window=s["window"], lr=s["lr"],
           optimizer=s["optimizer"], clip_norm=s["clip_norm"], lr_schedule=s["lr_schedule"],
           warmup=s["warmup"], eval_every=steps, progress=False, callbacks=[at_budget],
           time_limit=budgets[-1] * 60.0)
    wall = time.perf_counter() - started
    for row in saved:
        scored = type(lm).load(row["path"]).evaluate(held_out)
        row["val_loss"] = scored["loss"]
        row["val_tokens"] = scored["tokens"]
        os.unlink(row["path"])
        del row["path"]
    tokens_per_step = s["batch_size"] * s["window"]
    last = saved[-1] if saved else None
    return {"settings": s, "budgets": budgets, "seed": spec["seed"], "results": saved,
            "wall_s": wall, "params": int(lm.model.num_parameters()),
            "tokens_per_s": (last["step"] * tokens_per_step / last["elapsed"]) if last else None}


def run_one(name: str, budgets: list[float], seed: int, overrides: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="recipe-") as folder:
        spec = {"settings": settings(name, overrides), "budgets": budgets, "seed": seed, "folder": folder}
        done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                              capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{name}: the run failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["name"] = name
    return result


def merge(result: dict) -> None:
    from scratchrnn.io.atomic import atomic_write_text

    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    key = (result["name"], result["budgets"], result["seed"])
    rows = [r for r in rows if (r["name"], r["budgets"], r["seed"]) != key] + [result]
    atomic_write_text(RESULTS, json.dumps(rows, indent=1) + "\n")


def table(rows: list[dict]) -> str:
    lines = [f"{'candidate':<16} {'seed':>4} {'min':>5} {'steps':>6} {'tok/s':>7} {'val loss':>9}"]
    for r in rows:
        for b in r["results"]:
            lines.append(f"{r['name']:<16} {r['seed']:>4} {b['minutes']:>5g} {b['step']:>6} "
                         f"{r['tokens_per_s'] or 0:>7.0f} {b['val_loss']:>9.4f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budgets", default="2,10", help="minutes, comma-separated (default: 2,10)")
    p.add_argument("--only", action="append", choices=sorted(CANDIDATES), help="candidates to run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                   help="override a setting of the candidates run, e.g. --set steps=3000")
    p.add_argument("--list", action="store_true", help="print the candidates and the results so far")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.list:
        for name in CANDIDATES:
            print(f"{name:<16} {CANDIDATES[name]}")
        if RESULTS.exists():
            print(table(json.loads(RESULTS.read_text())))
        return 0
    budgets = [float(b) for b in args.budgets.split(",")]
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    for name in args.only or list(CANDIDATES):
        result = run_one(name, budgets, args.seed, overrides)
        if overrides:
            result["name"] = name + "+" + ",".join(f"{k}={v}" for k, v in sorted(overrides.items()))
        merge(result)
        print(table([result]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
