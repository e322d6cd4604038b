"""scratchrnn.sample: the sampled distribution (chi-square against softmax(z / T)), greedy decoding,
suppressed tokens, top-k / top-p sets, determinism, generation with a carried state against one full
forward pass, the one-sequence sampling path against sample_next, beam search against greedy
decoding and against brute force, and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from model_wrappers import ForwardOnly
from scratchrnn import checks
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.sample import (
    apply_temperature,
    beam_search,
    check_sampling_options,
    generate,
    sample_next,
    suppress_tokens,
    top_k_filter,
    top_p_filter,
)

CHI2_999_DOF5 = 20.515  # 0.999 quantile of chi-square with 5 degrees of freedom
LOGITS6 = np.array([1.3, -0.4, 0.2, 2.1, -1.5, 0.7])  # (6,) a fixed, tie-free distribution


# -- helpers (independent of the library's own math) ---------------------------------------------------
def softmax_ref(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def chi_square(ids: np.ndarray, probs: np.ndarray) -> float:
    """Pearson's statistic of the counts of ``ids`` against ``probs`` over the categories with p > 0."""
    counts = np.bincount(ids, minlength=probs.size).astype(float)
    expected = ids.size * probs
    support = probs > 0
    assert counts[~support].sum() == 0, "a token of probability 0 was drawn"
    return float(((counts[support] - expected[support]) ** 2 / expected[support]).sum())


def make_model(cell="lstm", V=7, H=8, L=2, seed=0, dtype="float64", **kw) -> SequenceModel:
    return SequenceModel(ModelConfig(cell=cell, vocab_size=V, hidden_size=H, num_layers=L, dtype=dtype, **kw),
                         rng=seed)


def continuation_logprobs(model: SequenceModel, prime: np.ndarray, conts: np.ndarray) -> np.ndarray:
    """log p(cont | prime) for each row of conts (N, L), from one forward pass over prime + cont."""
    N, L = conts.shape
    x = np.concatenate([np.repeat(prime[:, None], N, axis=1), conts.T[:-1]], axis=0)  # (P+L-1, N)
    model.eval()
    y, _, _ = model.forward(x)  # (P+L-1, N, V)
    z = y[len(prime) - 1 :].astype(np.float64)  # (L, N, V) the logits that predict cont
    logp = z - z.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, conts.T[:, :, None], axis=2)[:, :, 0]  # (L, N)
    return picked.sum(axis=0)


# -- the sampled distribution --------------------------------------------------------------------------
@pytest.mark.parametrize("T", [0.5, 1.0, 2.0])
def test_samples_follow_softmax_of_logits_over_temperature(T):
    n = 20_000
    ids = sample_next(np.tile(LOGITS6, (n, 1)), np.random.default_rng(1234), temperature=T)
    assert ids.shape == (n,) and ids.dtype == np.int64
    assert chi_square(ids, softmax_ref(LOGITS6 / T)) < CHI2_999_DOF5
    if T != 1.0:  # the test has the power to see an ignored temperature
        assert chi_square(ids, softmax_ref(LOGITS6)) > 10 * CHI2_999_DOF5


def test_one_row_at_a_time_draws_the_same_distribution():
    rng = np.random.default_rng(7)
    ids = np.array([sample_next(LOGITS6[None], rng, temperature=0.8)[0] for _ in range(6000)])
    assert chi_square(ids, softmax_ref(LOGITS6 / 0.8)) < CHI2_999_DOF5


def test_top_k_and_top_p_draw_the_renormalised_distributions():
    n = 20_000
    z = np.tile(LOGITS6, (n, 1))
    p = softmax_ref(LOGITS6)
    top3 = np.argsort(-LOGITS6)[:3]
    want_k = np.where(np.isin(np.arange(6), top3), p, 0.0)
    ids = sample_next(z, np.random.default_rng(5), top_k=3)
    assert chi_square(ids, want_k / want_k.sum()) < 13.816  # 0.999 quantile, 2 dof
    order = np.argsort(-p)
    m = int(np.searchsorted(np.cumsum(p[order]), 0.8) + 1)  # smallest prefix with mass >= 0.8
    want_p = np.where(np.isin(np.arange(6), order[:m]), p, 0.0)
    ids = sample_next(z, np.random.default_rng(6), top_p=0.8)
    assert chi_square(ids, want_p / want_p.sum()) < {2: 10.828, 3: 13.816, 4: 16.266}[m]


