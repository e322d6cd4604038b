"""scoring.score_ids: the log-probability of every token of a stream given all the ones before
equals a plain reference computation (the reference layers over the whole stream, a float64
log-softmax), for every cell, across chunk boundaries; chunks are reported as scored; the model's
mode is restored; bidirectional models are scored through forward; bad streams are refused."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn import scoring
from scratchrnn.nn import reference
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.scoring import EVAL_CHUNK, score_ids

V = 11


def reference_logprobs(model: SequenceModel, ids: np.ndarray) -> np.ndarray:
    """log p(ids[t+1] | ids[:t+1]) from the reference layers over the whole stream at once."""
    x = np.eye(V)[ids[:-1]][:, None]  # (n-1, 1, V) one-hot
    rnn = {k[4:]: v for k, v in model.params.items() if k.startswith("rnn.")}
    out, _, _ = reference.forward(model.config.cell, rnn, x, nonlinearity=model.config.nonlinearity)
    logits = out[:, 0] @ model.params["head.weight"].T + model.params["head.bias"]  # (n-1, V)
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return logp[np.arange(ids.shape[0] - 1), ids[1:]]


def make(cell, layers=2, **kw):
    cfg = ModelConfig(cell=cell, vocab_size=V, hidden_size=7, num_layers=layers, dtype="float64", **kw)
    return SequenceModel(cfg, rng=3)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_scores_equal_the_reference_over_the_whole_stream(cell, monkeypatch):
    monkeypatch.setattr(scoring, "EVAL_CHUNK", 16)  # several chunks and a short last one
    model = make(cell).train(True)
    ids = np.random.default_rng(0).integers(0, V, 53)
    chunks = []
    got = score_ids(model, ids, on_chunk=lambda start, lp: chunks.append((start, lp.copy())))
    np.testing.assert_allclose(got, reference_logprobs(model, ids), rtol=0, atol=1e-12)
    assert [s for s, _ in chunks] == [0, 16, 32, 48]
    np.testing.assert_array_equal(np.concatenate([lp for _, lp in chunks]), got)
    assert model.training  # the mode is restored


def test_the_default_chunk_and_a_two_token_stream():
    model = make("lstm", layers=1)
    ids = np.random.default_rng(1).integers(0, V, EVAL_CHUNK + 3)
    np.testing.assert_allclose(score_ids(model, ids), reference_logprobs(model, ids), rtol=0, atol=1e-12)
    two = ids[:2]
    np.testing.assert_allclose(score_ids(model, two), reference_logprobs(model, two), rtol=0, atol=1e-12)


def test_a_bidirectional_model_is_scored_through_forward(monkeypatch):
    monkeypatch.setattr(scoring, "EVAL_CHUNK", 10)
    model = make("gru", bidirectional=True).train(True)
    ids = np.random.default_rng(2).integers(0, V, 25)
    model.eval()
    want = []
    h = None
    for s in range(0, 24, 10):
        x = ids[s : min(s + 10, 24)]
        logits, h, _ = model.forward(x[:, None], h)
        shifted = logits[:, 0] - logits[:, 0].max(axis=1, keepdims=True)
        lp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        want.append(lp[np.arange(x.shape[0]), ids[s + 1 : s + 1 + x.shape[0]]])
    model.train(True)
    np.testing.assert_allclose(score_ids(model, ids), np.concatenate(want), rtol=0, atol=1e-12)
    assert model.training


@pytest.mark.parametrize("ids", [np.array([3]), np.zeros((4, 2), dtype=np.int64)])
def test_a_stream_too_short_or_not_flat_is_refused(ids):
    with pytest.raises(ValueError, match=r"1-D stream of at least 2 token ids, got shape"):
        score_ids(make("rnn"), ids)
