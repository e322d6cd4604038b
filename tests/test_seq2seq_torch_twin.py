"""scratchrnn.seq2seq.torch_twin through scratchrnn.io.to_torch / from_torch: on drawn sizes, the
twin's logits equal the Seq2Seq's and torch autograd of the masked mean cross-entropy gives
loss_and_grads' gradients (float64); the round trip keeps the weights; float32 agrees to ~1e-5."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scratchrnn.io import from_torch, to_torch
from scratchrnn.seq2seq.model import Seq2Seq, Seq2SeqConfig

torch = pytest.importorskip("torch")

LOGITS_TOL = {"float64": 1e-12, "float32": 1e-5}
GRAD_TOL = 1e-10


@st.composite
def problems(draw, dtype="float64"):
    """A Seq2SeqConfig of drawn sizes and a batch for it: (config, src, tgt, src_lengths, tgt_lengths)."""
    share = draw(st.booleans())
    src_v = draw(st.integers(3, 7))
    cfg = Seq2SeqConfig(
        src_vocab_size=src_v,
        tgt_vocab_size=src_v if share else draw(st.integers(3, 7)),
        share_embedding=share,
        embedding_dim=draw(st.integers(1, 4)),
        cell=draw(st.sampled_from(["rnn", "lstm", "gru"])),
        decoder_cell=draw(st.sampled_from([None, "rnn", "lstm", "gru"])),
        hidden_size=draw(st.integers(1, 4)),
        num_layers=draw(st.integers(1, 2)),
        bidirectional=draw(st.booleans()),
        nonlinearity=draw(st.sampled_from(["tanh", "relu"])),
        attention=draw(st.sampled_from([None, "dot", "general", "additive"])),
        attention_size=draw(st.one_of(st.none(), st.integers(1, 4))),
        bridge=draw(st.sampled_from(["final", "zero"])),
        bos_id=0, eos_id=1, dtype=dtype)
    B, S, T = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    src_lengths = draw(st.one_of(st.none(), st.lists(st.integers(1, S), min_size=B, max_size=B)))
    tgt_lengths = draw(st.one_of(st.none(), st.lists(st.integers(1, T), min_size=B, max_size=B)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    src = rng.integers(0, cfg.src_vocab_size, (S, B))  # (S, B)
    tgt = rng.integers(0, cfg.target_vocab_size, (T, B))  # (T, B)
    return cfg, src, tgt, as_lengths(src_lengths), as_lengths(tgt_lengths)


def as_lengths(drawn):
    return None if drawn is None else np.array(drawn)


RICH = (Seq2SeqConfig(src_vocab_size=6, tgt_vocab_size=5, embedding_dim=3, cell="gru", decoder_cell="lstm",
                      hidden_size=2, num_layers=2, bidirectional=True, attention="additive", attention_size=3,
                      bos_id=0, eos_id=1, dtype="float64"),
        np.array([[1, 2, 3], [4, 5, 0], [2, 2, 1], [3, 0, 0]]), np.array([[1, 2, 3], [4, 1, 0], [1, 2, 2]]),
        np.array([4, 2, 1]), np.array([3, 1, 2]))


def torch_loss(logits, targets, tgt_lengths):
    """The mean over the target tokens inside each length of -log softmax(logits)[target]."""
    T, B = targets.shape
    nll = -torch.log_softmax(logits, dim=2).gather(2, torch.from_numpy(targets)[..., None])[..., 0]  # (T, B)
    lengths = np.full(B, T) if tgt_lengths is None else tgt_lengths
    inside = torch.arange(T)[:, None] < torch.from_numpy(lengths)[None, :]  # (T, B)
    return nll[inside].mean()


def run_twin(twin, model, src, tgt, src_lengths, tgt_lengths):
    targets = model.targets(tgt, tgt_lengths)
    tgt_in = model.decoder_inputs(targets)
    logits, weights = twin(torch.from_numpy(src), torch.from_numpy(tgt_in), src_lengths)
    return logits, weights, targets, tgt_in


@settings(max_examples=25, deadline=None)
@given(problem=problems())
@example(problem=RICH)
def test_the_twin_gives_the_same_logits_and_gradients(problem):
    cfg, src, tgt, src_lengths, tgt_lengths = problem
    model = Seq2Seq(cfg, rng=0)
    twin = to_torch(model)
    assert sorted(twin.state_dict()) == sorted(model.params)  # torch lists a module's own tensors first
    logits_t, weights_t, targets, tgt_in = run_twin(twin, model, src, tgt, src_lengths, tgt_lengths)
    logits, weights, _ = model.forward(src, tgt_in, src_lengths)
    assert logits_t.dtype == torch.float64
    np.testing.assert_allclose(logits_t.detach().numpy(), logits, rtol=0, atol=LOGITS_TOL["float64"])
    assert (weights_t is None) == (weights is None)
    if weights is not None:
        np.testing.assert_allclose(weights_t.detach().numpy(), weights, rtol=0, atol=LOGITS_TOL["float64"])
    loss_t = torch_loss(logits_t, targets, tgt_lengths)
    loss_t.backward()
    loss, grads = model.loss_and_grads(src, tgt, src_lengths, tgt_lengths)
    assert loss == pytest.approx(loss_t.item(), rel=0, abs=1e-12)
    theirs = dict(twin.named_parameters())
    assert sorted(theirs) == sorted(grads)
    for name, p in theirs.items():
        if p.grad is None:  # the source is read by nobody: no attention, and the decoder starts at zero
            assert cfg.attention is None and cfg.bridge == "zero", name
            assert name.startswith(("encoder.", "src_embedding.")), name
            assert not grads[name].any(), name
            continue
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=0, atol=GRAD_TOL, err_msg=name)


@settings(max_examples=15, deadline=None)
@given(problem=problems())
def test_from_torch_of_to_torch_keeps_the_config_and_weights(problem):
    cfg = problem[0]
    model = Seq2Seq(cfg, rng=1)
    back = from_torch(to_torch(model))
    assert isinstance(back, Seq2Seq)
    assert back.config == model.config
    assert list(back.params) == list(model.params)
    for name, p in model.params.items():
        assert back.params[name].dtype == p.dtype
        np.testing.assert_array_equal(back.params[name], p, err_msg=name)
        assert not np.shares_memory(back.params[name], p), name


@settings(max_examples=15, deadline=None)
@given(problem=problems(dtype="float32"))
def test_float32_logits_agree(problem):
    cfg, src, tgt, src_lengths, tgt_lengths = problem
    model = Seq2Seq(cfg, rng=2)
    twin = to_torch(model)
    logits_t, _, _, tgt_in = run_twin(twin, model, src, tgt, src_lengths, tgt_lengths)
    logits, _, _ = model.forward(src, tgt_in, src_lengths)
    assert logits.dtype == np.float32 and logits_t.dtype == torch.float32
    np.testing.assert_allclose(logits_t.detach().numpy(), logits, rtol=0, atol=LOGITS_TOL["float32"])


def test_a_changed_twin_changes_the_logits():
    """The comparison above can fail: the twin's weights, not a copy of the logits, make its output."""
    cfg, src, tgt, src_lengths, tgt_lengths = RICH
    model = Seq2Seq(cfg, rng=0)
    twin = to_torch(model)
    with torch.no_grad():
        twin.attention.v.mul_(2.0)
    logits_t, _, _, tgt_in = run_twin(twin, model, src, tgt, src_lengths, tgt_lengths)
    logits, _, _ = model.forward(src, tgt_in, src_lengths)
    assert np.max(np.abs(logits_t.detach().numpy() - logits)) > 1e-6
    assert not np.array_equal(from_torch(twin).params["attention.v"], model.params["attention.v"])


