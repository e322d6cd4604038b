"""One training step of an LSTM or GRU regression model, scratchrnn against PyTorch on the CPU.

The step, identical on both sides (float32, time-major, same thread count, one process):

    LSTM(I, H) or GRU(I, H), one layer -> Linear(H, O) at every step -> mean squared error
    against random targets (T, B, O) -> backward -> SGD (lr 0.1) on every parameter

with O = I (the head predicts a vector the size of the input, as in a next-step regression). Both
models start from the same weights (scratchrnn's, copied into PyTorch by parameter name), and
before timing the first step's losses and the updated weights must agree within 1e-4. Every timed
repeat starts from those initial weights again (restored outside the timed region).

scratchrnn's backward pass always returns the gradient with respect to a dense input, so the
PyTorch input is created with ``requires_grad=True``: both sides then compute the same gradients
(``dx`` included) and the FLOP count below holds for both.

PyTorch runs its own recurrent kernels: oneDNN's fused LSTM for float32 on the CPU when oneDNN is
built in and enabled (``--torch-no-mkldnn`` switches it off for a run); in the PyTorch measured
here the GRU runs as per-step autograd operations. The JSON records
``torch.backends.mkldnn.is_available()``, whether it is enabled, and the node names of PyTorch's
autograd graph for the step (a fused kernel is a single recurrent node), so the kernel behind the
numbers is known.

FLOPs per step (2*m*n*k per matmul; bias adds and elementwise gate math are not counted). G is
the number of gates, 4 for the LSTM (i, f, g, o) and 3 for the GRU (r, z, n; the GRU's
``r * (W_hn h + b_hn)`` still comes out of the one (B, H) x (H, 3H) recurrent product). With
N = T*B:

    forward   input projection  (N, I) x (I, G*H)          2*N*I*G*H
              recurrence        T x (B, H) x (H, G*H)       2*N*H*G*H
              head              (N, H) x (H, O)             2*N*H*O
    backward  head dW           (O, N) x (N, H)             2*N*H*O
              head dH           (N, O) x (O, H)             2*N*H*O
              dW_ih             (G*H, N) x (N, I)           2*N*I*G*H
              dx                (N, G*H) x (G*H, I)         2*N*I*G*H
              dW_hh             (G*H, N) x (N, H)           2*N*H*G*H
              recurrence dh     T x (B, G*H) x (G*H, H)     2*N*H*G*H

    FLOPs = 6*N*G*H*(I + H) + 6*N*H*O = 6*N*H*(G*(I + H) + O)

GFLOP/s is that count over the median step time; "% peak" compares it with the larger of numpy's
and PyTorch's measured GFLOP/s on a 2048 x 2048 float32 matmul.

Run: ``python benchmarks/bench_lstm_gru.py [--quick] [--repeats N] [--budget S] [--config I ...]
[--torch-no-mkldnn]``.
"""

from __future__ import annotations

import time
from collections import Counter
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
    result_name,
    setup_threads,
    time_interleaved,
    timing_dict,
    timing_parser,
    torch_mkldnn,
    torch_mkldnn_info,
    write_json,
)
from scratchrnn.losses import mse

NAME = "bench_lstm_gru"
LR = 0.1  # SGD learning rate on both sides
SEED = 0  # weights and data
LOSS_ATOL = 1e-4  # first-step losses must agree this closely
WEIGHT_ATOL = 1e-4  # and so must the weights after the first update
GATES = {"lstm": 4, "gru": 3}


@dataclass(frozen=True)
class Config:
    """Cell ("lstm" or "gru"), input size I (also the head's output size O), hidden size H,
    sequence length T, batch B."""

    cell: str
    input: int
    hidden: int
    steps: int
    batch: int

    def label(self) -> str:
        return f"{self.cell.upper()} I={self.input} H={self.hidden} T={self.steps} B={self.batch}"

    def tokens(self) -> int:
        return self.steps * self.batch

    def flops(self) -> float:
        """Matmul FLOPs of one training step, 6*N*H*(G*(I + H) + O) with N = T*B, O = I."""
        N, I, H, G = self.tokens(), self.input, self.hidden, GATES[self.cell]
        return 6.0 * N * H * (G * (I + H) + I)


