"""Decoding a Seq2Seq: greedy, sampling and beam search stop at EOS or the maximum length; beam
width 1 is greedy; the n best come back sorted; ended sequences leave the batch."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.functional import log_softmax
from scratchrnn.seq2seq import Seq2Seq, Seq2SeqConfig, beam_search, greedy, sample
from scratchrnn.seq2seq.decode import DecoderStepper


def model(attention="general", cell="lstm", eos=2, V=6, rng=0, bidirectional=False) -> Seq2Seq:
    cfg = Seq2SeqConfig(src_vocab_size=7, tgt_vocab_size=V, embedding_dim=4, hidden_size=5, cell=cell,
                        attention=attention, bidirectional=bidirectional, eos_id=eos, dtype="float64")
    return Seq2Seq(cfg, rng=rng)


def sources(B=4, S=5, seed=1):
    gen = np.random.default_rng(seed)
    return gen.integers(0, 7, (S, B)), gen.integers(1, S + 1, B)


def sequence_log_prob(m: Seq2Seq, src, lengths, b: int, tokens: list[int], ended: bool) -> float:
    """log p(tokens (+ EOS) | source b) by teacher forcing through the model's forward."""
    ids = tokens + ([m.config.eos_id] if ended else [])
    tgt = np.array(ids, np.int64)[:, None]  # (T, 1)
    logits, _, _ = m.eval().forward(src[:, [b]], m.decoder_inputs(tgt), lengths[[b]])
    logp = log_softmax(logits[:, 0].astype(np.float64))
    return float(sum(logp[t, i] for t, i in enumerate(ids)))


@pytest.mark.parametrize("attention", [None, "dot", "additive"])
def test_greedy_picks_the_most_likely_token_and_reports_its_log_probability(attention):
    m = model(attention)
    src, lengths = sources()
    hyps = greedy(m, src, lengths, max_length=7)
    for b, h in enumerate(hyps):
        assert len(h.tokens) <= 7 and m.config.eos_id not in h.tokens
        expected = sequence_log_prob(m, src, lengths, b, h.tokens, h.ended)
        assert h.log_prob == pytest.approx(expected, abs=1e-10)
        ids = h.tokens + ([m.config.eos_id] if h.ended else [])
        tgt = np.array(ids, np.int64)[:, None]
        logits, _, _ = m.forward(src[:, [b]], m.decoder_inputs(tgt), lengths[[b]])
        assert list(logits[:, 0].argmax(axis=1)) == ids  # each token the argmax given the ones before


