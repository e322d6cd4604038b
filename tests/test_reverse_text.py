"""The reversal task: its data, its settings and a short run of both models."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.seq2seq.data import EOS, SymbolVocab
from scratchrnn.tasks import reverse_text as task


def test_sequences_lie_within_the_lengths_and_targets_are_them_reversed():
    cfg = task.Config(min_len=3, max_len=6)
    vocab = SymbolVocab("abcd")
    sources, targets = task.make_sequences(cfg, 50, np.random.default_rng(0), vocab)
    assert {len(s) for s in sources} <= set(range(3, 7)) and len({len(s) for s in sources}) > 1
    for s, t in zip(sources, targets, strict=True):
        assert t[-1] == EOS and t[:-1].tolist() == s[::-1].tolist()


@pytest.mark.parametrize("kwargs, match", [
    ({"min_len": 5, "max_len": 4}, "max_len"), ({"attention": "luong"}, "attention must be one of"),
    ({"symbols": 1}, "symbols"), ({"margin": 2}, "margin"),
])
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        task.Config(**kwargs)


def test_a_short_run_trains_both_models_and_reports_both():
    cfg = task.Config(symbols=4, min_len=3, max_len=5, n_train=64, n_test=16, hidden_size=16, epochs=3,
                      batch_size=16, target_accuracy=0.0, margin=0.0)
    result = task.run(cfg)
    assert set(result.metrics) == {"dot", "none"}
    assert set(result.curves) == {"loss", "loss_without_attention"}
    assert all(len(c) == 3 for c in result.curves.values())
    weights = result.artifacts["attention"]
    labels = result.artifacts["attention_target"], result.artifacts["attention_source"]
    assert weights.shape == tuple(len(x) for x in labels)
    assert result.figures == ("attention",) and set(result.files) == {"model.npz"}
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)  # float32 weights
    assert "with dot attention" in result.ours
    diff = result.metrics["dot"]["exact_match"] - result.metrics["none"]["exact_match"]
    assert result.passed == (diff >= 0.0)  # target 0 and margin 0: passed exactly when not worse
