"""One training step of an attention encoder-decoder, scratchrnn against PyTorch on the CPU.

The step, identical on both sides (float32, time-major, same thread count, one process):

    Embedding(V, E) -> LSTM encoder (H) over S source tokens -> the final state to an LSTM decoder
    (H) over T target inputs -> attention ("general" or "additive") of each decoder state over the
    encoder outputs -> tanh(W_c [context; h]) -> Linear(H, V) -> cross-entropy (mean over T*B
    tokens) -> backward -> SGD (lr 0.1) on every parameter

The scratchrnn side is ``scratchrnn.seq2seq.Seq2Seq.loss_and_grads`` and an in-place update; the
PyTorch side is its twin from ``scratchrnn.io.to_torch`` (``torch.nn.Embedding``, ``torch.nn.LSTM``,
``torch.nn.Linear`` and the attention in torch operations), ``F.cross_entropy`` and
``torch.optim.SGD``. Both start from the same weights, and before timing the first step's losses
and updated weights must agree within 1e-4; every timed repeat starts from those weights again.

Run: ``python benchmarks/bench_seq2seq.py [--quick] [--repeats N] [--budget S] [--config I ...]``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from common import (
    RepeatPolicy,
    ScratchModules,
    TorchModules,
    check_step_agreement,
    machine_info,
    ms_cell,
    picked_configs,
    print_table,
    result_name,
    setup_threads,
    time_interleaved,
    timing_dict,
    timing_parser,
    write_json,
)
from scratchrnn.seq2seq import Seq2Seq, Seq2SeqConfig

NAME = "bench_seq2seq"
LR = 0.1
SEED = 0
LOSS_ATOL = 1e-4
WEIGHT_ATOL = 1e-4


@dataclass(frozen=True)
class Config:
    """Attention kind, vocabulary V (both sides), embedding E, hidden H, source S and target T
    lengths, batch B."""

    attention: str
    vocab: int
    embedding: int
    hidden: int
    source: int
    target: int
    batch: int

    def label(self) -> str:
        return (f"LSTM+{self.attention} V={self.vocab} E={self.embedding} H={self.hidden} "
                f"S={self.source} T={self.target} B={self.batch}")


CONFIGS = tuple(Config(kind, 100, 64, 256, 30, 30, 64) for kind in ("general", "additive"))


class ScratchModel(ScratchModules):
    def __init__(self, cfg: Config):
        self.model = Seq2Seq(Seq2SeqConfig(src_vocab_size=cfg.vocab, embedding_dim=cfg.embedding,
                                           hidden_size=cfg.hidden, attention=cfg.attention), rng=SEED)
        self.modules = {"model": self.model}

    def step(self, src, tgt) -> float:
        loss, grads = self.model.loss_and_grads(src, tgt)
        self.sgd({"model": grads}, LR)
        return loss


class TorchModel(TorchModules):
    def __init__(self, src: ScratchModel):
        import torch

        from scratchrnn.io import to_torch

        self.torch = torch
        self.net = to_torch(src.model)
        self.modules = {"model": self.net}
        self.opt = torch.optim.SGD(self.net.parameters(), lr=LR)

    def step(self, src, tgt_in, tgt) -> float:
        self.opt.zero_grad(set_to_none=True)
        logits, _ = self.net(src, tgt_in)  # (T, B, V)
        loss = self.torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
        loss.backward()
        self.opt.step()
        return loss.item()


def run_config(cfg: Config, policy: RepeatPolicy) -> dict:
    import torch

    gen = np.random.default_rng(SEED)
    src = gen.integers(3, cfg.vocab, (cfg.source, cfg.batch))  # (S, B)
    tgt = gen.integers(3, cfg.vocab, (cfg.target, cfg.batch))  # (T, B)
    sm = ScratchModel(cfg)
    tm = TorchModel(sm)
    init = sm.state()
    tgt_in = sm.model.decoder_inputs(tgt)
    tbatch = (torch.from_numpy(src), torch.from_numpy(tgt_in), torch.from_numpy(tgt))
    check = check_step_agreement(sm, tm, (src, tgt), tbatch, init, LOSS_ATOL, WEIGHT_ATOL)
    timings = time_interleaved(
        {"scratchrnn": lambda: sm.step(src, tgt), "torch": lambda: tm.step(*tbatch)},
        policy,
        setups={"scratchrnn": lambda: sm.load(init), "torch": lambda: tm.load(init)},
    )
    t_s, t_t = timings["scratchrnn"], timings["torch"]
    return {"config": asdict(cfg), "label": cfg.label(), "scratchrnn": timing_dict(t_s),
            "torch": timing_dict(t_t), "speedup_torch_over_scratchrnn": t_t.median_ms / t_s.median_ms,
            "check": check}


HEADERS = ("config", "scratchrnn ms (IQR)", "torch ms (IQR)", "speed-up")


def main(argv=None) -> dict:
    """Run the benchmark, print the table, write benchmarks/results/bench_seq2seq[.quick][.partial].json."""
    args = timing_parser(NAME, __doc__.splitlines()[0], len(CONFIGS)).parse_args(argv)
    policy = RepeatPolicy.from_args(args.quick, args.repeats, args.budget)
    picks = picked_configs(NAME, args.config, len(CONFIGS))
    threads = setup_threads()
    started = time.time()
    rows = [run_config(CONFIGS[i], policy) for i in picks]
    title = f"{NAME}: one training step of an attention seq2seq, float32, {threads['threads']} threads"
    print_table(HEADERS, [(r["label"], ms_cell(r["scratchrnn"]), ms_cell(r["torch"]),
                           f"{r['speedup_torch_over_scratchrnn']:.2f}x") for r in rows], title=title)
    payload = {"benchmark": NAME, "quick": args.quick, "started_unix": started, "policy": asdict(policy),
               "machine": machine_info(), "columns": list(HEADERS), "rows": rows}
    path = write_json(result_name(NAME, args.quick, args.config is not None), payload)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