def test_temperature_sharpens_below_one_and_flattens_above():
    def entropy(T):
        p = softmax_ref(apply_temperature(LOGITS6[None], T)[0])
        return float(-(p * np.log(p)).sum())

    assert entropy(0.5) < entropy(1.0) < entropy(2.0) < np.log(6)
    np.testing.assert_allclose(softmax_ref(apply_temperature(LOGITS6[None], 0.7)[0]),
                               softmax_ref(LOGITS6 / 0.7), rtol=1e-12)
    # a temperature so small that z / T overflows still gives the greedy one-hot, silently
    np.testing.assert_array_equal(np.exp(apply_temperature(LOGITS6[None], 1e-308)[0]), np.eye(6)[3])


def test_temperature_zero_is_greedy_with_ties_to_the_lowest_id_and_draws_nothing():
    z = np.array([[0.5, 2.0, 2.0, -1.0], [3.0, 3.0, 3.0, 3.0], [-5.0, -np.inf, -4.0, -4.0]])
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    np.testing.assert_array_equal(sample_next(z, rng, temperature=0), [1, 0, 2])
    assert rng.bit_generator.state == before
    np.testing.assert_array_equal(np.exp(apply_temperature(z, 0)), np.eye(4)[[1, 0, 2]])


def test_one_uniform_draw_per_row():
    rng = np.random.default_rng(3)
    sample_next(np.zeros((5, 4)), rng)
    twin = np.random.default_rng(3)
    twin.random((5, 1))
    assert rng.bit_generator.state == twin.bit_generator.state


def test_a_draw_rounded_onto_the_total_takes_the_last_possible_token():
    from scratchrnn.sample import _draw

    class Top:  # the largest draw, as rounding of u * total can produce
        def random(self, shape):
            return np.ones(shape)

    w = np.array([[0.5, 0.25, 0.0, 0.0], [0.0, 1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(_draw(w, Top()), [1, 3])


def test_masked_tokens_are_never_drawn():
    z = np.tile(np.array([0.0, -np.inf, 0.0, -np.inf]), (4000, 1))
    ids = sample_next(z, np.random.default_rng(0), temperature=3.0)
    assert set(np.unique(ids).tolist()) == {0, 2}


# -- suppressed tokens -----------------------------------------------------------------------------------
def test_suppressed_tokens_become_minus_infinity_and_the_rest_is_kept():
    z = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]], np.float32)  # (2, 3)
    before = z.copy()
    out = suppress_tokens(z, [2, 0, 2])  # repeats are harmless
    assert out.dtype == np.float64 and out.shape == (2, 3)
    np.testing.assert_array_equal(out[:, [0, 2]], -np.inf)
    np.testing.assert_array_equal(out[:, 1], z[:, 1].astype(np.float64))
    np.testing.assert_array_equal(z, before)  # the caller's logits are left alone
    z64 = z.astype(np.float64)
    suppress_tokens(z64, 1)[0, 0] = 99.0  # one id as an int; a float64 input is copied too
    assert z64[0, 0] == 1.0
    np.testing.assert_array_equal(suppress_tokens(z64, np.array([1]))[:, 1], -np.inf)
    np.testing.assert_array_equal(suppress_tokens(z64, []), z64)  # nothing to suppress


