"""The count-based baselines of the word-level task: an add-one unigram and a bigram interpolated
with it, scored on the same sentences, vocabulary and targets as the network.

Every sentence is ``SENTENCE_START w1 .. wn SENTENCE_END`` in ids; its (context, target) pairs are
the ones the network predicts (``target_pairs``), so SENTENCE_START is never a target and the
perplexities compare with the network's exp(mean loss). The bigram's weight lambda is tuned on
held-out training sentences (``baseline_perplexities``), never on validation.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_int, check_real, check_size

__all__ = ["LAMBDA_GRID", "baseline_perplexities", "best_lambda", "bigram_probs", "perplexity",
           "target_pairs", "unigram_probs"]

# Interpolation weights tried for the bigram baseline: 0.00, 0.01, ..., 0.99 (1.0 would give an
# unseen bigram probability zero).
LAMBDA_GRID = np.arange(100) / 100.0  # (100,)


def target_pairs(sentences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every (previous id, target id) of the sentences, as the RNN sees them: contexts (n,) are
    ``SENTENCE_START w1 .. wn`` and targets (n,) ``w1 .. wn SENTENCE_END`` of each sentence."""
    ctx = np.concatenate([s[:-1] for s in sentences])  # (n,)
    tgt = np.concatenate([s[1:] for s in sentences])  # (n,)
    return ctx, tgt


def unigram_probs(targets: np.ndarray, vocab_size: int, never: tuple[int, ...] = ()) -> np.ndarray:
    """Add-one unigram (V,): ``p(w) = (c(w) + 1) / (n + V')`` over the V' ids that can be targets;
    the ids in ``never`` (SENTENCE_START) get probability 0."""
    vocab_size = check_size("vocab_size", vocab_size)
    counts = np.bincount(targets, minlength=vocab_size).astype(np.float64) + 1.0  # (V,)
    counts[list(never)] = 0.0
    return counts / counts.sum()


def bigram_probs(fit_ctx, fit_tgt, ctx, tgt, unigram: np.ndarray, lam: float) -> np.ndarray:
    """Interpolated bigram probabilities (n,) of the pairs (ctx, tgt):
    ``p(w | u) = lam * c(u, w) / c(u) + (1 - lam) * p_uni(w)``, counts from (fit_ctx, fit_tgt); a
    context never seen in fitting has no bigram estimate and gets ``p_uni(w)``."""
    lam = check_real("lam", lam, low=0.0, high=1.0)
    V = unigram.size
    seen, pair_counts = np.unique(fit_ctx * V + fit_tgt, return_counts=True)  # (P,), (P,)
    codes = ctx * V + tgt  # (n,)
    pos = np.minimum(np.searchsorted(seen, codes), seen.size - 1)  # (n,)
    c_pair = np.where(seen[pos] == codes, pair_counts[pos], 0).astype(np.float64)  # (n,)
    c_ctx = np.bincount(fit_ctx, minlength=V).astype(np.float64)[ctx]  # (n,)
    p_uni = unigram[tgt]  # (n,)
    p_ml = np.divide(c_pair, c_ctx, out=p_uni.copy(), where=c_ctx > 0)  # (n,)
    return lam * p_ml + (1.0 - lam) * p_uni


def best_lambda(p_bigram: np.ndarray, p_unigram: np.ndarray, grid: np.ndarray = LAMBDA_GRID) -> float:
    """The weight in ``grid`` that maximises ``sum(log(lam * p_bigram + (1 - lam) * p_unigram))``
    on held-out pairs (n,); all grid points are scored at once, (G, n)."""
    mix = grid[:, None] * p_bigram[None] + (1.0 - grid[:, None]) * p_unigram[None]  # (G, n)
    with np.errstate(divide="ignore"):  # lam = 1 with an unseen bigram scores -inf, never chosen
        score = np.log(mix).sum(axis=1)  # (G,)
    return float(grid[int(np.argmax(score))])


def perplexity(probs: np.ndarray) -> float:
    """``exp(-mean(log p))`` of the probabilities (n,) given to the targets."""
    return float(np.exp(-np.mean(np.log(probs))))


def baseline_perplexities(train: list[np.ndarray], val: list[np.ndarray], vocab_size: int, start_id: int,
                          heldout_fraction: float = 0.1, grid: np.ndarray = LAMBDA_GRID) -> dict:
    """Validation perplexity of the add-one unigram and the interpolated bigram, both fitted on
    ``train``; the bigram's lambda is tuned on the last ``heldout_fraction`` of the training
    sentences with counts from the rest, then the counts are taken from all of ``train``."""
    vocab_size = check_size("vocab_size", vocab_size)
    start_id = check_int("start_id", start_id, low=0, high=vocab_size - 1)
    heldout_fraction = check_real("heldout_fraction", heldout_fraction, low=0.0, high=1.0, low_open=True,
                                  high_open=True)
    n_held = max(1, int(round(heldout_fraction * len(train))))
    if n_held >= len(train):
        raise ValueError(f"tuning lambda needs at least 2 training sentences, got {len(train)}")
    fit_ctx, fit_tgt = target_pairs(train[:-n_held])
    held_ctx, held_tgt = target_pairs(train[-n_held:])
    uni_fit = unigram_probs(fit_tgt, vocab_size, never=(start_id,))  # (V,)
    p_bi_held = bigram_probs(fit_ctx, fit_tgt, held_ctx, held_tgt, uni_fit, 1.0)  # (n,) pure bigram
    lam = best_lambda(p_bi_held, uni_fit[held_tgt], grid)
    ctx, tgt = target_pairs(train)
    v_ctx, v_tgt = target_pairs(val)
    uni = unigram_probs(tgt, vocab_size, never=(start_id,))  # (V,)
    return {
        "unigram_perplexity": perplexity(uni[v_tgt]),
        "bigram_perplexity": perplexity(bigram_probs(ctx, tgt, v_ctx, v_tgt, uni, lam)),
        "bigram_lambda": lam,
    }
