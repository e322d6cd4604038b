"""Microseconds per scored token of a long text, scratchrnn's ``CharLM.evaluate`` against PyTorch.

The model, identical on both sides (float32, batch 1, same thread count, one process):

    one-hot input or an embedding of the shipped corpus' characters (V = 65) -> LSTM / GRU /
    RNN (tanh), L layers of H units -> Linear(H, V)

built by ``scratchrnn.nn.SequenceModel`` with seeded random weights, held by a ``CharLM`` with the
corpus' vocabulary, and exported with ``scratchrnn.io.to_torch``. The text is the first ``chars``
characters of the shipped corpus. One timed call scores all of it, every token given all the ones
before, the state carried from the first token:

    scratchrnn  ``lm.evaluate(text)`` (text -> ids, chunks of ``scratchrnn.scoring.EVAL_CHUNK``
                tokens, float64 log-softmax, the mean); the "records" column times
                ``lm.evaluate(text, on_token=rows.append)``, which also builds one dict per token
    PyTorch     under ``torch.no_grad()``, the same ids (encoded once, outside the timing) in chunks
                of the same size with the state carried: ``logits, h = model(x, h)``, then
                ``log_softmax`` in float64, the targets' entries gathered and averaged

Before timing, both sides score the text once and the losses must agree within 1e-5 (float32
weights; the scores are the same computation). Timing: ``common.time_interleaved`` with the repeat
policy of ``--quick`` / ``--repeats`` / ``--budget``: the libraries take turns in blocks, and the
table shows the median (IQR) over the timed calls, per token. The speed-up is PyTorch's time over
scratchrnn's: above 1, scratchrnn is faster.

PyTorch's LSTM uses oneDNN's fused kernel for float32 on the CPU when oneDNN is built in and
enabled; ``--torch-no-mkldnn`` switches it off for a run. The JSON records whether it was on.

Run: ``python benchmarks/bench_eval.py [--quick] [--chars N] [--repeats R] [--budget S]
[--config I ...] [--torch-no-mkldnn]``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from common import (
    RepeatPolicy,
    machine_info,
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
from scratchrnn import CharLM
from scratchrnn.data.text import load_corpus
from scratchrnn.io import to_torch
from scratchrnn.nn.model import SequenceModel
from scratchrnn.scoring import EVAL_CHUNK

NAME = "bench_eval"
SEED = 0  # the weights
FULL_CHARS, QUICK_CHARS = 20_000, 4_000  # characters of the shipped corpus scored per call
LOSS_ATOL = 1e-5  # the two losses must agree this closely


@dataclass(frozen=True)
class Config:
    """Cell ("rnn", "lstm" or "gru"), hidden size H, layers L and input: an embedding of E, or
    one-hot when E is None; vocabulary 65, batch 1."""

    cell: str
    hidden: int
    layers: int = 2
    embedding: int | None = None

    def label(self) -> str:
        emb = "" if self.embedding is None else f" E={self.embedding}"
        return f"{self.cell.upper()} H={self.hidden} L={self.layers}{emb}"


# The default model of scratchrnn train first (scratchrnn.recipe.TRAIN_RECIPE), then the other
# cells, then smaller models.
CONFIGS = (Config("gru", 384, embedding=64), Config("lstm", 256), Config("gru", 256),
           Config("rnn", 256), Config("lstm", 128), Config("lstm", 64), Config("gru", 64))


def make_models(cfg: Config):
    """The CharLM (weights seeded, vocabulary of the whole corpus) and its PyTorch twin."""
    corpus = load_corpus()
    lm = CharLM(cell=cfg.cell, hidden_size=cfg.hidden, num_layers=cfg.layers,
                embedding_dim=cfg.embedding, dtype="float32")
    lm.vocab = lm._build_vocab(corpus)
    lm.model = SequenceModel(lm._model_config(len(lm.vocab)), rng=SEED).train(False)
    return lm, to_torch(lm.model).eval()


def torch_loss(tmodel, ids) -> float:
    """Mean negative log-likelihood of ids[1:] (a torch int64 tensor), chunked as scratchrnn is."""
    import torch

    total, h, n = 0.0, None, ids.shape[0]
    with torch.no_grad():
        for s in range(0, n - 1, EVAL_CHUNK):
            y = ids[s + 1 : s + EVAL_CHUNK + 1]  # (c,)
            logits, h = tmodel(ids[s : s + y.shape[0], None], h)  # (c, 1, V)
            lp = torch.log_softmax(logits[:, 0].double(), dim=-1)  # (c, V)
            total += float(lp.gather(1, y[:, None]).sum())
    return -total / (n - 1)


def run_config(cfg: Config, text: str, policy: RepeatPolicy) -> dict:
    import torch

    lm, tmodel = make_models(cfg)
    ids = torch.from_numpy(lm.vocab.encode(list(text)))  # (n,) int64
    n = len(text) - 1  # scored tokens
    ours, theirs = lm.evaluate(text)["loss"], torch_loss(tmodel, ids)
    if not abs(ours - theirs) <= LOSS_ATOL:
        raise RuntimeError(f"losses differ: scratchrnn {ours:.8f}, torch {theirs:.8f}")
    rows: list = []
    timings = time_interleaved(
        {"scratchrnn": lambda: lm.evaluate(text), "torch": lambda: torch_loss(tmodel, ids),
         "records": lambda: lm.evaluate(text, on_token=rows.append)},
        policy, setups={"records": rows.clear})
    per_token = {k: {**timing_dict(t), "us_per_token": 1e3 * t.median_ms / n,
                     "iqr_us_per_token": 1e3 * t.iqr_ms / n} for k, t in timings.items()}
    return {
        "config": asdict(cfg),
        "label": cfg.label(),
        "model_config": lm.model.config.to_dict(),
        "tokens": n,
        "scratchrnn": per_token["scratchrnn"],
        "torch": per_token["torch"],
        "scratchrnn_records": per_token["records"],
        "speedup_torch_over_scratchrnn": timings["torch"].median_ms / timings["scratchrnn"].median_ms,
        "check": {"loss_scratchrnn": ours, "loss_torch": theirs, "loss_abs_diff": abs(ours - theirs)},
    }


HEADERS = ("config", "scratchrnn us/token (IQR)", "torch us/token (IQR)", "speed-up",
           "with records us/token")


def _us(t: dict) -> str:
    return f"{t['us_per_token']:.1f} ({t['iqr_us_per_token']:.1f})"


def table_row(r: dict) -> tuple[str, ...]:
    return (r["label"], _us(r["scratchrnn"]), _us(r["torch"]), f"{r['speedup_torch_over_scratchrnn']:.2f}x",
            f"{r['scratchrnn_records']['us_per_token']:.1f}")


def parse_args(argv):
    p = timing_parser(NAME, __doc__.splitlines()[0], len(CONFIGS),
                      quick_help=f"{QUICK_CHARS:,} characters, 1 warm-up and 3 repeats per library per "
                                 "config")
    p.add_argument("--chars", type=int, default=None,
                   help=f"characters of the corpus scored per call (default {FULL_CHARS:,})")
    p.add_argument("--torch-no-mkldnn", action="store_true",
                   help="switch PyTorch's oneDNN backend off (its fused LSTM kernel) for this run")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    """Run the benchmark, print the table, write benchmarks/results/bench_eval[.quick][.partial].json."""
    args = parse_args(argv)
    chars = args.chars if args.chars is not None else (QUICK_CHARS if args.quick else FULL_CHARS)
    if chars < 2:
        raise SystemExit(f"{NAME}: --chars must be at least 2, got {chars}")
    picks = picked_configs(NAME, args.config, len(CONFIGS))
    try:
        policy = RepeatPolicy.from_args(args.quick, args.repeats, args.budget)
    except ValueError as exc:
        raise SystemExit(f"{NAME}: {exc}") from None
    text = load_corpus()[:chars]
    threads = setup_threads()
    started = time.time()
    with torch_mkldnn(False if args.torch_no_mkldnn else None):
        mkldnn = torch_mkldnn_info()
        rows = [run_config(CONFIGS[i], text, policy) for i in picks]
    repeats = sorted({r["scratchrnn"]["repeats"] for r in rows})
    title = (f"{NAME}: us per scored token of {len(text) - 1:,} tokens, batch 1, float32, chunks of "
             f"{EVAL_CHUNK}, {threads['threads']} threads; median of {'/'.join(map(str, repeats))} calls "
             f"per library; torch oneDNN available={mkldnn['available']} enabled={mkldnn['enabled']}")
    print_table(HEADERS, [table_row(r) for r in rows], title=title)
    payload = {
        "benchmark": NAME,
        "quick": args.quick,
        "started_unix": started,
        "chars": chars,
        "eval_chunk": EVAL_CHUNK,
        "policy": asdict(policy),
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
