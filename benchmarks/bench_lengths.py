"""What a padded batch costs: one training step with sequence lengths, against the same batch with
every sequence at full length and against PyTorch's packed sequences, on the CPU.

The step, on both sides (float32, time-major, same thread count, one process):

    LSTM(I, H) or GRU(I, H), one layer, over a padded batch x (T, B, I) with lengths (B,) drawn
    uniformly from [T/4, T] -> Linear(H, I) at every step -> mean squared error over the steps
    inside the lengths -> backward -> SGD (lr 0.1) on every parameter

scratchrnn runs ``forward(x, lengths=)`` and ``mse(..., lengths=)``; PyTorch runs
``pack_padded_sequence(..., enforce_sorted=False)``, its recurrent layer on the packed batch and
``pad_packed_sequence``, with the loss masked the same way. Before timing, the first step's losses
and updated weights of both must agree within 1e-4.

Four steps are timed side by side, interleaved: scratchrnn with lengths; scratchrnn on the same
x with every sequence at full length (no lengths: T*B real steps); and PyTorch packed and full.
The columns:

* "padded / full": the padded batch's time over the full batch's;
* "real steps": the share of the T*B steps inside the lengths (about 5/8 for uniform [T/4, T]);
* "x real-step time": the padded batch's time over the full batch's time scaled by that share,
  the time of its real steps at the full batch's rate: 1.0 means a padded batch costs exactly its
  real steps, above 1 the padding still costs something;
* "torch packed / scratchrnn": PyTorch's packed step over scratchrnn's padded step (above 1:
  scratchrnn is faster).

Run: ``python benchmarks/bench_lengths.py [--quick] [--repeats N] [--budget S] [--config I ...]``.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

import bench_lstm_gru as lstm_gru
from common import (
    RepeatPolicy,
    machine_info,
    ms_cell,
    picked_configs,
    print_table,
    result_name,
    setup_threads,
    time_interleaved,
    timing_dict,
    timing_parser,
    torch_mkldnn_info,
    write_json,
)
from scratchrnn.losses import mse

NAME = "bench_lengths"
LR = lstm_gru.LR  # SGD on both sides, as bench_lstm_gru
SEED = 0
LOSS_ATOL = 1e-4
WEIGHT_ATOL = 1e-4


Config = lstm_gru.Config  # cell, input I (also the head's output), hidden H, padded length T, batch B
CONFIGS = (
    Config("lstm", 64, 128, 100, 64),
    Config("gru", 64, 128, 100, 64),
    Config("lstm", 128, 256, 100, 32),
    Config("lstm", 64, 128, 100, 256),  # a batch large enough that a step's cost follows its rows
)


class ScratchModel(lstm_gru.ScratchModel):
    """bench_lstm_gru's model, its step with optional lengths."""

    def step(self, x, y, lengths=None) -> float:
        out, _, r_cache = self.rnn.forward(x, lengths=lengths)  # (T, B, H)
        pred, h_cache = self.head.forward(out)  # (T, B, I)
        loss, dpred = mse(pred, y, lengths=lengths)
        dout, head_grads = self.head.backward(dpred, h_cache)
        _, _, rnn_grads = self.rnn.backward(dout, None, r_cache)
        self.sgd({"rnn": rnn_grads, "head": head_grads}, LR)
        return loss


class TorchModel(lstm_gru.TorchModel):
    """bench_lstm_gru's PyTorch model, on packed sequences when given lengths."""

    def step(self, x, y, lengths=None, mask=None) -> float:
        if lengths is None:
            return super().step(x, y)
        torch = self.torch
        self.opt.zero_grad(set_to_none=True)
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=x.shape[0])  # (T, B, H)
        sq = (self.head(out) - y) ** 2 * mask  # (T, B, I)
        loss = sq.sum() / (mask.sum() * y.shape[2])
        loss.backward()
        self.opt.step()
        return loss.item()


