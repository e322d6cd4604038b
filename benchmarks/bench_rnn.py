"""One training step of a character-level RNN model, scratchrnn against PyTorch on the CPU.

The step, identical on both sides (float32, time-major, same thread count, one process):

    Embedding(V, H) -> RNN(H, H, tanh, one layer) -> Linear(H, V) -> softmax cross-entropy
    (mean over the T*B tokens) -> backward -> SGD (lr 0.1) on every parameter

Both models start from the same weights (scratchrnn's, copied into PyTorch), and before timing the
first step's losses must agree within 1e-4 and the updated weights must agree too, so both sides
really do the same work. Every timed repeat starts from those initial weights again (restored
outside the timed region), so no repeat runs on weights the earlier repeats have trained.

FLOPs per step (2*m*n*k per matmul; the embedding gather, the bias adds and the elementwise
work are not counted). With N = T*B tokens:

    forward   input projection  (N, H) x (H, H)           2*N*H*H
              recurrence        T x (B, H) x (H, H)        2*N*H*H
              head              (N, H) x (H, V)            2*N*H*V
    backward  head dW           (V, N) x (N, H)            2*N*H*V
              head dH           (N, V) x (V, H)            2*N*H*V
              dW_ih             (H, N) x (N, H)            2*N*H*H
              dx (embedding)    (N, H) x (H, H)            2*N*H*H
              dW_hh             (H, N) x (N, H)            2*N*H*H
              recurrence dh     T x (B, H) x (H, H)        2*N*H*H

    FLOPs = 12*N*H^2 + 6*N*H*V = 6*N*H*(2*H + V)

GFLOP/s is that count over the median step time; "% peak" compares it with the larger of numpy's
and PyTorch's measured GFLOP/s on a 2048 x 2048 float32 matmul.

Run: ``python benchmarks/bench_rnn.py [--quick] [--repeats N] [--budget S] [--config I ...]``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

import scratchrnn
from common import (
    RepeatPolicy,
    ScratchModules,
    TorchModules,
    check_step_agreement,
    machine_info,
    matmul_peak,
    ms_cell,
    picked_configs,
    print_table,
    setup_threads,
    time_interleaved,
    timing_dict,
    timing_parser,
    write_json,
)
from scratchrnn.losses import cross_entropy

NAME = "bench_rnn"
LR = 0.1  # SGD learning rate on both sides
SEED = 0  # weights and data
LOSS_ATOL = 1e-4  # first-step losses must agree this closely
WEIGHT_ATOL = 1e-4  # and so must the weights after the first update


@dataclass(frozen=True)
class Config:
    """Vocabulary size V, hidden size H (also the embedding size), sequence length T, batch B."""

    vocab: int
    hidden: int
    steps: int
    batch: int

    def label(self) -> str:
        return f"V={self.vocab} H={self.hidden} T={self.steps} B={self.batch}"

    def tokens(self) -> int:
        return self.steps * self.batch

    def flops(self) -> float:
        """Matmul FLOPs of one training step, 6*N*H*(2*H + V) with N = T*B (module docstring)."""
        N, H, V = self.tokens(), self.hidden, self.vocab
        return 6.0 * N * H * (2 * H + V)


CONFIGS = (
    Config(65, 128, 50, 32),
    Config(65, 256, 100, 32),
    Config(65, 512, 100, 64),
    Config(10000, 256, 35, 32),
    Config(65, 64, 25, 1),
)


# -- scratchrnn ---------------------------------------------------------------------------------
class ScratchModel(ScratchModules):
    """Embedding -> RNN -> Linear with a plain SGD step, all in numpy."""

    def __init__(self, cfg: Config, rng: np.random.Generator):
        V, H = cfg.vocab, cfg.hidden
        self.emb = scratchrnn.nn.Embedding(V, H, dtype=np.float32, rng=rng)
        self.rnn = scratchrnn.nn.RNN(H, H, nonlinearity="tanh", dtype=np.float32, rng=rng)
        self.head = scratchrnn.nn.Linear(H, V, dtype=np.float32, rng=rng)
        self.modules = {"emb": self.emb, "rnn": self.rnn, "head": self.head}

    def step(self, x: np.ndarray, y: np.ndarray, lr: float = LR) -> float:
        """Forward, loss, backward and an in-place SGD update on ids x (T, B) and targets y (T, B)."""
        e, e_cache = self.emb.forward(x)  # (T, B, H)
        out, _, r_cache = self.rnn.forward(e)  # (T, B, H)
        logits, h_cache = self.head.forward(out)  # (T, B, V)
        loss, dlogits = cross_entropy(logits, y, reduction="mean")  # dlogits (T, B, V)
        dout, head_grads = self.head.backward(dlogits, h_cache)  # (T, B, H)
        de, _, rnn_grads = self.rnn.backward(dout, None, r_cache)  # (T, B, H)
        _, emb_grads = self.emb.backward(de, e_cache)
        self.sgd({"emb": emb_grads, "rnn": rnn_grads, "head": head_grads}, lr)
        return loss


# -- PyTorch ------------------------------------------------------------------------------------
class TorchModel(TorchModules):
    """The same model in PyTorch, with weights copied from a ``ScratchModel``."""

    def __init__(self, cfg: Config, src: ScratchModel):
        import torch

        self.torch = torch
        self.F = torch.nn.functional
        V, H = cfg.vocab, cfg.hidden
        self.V = V
        self.emb = torch.nn.Embedding(V, H)
        self.rnn = torch.nn.RNN(H, H, nonlinearity="tanh")
        self.head = torch.nn.Linear(H, V)
        self.modules = {"emb": self.emb, "rnn": self.rnn, "head": self.head}
        self.load(src.state())
        params = [p for mod in self.modules.values() for p in mod.parameters()]
        self.opt = torch.optim.SGD(params, lr=LR)

    def step(self, x, y) -> float:
        """The same step on torch tensors x, y (T, B) of dtype int64."""
        self.opt.zero_grad(set_to_none=True)
        out, _ = self.rnn(self.emb(x))  # (T, B, H)
        logits = self.head(out)  # (T, B, V)
        loss = self.F.cross_entropy(logits.reshape(-1, self.V), y.reshape(-1))
        loss.backward()
        self.opt.step()
        return loss.item()


# -- one config ---------------------------------------------------------------------------------
def make_batch(cfg: Config, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random token ids and targets, time-major (T, B), int64."""
    x = gen.integers(0, cfg.vocab, size=(cfg.steps, cfg.batch), dtype=np.int64)  # (T, B)
    y = gen.integers(0, cfg.vocab, size=(cfg.steps, cfg.batch), dtype=np.int64)  # (T, B)
    return x, y




