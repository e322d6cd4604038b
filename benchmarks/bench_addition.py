"""Binary addition: scratchrnn's vectorized task against the tutorial's per-sample training loop.

Both sides train a recurrent network with 16 sigmoid hidden units to add two operands below 128,
fed least significant bit first, one bit of each per step (2 inputs), one sum bit out per step
(8 steps):

    scratchrnn  ``scratchrnn.tasks.addition.run()`` with its default ``Config``: minibatches of
                random pairs through ``SequenceModel`` and ``Trainer`` (Adam, binary cross-entropy
                on the output logit), then the sums of all 16,384 pairs. Timed as a whole.
    tutorial    the tutorial's own method, written out below as the reference being compared
                against: 10,000 single-sample SGD steps (lr 0.1), weights uniform in [-1, 1) with
                no biases, a sigmoid output bit, squared error on the sigmoid outputs, gradients by
                a Python loop over the 8 steps forward and back, and a progress record every
                1,000 steps. float64, as the tutorial's numpy defaults. Its training is timed.

Both trained models are then scored by this file on the same sums: every pair a, b in [0, 128)
(16,384 pairs, exact when all 8 bits are right) and 10,000 random pairs of 32-bit operands
summed over 33 steps, which only a model that learned the carry rule gets right.

Rounds alternate between the two (scratchrnn, tutorial, scratchrnn, ...): 3 rounds in a full run,
1 with ``--quick``; the table shows the median wall time. Both runs are seeded, so every round
reaches the same accuracy.

Run: ``python benchmarks/bench_addition.py [--quick] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass

import numpy as np

from common import machine_info, print_table, result_name, setup_threads, summarize, timing_dict, write_json
from scratchrnn.tasks import addition

NAME = "bench_addition"
FULL_ROUNDS = 3
QUICK_ROUNDS = 1
SEED = 0
EVAL_BITS = 32  # width of the random generalisation operands (summed over EVAL_BITS + 1 steps)
EVAL_PAIRS = 10_000


# -- the tutorial's method (the reference) --------------------------------------------------------
@dataclass(frozen=True)
class TutorialConfig:
    """The tutorial's hyperparameters."""

    hidden: int = 16  # sigmoid hidden units
    bits: int = 8  # operands below 2**(bits-1) = 128, so the sum fits in 8 bits
    iterations: int = 10_000  # single-sample SGD steps
    lr: float = 0.1
    report_every: int = 1_000  # progress record interval
    seed: int = SEED


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Overflow-free logistic function, 0.5 * (1 + tanh(z / 2))."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _bits(n: int, width: int) -> np.ndarray:
    """Bits of a non-negative int, least significant first: (width,) float64."""
    return np.array([(n >> t) & 1 for t in range(width)], dtype=np.float64)  # (width,)


def tutorial_train(cfg: TutorialConfig) -> tuple[dict[str, np.ndarray], list[dict]]:
    """The tutorial's training loop, one sample at a time; returns the weights and the progress.

    Per step t (row vectors, no biases): h_t = s(x_t W_in + h_{t-1} W_hh), y_t = s(h_t W_out),
    loss = sum_t (target_t - y_t)^2 / 2. Backward, t = T-1 .. 0: d_out_t = (y_t - target_t)
    y_t (1 - y_t); d_h_t = (d_h_{t+1} W_hh^T + d_out_t W_out^T) h_t (1 - h_t); each weight
    steps by -lr times its gradient summed over the sequence.
    """
    gen = np.random.default_rng(cfg.seed)
    H, T = cfg.hidden, cfg.bits
    w_in = gen.uniform(-1.0, 1.0, (2, H))  # (2, H)
    w_hh = gen.uniform(-1.0, 1.0, (H, H))  # (H, H)
    w_out = gen.uniform(-1.0, 1.0, (H, 1))  # (H, 1)
    high = 2 ** (T - 1)
    progress = []
    for it in range(cfg.iterations):
        a, b = int(gen.integers(high)), int(gen.integers(high))
        a_bits, b_bits, c_bits = _bits(a, T), _bits(b, T), _bits(a + b, T)  # (T,) each
        hs = [np.zeros((1, H))]  # h_{-1} = 0, then (1, H) per step
        xs, d_outs, pred = [], [], np.zeros(T)
        error = 0.0  # progress measure: sum over the bits of |y - target|
        for t in range(T):
            x = np.array([[a_bits[t], b_bits[t]]])  # (1, 2)
            h = _sigmoid(x @ w_in + hs[-1] @ w_hh)  # (1, H)
            y = _sigmoid(h @ w_out)  # (1, 1)
            diff = y - c_bits[t]  # (1, 1)
            d_outs.append(diff * y * (1.0 - y))  # (1, 1)
            error += abs(float(diff[0, 0]))
            pred[t] = np.round(y[0, 0])
            xs.append(x)
            hs.append(h)
        g_in, g_hh, g_out = np.zeros_like(w_in), np.zeros_like(w_hh), np.zeros_like(w_out)
        d_h_next = np.zeros((1, H))  # (1, H)
        for t in range(T - 1, -1, -1):
            h, h_prev = hs[t + 1], hs[t]
            d_h = (d_h_next @ w_hh.T + d_outs[t] @ w_out.T) * h * (1.0 - h)  # (1, H)
            g_out += h.T @ d_outs[t]
            g_hh += h_prev.T @ d_h
            g_in += xs[t].T @ d_h
            d_h_next = d_h
        w_in -= cfg.lr * g_in
        w_hh -= cfg.lr * g_hh
        w_out -= cfg.lr * g_out
        if (it + 1) % cfg.report_every == 0:
            guess = int(sum(int(v) << t for t, v in enumerate(pred)))
            progress.append({"step": it + 1, "error": error, "a": a, "b": b, "true": a + b,
                             "predicted": guess})
    return {"w_in": w_in, "w_hh": w_hh, "w_out": w_out}, progress


