"""scratchrnn.traincheck: what a Trainer refuses before it trains."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.optim import SGD
from scratchrnn.train import SequenceData, TokenStream, TrainConfig, Trainer
from scratchrnn.traincheck import check_data, check_ids

IDS = np.random.default_rng(0).integers(0, 5, 200)

BIDIRECTIONAL = ("^train is a TokenStream for next-token training, and the model is bidirectional: its "
                 r"reverse direction would read the targets \(the tokens after each step\); train a model "
                 "with bidirectional=False$")


def test_a_bidirectional_model_is_refused_for_next_token_stream_training(tmp_path):
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=4, bidirectional=True), rng=0)
    cfg = TrainConfig(steps=3, checkpoint_dir=str(tmp_path / "r"))
    trainer = Trainer(model, SGD(model.params, lr=0.1), cfg)
    with pytest.raises(ValueError, match=BIDIRECTIONAL):
        trainer.fit(TokenStream(IDS, batch_size=2, window=5))
    assert trainer.step == 0 and not (tmp_path / "r").exists()  # refused before anything was made
    with pytest.raises(ValueError, match=BIDIRECTIONAL.replace("^train", "^val")):
        check_data(model, "cross_entropy", TokenStream(IDS, batch_size=2, window=5), "val")


def test_a_bidirectional_model_may_train_on_whole_labelled_sequences():
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=4, bidirectional=True, head="last",
                                      output_size=2), rng=0)
    x = IDS[:40].reshape(8, 5)  # (T, N)
    data = SequenceData(x, np.arange(5) % 2)
    check_data(model, "cross_entropy", data, "train")
    Trainer(model, SGD(model.params, lr=0.1), TrainConfig(steps=2, batch_size=5)).fit(data)


def test_ids_outside_the_vocabulary_are_named():
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=4), rng=0)
    with pytest.raises(ValueError, match=r"^x holds token ids in \[0, 7\], outside the model's vocabulary "
                                         r"\[0, 5\)$"):
        check_ids(model, np.array([0, 7]), "x")
