"""The word-level task's count baselines: the add-one unigram, the interpolated bigram and its
lambda, checked by hand on toy sentences and on the corpus."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.tasks import word_baselines as B
from scratchrnn.tasks import word_lm as W

# -- baselines -----------------------------------------------------------------------------------
# ids: 0 UNKNOWN_TOKEN, 1 SENTENCE_START, 2 SENTENCE_END, 3 "a", 4 "b"
TOY_TRAIN = [np.array([1, 3, 4, 2]), np.array([1, 3, 2])]


def test_unigram_add_one_by_hand():
    # training targets 3 4 2 3 2: counts UNK 0, END 2, a 2, b 1; add one to the 4 ids that can be
    # targets (START never is): 1, 3, 3, 2 over 9
    _, tgt = B.target_pairs(TOY_TRAIN)
    p = B.unigram_probs(tgt, 5, never=(1,))
    np.testing.assert_allclose(p, [1 / 9, 0, 3 / 9, 3 / 9, 2 / 9])
    # validation "a b": targets a b END -> (3/9 * 2/9 * 3/9) ** (-1/3) = (2/81) ** (-1/3)
    out = B.baseline_perplexities(TOY_TRAIN, [np.array([1, 3, 4, 2])], 5, start_id=1, heldout_fraction=0.5)
    assert out["unigram_perplexity"] == pytest.approx((2 / 81) ** (-1 / 3))


def test_interpolated_bigram_by_hand():
    ctx, tgt = B.target_pairs(TOY_TRAIN)
    uni = B.unigram_probs(tgt, 5, never=(1,))
    # pairs START-a (2 of 2 after START), a-b (1 of 2 after a), a-END (1 of 2), b-END (1 of 1);
    # with lambda 1/2:  START->a: 1/2 * 1 + 1/2 * 3/9 = 2/3;  a->b: 1/2 * 1/2 + 1/2 * 2/9 = 13/36;
    # b->END: 1/2 * 1 + 1/2 * 3/9 = 2/3
    v_ctx, v_tgt = B.target_pairs([np.array([1, 3, 4, 2])])
    p = B.bigram_probs(ctx, tgt, v_ctx, v_tgt, uni, 0.5)
    np.testing.assert_allclose(p, [2 / 3, 13 / 36, 2 / 3])
    assert B.perplexity(p) == pytest.approx((2 / 3 * 13 / 36 * 2 / 3) ** (-1 / 3))
    # START->UNK was never seen: 1/2 * 0 + 1/2 * 1/9; UNK never was a context: the unigram's 3/9 for END
    v_ctx, v_tgt = B.target_pairs([np.array([1, 0, 2])])
    np.testing.assert_allclose(B.bigram_probs(ctx, tgt, v_ctx, v_tgt, uni, 0.5), [1 / 18, 3 / 9])


def test_best_lambda_matches_the_analytic_optimum():
    # held-out pairs with bigram estimates (1, 0) and unigram ones (a, b): the log-likelihood
    # log(l + (1 - l) a) + log((1 - l) b) peaks at l* = (1 - 2a) / (2 (1 - a)) = 1/3 for a = 1/4
    lam = B.best_lambda(np.array([1.0, 0.0]), np.array([0.25, 0.1]))
    assert abs(lam - 1 / 3) <= 0.01
    # a held-out set the bigram explains perfectly pushes lambda to the top of the grid
    assert B.best_lambda(np.array([1.0, 1.0]), np.array([0.2, 0.3])) == B.LAMBDA_GRID[-1]


def test_lambda_is_tuned_on_training_data_not_validation():
    tiny_data = W.prepare_data(W.Config(vocab_size=300, max_sentences=400))
    V, s = len(tiny_data.vocab), tiny_data.vocab.start_id
    a = B.baseline_perplexities(tiny_data.train, tiny_data.val, V, s)
    b = B.baseline_perplexities(tiny_data.train, tiny_data.val[:5], V, s)
    assert a["bigram_lambda"] == b["bigram_lambda"]
    assert 0 < a["bigram_lambda"] < 1
    assert a["bigram_perplexity"] < a["unigram_perplexity"] < V
