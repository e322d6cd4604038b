"""Training a Seq2Seq on pairs: the loss falls, a copy task is learnt, exact match counts whole answers."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.seq2seq import Seq2Seq, Seq2SeqConfig
from scratchrnn.seq2seq.data import BOS, EOS
from scratchrnn.seq2seq.fit import FitConfig, exact_match, fit


def reverse_pairs(n: int, seed: int = 0):
    gen = np.random.default_rng(seed)
    sources = [gen.integers(3, 8, gen.integers(2, 5)) for _ in range(n)]
    targets = [np.append(s[::-1], EOS) for s in sources]
    return sources, targets


def test_a_small_model_learns_to_reverse_short_sequences():
    sources, targets = reverse_pairs(64)
    m = Seq2Seq(Seq2SeqConfig(src_vocab_size=8, embedding_dim=8, hidden_size=32, attention="dot", bos_id=BOS,
                              eos_id=EOS, dtype="float64"), rng=0)
    before = exact_match(m, sources, targets, max_length=6)
    seen = []
    history = fit(m, sources, targets, FitConfig(epochs=40, batch_size=16, lr=0.01),
                  callback=lambda epoch, loss: seen.append((epoch, loss)))
    assert seen == list(enumerate(history)) and len(history) == 40
    assert history[-1] < 0.1 * history[0]
    assert before < 0.1 and exact_match(m, sources, targets, max_length=6) > 0.9


def test_scheduled_sampling_trains_too_and_is_seeded():
    sources, targets = reverse_pairs(16)

    def run():
        m = Seq2Seq(Seq2SeqConfig(src_vocab_size=8, embedding_dim=4, hidden_size=8, eos_id=EOS,
                                  dtype="float64"), rng=0)
        return fit(m, sources, targets, FitConfig(epochs=3, batch_size=8, sampling_rate=0.5, seed=3))

    assert run() == run()


def test_exact_match_needs_the_whole_answer_and_its_end():
    m = Seq2Seq(Seq2SeqConfig(src_vocab_size=8, embedding_dim=4, hidden_size=8, attention=None, eos_id=EOS),
                rng=0)
    m.params["out.bias"][:] = 0
    m.params["out.bias"][EOS] = 50.0  # the model answers nothing: an empty answer, ended
    src = [np.array([3, 4])] * 2
    assert exact_match(m, src, [np.array([EOS]), np.array([5, EOS])], max_length=3) == 0.5


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": -1}, "epochs"), ({"lr": 0}, "lr"), ({"clip_norm": 0}, "clip_norm"),
    ({"sampling_rate": 1.5}, "sampling_rate"), ({"batch_size": 0}, "batch_size"),
])
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FitConfig(**kwargs)


def test_fit_needs_one_target_per_source():
    m = Seq2Seq(Seq2SeqConfig(src_vocab_size=8, embedding_dim=4, hidden_size=8), rng=0)
    with pytest.raises(ValueError, match="as many targets as sources"):
        fit(m, [np.array([3])], [], FitConfig(epochs=1))
