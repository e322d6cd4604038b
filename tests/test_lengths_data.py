"""Lengths beyond the layers: pad_sequences, the losses, SequenceData, the trainer's checks and its
steps (each batch cut to its longest sequence, the padding's targets not counted)."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn import ModelConfig, SequenceData, SequenceModel, TrainConfig, Trainer, pad_sequences
from scratchrnn.losses import bce_with_logits, cross_entropy, mse
from scratchrnn.optim import SGD


# -- pad_sequences ---------------------------------------------------------------------------------
def test_pad_sequences_features_and_ids():
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 1, 4)]
    x, lens = pad_sequences(seqs)
    assert x.shape == (4, 3, 2) and x.dtype == np.float32 and lens.dtype == np.int64
    np.testing.assert_array_equal(lens, [3, 1, 4])
    for b, s in enumerate(seqs):
        np.testing.assert_array_equal(x[: len(s), b], s.astype(np.float32))
        assert not x[len(s) :, b].any()
    xb, _ = pad_sequences(seqs, dtype=np.float64, batch_first=True, padding_value=-5.0)
    assert xb.shape == (3, 4, 2) and xb.dtype == np.float64 and xb.flags.c_contiguous
    np.testing.assert_array_equal(xb[1, 1:], -5.0)
    np.testing.assert_array_equal(xb[2], seqs[2])
    ids, lens = pad_sequences([[1, 2, 3], [4], (5, 6)], padding_value=-1)
    np.testing.assert_array_equal(ids, [[1, 4, 5], [2, -1, 6], [3, -1, -1]])
    assert ids.dtype == np.int64 and list(lens) == [3, 1, 2]


@pytest.mark.parametrize("seqs, words", [
    ([], "sequences is empty"),
    (np.zeros((2, 3)), "must be a list"),
    ([np.zeros((2, 3)), np.zeros((0, 3))], "sequence 1 is empty"),
    ([np.zeros((2, 3)), np.zeros((2, 4))], "sequence 0 has 3, sequence 1 has 4"),
    ([[1, 2], np.zeros((2, 3))], "sequence 0 holds token ids (T,) but sequence 1 has shape (2, 3)"),
    ([np.zeros(3)], "sequence 0 is 1-D, which is read as token ids and must be integer"),
    ([np.zeros((2, 2, 2))], "sequence 0 must be (T,) token ids or (T, F) features, got shape (2, 2, 2)"),
    ([["a", "b"]], "sequence 0 must hold numbers"),
])
def test_pad_sequences_names_what_is_wrong(seqs, words):
    with pytest.raises(ValueError) as info:
        pad_sequences(seqs)
    assert words in str(info.value)


def test_pad_sequences_refuses_a_dtype_of_the_other_kind():
    with pytest.raises(ValueError, match="token ids are padded as integers, got dtype float32"):
        pad_sequences([[1, 2]], dtype=np.float32)
    with pytest.raises(ValueError, match="dtype must be one of float32, float64, got int64"):
        pad_sequences([np.zeros((2, 1))], dtype=np.int64)


# -- losses ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_losses_with_lengths_equal_the_mask_they_stand_for(reduction):
    rng = np.random.default_rng(1)
    Tn, Bn, O = 5, 3, 4
    lens = np.array([2, 5, 1])
    valid = np.arange(Tn)[:, None] < lens  # (T, B)
    p, y = rng.standard_normal((Tn, Bn, O)), rng.standard_normal((Tn, Bn, O))
    for loss, target in ((mse, y), (bce_with_logits, rng.random((Tn, Bn, O)))):
        a = loss(p, target, reduction, lengths=lens)
        b = loss(p, target, reduction, mask=valid[..., None])
        assert a[0] == pytest.approx(b[0], rel=1e-12)
        np.testing.assert_array_equal(a[1], b[1])
    t = rng.integers(0, O, size=(Tn, Bn))
    t[~valid] = -7  # padding targets may be anything
    extra = rng.random((Tn, Bn)) < 0.7
    a = cross_entropy(p, t, reduction, mask=extra, lengths=lens)
    b = cross_entropy(p, t, reduction, mask=extra & valid)
    assert a[0] == pytest.approx(b[0], rel=1e-12)
    np.testing.assert_array_equal(a[1], b[1])


def test_losses_check_lengths():
    p = np.zeros((4, 2, 3))
    with pytest.raises(ValueError, match=r"mse lengths must be a 1-D integer array of 2 sequence lengths in "
                                         r"\[1, 4\].*got values in \[0, 4\]"):
        mse(p, p, lengths=[0, 4])
    with pytest.raises(ValueError, match="cross_entropy lengths need time-major targets"):
        cross_entropy(np.zeros((2, 3)), np.zeros(2, int), lengths=[1, 1])


# -- SequenceData ----------------------------------------------------------------------------------
def test_sequence_data_cuts_each_batch_to_its_longest_sequence():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4, 2))
    lens = np.array([2, 6, 3, 1])
    per_seq = SequenceData(x, np.arange(4), lengths=lens)
    bx, by, bm, bl = per_seq.batch(np.array([0, 2]))
    assert bx.shape == (3, 2, 2) and bm is None
    np.testing.assert_array_equal(bl, [2, 3])
    np.testing.assert_array_equal(by, [0, 2])
    assert per_seq.tokens_per_batch(2) == 5  # the real steps of that batch
    mask = rng.random((6, 4)) < 0.8
    per_step = SequenceData(x, rng.standard_normal((6, 4, 1)), mask=mask, lengths=lens)
    bx, by, bm, bl = per_step.batch(np.array([3, 1]))
    assert bx.shape == (6, 2, 2) and by.shape == (6, 2, 1)
    np.testing.assert_array_equal(bm, (mask & (np.arange(6)[:, None] < lens))[:, [3, 1]])


def test_sequence_data_checks_lengths():
    x = np.zeros((4, 2, 1))
    with pytest.raises(ValueError, match=r"lengths must be a 1-D integer array of 2 sequence.*shape \(3,\)"):
        SequenceData(x, np.zeros(2, int), lengths=[1, 2, 3])
    with pytest.raises(ValueError, match="got dtype float64"):
        SequenceData(x, np.zeros(2, int), lengths=np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="the mask selects no step inside the lengths"):
        SequenceData(x, np.zeros((4, 2, 1)), mask=np.arange(4)[:, None].repeat(2, 1) == 3, lengths=[1, 2])
    with pytest.raises(ValueError, match="give lengths to say where each sequence ends"):
        SequenceData(x, np.zeros(2, int), mask=np.ones((4, 2), bool))


# -- the trainer -----------------------------------------------------------------------------------
def test_a_training_step_with_lengths_is_the_padded_batch_with_lengths():
    """One SGD step of the trainer on SequenceData with lengths moves every weight as the model's
    own forward and backward on the batch (cut to its longest sequence, with its lengths) say."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 3, 2))
    lens = np.array([3, 5, 2])
    y = rng.integers(0, 3, size=3)
    cfg = ModelConfig(cell="gru", input_size=2, hidden_size=4, bidirectional=True, output_size=3,
                      head="final", dtype="float64")
    model, twin = SequenceModel(cfg, rng=4), SequenceModel(cfg, rng=4)
    config = TrainConfig(steps=1, batch_size=3, seed=0, progress=False)
    trainer = Trainer(model, SGD(model.params, lr=1.0), config)
    trainer.fit(SequenceData(x, y, lengths=lens))
    logits, _, cache = twin.forward(x[:5], lengths=lens)
    _, dlogits = cross_entropy(logits, y)
    _, _, grads = twin.backward(dlogits, None, cache)
    for k, g in grads.items():
        np.testing.assert_allclose(model.params[k], twin.params[k] - g, rtol=1e-12, atol=1e-14, err_msg=k)