def test_suppressed_tokens_are_never_drawn_and_the_rest_renormalise():
    z = np.tile(LOGITS6, (30_000, 1))  # (N, 6)
    masked = suppress_tokens(z, [3, 0])  # the two most likely tokens
    ids = sample_next(masked, np.random.default_rng(4))
    probs = softmax_ref(LOGITS6)
    probs[[3, 0]] = 0.0
    assert chi_square(ids, probs / probs.sum()) < CHI2_999_DOF5  # 4 categories left (3 dof): a loose bound
    for T in (0.0, 0.3, 4.0):
        drawn = set(np.unique(sample_next(masked[:2000], np.random.default_rng(5), temperature=T)).tolist())
        assert drawn.isdisjoint({0, 3})
    # greedy decoding takes the best token that is left (5, logit 0.7); with top-k, the best k left
    np.testing.assert_array_equal(sample_next(masked[:3], None, temperature=0), [5, 5, 5])
    assert set(np.unique(sample_next(masked[:2000], np.random.default_rng(6), top_k=2)).tolist()) == {2, 5}


def test_bad_suppressed_ids():
    z = np.zeros((2, 4))
    with pytest.raises(ValueError, match=r"\[0, 4\) \(the vocabulary\), got values in \[-1, 2\]"):
        suppress_tokens(z, [2, -1])
    with pytest.raises(ValueError, match=r"got values in \[4, 4\]"):
        suppress_tokens(z, 4)
    with pytest.raises(ValueError, match=r"a 1-D sequence of them, got shape \(2,\) dtype float64"):
        suppress_tokens(z, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"got shape \(1, 2\)"):
        suppress_tokens(z, [[1, 2]])
    with pytest.raises(ValueError, match="suppressing all 4 tokens of the vocabulary leaves nothing to draw"):
        suppress_tokens(z, [0, 1, 2, 3, 1])
    with pytest.raises(ValueError, match=r"2-D array \(B, V\)"):
        suppress_tokens(np.zeros(4), [1])


# -- top-k and top-p sets --------------------------------------------------------------------------------
def test_top_k_never_leaves_the_k_largest():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 20)) * 2
    for k in (1, 3, 8):
        allowed = np.argsort(-z, axis=1)[:, :k]  # (300, k)
        for trial in range(5):
            ids = sample_next(z, rng, temperature=1.5, top_k=k)
            assert all(ids[b] in allowed[b] for b in range(z.shape[0])), (k, trial)
        kept = np.isfinite(top_k_filter(z, k))
        assert (kept.sum(axis=1) == k).all()
        assert all(set(np.flatnonzero(kept[b])) == set(allowed[b]) for b in range(z.shape[0]))


def test_top_k_ties_keep_exactly_k_with_the_lower_ids():
    z = np.array([[1.0, 3.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(np.isfinite(top_k_filter(z, 2)),
                                  [[False, True, True, False, False], [True, True, False, False, False]])
    ids = sample_next(np.repeat(z[:1], 2000, axis=0), np.random.default_rng(1), top_k=2)
    assert set(np.unique(ids).tolist()) == {1, 2}
    assert np.isfinite(top_k_filter(z, 50)).all()  # k beyond the vocabulary keeps everything


def test_top_p_never_leaves_the_nucleus():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(300, 12)) * 2
    probs = softmax_ref(z)
    for top_p in (0.3, 0.75, 0.95):
        allowed = []
        for row in probs:
            order = np.argsort(-row)
            m = int(np.searchsorted(np.cumsum(row[order]), top_p) + 1)
            allowed.append(set(order[:m].tolist()))
        for _ in range(5):
            ids = sample_next(z, rng, top_p=top_p)
            assert all(int(ids[b]) in allowed[b] for b in range(z.shape[0])), top_p
        kept = np.isfinite(top_p_filter(z, top_p))
        assert all(set(np.flatnonzero(kept[b]).tolist()) == allowed[b] for b in range(z.shape[0]))
    assert np.isfinite(top_p_filter(z, 1.0)).all()


def test_combined_filters_and_their_greedy_limits():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(200, 15))
    greedy = np.argmax(z, axis=1)
    np.testing.assert_array_equal(sample_next(z, rng, top_k=1, temperature=5.0), greedy)
    np.testing.assert_array_equal(sample_next(z, rng, top_p=1e-9), greedy)
    top4 = np.argsort(-z, axis=1)[:, :4]
    ids = sample_next(z, rng, top_k=4, top_p=0.9, temperature=2.0)
    assert all(ids[b] in top4[b] for b in range(z.shape[0]))


# -- validation ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"temperature": -0.5}, r"temperature .*-0\.5"),
    ({"temperature": float("nan")}, r"temperature .*nan"),
    ({"temperature": True}, r"temperature .*True"),
    ({"top_k": 0}, r"top_k .*got 0"),
    ({"top_k": 2.5}, r"top_k .*2\.5"),
    ({"top_p": 0.0}, r"top_p .*\(0, 1\].*0\.0"),
    ({"top_p": 1.5}, r"top_p .*1\.5"),
    ({"top_p": -0.1}, r"top_p .*-0\.1"),
])
def test_bad_options_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_next(LOGITS6[None], np.random.default_rng(0), **kwargs)
    with pytest.raises(ValueError, match=match):
        check_sampling_options(**kwargs)


