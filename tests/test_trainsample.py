"""scratchrnn.trainsample: samples while training, from a Generator of their own."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.optim import Adam
from scratchrnn.train import SequenceData, TokenStream, TrainConfig, Trainer
from scratchrnn.trainsample import training_sample

IDS = np.random.default_rng(0).integers(0, 5, 400)
VOCAB = list("abcde")


def _run(tmp_path=None, resume=None, steps=12, **cfg):
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=6, num_layers=2, dropout=0.3), rng=0)
    extra = {} if tmp_path is None else {"checkpoint_dir": str(tmp_path), "checkpoint_every": 4,
                                         "log_path": str(tmp_path / "log.jsonl")}
    trainer = Trainer(model, Adam(model.params, lr=0.01),
                      TrainConfig(steps=steps, eval_every=4, seed=3, **extra, **cfg), vocab=VOCAB)
    train = TokenStream(IDS[:300], batch_size=2, window=6)
    val = TokenStream(IDS[300:], batch_size=2, window=6)
    trainer.fit(train, val, resume=resume)
    return trainer


def test_samples_do_not_change_the_training_by_a_bit(tmp_path):
    plain = _run()
    sampled = _run(tmp_path, sample_every=5, sample_length=7)
    for name, w in plain.model.params.items():
        assert w.tobytes() == sampled.model.params[name].tobytes(), name
    assert plain.rng.bit_generator.state == sampled.rng.bit_generator.state
    assert plain.history.deterministic()["steps"] == sampled.history.deterministic()["steps"]
    samples = sampled.history.samples
    assert [r["step"] for r in samples] == [5, 10]
    for r in samples:
        assert r["event"] == "sample" and len(r["ids"]) == 7
        assert r["text"] == "".join(VOCAB[i] for i in r["ids"])
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r for r in log if r.get("event") == "sample"] == samples
    assert sampled.model.training  # back in training mode


def test_a_resumed_run_draws_the_same_samples_and_keeps_the_earlier_ones(tmp_path):
    straight = _run(sample_every=3, sample_length=5)
    _run(tmp_path, sample_every=3, sample_length=5, steps=8)
    resumed = _run(tmp_path / "r", resume=tmp_path / "last.npz", sample_every=3, sample_length=5)
    assert [r["step"] for r in straight.history.samples] == [3, 6, 9, 12]
    assert resumed.history.samples == straight.history.samples  # steps 3 and 6 from the checkpoint


def test_training_sample_is_a_function_of_the_seed_and_step():
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=4), rng=0)
    a = training_sample(model, [0], 6, seed=1, step=10)
    assert a == training_sample(model, [0], 6, seed=1, step=10)
    assert a["text"] == " ".join(map(str, a["ids"]))
    assert training_sample(model, [0], 30, seed=1, step=11)["ids"] != training_sample(model, [0], 30, seed=1,
                                                                                       step=10)["ids"]


def test_a_dense_model_takes_no_samples():
    model = SequenceModel(ModelConfig(input_size=2, hidden_size=3, output_size=1), rng=0)
    data = SequenceData(np.zeros((4, 3, 2), np.float32), np.zeros((4, 3, 1), np.float32))
    trainer = Trainer(model, Adam(model.params), TrainConfig(steps=2, loss="mse", sample_every=1))
    with pytest.raises(ValueError, match="^sample_every=1 samples tokens, and the model takes dense inputs$"):
        trainer.fit(data)