@pytest.mark.parametrize("cells", [{"cell": "rnn"}, {"cell": "lstm", "decoder_cell": "rnn"},
                                   {"cell": "rnn", "decoder_cell": "gru"}])
def test_an_rnn_with_a_sigmoid_has_no_twin(cells):
    model = Seq2Seq(Seq2SeqConfig(src_vocab_size=5, embedding_dim=2, hidden_size=3, nonlinearity="sigmoid",
                                  **cells))
    with pytest.raises(ValueError, match=r"torch\.nn\.RNN supports the nonlinearities \['tanh', 'relu'\], "
                                         r"this model uses 'sigmoid': it has no PyTorch equivalent"):
        to_torch(model)


def test_a_nonlinearity_no_cell_uses_does_not_stop_the_twin():
    cfg = Seq2SeqConfig(src_vocab_size=5, embedding_dim=2, hidden_size=3, cell="gru", decoder_cell="lstm",
                        nonlinearity="sigmoid", attention="dot", dtype="float64")
    model = Seq2Seq(cfg, rng=0)
    src, tgt_in = np.array([[1, 2], [3, 4]]), np.array([[1, 1], [0, 3], [4, 2]])
    logits_t, _ = to_torch(model)(torch.from_numpy(src), torch.from_numpy(tgt_in))
    np.testing.assert_allclose(logits_t.detach().numpy(), model.forward(src, tgt_in)[0], rtol=0, atol=1e-12)
