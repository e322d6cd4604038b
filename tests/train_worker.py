"""Training runs for the resume tests of test_train.py, and a script that runs one to be killed.

``build(scenario, workdir)`` makes the trainer, training data and validation data of a scenario,
identically in the test process and in the worker subprocess:

* ``"sequence"``: SequenceData of token ids with a mask, a 2-layer RNN with dropout, Adam with a
  StepLR schedule, norm clipping and validation every 3 steps; 3 batches per epoch, so a
  checkpoint at step 4 or 8 is in the middle of an epoch (the permutation cursor matters);
* ``"stream"``: a TokenStream with carried hidden state, a 2-layer RNN with dropout, truncated
  BPTT, SGD with momentum and HalveOnIncrease on validations every 4 steps;
* ``"lstm"``: a TokenStream with an LSTM, whose carried state is the tuple (h, c).

Run as a script with one JSON argument, it trains the scenario with checkpoints and a log under
``workdir`` and, once it reaches the requested point, writes ``signal_path`` and waits to be
killed with SIGKILL:

* ``block_at_step``: after that step is done (logged and checkpointed if due);
* ``block_in_save``: inside that save of ``last.npz`` (1-based count), after the first member of
  the archive is written, so the kill lands in the middle of a checkpoint write.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from scratchrnn import train as train_mod
from scratchrnn.io import checkpoint as checkpoint_io
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.optim import SGD, Adam, HalveOnIncrease, StepLR
from scratchrnn.train import SequenceData, TokenStream, TrainConfig, Trainer

SCENARIOS = ("sequence", "stream", "lstm")
BLOCK_SECONDS = 120.0  # a blocked worker exits by itself after this long if nobody kills it


def build(scenario: str, workdir=None, **overrides) -> tuple[Trainer, object, object]:
    """(trainer, train data, val data) of ``scenario``; ``workdir`` adds checkpoints and a log."""
    rng = np.random.default_rng(100)
    extra = {}
    if workdir is not None:
        extra = {"checkpoint_dir": str(Path(workdir) / "ckpt"), "log_path": str(Path(workdir) / "log.jsonl")}
    if scenario == "sequence":
        V = 7
        x = rng.integers(0, V, size=(6, 10))  # (T, N)
        y = rng.integers(0, V, size=(6, 10))  # (T, N)
        mask = rng.random((6, 10)) < 0.8  # (T, N)
        train = SequenceData(x, y, mask)
        val = SequenceData(rng.integers(0, V, size=(6, 5)), rng.integers(0, V, size=(6, 5)))
        model = SequenceModel(ModelConfig(vocab_size=V, embedding_dim=4, hidden_size=8, num_layers=2,
                                          dropout=0.25), rng=1)
        opt = Adam(model.params, lr=0.02)
        scheduler = StepLR(opt, step_size=4, gamma=0.7)
        cfg = dict(steps=14, batch_size=4, clip_norm=1.0, eval_every=3, seed=5)
    elif scenario in ("stream", "lstm"):
        V = 6
        train = TokenStream(rng.integers(0, V, size=200), batch_size=4, window=5)  # 9 windows per epoch
        val = TokenStream(rng.integers(0, V, size=60), batch_size=2, window=5)
        if scenario == "stream":
            model = SequenceModel(ModelConfig(vocab_size=V, hidden_size=8, num_layers=2, dropout=0.2), rng=2)
            opt = SGD(model.params, lr=0.3, momentum=0.9)
            scheduler = HalveOnIncrease(opt)
            cfg = dict(steps=14, truncate=3, eval_every=4, seed=6)
        else:
            model = SequenceModel(ModelConfig(cell="lstm", vocab_size=V, hidden_size=6), rng=3)
            opt = Adam(model.params, lr=0.05)
            scheduler = None
            cfg = dict(steps=12, eval_every=5, seed=7)
    else:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {SCENARIOS}")
    cfg.update(extra)
    cfg.update(overrides)
    return Trainer(model, opt, TrainConfig(**cfg), scheduler=scheduler), train, val


def _signal_and_wait(path: str) -> None:
    tmp = path + ".tmp"
    Path(tmp).write_text(str(os.getpid()))
    os.replace(tmp, path)  # the test sees the whole file or nothing
    time.sleep(BLOCK_SECONDS)
    sys.exit(3)  # nobody killed us: the test has gone


def main(spec: dict) -> None:
    trainer, train, val = build(spec["scenario"], spec["workdir"], checkpoint_every=spec["checkpoint_every"])
    block_at = spec.get("block_at_step")
    if block_at is not None:
        def on_event(event, tr, record):
            # the periodic checkpoint comes after the step event, so wait for the later of the two
            due = tr.config.checkpoint_every and tr.step % tr.config.checkpoint_every == 0
            last_saved = event == "checkpoint" and Path(record["path"]).name == "last.npz"
            if tr.step == block_at and (last_saved or (event == "step" and not due)):
                _signal_and_wait(spec["signal_path"])

        trainer.callbacks.append(on_event)
    block_in = spec.get("block_in_save")
    if block_in is not None:
        saves = {"count": 0, "armed": False}
        real_save, real_member = train_mod.save_checkpoint, checkpoint_io.write_member

        def counting_save(path, **kwargs):
            if Path(path).name == "last.npz":
                saves["count"] += 1
                saves["armed"] = saves["count"] == block_in
            return real_save(path, **kwargs)

        def member(archive, key, array, compress):
            real_member(archive, key, array, compress)
            if saves["armed"]:
                archive.fp.flush()  # part of the new archive is on disk when the kill comes
                _signal_and_wait(spec["signal_path"])

        train_mod.save_checkpoint = counting_save
        checkpoint_io.write_member = member
    trainer.fit(train, val)
    sys.exit(4)  # finished without reaching the blocking point


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