def tutorial_add(weights: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """Sums a + b (N,) by the tutorial's network over ``steps`` bits, all pairs at once -> (N,) uint64."""
    a, b = a.astype(np.uint64), b.astype(np.uint64)
    h = np.zeros((len(a), weights["w_hh"].shape[0]))  # (N, H)
    total = np.zeros(len(a), np.uint64)  # (N,)
    for t in range(steps):
        shift = np.uint64(t)
        x = np.stack([(a >> shift) & np.uint64(1), (b >> shift) & np.uint64(1)], axis=1)  # (N, 2)
        x = x.astype(np.float64)  # (N, 2)
        h = _sigmoid(x @ weights["w_in"] + h @ weights["w_hh"])  # (N, H)
        bit = (h @ weights["w_out"])[:, 0] > 0.0  # (N,) sigmoid output above 1/2
        total |= bit.astype(np.uint64) << shift
    return total


# -- scoring -------------------------------------------------------------------------------------
def eval_sets() -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """(a, b, steps) of every 8-bit-sum pair and of random 32-bit pairs."""
    m = 128
    a8 = np.repeat(np.arange(m, dtype=np.uint64), m)  # (16384,)
    b8 = np.tile(np.arange(m, dtype=np.uint64), m)  # (16384,)
    gen = np.random.default_rng(SEED + 1)
    a32 = gen.integers(0, 2**EVAL_BITS, size=EVAL_PAIRS, dtype=np.uint64)  # (EVAL_PAIRS,)
    b32 = gen.integers(0, 2**EVAL_BITS, size=EVAL_PAIRS, dtype=np.uint64)  # (EVAL_PAIRS,)
    return {"all_8bit": (a8, b8, 8), f"random_{EVAL_BITS}bit": (a32, b32, EVAL_BITS + 1)}


def score(add_fn, sets) -> dict[str, dict]:
    """Exact sums per evaluation set: {"exact": count, "pairs": n, "accuracy": fraction}."""
    out = {}
    for name, (a, b, steps) in sets.items():
        got = np.asarray(add_fn(a, b, steps), np.uint64)  # (N,)
        exact = int(np.sum(got == a + b))
        out[name] = {"exact": exact, "pairs": len(a), "accuracy": exact / len(a)}
    return out


# -- one round each ------------------------------------------------------------------------------
def run_scratchrnn(sets) -> tuple[float, dict]:
    t0 = time.perf_counter()
    result = addition.run(addition.Config())
    wall = time.perf_counter() - t0
    model = result.artifacts["model"]
    scores = score(lambda a, b, steps: addition.add(model, a, b, steps), sets)
    if scores["all_8bit"]["exact"] != result.metrics["exact_8bit_pairs"]:
        raise RuntimeError(f"scratchrnn's task reports {result.metrics['exact_8bit_pairs']} exact 8-bit "
                           f"sums, this benchmark counts {scores['all_8bit']['exact']}")
    cfg = addition.Config()
    info = {"train_seconds": result.metrics["train_seconds"], "task_seconds": result.seconds,
            "final_loss": result.metrics["final_loss"], "samples_seen": cfg.steps * cfg.batch_size,
            "config": asdict(cfg), "scores": scores}
    return wall, info


def run_tutorial(sets) -> tuple[float, dict]:
    cfg = TutorialConfig()
    t0 = time.perf_counter()
    weights, progress = tutorial_train(cfg)
    wall = time.perf_counter() - t0
    scores = score(lambda a, b, steps: tutorial_add(weights, a, b, steps), sets)
    info = {"train_seconds": wall, "samples_seen": cfg.iterations, "config": asdict(cfg),
            "progress": progress, "scores": scores}
    return wall, info


# -- table ---------------------------------------------------------------------------------------
HEADERS = ("method", "wall s (IQR)", "training s", "samples", "training samples/s", "8-bit sums exact",
           f"{EVAL_BITS}-bit sums exact")


def table_row(label: str, r: dict) -> tuple[str, ...]:
    s8, s32 = r["scores"]["all_8bit"], r["scores"][f"random_{EVAL_BITS}bit"]
    t, train = r["timing"], r["train_timing"]["median_ms"] / 1e3
    return (
        label,
        f"{t['median_ms'] / 1e3:.2f} ({t['iqr_ms'] / 1e3:.2f})",
        f"{train:.2f}",
        f"{r['samples_seen']:,}",
        f"{r['samples_seen'] / train:,.0f}",
        f"{s8['exact']:,}/{s8['pairs']:,} ({100 * s8['accuracy']:.1f}%)",
        f"{s32['exact']:,}/{s32['pairs']:,} ({100 * s32['accuracy']:.1f}%)",
    )


def parse_args(argv):
    p = argparse.ArgumentParser(prog=NAME, description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"{QUICK_ROUNDS} round instead of {FULL_ROUNDS}")
    p.add_argument("--rounds", type=int, default=None, help="rounds per method")
    p.add_argument("--verbose", action="store_true", help="print the tutorial loop's progress records")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    """Run the benchmark, print the table, write benchmarks/results/bench_addition[.quick].json."""
    args = parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (QUICK_ROUNDS if args.quick else FULL_ROUNDS)
    if rounds < 1:
        raise SystemExit(f"{NAME}: --rounds must be a positive integer, got {rounds}")
    threads = setup_threads()
    sets = eval_sets()
    started = time.time()
    walls: dict[str, list[float]] = {"scratchrnn": [], "tutorial": []}
    infos: dict[str, list[dict]] = {"scratchrnn": [], "tutorial": []}
    for _ in range(rounds):
        for name, fn in (("scratchrnn", run_scratchrnn), ("tutorial", run_tutorial)):
            wall, info = fn(sets)
            walls[name].append(wall)
            infos[name].append(info)
    results = {}
    for name in walls:
        first = infos[name][0]
        trains = [i["train_seconds"] for i in infos[name]]
        results[name] = {**first, "timing": timing_dict(summarize(walls[name])), "wall_seconds": walls[name],
                         "train_timing": timing_dict(summarize(trains)), "train_seconds": trains,
                         "same_scores_every_round": all(i["scores"] == first["scores"] for i in infos[name])}
    ratio = results["tutorial"]["timing"]["median_ms"] / results["scratchrnn"]["timing"]["median_ms"]
    train_ratio = (results["tutorial"]["train_timing"]["median_ms"]
                   / results["scratchrnn"]["train_timing"]["median_ms"])
    title = (f"{NAME}: binary addition, 16 sigmoid hidden units, operands below 128; median of {rounds} "
             f"round(s); {threads['threads']} threads")
    rows = [table_row("scratchrnn tasks.addition.run (minibatch Adam, whole task)", results["scratchrnn"]),
            table_row("tutorial: 10,000 single-sample SGD steps (training)", results["tutorial"])]
    print_table(HEADERS, rows, title=title)
    print(f"tutorial wall time / scratchrnn wall time: {ratio:.2f}x (training only: {train_ratio:.2f}x)")
    if args.verbose:
        for p in results["tutorial"]["progress"]:
            print(f"  tutorial step {p['step']:>6}: error {p['error']:.3f}  "
                  f"{p['a']} + {p['b']} = {p['true']}, predicted {p['predicted']}")
    payload = {
        "benchmark": NAME,
        "quick": args.quick,
        "started_unix": started,
        "rounds": rounds,
        "machine": machine_info(),
        "columns": list(HEADERS),
        "ratio_tutorial_over_scratchrnn": ratio,
        "train_ratio_tutorial_over_scratchrnn": train_ratio,
        "scratchrnn": results["scratchrnn"],
        "tutorial": results["tutorial"],
    }
    path = write_json(result_name(NAME, args.quick), payload)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
