"""scratchrnn.validation: the best validation kept, early stopping, the best weights restored."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scratchrnn.io import load_checkpoint
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.optim import Adam
from scratchrnn.train import SequenceData, TrainConfig, Trainer
from scratchrnn.validation import best_step, judge, patience_spent


def _contrary(seed=1):
    """Training and validation sets with opposite rules: validation gets worse as training goes on."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, (6, 8))  # (T, N)
    return SequenceData(x, x), SequenceData(x, (x + 1) % 5)


def _run(tmp_path, **cfg):
    train, val = _contrary()
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=12), rng=0)
    config = TrainConfig(**{"steps": 200, "batch_size": 4, "eval_every": 2, "patience": 3,
                            "checkpoint_dir": str(tmp_path), "log_path": str(tmp_path / "log.jsonl"), **cfg})
    trainer = Trainer(model, Adam(model.params, lr=0.05), config)
    return trainer, trainer.fit(train, val)


def test_early_stopping_restores_the_best_weights_and_says_so(tmp_path):
    trainer, history = _run(tmp_path)
    assert trainer.stop_reason == "patience"
    best = min(history.evals, key=lambda r: r["val_loss"])
    assert history.restored == {"step": trainer.step, "event": "restore_best", "best_step": best["step"],
                                "val_loss": best["val_loss"]}
    assert best["step"] < trainer.step
    for name, w in trainer.model.params.items():
        np.testing.assert_array_equal(w, trainer.best_params[name], err_msg=name)
    assert trainer.evaluate(_contrary()[1]) == pytest.approx(best["val_loss"], rel=1e-6)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert log[-1] == history.restored
    # last.npz holds the run as it stopped, so a resume goes on from there, not from the best
    last = load_checkpoint(tmp_path / "last.npz")
    assert last.step == trainer.step
    assert any(not np.array_equal(last.params[k], trainer.best_params[k]) for k in last.params)
    np.testing.assert_array_equal(load_checkpoint(tmp_path / "best.npz").params["head.weight"],
                                  trainer.best_params["head.weight"])


def test_restore_best_false_keeps_the_last_weights(tmp_path):
    trainer, history = _run(tmp_path, restore_best=False)
    assert trainer.stop_reason == "patience" and history.restored is None
    last = load_checkpoint(tmp_path / "last.npz")
    for name, w in trainer.model.params.items():
        np.testing.assert_array_equal(w, last.params[name], err_msg=name)


def test_a_run_that_completes_keeps_its_last_weights(tmp_path):
    trainer, history = _run(tmp_path, steps=6, patience=None)
    assert trainer.stop_reason == "completed" and history.restored is None


class _Stub:
    def __init__(self, patience):
        self.best_val, self.bad_evals, self.best_params = None, 0, None
        self.config = TrainConfig(steps=1, patience=patience)
        self.model = SequenceModel(ModelConfig(vocab_size=3, hidden_size=2), rng=0)


def test_judge_counts_validations_and_patience_spends_them():
    t = _Stub(patience=2)
    assert judge(t, 2.0) and t.best_val == 2.0 and t.best_params is not None
    assert not judge(t, 2.0) and t.bad_evals == 1 and not patience_spent(t)
    assert not judge(t, 3.0) and patience_spent(t)
    assert judge(t, 1.0) and t.bad_evals == 0 and not patience_spent(t)
    assert not patience_spent(_Stub(patience=None))
    assert best_step([{"step": 2, "best": True}, {"step": 4, "best": False}, {"step": 6, "best": True},
                      {"step": 8, "best": False}]) == 6
    assert best_step([]) is None
