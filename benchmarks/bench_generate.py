"""Milliseconds per generated token of a character model, scratchrnn against PyTorch on the CPU.

The model, identical on both sides (float32, batch 1, same thread count, one process):

    one-hot input (vocabulary V = 65) -> RNN (tanh) / LSTM / GRU, 2 layers of H units -> Linear(H, V)

built by ``scratchrnn.nn.SequenceModel`` and exported with ``scratchrnn.io.to_torch``, so both
sides hold the same weights. A generated token is one step of the model on the previous token with
the carried state, then one draw from the softmax of the logits (temperature 1):

    scratchrnn  ``scratchrnn.sample.generate(model, prime_ids, length, rng, temperature=1.0)``
                (it steps with ``model.stepper()`` when the model has one, else with a one-step
                ``forward``), sampling with a numpy Generator
    PyTorch     a plain loop under ``torch.inference_mode()``: ``logits, h = model(x, h)``, then
                ``torch.multinomial(softmax(logits / 1.0), 1, generator=g)``

Each token is timed on its own: on the scratchrnn side from one ``on_token`` callback of
``generate`` to the next (each interval holds exactly one model step and one draw), on the PyTorch
side between the same two points of the loop. The prime is one token and is not timed. A round
generates ``tokens`` tokens per library; rounds alternate between the libraries (scratchrnn,
PyTorch, scratchrnn, ...) after one untimed warm-up round each, and the table shows the median
milliseconds per token over all timed tokens, with the interquartile range.

Before timing, a random 32-token sequence goes through both models in one forward pass, and
(when the model has one) through scratchrnn's stepper token by token; the logits must agree with
PyTorch's within 1e-4.

PyTorch's LSTM uses oneDNN's fused kernel for float32 on the CPU when oneDNN is built in and
enabled. Called one step at a time, that kernel was several times slower here than PyTorch's
other LSTM path; ``--torch-no-mkldnn`` switches oneDNN off for a run, to measure that path. The
JSON records whether oneDNN was available and enabled.

Run: ``python benchmarks/bench_generate.py [--quick] [--tokens N] [--rounds R] [--config I ...]
[--torch-no-mkldnn]``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass

import numpy as np

from common import (
    machine_info,
    ms_cell,
    picked_configs,
    print_table,
    result_name,
    setup_threads,
    summarize,
    timing_dict,
    torch_mkldnn,
    torch_mkldnn_info,
    write_json,
)
from scratchrnn.io import to_torch
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.sample import generate

NAME = "bench_generate"
VOCAB = 65  # characters
LAYERS = 2
TEMPERATURE = 1.0
SEED = 0  # weights, prime and sampling
CHECK_STEPS = 32  # length of the agreement-check sequence
LOGIT_ATOL = 1e-4  # logits must agree this closely
FULL_TOKENS, FULL_ROUNDS = 200, 5  # timed tokens per round, rounds per library
QUICK_TOKENS, QUICK_ROUNDS = 50, 1
WARMUP_TOKENS = 20  # one untimed round of this length per library


@dataclass(frozen=True)
class Config:
    """Cell ("rnn", "lstm" or "gru") and hidden size H; 2 layers, vocabulary 65, batch 1."""

    cell: str
    hidden: int

    def label(self) -> str:
        return f"{self.cell.upper()} H={self.hidden} L={LAYERS} V={VOCAB}"

    def model_config(self) -> ModelConfig:
        return ModelConfig(cell=self.cell, vocab_size=VOCAB, hidden_size=self.hidden, num_layers=LAYERS,
                           dtype="float32")


CONFIGS = tuple(Config(cell, h) for h in (256, 512) for cell in ("rnn", "lstm", "gru"))


# -- the two decoding loops ----------------------------------------------------------------------
def scratch_token_times(model: SequenceModel, prime: np.ndarray, tokens: int, rng: np.random.Generator):
    """Seconds per token of ``generate``: intervals between consecutive ``on_token`` calls (tokens,)."""
    stamps = []
    generate(model, prime, tokens + 1, rng, temperature=TEMPERATURE,
             on_token=lambda _tok: stamps.append(time.perf_counter()))
    return np.diff(np.asarray(stamps))  # (tokens,)


def torch_token_times(tmodel, prime: np.ndarray, tokens: int, gen):
    """Seconds per token of the plain PyTorch loop, timed between the same points as on the
    scratchrnn side (after each draw): one model step plus one draw per interval (tokens,)."""
    import torch

    stamps = []
    with torch.inference_mode():
        logits, h = tmodel(torch.from_numpy(prime[:, None]))  # (P, 1, V)
        logits = logits[-1]  # (1, V)
        for t in range(tokens + 1):
            probs = torch.softmax(logits / TEMPERATURE, dim=-1)  # (1, V)
            nxt = torch.multinomial(probs, 1, generator=gen)  # (1, 1)
            stamps.append(time.perf_counter())
            if t < tokens:  # the last token needs no step, as in generate
                logits, h = tmodel(nxt, h)  # (1, 1, V)
                logits = logits[0]  # (1, V)
    return np.diff(np.asarray(stamps))  # (tokens,)


# -- agreement -----------------------------------------------------------------------------------
def check_agreement(model: SequenceModel, tmodel, ids: np.ndarray) -> dict:
    """Logits of ids (T,) through both models (and scratchrnn's stepper, if any) must agree."""
    import torch

    y, _, _ = model.forward(ids[:, None])  # (T, 1, V)
    with torch.inference_mode():
        ty, _ = tmodel(torch.from_numpy(ids[:, None]))  # (T, 1, V)
    ty = ty.numpy()
    diff = float(np.max(np.abs(y - ty)))
    if not diff <= LOGIT_ATOL:
        raise RuntimeError(f"forward logits differ by up to {diff:.2e} > {LOGIT_ATOL}")
    out = {"forward_logits_max_abs_diff": diff, "stepper_logits_max_abs_diff": None}
    make = getattr(model, "stepper", None)
    if callable(make):
        step, h = make(), None
        ys = []
        for t in range(len(ids)):
            yt, h = step(ids[t : t + 1], h)  # (1, V)
            ys.append(yt)
        sdiff = float(np.max(np.abs(np.stack(ys) - ty)))
        if not sdiff <= LOGIT_ATOL:
            raise RuntimeError(f"stepper logits differ from PyTorch's by up to {sdiff:.2e} > {LOGIT_ATOL}")
        out["stepper_logits_max_abs_diff"] = sdiff
    return out


# -- one config ----------------------------------------------------------------------------------
def run_config(cfg: Config, tokens: int, rounds: int) -> dict:
    """Time both decoding loops on one config and return a result row."""
    import torch

    model = SequenceModel(cfg.model_config(), rng=SEED).train(False)
    tmodel = to_torch(model).eval()
    data = np.random.default_rng(SEED)
    check = check_agreement(model, tmodel, data.integers(0, VOCAB, CHECK_STEPS, dtype=np.int64))
    prime = data.integers(0, VOCAB, 1, dtype=np.int64)  # (1,)
    rng = np.random.default_rng(SEED)
    gen = torch.Generator().manual_seed(SEED)

    scratch_token_times(model, prime, WARMUP_TOKENS, rng)
    torch_token_times(tmodel, prime, WARMUP_TOKENS, gen)
    s_times, t_times = [], []
    for _ in range(rounds):
        s_times.extend(scratch_token_times(model, prime, tokens, rng))
        t_times.extend(torch_token_times(tmodel, prime, tokens, gen))
    t_s, t_t = summarize(s_times), summarize(t_times)
    return {
        "config": asdict(cfg),
        "label": cfg.label(),
        "model_config": cfg.model_config().to_dict(),
        "parameters": model.num_parameters(),
        "scratchrnn_uses_stepper": callable(getattr(model, "stepper", None)),
        "scratchrnn": {**timing_dict(t_s), "mean_ms": 1e3 * float(np.mean(s_times)),
                       "tokens_per_s": 1e3 / t_s.median_ms},
        "torch": {**timing_dict(t_t), "mean_ms": 1e3 * float(np.mean(t_times)),
                  "tokens_per_s": 1e3 / t_t.median_ms},
        "speedup_torch_over_scratchrnn": t_t.median_ms / t_s.median_ms,
        "check": check,
    }


# -- table ---------------------------------------------------------------------------------------
HEADERS = (
    "config",
    "scratchrnn ms/token (IQR)",
    "torch ms/token (IQR)",
    "scratchrnn tok/s",
    "torch tok/s",
    "speed-up",
)


def table_row(r: dict) -> tuple[str, ...]:
    s, t = r["scratchrnn"], r["torch"]
    return (
        r["label"],
        ms_cell(s, 3),
        ms_cell(t, 3),
        f"{s['tokens_per_s']:,.0f}",
        f"{t['tokens_per_s']:,.0f}",
        f"{r['speedup_torch_over_scratchrnn']:.2f}x",
    )


def parse_args(argv):
    p = argparse.ArgumentParser(prog=NAME, description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_ROUNDS} round of {QUICK_TOKENS} tokens per library per config")
    p.add_argument("--tokens", type=int, default=None, help=f"timed tokens per round (default {FULL_TOKENS})")
    p.add_argument("--rounds", type=int, default=None, help=f"rounds per library (default {FULL_ROUNDS})")
    p.add_argument("--config", type=int, action="append", default=None, metavar="I",
                   help=f"run only config number I (0..{len(CONFIGS) - 1}); may be repeated")
    p.add_argument("--torch-no-mkldnn", action="store_true",
                   help="switch PyTorch's oneDNN backend off (its fused LSTM kernel) for this run")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    """Run the benchmark, print the table, write benchmarks/results/bench_generate[.quick][.partial].json."""
    args = parse_args(argv)
    tokens = args.tokens if args.tokens is not None else (QUICK_TOKENS if args.quick else FULL_TOKENS)
    rounds = args.rounds if args.rounds is not None else (QUICK_ROUNDS if args.quick else FULL_ROUNDS)
    for flag, v in (("--tokens", tokens), ("--rounds", rounds)):
        if v < 1:
            raise SystemExit(f"{NAME}: {flag} must be a positive integer, got {v}")
    picks = picked_configs(NAME, args.config, len(CONFIGS))
    threads = setup_threads()
    started = time.time()
    with torch_mkldnn(False if args.torch_no_mkldnn else None):
        mkldnn = torch_mkldnn_info()
        rows = [run_config(CONFIGS[i], tokens, rounds) for i in picks]
    stepper = "stepper()" if all(r["scratchrnn_uses_stepper"] for r in rows) else "one-step forward"
    title = (f"{NAME}: ms per generated token (one model step + one softmax draw), batch 1, float32, "
             f"{threads['threads']} threads; median over {rounds} x {tokens} tokens; scratchrnn steps with "
             f"{stepper}; torch oneDNN available={mkldnn['available']} enabled={mkldnn['enabled']}")
    print_table(HEADERS, [table_row(r) for r in rows], title=title)
    payload = {
        "benchmark": NAME,
        "quick": args.quick,
        "started_unix": started,
        "tokens_per_round": tokens,
        "rounds": rounds,
        "warmup_tokens": WARMUP_TOKENS,
        "temperature": TEMPERATURE,
        "torch_mkldnn": mkldnn,
        "machine": machine_info(),
        "columns": list(HEADERS),
        "rows": rows,
    }
    variant = "no-mkldnn" if args.torch_no_mkldnn else None
    path = write_json(result_name(NAME, args.quick, args.config is not None, variant), payload)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