def run_config(cfg: Config, policy: RepeatPolicy, peak_gflops: float) -> dict:
    """Time both libraries on one config and return a result row."""
    import torch

    gen = np.random.default_rng(SEED)
    sm = ScratchModel(cfg, gen)
    tm = TorchModel(cfg, sm)
    init = sm.state()
    x, y = make_batch(cfg, gen)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    check = check_step_agreement(sm, tm, (x, y), (tx, ty), init, LOSS_ATOL, WEIGHT_ATOL)

    timings = time_interleaved(
        {"scratchrnn": lambda: sm.step(x, y), "torch": lambda: tm.step(tx, ty)},
        policy,
        setups={"scratchrnn": lambda: sm.load(init), "torch": lambda: tm.load(init)},
    )
    t_s, t_t = timings["scratchrnn"], timings["torch"]

    flops = cfg.flops()
    gflops_s = flops / (t_s.median_ms * 1e-3) / 1e9
    gflops_t = flops / (t_t.median_ms * 1e-3) / 1e9
    return {
        "config": asdict(cfg),
        "label": cfg.label(),
        "tokens_per_step": cfg.tokens(),
        "flops_per_step": flops,
        "scratchrnn": {**timing_dict(t_s), "tokens_per_s": cfg.tokens() / (t_s.median_ms * 1e-3),
                       "gflops": gflops_s},
        "torch": {**timing_dict(t_t), "tokens_per_s": cfg.tokens() / (t_t.median_ms * 1e-3),
                  "gflops": gflops_t},
        "speedup_torch_over_scratchrnn": t_t.median_ms / t_s.median_ms,
        "scratchrnn_pct_of_peak": 100.0 * gflops_s / peak_gflops,
        "check": check,
    }


# -- table --------------------------------------------------------------------------------------
HEADERS = (
    "config",
    "scratchrnn ms (IQR)",
    "torch ms (IQR)",
    "scratchrnn tok/s",
    "torch tok/s",
    "speed-up",
    "scratchrnn GFLOP/s",
    "% peak",
)


def table_row(r: dict) -> tuple[str, ...]:
    s, t = r["scratchrnn"], r["torch"]
    return (
        r["label"],
        ms_cell(s),
        ms_cell(t),
        f"{s['tokens_per_s']:,.0f}",
        f"{t['tokens_per_s']:,.0f}",
        f"{r['speedup_torch_over_scratchrnn']:.2f}x",
        f"{s['gflops']:.1f}",
        f"{r['scratchrnn_pct_of_peak']:.1f}",
    )


def parse_args(argv):
    return timing_parser("bench_rnn", __doc__.splitlines()[0], len(CONFIGS)).parse_args(argv)


def main(argv=None) -> dict:
    """Run the benchmark, print the table, write benchmarks/results/bench_rnn[.quick][.partial].json."""
    args = parse_args(argv)
    policy = RepeatPolicy.from_args(args.quick, args.repeats, args.budget)
    picks = picked_configs(NAME, args.config, len(CONFIGS))
    threads = setup_threads()
    peak = matmul_peak(quick=args.quick)
    started = time.time()
    rows = []
    for i in picks:
        rows.append(run_config(CONFIGS[i], policy, peak["peak_gflops"]))
    title = (f"{NAME}: one training step (Embedding -> tanh RNN -> Linear -> cross-entropy -> SGD), float32, "
             f"{threads['threads']} threads; peak {peak['peak_gflops']:.1f} GFLOP/s "
             f"(numpy {peak['numpy_gflops']:.1f}, torch {peak['torch_gflops']:.1f}, {peak['size']}^2 matmul)")
    print_table(HEADERS, [table_row(r) for r in rows], title=title)
    if any(r["scratchrnn_pct_of_peak"] > 100.0 for r in rows):
        print("note: % peak above 100 means the peak was measured while the machine was busy")
    payload = {
        "benchmark": NAME,
        "quick": args.quick,
        "started_unix": started,
        "policy": asdict(policy),
        "machine": machine_info(),
        "matmul_peak": peak,
        "flops_formula": "6*N*H*(2*H + V), N = T*B",
        "columns": list(HEADERS),
        "rows": rows,
    }
    # Quick and partial runs get their own files, so they never replace a full run's results.
    suffix = (".quick" if args.quick else "") + (".partial" if args.config is not None else "")
    path = write_json(NAME + suffix, payload)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