SIZES = ((128, 256, 100, 32), (256, 512, 100, 64), (1, 32, 50, 16))  # (I, H, T, B)
CONFIGS = tuple(Config(cell, *size) for cell in ("lstm", "gru") for size in SIZES)


# -- scratchrnn ---------------------------------------------------------------------------------
class ScratchModel(ScratchModules):
    """LSTM or GRU -> Linear with a plain SGD step, all in numpy."""

    def __init__(self, cfg: Config, rng: np.random.Generator):
        layer = {"lstm": scratchrnn.nn.LSTM, "gru": scratchrnn.nn.GRU}[cfg.cell]
        self.rnn = layer(cfg.input, cfg.hidden, dtype=np.float32, rng=rng)
        self.head = scratchrnn.nn.Linear(cfg.hidden, cfg.input, dtype=np.float32, rng=rng)
        self.modules = {"rnn": self.rnn, "head": self.head}

    def step(self, x: np.ndarray, y: np.ndarray, lr: float = LR) -> float:
        """Forward, loss, backward and an in-place SGD update on x (T, B, I) and targets y (T, B, I)."""
        out, _, r_cache = self.rnn.forward(x)  # (T, B, H)
        pred, h_cache = self.head.forward(out)  # (T, B, I)
        loss, dpred = mse(pred, y)  # dpred (T, B, I)
        dout, head_grads = self.head.backward(dpred, h_cache)  # (T, B, H)
        _, _, rnn_grads = self.rnn.backward(dout, None, r_cache)
        self.sgd({"rnn": rnn_grads, "head": head_grads}, lr)
        return loss


# -- PyTorch ------------------------------------------------------------------------------------
class TorchModel(TorchModules):
    """The same model in PyTorch, with weights copied from a ``ScratchModel``."""

    def __init__(self, cfg: Config, src: ScratchModel):
        import torch

        self.torch = torch
        self.F = torch.nn.functional
        layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cfg.cell]
        self.rnn = layer(cfg.input, cfg.hidden)
        self.head = torch.nn.Linear(cfg.hidden, cfg.input)
        self.modules = {"rnn": self.rnn, "head": self.head}
        self.load(src.state())
        params = [p for mod in self.modules.values() for p in mod.parameters()]
        self.opt = torch.optim.SGD(params, lr=LR)

    def step(self, x, y) -> float:
        """The same step on torch tensors x (T, B, I) with requires_grad=True and y (T, B, I)."""
        self.opt.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = self.rnn(x)  # (T, B, H)
        loss = self.F.mse_loss(self.head(out), y)
        loss.backward()
        self.opt.step()
        return loss.item()


