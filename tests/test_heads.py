"""SequenceModel's heads with sequence lengths (scratchrnn.nn.heads): against PyTorch's packed
sequences through the torch twin, against finite differences, and against each sequence run on its
own; float64 throughout."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn import ModelConfig, SequenceModel
from scratchrnn.gradcheck import check_gradients
from scratchrnn.nn.model import HEADS

CELLS = ("rnn", "lstm", "gru")
T, B, V, F = 6, 4, 5, 3


def build(cell, head, bi, token, seed=0, num_layers=2):
    cfg = ModelConfig(cell=cell, vocab_size=V if token else None, embedding_dim=4 if token else None,
                      input_size=None if token else F, hidden_size=3, num_layers=num_layers,
                      bidirectional=bi, output_size=2, head=head, dtype="float64")
    return SequenceModel(cfg, rng=seed)


def batch(token, seed=0, lengths=None):
    """Padded inputs with padding nothing may read (NaN, or the id -1) and lengths 1 and T included."""
    rng = np.random.default_rng(seed)
    lens = np.array([1, T, 3, 5]) if lengths is None else np.asarray(lengths)
    pad = np.arange(T)[:, None] >= lens  # (T, B)
    if token:
        x = rng.integers(0, V, size=(T, B))
        x[pad] = -1
    else:
        x = rng.standard_normal((T, B, F))
        x[pad] = np.nan
    return x, lens


def run(model, x, lens, dy_seed=1):
    y, h_n, cache = model.forward(x, lengths=lens)
    dy = np.random.default_rng(dy_seed).standard_normal(y.shape)
    dx, _, grads = model.backward(dy, None, cache)
    return y, h_n, dy, dx, grads


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("bi", [False, True])
def test_heads_with_lengths_equal_torch_packed(cell, head, bi):
    """Logits, h_n, every parameter gradient and dx equal the torch twin's run on a packed
    sequence (1e-10); dense input for the unidirectional models, token ids with an embedding and
    padding ids of -1 for the bidirectional ones."""
    from scratchrnn.io import to_torch

    token = bi
    model = build(cell, head, bi, token)
    x, lens = batch(token)
    y, h_n, dy, dx, grads = run(model, x, lens)
    twin = to_torch(model)
    xt = torch.tensor(x) if token else torch.tensor(np.nan_to_num(x), requires_grad=True)
    yt, hnt = twin(xt, lengths=torch.tensor(lens))
    (yt * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    hs = h_n if isinstance(h_n, tuple) else (h_n,)
    hts = hnt if isinstance(hnt, tuple) else (hnt,)
    for a, b in zip(hs, hts, strict=True):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-10)
    named = dict(twin.named_parameters())
    for name, g in grads.items():
        np.testing.assert_allclose(g, named[name].grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=name)
    if not token:
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
        assert not dx[np.arange(T)[:, None] >= lens].any()


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("head", HEADS)
def test_heads_finite_differences_with_lengths(cell, head):
    """A bidirectional two-layer model with lengths: backward is the gradient of sum(dy * y) for
    every parameter and for the input inside the lengths, by central differences."""
    model = build(cell, head, True, False, seed=2)
    x, lens = batch(False, seed=3)
    x = np.nan_to_num(x)
    _, _, dy, dx, grads = run(model, x, lens)

    def loss(_):
        y, _, _ = model.forward(x, lengths=lens)
        return float(np.sum(y * dy))

    params = {**model.params, "x": x}
    report = check_gradients(loss, params, {**grads, "x": dx})
    assert report.ok, report


@pytest.mark.parametrize("head", HEADS)
def test_pooled_heads_equal_each_sequence_on_its_own(head):
    """A padded batch with lengths gives each sequence the prediction it gets alone, unpadded,
    and the batch's gradients are the sum of the sequences' own."""
    model = build("gru", head, True, False, seed=4)
    x, lens = batch(False, seed=5)
    y, _, dy, _, grads = run(model, x, lens)
    total = {k: np.zeros_like(v) for k, v in grads.items()}
    for b, n in enumerate(lens):
        xb = np.ascontiguousarray(x[:n, b : b + 1])
        yb, _, cache = model.forward(xb)
        dyb = dy[:n, b : b + 1] if head == "all" else dy[b : b + 1]
        np.testing.assert_allclose(yb, y[:n, b : b + 1] if head == "all" else y[b : b + 1], rtol=1e-12,
                                   atol=1e-12)
        _, _, gb = model.backward(dyb, None, cache)
        for k, v in gb.items():
            total[k] += v
    if head == "all":  # the head's bias also sees the padding steps' outputs (zeros) in the batch
        pad = (np.arange(T)[:, None] >= lens)[..., None]  # (T, B, 1)
        total["head.bias"] += (dy * pad).sum(axis=(0, 1))
    for k in grads:
        np.testing.assert_allclose(grads[k], total[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_heads_without_lengths():
    """Without lengths, "last" is the output at step T-1, "final" the top layer's final states,
    "mean" and "max" pool every step."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((T, B, F))
    feats = {}
    for head in HEADS:
        cfg = ModelConfig(cell="lstm", input_size=F, hidden_size=3, num_layers=2, bidirectional=True,
                          output_size=6, head=head, dtype="float64")
        model = SequenceModel(cfg, rng=7)
        model.head.params["weight"][:] = np.eye(6)  # the head passes the 6 features on
        model.head.params["bias"][:] = 0.0
        y, h_n, _ = model.forward(x)
        out, _, _ = model.rnn.forward(x)
        feats[head] = y
        expect = {
            "all": out,
            "last": out[-1],
            "final": np.concatenate([h_n[0][-2], h_n[0][-1]], axis=1),
            "mean": out.mean(axis=0),
            "max": out.max(axis=0),
        }[head]
        np.testing.assert_allclose(y, expect, rtol=1e-12, atol=1e-12, err_msg=head)
    # the forward half of the last output is the forward direction's final state; the reverse half
    # of the last output has read step T-1 only, its final state every step, and they differ
    np.testing.assert_allclose(feats["last"][:, :3], feats["final"][:, :3], rtol=1e-12)
    np.testing.assert_allclose(feats["final"][:, 3:], feats["all"][0, :, 3:], rtol=1e-12)
    assert np.abs(feats["last"][:, 3:] - feats["final"][:, 3:]).min() > 1e-6


