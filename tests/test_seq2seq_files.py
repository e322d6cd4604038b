"""A Seq2Seq and its vocabularies saved in one checkpoint and loaded back, each mismatch named."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.io.checkpoint import load_checkpoint, save_checkpoint
from scratchrnn.seq2seq import Seq2Seq, Seq2SeqConfig
from scratchrnn.seq2seq.data import SourceFormat, SymbolVocab
from scratchrnn.seq2seq.files import load_seq2seq, save_seq2seq


def two_vocab_model():
    source, target = SymbolVocab("abc"), SymbolVocab(["x", "yy"])
    cfg = Seq2SeqConfig(src_vocab_size=len(source), tgt_vocab_size=len(target), embedding_dim=3,
                        hidden_size=4, attention="general", bidirectional=True)
    return Seq2Seq(cfg, rng=2), source, target


def test_a_model_comes_back_with_its_weights_config_and_vocabularies(tmp_path):
    model, source, target = two_vocab_model()
    path = save_seq2seq(model, tmp_path / "m.npz", source, target)
    back, s, t, form = load_seq2seq(path)
    assert form == SourceFormat()  # none given: sources as they are
    assert (s, t) == (source, target) and back.config == model.config and not back.training
    assert list(back.params) == list(model.params)
    assert all(np.array_equal(back.params[k], model.params[k]) for k in model.params)
    src = np.array([[3, 4], [5, 3]])
    tgt_in = np.array([[1, 1]])
    np.testing.assert_array_equal(back.forward(src, tgt_in)[0], model.forward(src, tgt_in)[0])


def test_saving_refuses_a_vocabulary_of_the_wrong_size(tmp_path):
    model, source, _ = two_vocab_model()
    with pytest.raises(ValueError,
                       match="the target vocabulary must be a SymbolVocab of the model's 5 ids, got 6"):
        save_seq2seq(model, tmp_path / "m.npz", source)  # the source's 6 ids for a target of 5
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_holds_no_seq2seq_or_does_not_fit_is_named(tmp_path):
    model, source, target = two_vocab_model()
    other = tmp_path / "other.npz"
    save_checkpoint(other, params={"w": np.zeros(2)}, config={"model": {}})
    with pytest.raises(ValueError,
                       match=f"^{other} is a scratchrnn checkpoint but holds no sequence-to-sequence"):
        load_seq2seq(other)
    path = save_seq2seq(model, tmp_path / "m.npz", source, target)
    ck = load_checkpoint(path)
    wrong_vocab = tmp_path / "vocab.npz"
    save_checkpoint(wrong_vocab, params=ck.params,
                    config={**ck.config, "vocab": {"source": ["a", "b"], "target": ["x", "yy"]}})
    with pytest.raises(ValueError, match="its source vocabulary has 5 ids, the model's 6"):
        load_seq2seq(wrong_vocab)
    params = dict(ck.params)
    params["out.weight"] = np.zeros((5, 3))
    wrong_shape = tmp_path / "shape.npz"
    save_checkpoint(wrong_shape, params=params, config=ck.config)
    with pytest.raises(ValueError, match=f"^{wrong_shape}: .*out.weight"):
        load_seq2seq(wrong_shape)


def test_the_source_format_travels_with_the_model_and_its_fill_must_be_a_source_symbol(tmp_path):
    model, source, target = two_vocab_model()
    form = SourceFormat(width=5, fill="c", reverse=True)
    path = save_seq2seq(model, tmp_path / "m.npz", source, target, source_format=form)
    assert load_seq2seq(path).source_format == form
    with pytest.raises(ValueError,
                       match=r"pads with ' ', which is not in the source vocabulary SymbolVocab\('abc'\)"):
        save_seq2seq(model, tmp_path / "bad.npz", source, target, source_format=SourceFormat(width=5))
    with pytest.raises(ValueError, match="source_format must be a SourceFormat or None, got dict"):
        save_seq2seq(model, tmp_path / "bad.npz", source, target, source_format={"width": 5})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
    ck = load_checkpoint(path)
    for bad, words in [({"width": 0}, "width must be None or a positive integer, got 0"),
                       ({"size": 3}, r"unknown source format configuration key\(s\) \['size'\]"),
                       ({"width": 3, "fill": "z"},
                        "the source format pads with 'z', which is not in the source vocabulary")]:
        wrong = tmp_path / "wrong.npz"
        save_checkpoint(wrong, params=ck.params, config={**ck.config, "source_format": bad})
        with pytest.raises(ValueError, match=f"^{wrong}: {words}"):
            load_seq2seq(wrong)
