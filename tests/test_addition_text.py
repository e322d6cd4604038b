"""The addition-as-text task: its questions, their encoding, its settings and a short run."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.tasks import addition_text as task


def test_questions_are_distinct_up_to_order_and_within_the_digits():
    cfg = task.Config(digits=2, n_train=900, n_test=100)
    pairs = task.make_questions(cfg, np.random.default_rng(0))
    assert len(pairs) == 1000
    assert len({(min(a, b), max(a, b)) for a, b in pairs}) == 1000
    assert all(0 <= a < 100 and 0 <= b < 100 for a, b in pairs)
    assert any(a < 10 for a, _ in pairs) and any(a >= 10 for a, _ in pairs)  # 1 and 2 digits


def test_questions_are_padded_and_reversed_and_answers_end_with_eos():
    cfg = task.Config(digits=3, n_train=10, n_test=10)
    (src,), (tgt,) = task.encode(cfg, [(535, 61)])
    assert task.VOCAB.decode(src) == " 16+535"  # "535+61 " read backwards
    assert task.VOCAB.decode(tgt) == "596" and tgt[-1] == 2
    cfg.reverse = False
    assert task.VOCAB.decode(task.encode(cfg, [(535, 61)])[0][0]) == "535+61 "


def test_asking_for_more_questions_than_exist_is_refused():
    with pytest.raises(ValueError, match="more than half of the 55 there are"):
        task.Config(digits=1, n_train=20, n_test=10)
    with pytest.raises(ValueError, match="attention must be None or one of"):
        task.Config(attention="luong")


def test_a_short_run_learns_one_digit_sums():
    cfg = task.Config(digits=1, n_train=20, n_test=7, hidden_size=32, epochs=60, batch_size=10, lr=0.01,
                      target_accuracy=0.0)
    result = task.run(cfg)
    assert result.name == "addition-text" and len(result.curves["train_loss"]) == 60
    assert result.curves["train_loss"][-1] < 0.2 * result.curves["train_loss"][0]
    assert 0.0 <= result.metrics["exact_match"] <= 1.0 and "->" in result.ours