def test_per_step_targets_past_the_lengths_do_not_count():
    """Changing the targets past each length changes neither the validation loss nor training."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4, size=(6, 5))
    lens = np.array([6, 2, 4, 1, 3])
    y = rng.integers(0, 4, size=(6, 5))
    other = y.copy()
    other[np.arange(6)[:, None] >= lens] = (other[np.arange(6)[:, None] >= lens] + 1) % 4
    losses = []
    for targets in (y, other):
        model = SequenceModel(ModelConfig(cell="lstm", vocab_size=4, hidden_size=5), rng=6)
        trainer = Trainer(model, SGD(model.params, lr=0.5), TrainConfig(steps=3, batch_size=2, seed=1,
                                                                       progress=False))
        data = SequenceData(x, targets, lengths=lens)
        trainer.fit(data)
        losses.append((trainer.evaluate(data), [r["loss"] for r in trainer.history.steps]))
    assert losses[0] == losses[1]


def test_the_trainer_checks_token_ids_inside_the_lengths_only():
    x = np.array([[1, 2], [3, -1], [-1, -1]])
    model = SequenceModel(ModelConfig(cell="rnn", vocab_size=4, hidden_size=3, head="last", output_size=2),
                          rng=0)
    trainer = Trainer(model, SGD(model.params, lr=0.1), TrainConfig(steps=1, batch_size=2, progress=False))
    trainer.fit(SequenceData(x, np.array([0, 1]), lengths=[2, 1]))
    with pytest.raises(ValueError, match=r"holds token ids in \[-1, 3\]"):
        trainer.fit(SequenceData(x, np.array([0, 1]), lengths=[3, 1]))
