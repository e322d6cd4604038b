"""SequenceModel (scratchrnn.nn.model): the whole model's backward against finite differences and
against its PyTorch twin, for every input kind and head."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.gradcheck import check_gradients
from scratchrnn.losses import cross_entropy, mse
from scratchrnn.nn.model import ModelCache, ModelConfig, SequenceModel

T, B, V, F = 4, 3, 6, 2

CASES = {  # name -> ModelConfig fields
    "embedding lstm": dict(cell="lstm", vocab_size=V, embedding_dim=3),
    "one-hot gru bidirectional": dict(cell="gru", vocab_size=V, bidirectional=True),
    "dense rnn last": dict(cell="rnn", input_size=F, output_size=2, head="last", num_layers=2),
    "dense lstm last bidirectional": dict(cell="lstm", input_size=F, output_size=2, head="last",
                                          bidirectional=True),
}


def make(case: str, truncate=None):
    cfg = ModelConfig(hidden_size=3, dtype="float64", **CASES[case])
    model = SequenceModel(cfg, rng=1)
    rng = np.random.default_rng(2)
    if model.token_input:
        x = rng.integers(0, V, size=(T, B))
        y = rng.integers(0, V, size=(T, B))
        loss = lambda out: cross_entropy(out, y, reduction="sum")  # noqa: E731
    else:
        x = rng.standard_normal((T, B, F))
        y = rng.standard_normal((B, 2) if cfg.head == "last" else (T, B, 2))
        loss = lambda out: mse(out, y, reduction="sum")  # noqa: E731
    return model, x, loss


@pytest.mark.parametrize("case", sorted(CASES))
def test_backward_matches_finite_differences(case):
    model, x, loss = make(case)
    out, _, cache = model.forward(x)
    _, dout = loss(out)
    dx, _, grads = model.backward(dout, None, cache)
    assert list(grads) == list(model.params)
    assert (dx is None) == model.token_input
    report = check_gradients(lambda _p: loss(model.forward(x)[0])[0], model.params, grads)
    assert report.ok, str(report)


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_backward_match_the_torch_twin(case):
    torch = pytest.importorskip("torch")
    from scratchrnn.io import to_torch

    model, x, loss = make(case)
    twin = to_torch(model)
    out, h_n, cache = model.forward(x)
    X = torch.tensor(x)
    y_t, _ = twin(X)
    np.testing.assert_allclose(out, y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    _, dout = loss(out)
    _, _, grads = model.backward(dout, None, cache)
    (y_t * torch.tensor(dout)).sum().backward()
    for name, p in twin.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_many_to_one_truncation_reaches_only_the_last_steps():
    """head 'last' enters through h_n: with truncate=k the first input steps get no gradient."""
    model, x, loss = make("dense rnn last")
    out, _, cache = model.forward(x)
    _, dout = loss(out)
    dx, _, _ = model.backward(dout, None, cache, truncate=1)
    assert np.all(dx[: T - 2] == 0.0) and np.any(dx[T - 2 :] != 0.0)


def test_the_cache_is_named_and_checked():
    model, x, _ = make("embedding lstm")
    out, _, cache = model.forward(x)
    assert isinstance(cache, ModelCache) and cache.out_shape == (T, B, 3)
    with pytest.raises(ValueError, match="cache returned by forward, got tuple"):
        model.backward(np.zeros_like(out), None, tuple(cache))


def test_initial_state_and_configuration_errors():
    model, _, _ = make("embedding lstm")
    h, c = model.init_state(5)
    assert h.shape == c.shape == (1, 5, 3) and not h.any()
    with pytest.raises(ValueError, match="exactly one of vocab_size"):
        SequenceModel(ModelConfig(vocab_size=4, input_size=2))
    with pytest.raises(ValueError, match="head must be 'all' or 'last'"):
        SequenceModel(ModelConfig(vocab_size=4, head="first"))
    with pytest.raises(ValueError, match="unknown cell 'elman'"):
        SequenceModel(ModelConfig(vocab_size=4, cell="elman"))
    with pytest.raises(ValueError, match="unknown model configuration key"):
        ModelConfig.from_dict({"cells": "rnn"})
