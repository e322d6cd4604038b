"""scratchrnn.snapshot: a snapshot taken and restored puts a trainer back bit for bit, and the
copies it holds are its own."""

from __future__ import annotations

import numpy as np

from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.optim import Adam, StepLR
from scratchrnn.snapshot import copy_state, deep_copy, restore_snapshot, take_snapshot
from scratchrnn.train import TokenStream, TrainConfig, Trainer


def _trainer(steps):
    cfg = ModelConfig(cell="lstm", vocab_size=5, hidden_size=4, num_layers=2, dropout=0.3)
    model = SequenceModel(cfg, rng=0)
    opt = Adam(model.params, lr=0.05)
    trainer = Trainer(model, opt, TrainConfig(steps=steps, eval_every=2, sample_every=2, sample_length=3),
                      scheduler=StepLR(opt, 2, 0.5))
    stream = TokenStream(np.random.default_rng(0).integers(0, 5, 200), batch_size=2, window=4)
    return trainer, stream


def test_restoring_a_snapshot_puts_the_run_back_exactly():
    trainer, stream = _trainer(3)
    trainer.fit(stream, stream)
    snap = take_snapshot(trainer)
    want = {k: v.copy() for k, v in trainer.model.params.items()}
    rng_state, lr = trainer.rng.bit_generator.state, trainer.optimizer.lr
    trainer.config.steps = 7
    trainer.fit(stream, stream)  # moves everything on
    assert trainer.step == 7 and trainer.optimizer.lr != lr
    restore_snapshot(trainer, snap)
    assert trainer.step == 3 and len(trainer.history.steps) == 3 and len(trainer.history.evals) == 1
    assert [r["step"] for r in trainer.history.samples] == [2]
    assert all(trainer.model.params[k].tobytes() == v.tobytes() for k, v in want.items())
    assert trainer.rng.bit_generator.state == rng_state and trainer.optimizer.lr == lr
    # the run goes on from there as it did the first time
    again, stream2 = _trainer(7)
    again.fit(stream2, stream2)
    trainer.fit(stream, stream)
    assert all(trainer.model.params[k].tobytes() == v.tobytes() for k, v in again.model.params.items())
    assert trainer.history.deterministic() == again.history.deterministic()


def test_the_copies_are_independent():
    h = (np.zeros(3), np.ones(2))
    c = copy_state(h)
    c[0][0] = 5.0
    assert h[0][0] == 0.0 and copy_state(None) is None and copy_state(np.ones(1)).base is None
    tree = {"a": [np.zeros(2), {"b": np.ones(1)}], "n": 3}
    copied = deep_copy(tree)
    copied["a"][0][0] = 9.0
    copied["a"][1]["b"][0] = 9.0
    assert tree["a"][0][0] == 0.0 and tree["a"][1]["b"][0] == 1.0 and copied["n"] == 3