def test_bad_logits_and_generators():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"2-D array \(B, V\).*\(6,\)"):
        sample_next(LOGITS6, rng)
    with pytest.raises(ValueError, match="row 1 .*nan"):
        sample_next(np.array([[0.0, 1.0], [np.nan, 0.0]]), rng)
    with pytest.raises(ValueError, match="row 0 .*-inf"):
        sample_next(np.array([[-np.inf, -np.inf]]), rng)
    with pytest.raises(ValueError, match="rng must be None, an integer seed >= 0 or a numpy Generator"):
        sample_next(LOGITS6[None], "3")
    # an int seed stands for np.random.default_rng(seed), as every rng argument of the package
    flat = np.zeros((50, 6))
    assert np.array_equal(sample_next(flat, 3), sample_next(flat, np.random.default_rng(3)))


# -- generation -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_greedy_generation_with_carried_state_matches_one_full_forward(cell):
    model = make_model(cell, V=9, embedding_dim=5 if cell == "gru" else None)
    prime = np.array([3, 1, 4, 1, 5])
    ids = generate(model, prime, 12, np.random.default_rng(0), temperature=0)
    assert ids.shape == (12,) and ids.dtype == np.int64
    full = np.concatenate([prime, ids])
    y, _, _ = model.forward(full[:-1, None])  # (16, 1, 9)
    np.testing.assert_array_equal(np.argmax(y[len(prime) - 1 :, 0], axis=1), ids)