# -- one config ---------------------------------------------------------------------------------
def make_batch(cfg: Config, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs and targets, time-major (T, B, I), float32."""
    shape = (cfg.steps, cfg.batch, cfg.input)
    x = gen.standard_normal(shape, dtype=np.float32)  # (T, B, I)
    y = gen.standard_normal(shape, dtype=np.float32)  # (T, B, I)
    return x, y




def torch_autograd_graph(tm: TorchModel, tx, ty) -> dict:
    """Node names of the autograd graph of one PyTorch loss: a fused recurrent kernel shows up as
    one node (``MkldnnRnnLayerBackward0`` for oneDNN's), an unfused one as per-step matmul and
    gate nodes. Recorded so the JSON says which kernel was timed."""
    out, _ = tm.rnn(tx)  # (T, B, H)
    loss = tm.F.mse_loss(tm.head(out), ty)
    seen, names, stack = set(), Counter(), [loss.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names[fn.name()] += 1
        stack.extend(nxt for nxt, _ in fn.next_functions)
    fused = sorted(n for n in names if any(w in n.lower() for w in ("rnn", "lstm", "gru")))
    return {"nodes": len(seen), "fused_recurrent_nodes": fused, "node_counts": dict(names)}


def run_config(cfg: Config, policy: RepeatPolicy, peak_gflops: float) -> dict:
    """Time both libraries on one config and return a result row."""
    import torch

    gen = np.random.default_rng(SEED)
    sm = ScratchModel(cfg, gen)
    tm = TorchModel(cfg, sm)
    init = sm.state()
    x, y = make_batch(cfg, gen)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)  # dx is computed on both sides
    ty = torch.from_numpy(y)
    check = check_step_agreement(sm, tm, (x, y), (tx, ty), init, LOSS_ATOL, WEIGHT_ATOL)
    graph = torch_autograd_graph(tm, tx, ty)

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
        "gates": GATES[cfg.cell],
        "output_size": cfg.input,
        "tokens_per_step": cfg.tokens(),
        "flops_per_step": flops,
        "scratchrnn": {**timing_dict(t_s), "tokens_per_s": cfg.tokens() / (t_s.median_ms * 1e-3),
                       "gflops": gflops_s},
        "torch": {**timing_dict(t_t), "tokens_per_s": cfg.tokens() / (t_t.median_ms * 1e-3),
                  "gflops": gflops_t, "autograd_graph": graph},
        "speedup_torch_over_scratchrnn": t_t.median_ms / t_s.median_ms,
        "scratchrnn_pct_of_peak": 100.0 * gflops_s / peak_gflops,
        "torch_pct_of_peak": 100.0 * gflops_t / peak_gflops,
        "check": check,
    }


# -- table --------------------------------------------------------------------------------------
HEADERS = (
    "config",
    "scratchrnn ms (IQR)",
    "torch ms (IQR)",
    "speed-up",
    "scratchrnn GFLOP/s",
    "torch GFLOP/s",
    "% peak",
)


def table_row(r: dict) -> tuple[str, ...]:
    s, t = r["scratchrnn"], r["torch"]
    return (
        r["label"],
        ms_cell(s),
        ms_cell(t),
        f"{r['speedup_torch_over_scratchrnn']:.2f}x",
        f"{s['gflops']:.1f}",
        f"{t['gflops']:.1f}",
        f"{r['scratchrnn_pct_of_peak']:.1f}",
    )


def parse_args(argv):
    p = timing_parser(NAME, __doc__.splitlines()[0], len(CONFIGS))
    p.add_argument("--torch-no-mkldnn", action="store_true",
                   help="switch PyTorch's oneDNN backend off (its fused LSTM kernel) for this run")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    """Run the benchmark, print the table, write benchmarks/results/bench_lstm_gru[.quick][.partial].json."""
    args = parse_args(argv)
    policy = RepeatPolicy.from_args(args.quick, args.repeats, args.budget)
    picks = picked_configs(NAME, args.config, len(CONFIGS))
    threads = setup_threads()
    peak = matmul_peak(quick=args.quick)
    started = time.time()
    with torch_mkldnn(False if args.torch_no_mkldnn else None):
        mkldnn = torch_mkldnn_info()
        rows = [run_config(CONFIGS[i], policy, peak["peak_gflops"]) for i in picks]
    title = (f"{NAME}: one training step (LSTM / GRU -> Linear -> MSE -> SGD), float32, "
             f"{threads['threads']} threads; peak {peak['peak_gflops']:.1f} GFLOP/s "
             f"(numpy {peak['numpy_gflops']:.1f}, torch {peak['torch_gflops']:.1f}, {peak['size']}^2 matmul);"
             f" torch oneDNN available={mkldnn['available']} enabled={mkldnn['enabled']}")
    print_table(HEADERS, [table_row(r) for r in rows], title=title)
    for r in rows:
        g = r["torch"]["autograd_graph"]
        kernel = ", ".join(g["fused_recurrent_nodes"]) or "none (per-step autograd ops)"
        print(f"torch {r['label']}: {g['nodes']} autograd nodes, fused recurrent kernel: {kernel}")
    if any(r["scratchrnn_pct_of_peak"] > 100.0 for r in rows):
        print("note: % peak above 100 means the peak was measured while the machine was busy")
    payload = {
        "benchmark": NAME,
        "quick": args.quick,
        "started_unix": started,
        "policy": asdict(policy),
        "machine": machine_info(),
        "matmul_peak": peak,
        "torch_mkldnn": mkldnn,
        "flops_formula": "6*N*H*(G*(I + H) + O), N = T*B, O = I, G = 4 (LSTM) or 3 (GRU)",
        "columns": list(HEADERS),
        "rows": rows,
    }
    variant = "no-mkldnn" if args.torch_no_mkldnn else None
    path = write_json(result_name(NAME, args.quick, args.config is not None, variant), payload)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