def draw_lengths(cfg: Config, gen: np.random.Generator) -> np.ndarray:
    """(B,) lengths uniform over the integers in [T/4, T]."""
    return gen.integers(cfg.steps // 4, cfg.steps + 1, size=cfg.batch)


def run_config(cfg: Config, policy: RepeatPolicy) -> dict:
    import torch

    gen = np.random.default_rng(SEED)
    sm = ScratchModel(cfg, gen)
    tm = TorchModel(cfg, sm)
    init = sm.state()
    shape = (cfg.steps, cfg.batch, cfg.input)
    x = gen.standard_normal(shape, dtype=np.float32)  # (T, B, I)
    y = gen.standard_normal(shape, dtype=np.float32)  # (T, B, I)
    lengths = draw_lengths(cfg, gen)  # (B,)
    tx, ty, tl = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(lengths)
    tmask = torch.from_numpy((np.arange(cfg.steps)[:, None] < lengths)[..., None].astype(np.float32))

    # the padded step of both libraries must agree before anything is timed
    loss_s, loss_t = sm.step(x, y, lengths), tm.step(tx, ty, tl, tmask)
    w_s, w_t = sm.state(), tm.state()
    diff = max(float(np.max(np.abs(w_s[k] - w_t[k]))) for k in w_s)
    if abs(loss_s - loss_t) > LOSS_ATOL or diff > WEIGHT_ATOL:
        raise RuntimeError(f"{cfg.label()}: scratchrnn and torch disagree (losses {loss_s} and {loss_t}, "
                           f"weights up to {diff:.2e} apart)")
    sm.load(init)
    tm.load(init)

    timings = time_interleaved(
        {
            "scratchrnn padded": lambda: sm.step(x, y, lengths),
            "scratchrnn full": lambda: sm.step(x, y),
            "torch packed": lambda: tm.step(tx, ty, tl, tmask),
            "torch full": lambda: tm.step(tx, ty),
        },
        policy,
        setups={"scratchrnn padded": lambda: sm.load(init), "scratchrnn full": lambda: sm.load(init),
                "torch packed": lambda: tm.load(init), "torch full": lambda: tm.load(init)},
    )
    real = float(lengths.sum()) / (cfg.steps * cfg.batch)
    padded, full = timings["scratchrnn padded"].median_ms, timings["scratchrnn full"].median_ms
    packed, tfull = timings["torch packed"].median_ms, timings["torch full"].median_ms
    return {
        "config": asdict(cfg),
        "label": cfg.label(),
        "lengths": {"min": int(lengths.min()), "max": int(lengths.max()), "sum": int(lengths.sum())},
        "real_step_share": real,
        "timings": {k: timing_dict(v) for k, v in timings.items()},
        "padded_over_full": padded / full,
        "padded_over_real_step_time": padded / (full * real),
        "torch_packed_over_full": packed / tfull,
        "torch_packed_over_scratchrnn_padded": packed / padded,
        "check": {"loss_scratchrnn": loss_s, "loss_torch": loss_t, "max_weight_diff": diff},
    }


HEADERS = ("config", "padded ms (IQR)", "full ms (IQR)", "padded / full", "real steps", "x real-step time",
           "torch packed ms (IQR)", "torch packed / full", "torch packed / scratchrnn")


def table_row(r: dict) -> tuple[str, ...]:
    t = r["timings"]
    return (
        r["label"],
        ms_cell(t["scratchrnn padded"]),
        ms_cell(t["scratchrnn full"]),
        f"{r['padded_over_full']:.2f}",
        f"{r['real_step_share']:.2f}",
        f"{r['padded_over_real_step_time']:.2f}",
        ms_cell(t["torch packed"]),
        f"{r['torch_packed_over_full']:.2f}",
        f"{r['torch_packed_over_scratchrnn_padded']:.2f}x",
    )


def parse_args(argv):
    return timing_parser(NAME, __doc__.splitlines()[0], len(CONFIGS), per="step").parse_args(argv)


def main(argv=None) -> dict:
    """Run the benchmark, print the table, write benchmarks/results/bench_lengths[.quick][.partial].json."""
    args = parse_args(argv)
    policy = RepeatPolicy.from_args(args.quick, args.repeats, args.budget)
    picks = picked_configs(NAME, args.config, len(CONFIGS))
    threads = setup_threads()
    started = time.time()
    rows = [run_config(CONFIGS[i], policy) for i in picks]
    title = (f"{NAME}: one training step on a padded batch with lengths uniform in [T/4, T] "
             f"(-> Linear -> MSE inside the lengths -> SGD), float32, {threads['threads']} threads")
    print_table(HEADERS, [table_row(r) for r in rows], title=title)
    payload = {
        "benchmark": NAME,
        "quick": args.quick,
        "started_unix": started,
        "policy": asdict(policy),
        "machine": machine_info(),
        "torch_mkldnn": torch_mkldnn_info(),
        "columns": list(HEADERS),
        "rows": rows,
    }
    path = write_json(result_name(NAME, args.quick, args.config is not None), payload)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