@pytest.mark.parametrize("attention", [None, "general"])
@pytest.mark.parametrize("seed", range(4))
def test_beam_of_width_one_is_greedy(attention, seed):
    m = model(attention, rng=seed)
    src, lengths = sources(seed=seed)
    for g, (b,) in zip(greedy(m, src, lengths, max_length=8),
                       beam_search(m, src, 1, lengths, max_length=8, length_penalty=0.0), strict=True):
        assert (b.tokens, b.ended) == (g.tokens, g.ended)
        assert b.log_prob == pytest.approx(g.log_prob, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_beam_finds_no_worse_than_greedy_and_returns_the_n_best_sorted(seed):
    m = model("additive", cell="gru", V=5, rng=seed)
    src, lengths = sources(seed=seed)
    greedy_hyps = greedy(m, src, lengths, max_length=6)
    beams = beam_search(m, src, 4, lengths, max_length=6, length_penalty=0.0, n_best=3)
    for b, (g, best) in enumerate(zip(greedy_hyps, beams, strict=True)):
        assert len(best) == 3
        scores = [h.score for h in best]
        assert scores == sorted(scores, reverse=True)
        assert best[0].log_prob >= g.log_prob - 1e-12
        for h in best:
            assert h.log_prob == pytest.approx(sequence_log_prob(m, src, lengths, b, h.tokens, h.ended),
                                               abs=1e-10)
        assert len({tuple(h.tokens) + (h.ended,) for h in best}) == 3  # distinct hypotheses


def test_length_normalisation_divides_the_log_probability_by_the_length():
    m = model()
    src, lengths = sources()
    for hyps in beam_search(m, src, 3, lengths, max_length=6, length_penalty=0.7, n_best=3):
        for h in hyps:
            n = len(h.tokens) + h.ended
            assert h.score == pytest.approx(h.log_prob / n ** 0.7)


def test_decoding_stops_at_the_end_token():
    m = model(attention=None)
    m.params["out.bias"][:] = 0
    m.params["out.bias"][m.config.eos_id] = 50.0  # EOS is by far the most likely at every step
    src, lengths = sources()
    assert all(h.tokens == [] and h.ended for h in greedy(m, src, lengths, max_length=5))
    assert all(hs[0].tokens == [] and hs[0].ended for hs in beam_search(m, src, 3, lengths, max_length=5))
    assert all(h.ended for h in sample(m, src, np.random.default_rng(0), lengths, max_length=5))
    m.params["out.bias"][m.config.eos_id] = -50.0  # never EOS: stop at the maximum length, unfinished
    assert all(len(h.tokens) == 5 and not h.ended for h in greedy(m, src, lengths, max_length=5))


def test_ended_sequences_leave_the_batch(monkeypatch):
    m = model(attention="dot")
    m.params["out.bias"][:] = 0
    m.params["out.bias"][3] = 30.0  # token 3 everywhere, unless the step is told otherwise
    widths = []
    step = DecoderStepper.step

    def counting(self, ids, state, memory):
        widths.append(len(ids))
        logits, state, w = step(self, ids, state, memory)
        logits = logits.copy()
        logits[: len(ids) // 2, m.config.eos_id] = 100.0  # the first half of the batch ends now
        return logits, state, w

    monkeypatch.setattr(DecoderStepper, "step", counting)
    src, lengths = sources(B=8)
    greedy(m, src, lengths, max_length=4)
    assert widths == [8, 4, 2, 1]


def test_sampling_is_reproducible_and_follows_temperature():
    m = model()
    src, lengths = sources(B=6)
    a = sample(m, src, np.random.default_rng(5), lengths, max_length=6)
    b = sample(m, src, np.random.default_rng(5), lengths, max_length=6)
    assert [h.tokens for h in a] == [h.tokens for h in b]
    cold = sample(m, src, np.random.default_rng(5), lengths, max_length=6, temperature=0.0)
    assert [h.tokens for h in cold] == [h.tokens for h in greedy(m, src, lengths, max_length=6)]


def test_attention_weights_come_back_per_step():
    m = model("general", bidirectional=True)
    src, lengths = sources()
    for b, h in enumerate(greedy(m, src, lengths, max_length=5, return_attention=True)):
        assert h.attention.shape == (len(h.tokens) + h.ended, src.shape[0])
        np.testing.assert_allclose(h.attention.sum(axis=1), 1.0)
        assert np.all(h.attention[:, lengths[b]:] == 0)
    for hs in beam_search(m, src, 3, lengths, max_length=5, return_attention=True, n_best=2):
        for h in hs:
            assert h.attention.shape == (len(h.tokens) + h.ended, src.shape[0])
    assert greedy(model(None), src, lengths, return_attention=True)[0].attention is None


@pytest.mark.parametrize("call, match", [
    (lambda m, s, n: beam_search(m, s, 0, n), "beam must be"),
    (lambda m, s, n: beam_search(m, s, 2, n, n_best=3), "n_best must be"),
    (lambda m, s, n: greedy(m, s, n, max_length=0), "max_length must be"),
    (lambda m, s, n: greedy(object(), s, n), "expected a Seq2Seq model, got object"),
    (lambda m, s, n: greedy(m, s + 10, n), r"src must be ids in \[0, 7\)"),
    (lambda m, s, n: greedy(m, np.zeros((1001, 4), np.int64)), "a source of 1001 steps is longer than the "
     "model's maximum, max_source_length=1000"),
])
def test_bad_requests_are_named(call, match):
    m = model()
    src, lengths = sources()
    with pytest.raises(ValueError, match=match):
        call(m, src, lengths)


def test_the_source_limit_counts_the_longest_source_not_the_padding():
    m = model()
    src = np.zeros((1200, 2), np.int64)  # padded far past the limit; the sources are 3 and 5 steps
    assert len(greedy(m, src, np.array([3, 5]), max_length=2)) == 2
    with pytest.raises(ValueError, match="a source of 1001 steps is longer"):
        greedy(m, src, np.array([3, 1001]))
