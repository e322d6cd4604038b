"""What a resumed run reads back: every entry of a last.npz is checked, and what cannot be this
run's state is a ValueError naming the file and the entry (never a TypeError, KeyError or a NaN
state carried on)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scratchrnn.io import load_checkpoint, save_checkpoint
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.optim import Adam
from scratchrnn.resume import RESUMED_SETTINGS, check_settings, resumed_fit, text_digest
from scratchrnn.train import SequenceData, TokenStream, TrainConfig, Trainer

V = 5


def _trainer(tmp_path, cell="rnn", **cfg):
    model = SequenceModel(ModelConfig(cell=cell, vocab_size=V, hidden_size=4), rng=0)
    config = TrainConfig(**{"steps": 3, "checkpoint_dir": str(tmp_path), **cfg})
    return Trainer(model, Adam(model.params, lr=0.01), config)


def _stream():
    return TokenStream(np.random.default_rng(0).integers(0, V, 120), batch_size=2, window=5)


@pytest.fixture()
def saved(tmp_path):
    _trainer(tmp_path / "run").fit(_stream())
    return load_checkpoint(tmp_path / "run" / "last.npz")


def _fields(ck) -> dict:
    names = ("params", "optimizer_state", "rng_state", "step", "epoch", "hidden", "config", "vocab",
             "history", "extra")
    return {n: getattr(ck, n) for n in names}


def _resume_error(tmp_path, ck, **changes) -> str:
    path = tmp_path / "bad.npz"
    save_checkpoint(path, **{**_fields(ck), **changes})
    with pytest.raises(ValueError) as info:
        _trainer(tmp_path / "again", steps=6).fit(_stream(), resume=path)
    assert str(path) in str(info.value)
    return str(info.value)


def test_a_good_checkpoint_resumes(tmp_path, saved):
    path = tmp_path / "good.npz"
    save_checkpoint(path, **_fields(saved))
    history = _trainer(tmp_path / "again", steps=6).fit(_stream(), resume=path)
    assert [r["step"] for r in history.steps] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(("changes", "entry", "words"), [
    ({"hidden": np.zeros((1, 3, 4), np.float32)}, "hidden", "shape (1, 2, 4)"),
    ({"hidden": (np.zeros((1, 2, 4), np.float32),) * 2}, "hidden", "1 state array"),
])
def test_bad_entries_name_the_entry(tmp_path, saved, changes, entry, words):
    msg = _resume_error(tmp_path, saved, **changes)
    assert f"checkpoint entry {entry!r}" in msg and words in msg


@pytest.mark.parametrize(("changes", "words"), [
    ({"rng_state": {"bit_generator": "PCG64", "state": "x"}}, "rng state is not a valid PCG64 state"),
    ({"rng_state": {"bit_generator": "MT19937"}}, "rng state is not a valid MT19937 state"),
    ({"hidden": "x"}, "hidden has the wrong type (str)"),
])
def test_entries_of_the_wrong_kind_are_refused_by_the_reader(tmp_path, saved, changes, words):
    """The checkpoint reader (scratchrnn.io.checkpoint) refuses these before the trainer sees them."""
    msg = _resume_error(tmp_path, saved, **changes)
    assert "is corrupt" in msg and words in msg and "\n" not in msg


def test_a_nan_state_is_refused(tmp_path, saved):
    hidden = saved.hidden.copy()
    hidden[0, 0, 0] = np.nan
    assert "1 non-finite values" in _resume_error(tmp_path, saved, hidden=hidden)


def test_bad_history_and_extra_entries(tmp_path, saved):
    assert "'history' record 1" in _resume_error(tmp_path, saved, history=[saved.history[0], {"step": 2}])
    assert "'history' record 1" in _resume_error(tmp_path, saved, history=saved.history[::-1])
    for key, value in (("cursor", "x"), ("bad_evals", -1), ("lr", "fast"), ("best_val", "low"),
                       ("perm", [0, 1]), ("best_params", {"x": 1}), ("evals", [{"step": "1"}]),
                       ("samples", [{"step": 1, "text": 3}]), ("elapsed", -1.0), ("elapsed", "long")):
        assert f"extra.{key}" in _resume_error(tmp_path, saved, extra={**saved.extra, key: value}), key
    assert "'extra' must be a dict" in _resume_error(tmp_path, saved, extra=[1])
    assert "a text 'text'" in _resume_error(tmp_path, saved, extra={**saved.extra, "samples": [{"step": 1}]})


def test_a_weights_only_file_is_refused(tmp_path, saved):
    msg = _resume_error(tmp_path, saved, optimizer_state=None, rng_state=None)
    assert "no optimizer or generator state" in msg and "last.npz" in msg


def test_sequence_data_checks_its_order_and_carries_no_state(tmp_path):
    rng = np.random.default_rng(1)
    data = SequenceData(rng.integers(0, V, (4, 6)), rng.integers(0, V, (4, 6)))
    trainer = _trainer(tmp_path / "seq", batch_size=4)
    trainer.fit(data)
    ck = load_checkpoint(tmp_path / "seq" / "last.npz")
    for changes, words in (({"extra": {**ck.extra, "perm": [0, 0, 1, 2, 3, 4]}}, "permutation of the 6"),
                           ({"hidden": np.zeros((1, 4, 4), np.float32)}, "carries no state")):
        path = tmp_path / "bad.npz"
        save_checkpoint(path, **{**_fields(ck), **changes})
        with pytest.raises(ValueError, match=words):
            _trainer(tmp_path / "again", batch_size=4, steps=5).fit(data, resume=path)


def test_an_lstm_state_is_checked_as_a_pair(tmp_path):
    _trainer(tmp_path / "lstm", cell="lstm").fit(_stream())
    ck = load_checkpoint(tmp_path / "lstm" / "last.npz")
    assert isinstance(ck.hidden, tuple)
    path = tmp_path / "bad.npz"
    save_checkpoint(path, **{**_fields(ck), "hidden": ck.hidden[0]})
    with pytest.raises(ValueError, match="expected 2 state array"):
        _trainer(tmp_path / "again", cell="lstm", steps=5).fit(_stream(), resume=path)
    assert dataclasses.is_dataclass(ck)


# -- a language model's run resumed with its own settings and text ----------------------------------
def test_settings_that_differ_are_named_with_both_values():
    check_settings("r/last.npz", {"batch_size": 4, "window": 20}, {"batch_size": 4, "seed": 3})  # agree
    with pytest.raises(ValueError) as info:
        check_settings("r/last.npz", {"batch_size": 4, "window": 20, "optimizer": "adam"},
                       {"batch_size": 32, "window": 20, "optimizer": "sgd"})
    msg = str(info.value)
    assert msg.startswith("r/last.npz: a resumed run continues with its own settings")
    assert "batch_size=32 (the run's: 4), optimizer='sgd' (the run's: 'adam') differ" in msg


def test_resumed_fit_checks_the_level_the_settings_and_the_text(tmp_path, saved):
    fit = {k: 1 for k in RESUMED_SETTINGS} | {"text_sha256": text_digest("abc"), "lr": 0.1}
    path = tmp_path / "lm.npz"
    save_checkpoint(path, **{**_fields(saved), "vocab": ["a", "b", "c", "d", "e"],
                             "config": {**saved.config, "lm": {"level": "char", "seed": 0, "fit": fit}}})
    vocab, run = resumed_fit(path, "char", dict(fit))
    assert vocab == ["a", "b", "c", "d", "e"] and run == fit
    with pytest.raises(ValueError, match="holds a char-level run, not a word-level one"):
        resumed_fit(path, "word", dict(fit))
    with pytest.raises(ValueError, match=r"window=2 \(the run's: 1\) differ"):
        resumed_fit(path, "char", {**fit, "window": 2})
    with pytest.raises(ValueError, match="this text is not the one the run was trained on"):
        resumed_fit(path, "char", {**fit, "text_sha256": text_digest("abd")})
    # a run that recorded nothing (written by a Trainer alone) is not compared; one without a vocabulary
    # is no language model's
    bare = tmp_path / "bare.npz"
    save_checkpoint(bare, **{**_fields(saved), "vocab": ["a", "b", "c", "d", "e"]})
    assert resumed_fit(bare, "word", dict(fit)) == (["a", "b", "c", "d", "e"], {})
    with pytest.raises(ValueError, match="has no vocabulary"):
        resumed_fit(tmp_path / "run" / "last.npz", "char", dict(fit))
    assert text_digest("\udcff") != text_digest("")  # a lone surrogate hashes too