class RecordingModel(SequenceModel):
    """A SequenceModel that keeps every logits array its forward pass returns."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def forward(self, x, h0=None, rng=None):
        y, h, cache = super().forward(x, h0, rng)
        self.seen.append(y.copy())
        return y, h, cache


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_generation_reads_the_logits_of_the_carried_state_in_eval_mode(cell):
    cfg = ModelConfig(cell=cell, vocab_size=6, hidden_size=8, num_layers=3, dropout=0.5, dtype="float64")
    model = RecordingModel(cfg, rng=1)
    model.train(True)
    prime = np.array([[1, 4, 2], [0, 5, 5]]).T  # (P=3, B=2)
    ids = generate(model, prime, 8, np.random.default_rng(0), temperature=1.5)
    assert model.training
    used = np.concatenate([model.seen[0][-1:]] + [y for y in model.seen[1:]])  # (8, B, V)
    model.eval()
    full, _, _ = model.forward(np.concatenate([prime, ids])[:-1])  # (10, B, V) no dropout
    np.testing.assert_allclose(used, full[prime.shape[0] - 1 :], rtol=1e-12, atol=1e-12)


def test_sampling_uses_the_carried_state_distribution():
    # every step's draw is the inverse CDF of softmax(logits / T) of the full-sequence forward pass
    model = make_model("lstm", V=6)
    prime, T = np.array([2, 0]), 0.7
    ids = generate(model, prime, 10, np.random.default_rng(11), temperature=T)
    y, _, _ = model.forward(np.concatenate([prime, ids])[:-1, None])
    p = softmax_ref(y[len(prime) - 1 :, 0] / T)  # (10, 6)
    u = np.random.default_rng(11).random(10)
    np.testing.assert_array_equal(ids, [int(np.searchsorted(np.cumsum(p[t]), u[t] * p[t].sum(), side="right"))
                                        for t in range(10)])


def test_same_seed_same_ids_and_different_seeds_differ():
    model = make_model("gru", V=11)
    a = generate(model, [1, 2], 40, np.random.default_rng(5))
    b = generate(model, [1, 2], 40, np.random.default_rng(5))
    c = generate(model, [1, 2], 40, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(generate(model, [1, 2], 40, 5), a)  # an int seed is a Generator's seed


def test_batched_prompts_match_one_at_a_time():
    model = make_model("lstm", V=8)
    primes = np.array([[1, 2, 3], [4, 4, 0], [7, 1, 6]]).T  # (P=3, B=3)
    got = generate(model, primes, 9, np.random.default_rng(0), temperature=0)
    assert got.shape == (9, 3)
    for b in range(3):
        np.testing.assert_array_equal(got[:, b], generate(model, primes[:, b], 9, 0, temperature=0))
    sampled = generate(model, primes, 9, np.random.default_rng(0), top_k=3)
    assert sampled.shape == (9, 3) and sampled.min() >= 0 and sampled.max() < 8


def test_on_token_streams_each_id_in_order():
    model = make_model("rnn", V=5)
    seen = []
    ids = generate(model, [0], 15, np.random.default_rng(2), on_token=seen.append)
    assert seen == ids.tolist() and all(type(i) is int for i in seen)
    batches = []
    out = generate(model, np.zeros((1, 2), np.int64), 4, 0, on_token=batches.append)
    np.testing.assert_array_equal(np.stack(batches), out)
    assert generate(model, [0], 0, 0).shape == (0,)


def test_generation_runs_in_eval_mode_and_restores_the_mode():
    model = make_model("lstm", V=6, L=3, dropout=0.5)
    model.train(True)
    a = generate(model, [1, 2, 3], 20, 0, temperature=0)
    assert model.training
    b = generate(model, [1, 2, 3], 20, 0, temperature=0)
    np.testing.assert_array_equal(a, b)  # no dropout mask is drawn during generation
    model.eval()
    generate(model, [1], 2, 0)
    assert not model.training


class StepperModel(ForwardOnly):
    """A model offering the optional ``stepper()`` fast path (here built on forward, and counted)."""

    def __init__(self, model):
        super().__init__(model)
        self.steps = 0

    def stepper(self):
        def step(ids, h):
            self.steps += 1
            y, h, _ = self.inner.forward(ids[None, :], h)
            return y[0], h
        return step


def test_a_models_stepper_is_used_when_it_has_one():
    model = make_model("lstm", V=7)
    wrapped = StepperModel(model)
    np.testing.assert_array_equal(generate(wrapped, [1, 2], 6, 3), generate(model, [1, 2], 6, 3))
    assert wrapped.steps == 5  # no step after the last token
    np.testing.assert_array_equal(beam_search(wrapped, [1, 2], 4, 3), beam_search(model, [1, 2], 4, 3))
    assert wrapped.steps == 5 + 3


def test_bad_generation_inputs():
    model = make_model("rnn", V=5)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"\[0, 5\).*\[0, 9\]"):
        generate(model, [0, 9], 3, rng)
    with pytest.raises(ValueError, match="non-empty"):
        generate(model, np.array([], np.int64), 3, rng)
    with pytest.raises(ValueError, match="integer token ids.*float"):
        generate(model, np.array([1.0]), 3, rng)
    with pytest.raises(ValueError, match="length .*-1"):
        generate(model, [1], -1, rng)
    with pytest.raises(ValueError, match="rng must be None, an integer seed >= 0 or a numpy Generator"):
        generate(model, [1], 3, 1.5)
    with pytest.raises(ValueError, match="temperature .*-1"):
        generate(model, [1], 3, rng, temperature=-1)
    with pytest.raises(ValueError, match="bidirectional"):
        generate(make_model("gru", V=5, bidirectional=True), [1], 3, rng)
    dense = SequenceModel(ModelConfig(input_size=3, output_size=3, hidden_size=4), rng=0)
    with pytest.raises(ValueError, match="token inputs"):
        generate(dense, [1], 3, rng)
    with pytest.raises(ValueError, match="beam .*0"):
        beam_search(model, [1], 3, 0)
    with pytest.raises(ValueError, match=r"\(P,\)"):
        beam_search(model, np.zeros((2, 2), np.int64), 3, 2)


# -- beam search -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_beam_one_is_greedy(cell):
    model = make_model(cell, V=10, H=12, seed=4)
    prime = np.array([1, 5, 2])
    np.testing.assert_array_equal(beam_search(model, prime, 15, 1),
                                  generate(model, prime, 15, 0, temperature=0))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_exhaustive_beam_finds_the_brute_force_optimum(cell):
    # with beam = V^(L-1) nothing is ever pruned, so the search must return the exact argmax
    V, L = 3, 4
    model = make_model(cell, V=V, H=6, seed=9)
    prime = np.array([0, 2])
    conts = np.array(list(itertools.product(range(V), repeat=L)))  # (81, 4)
    scores = continuation_logprobs(model, prime, conts)
    best = beam_search(model, prime, L, V ** (L - 1))
    np.testing.assert_array_equal(best, conts[np.argmax(scores)])
    greedy = generate(model, prime, L, 0, temperature=0)
    best_score, greedy_score = continuation_logprobs(model, prime, np.stack([best, greedy]))
    assert best_score >= greedy_score


@pytest.mark.parametrize(("cell", "seed"), [("rnn", 1), ("lstm", 2), ("gru", 3)])
def test_a_wider_beam_scores_at_least_as_high_as_greedy_here(cell, seed):
    # Not a theorem for every model (a beam can prune the greedy path and end lower); a property
    # of these fixed models, checked for beams of 2 and 5.
    model = make_model(cell, V=12, H=16, seed=seed)
    prime = np.array([3, 7])
    greedy = generate(model, prime, 10, 0, temperature=0)
    cands = [greedy] + [beam_search(model, prime, 10, b) for b in (2, 5)]
    scores = continuation_logprobs(model, prime, np.stack(cands))
    assert scores[2] >= scores[0] - 1e-12 and scores[1] >= scores[0] - 1e-12


def test_ties_go_to_the_lowest_id_in_greedy_and_beam_search():
    model = make_model("gru", V=5)
    model.params["head.weight"][:] = 0.0
    model.params["head.bias"][:] = [0.0, 1.0, 1.0, 0.5, 1.0]  # every step: a three-way tie for the max
    want = np.ones(6, np.int64)
    np.testing.assert_array_equal(generate(model, [0], 6, 0, temperature=0), want)
    for beam in (1, 2, 7):
        np.testing.assert_array_equal(beam_search(model, [0], 6, beam), want)


def test_beam_search_edge_cases_and_mode():
    model = make_model("lstm", V=4, dropout=0.3)
    model.train(True)
    assert beam_search(model, [1], 0, 3).shape == (0,)
    a = beam_search(model, [1, 2], 6, 50)  # wider than the number of continuations at first
    assert a.shape == (6,) and model.training
    np.testing.assert_array_equal(a, beam_search(model, [1, 2], 6, 50))


# -- the one-sequence path of generate -------------------------------------------------------------------
def test_the_one_row_sampler_draws_what_sample_next_draws():
    from scratchrnn.sample import _row_sampler

    rng = np.random.default_rng(21)
    for _ in range(400):
        V = int(rng.integers(1, 40))
        scale = float(rng.choice([0.01, 1.0, 50.0, 1e4]))
        z = (rng.standard_normal(V) * scale).astype(rng.choice([np.float32, np.float64]))  # (V,)
        T = float(rng.choice([0.0, 1e-300, 0.3, 1.0, 1.8, 1e5]))
        seed = int(rng.integers(2**31))
        mine, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        got = _row_sampler(V, mine, T)(z)
        assert type(got) is int
        assert got == sample_next(z[None], ref, temperature=T)[0]
        assert mine.bit_generator.state == ref.bit_generator.state  # one draw, or none for T = 0


def test_the_one_row_sampler_takes_the_last_possible_token_on_a_draw_rounded_onto_the_total():
    from scratchrnn.sample import _row_sampler

    class Top:  # the largest draw, as rounding of u * total can produce
        def random(self):
            return 1.0

    z = np.array([0.5, -np.inf, 1.0, -np.inf, -np.inf])  # (5,) tokens 3 and 4 have probability 0
    assert _row_sampler(5, Top(), 1.0)(z) == 2
    assert _row_sampler(5, Top(), 0.5)(z) == 2


@pytest.mark.parametrize("options", [dict(temperature=1.0), dict(temperature=0.6), dict(temperature=1.9),
                                     dict(temperature=0), dict(top_k=7), dict(top_p=1.0)])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_one_sequence_draws_what_sample_next_draws_step_by_step(cell, options):
    model = make_model(cell, V=7, dtype="float32", seed=5).eval()
    prime, n = np.array([2, 6, 1]), 25
    mine, ref = np.random.default_rng(8), np.random.default_rng(8)
    ids = generate(model, prime, n, mine, **options)
    y, h, _ = model.forward(prime[:, None])  # (P, 1, V)
    want = []
    for _ in range(n):
        want.append(int(sample_next(y[-1], ref, **options)[0]))
        y, h, _ = model.forward(np.array([[want[-1]]]), h)  # (1, 1, V)
    np.testing.assert_array_equal(ids, want)
    assert mine.bit_generator.state == ref.bit_generator.state


@pytest.mark.parametrize("options", [dict(), dict(temperature=0), dict(top_k=2)])
@pytest.mark.parametrize("prime", [[1, 2], [[1, 2], [3, 0]]])
def test_non_finite_logits_from_the_model_raise(prime, options):
    model = make_model("gru", V=5)
    model.params["head.bias"][3] = np.nan
    with pytest.raises(ValueError, match="maximum nan"):
        generate(model, prime, 4, 0, **options)


# -- arguments and memory -----------------------------------------------------------------------------
def test_on_token_must_be_callable_and_sizes_are_bounded():
    model = make_model(V=5, H=4, L=1)
    with pytest.raises(ValueError, match="on_token must be None or a callable, got str"):
        generate(model, np.array([1]), 3, rng=0, on_token="print")
    with pytest.raises(ValueError, match="beam must be at most 1,048,576"):
        beam_search(model, np.array([1]), 3, beam=2**21)
    with pytest.raises(ValueError, match="top_k must be None or a positive integer, got 0"):
        generate(model, np.array([1]), 3, rng=0, top_k=0)
    assert generate(model, np.array([1]), np.int64(2), rng=np.int64(0), top_k=np.int32(2),
                    temperature=np.float32(0.5), top_p=np.float64(0.9)).shape == (2,)


def test_generation_larger_than_the_memory_available_is_refused(monkeypatch):
    model = make_model(V=5, H=4, L=1)
    monkeypatch.setattr(checks, "machine_memory", lambda: 16 * 10**4)
    monkeypatch.setattr(checks, "available_memory", lambda: 10**4)
    assert generate(model, np.array([1]), 1000, rng=0).shape == (1000,)  # 8 kB of ids
    with pytest.raises(ValueError, match="^generate of 2,000 tokens for a batch of 1 needs about 16 kB for "
                                         "the ids it returns; this machine has 10 kB available$"):
        generate(model, np.array([1]), 2000, rng=0)
    with pytest.raises(ValueError, match="beam_search with a beam of 400 over 5 tokens needs about 54.4 kB"):
        beam_search(model, np.array([1]), 2, beam=400)


def test_generation_keeps_no_cache_across_calls_so_new_weights_are_always_used():
    """The sampling path makes its stepper (a snapshot of the weights) per call: after
    load_state_dict or an optimizer step the next call samples from the new weights."""
    model, other = make_model(seed=0), make_model(seed=1)
    prime = np.array([1, 2, 3])
    expected = generate(other, prime, 8, rng=0, temperature=0)
    assert not np.array_equal(generate(model, prime, 8, rng=0, temperature=0), expected)
    model.load_state_dict(other.state_dict())
    assert np.array_equal(generate(model, prime, 8, rng=0, temperature=0), expected)
    assert np.array_equal(beam_search(model, prime, 4, beam=2), beam_search(other, prime, 4, beam=2))


# -- suppressed tokens in the decoding loops ----------------------------------------------------------
@pytest.mark.parametrize("options", [{}, {"temperature": 0.0}, {"top_k": 3}, {"top_p": 0.9}])
def test_generation_never_draws_a_suppressed_token(options):
    model = SequenceModel(ModelConfig(vocab_size=4, hidden_size=8), rng=0)
    model.params["head.bias"][...] = np.array([0.0, 0.0, 0.0, 6.0])  # token 3 is by far the most likely
    free = generate(model, [0, 1], 300, 0, **options)
    ids = generate(model, [0, 1], 300, 0, suppress=[3], **options)
    assert np.count_nonzero(free == 3) > 100 and not np.any(ids == 3)
    batched = generate(model, np.array([[0, 1], [1, 2]]), 50, 0, suppress=3, **options)
    assert not np.any(batched == 3)
    assert not np.any(beam_search(model, [0, 1], 20, 2, suppress=[3]) == 3)
    assert np.any(beam_search(model, [0, 1], 20, 2) == 3)


def test_suppressing_in_the_loop_draws_what_suppressing_each_step_by_hand_draws():
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=6), rng=1)
    rng = np.random.default_rng(4)
    logits, h, _ = model.forward(np.array([[2]]))
    by_hand = []
    for _ in range(30):
        i = int(sample_next(suppress_tokens(logits[-1], [0, 4]), rng)[0])
        by_hand.append(i)
        logits, h, _ = model.forward(np.array([[i]]), h)
    assert generate(model, [2], 30, np.random.default_rng(4), suppress=[0, 4]).tolist() == by_hand
    with pytest.raises(ValueError, match=r"suppressed ids must lie in \[0, 5\)"):
        generate(model, [2], 3, 0, suppress=[5])


# -- beam search with an end token ---------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_beam_one_with_an_end_token_is_greedy_up_to_it(cell):
    model = make_model(cell, V=6, H=8, seed=5)
    prime = np.array([1, 2])
    greedy = generate(model, prime, 12, 0, temperature=0)
    eos = int(greedy[3])  # greedy's fourth token: with it as the end, beam 1 stops right there
    cut = int(np.flatnonzero(greedy == eos)[0])
    np.testing.assert_array_equal(beam_search(model, prime, 12, 1, eos=eos), greedy[:cut + 1])


def test_an_end_token_finishes_the_search_with_the_most_likely_ending():
    V, L, eos = 3, 4, 0
    model = make_model("lstm", V=V, H=6, seed=9)
    prime = np.array([1, 2])
    best = beam_search(model, prime, L, V ** L, eos=eos)  # nothing pruned: the exact optimum
    # every candidate: a continuation that ends with eos at its first eos, or L tokens without one
    cands = [c for c in itertools.product(range(V), repeat=L) if eos not in c]
    cands += [c[:k] + (eos,) for k in range(L) for c in itertools.product(range(1, V), repeat=L)]
    cands = sorted(set(cands))
    scores = [float(continuation_logprobs(model, prime, np.array([c]))[0]) for c in cands]
    assert tuple(best.tolist()) == cands[int(np.argmax(scores))]
    assert best[-1] == eos or len(best) == L
    assert eos not in best[:-1].tolist()


def test_the_end_token_is_checked():
    model = make_model("rnn", V=5, H=4, seed=0)
    with pytest.raises(ValueError, match="eos"):
        beam_search(model, [1], 3, 2, eos=5)
    assert beam_search(model, [1], 0, 2, eos=1).shape == (0,)