def test_final_head_reads_the_whole_sequence_backwards():
    """For a bidirectional model "final" carries the reverse direction's state after reading the
    first step, and "last" only its state after one step: changing x[0] moves "final"'s reverse
    half, and "last"'s reverse half depends on nothing but the last valid step."""
    x, lens = batch(False, seed=8)
    x = np.nan_to_num(x)
    moved = x.copy()
    moved[0] += 1.0
    for head, changes in (("final", True), ("last", False)):
        model = build("rnn", head, True, False, seed=9, num_layers=1)
        model.head.params["weight"][:] = np.eye(2, 6, k=3)  # features 3, 4: the reverse direction
        model.head.params["bias"][:] = 0.0
        y0, _, _ = model.forward(x, lengths=lens)
        y1, _, _ = model.forward(moved, lengths=lens)
        multi = lens > 1  # a sequence of length 1 has x[0] as its last step too
        assert np.any(np.abs(y1[multi] - y0[multi]) > 1e-6) == changes, head


def test_stepper_refuses_pooling_heads():
    for head in ("mean", "max"):
        with pytest.raises(ValueError, match=f"head '{head}' pools over a whole sequence"):
            build("gru", head, False, True).stepper()
    build("gru", "final", False, True).stepper()  # a sequence ending at this step


def test_config_names_the_heads():
    with pytest.raises(ValueError, match="head must be one of 'all', 'last', 'final', 'mean', 'max', "
                                         "got 'first'"):
        build("rnn", "first", False, False)


def test_token_padding_needs_no_valid_id_with_lengths():
    """Padding ids may be anything (here -1 and 99) when lengths are given, also through an embedding."""
    model = build("lstm", "mean", False, True)
    x, lens = batch(True, seed=10)
    other = x.copy()
    other[other == -1] = 99
    y0, _, _ = model.forward(x, lengths=lens)
    y1, _, _ = model.forward(other, lengths=lens)
    np.testing.assert_array_equal(y0, y1)
    with pytest.raises(ValueError, match=r"Embedding indices must lie in \[0, 5\)"):
        model.forward(x)  # without lengths the padding is read, and -1 is no token


@pytest.mark.parametrize("head, bi", [("final", True), ("last", False), ("mean", True)])
def test_truncated_backward_of_pooled_heads_with_lengths(head, bi):
    """SequenceModel.backward(truncate=2) with lengths is the gradient of the truncated objective
    (scratchrnn.gradcheck.truncated) of sum(dy * head(pool(out, h_n))), by central differences:
    through the final states for "final" and a unidirectional "last", through the outputs for "mean"."""
    from scratchrnn.gradcheck import truncated_objective
    from scratchrnn.nn.heads import pool
    from scratchrnn.nn.lengths import Lengths

    model = build("gru", head, bi, False, seed=11)
    x, lens = batch(False, seed=12)
    x = np.nan_to_num(x)
    y, _, cache = model.forward(x, lengths=lens)
    dy = np.random.default_rng(13).standard_normal(y.shape)
    _, _, grads = model.backward(dy, None, cache, truncate=2)
    seq = Lengths(lens, B, T)

    def loss(out, h_n):
        feats, _ = pool(head, out, h_n, model.rnn.num_directions, seq)
        z, _ = model.head.forward(feats)
        return float(np.sum(z * dy))

    fn = truncated_objective(model.rnn, x, loss, truncate=2, lengths=lens)
    report = check_gradients(fn, dict(model.params), grads, max_entries=6, rng=0)  # 6 entries a weight
    assert report.ok, report
