"""scratchrnn.extend: a grown vocabulary keeps its kind's order; an extended model keeps every old
token's weights at its new id, gives new tokens a new model's weights, and copies the rest."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.data.text import CharVocab, WordVocab
from scratchrnn.extend import extend_model, grow_vocab
from scratchrnn.nn.model import ModelConfig, SequenceModel


def test_a_grown_character_vocabulary_stays_in_code_point_order():
    vocab = CharVocab.from_text("dbca")
    grown = grow_vocab(vocab, ["e", "B"])
    assert isinstance(grown, CharVocab) and grown.to_list() == ["B", "a", "b", "c", "d", "e"]
    with_unk = CharVocab.from_text("cab", unk="~")
    assert grow_vocab(with_unk, ["!"]).to_list() == ["~", "!", "a", "b", "c"]  # the unknown stays first
    with pytest.raises(ValueError, match=r"holds \['a'\] already"):
        grow_vocab(vocab, ["a", "z"])


def test_a_grown_word_vocabulary_appends():
    vocab = WordVocab.from_sentences([["the", "cat"], ["the", "dog"]])
    grown = grow_vocab(vocab, ["mat", "log"])
    assert isinstance(grown, WordVocab) and grown.to_list() == vocab.to_list() + ["mat", "log"]


@pytest.mark.parametrize("embedding_dim", [None, 3])  # one-hot input columns, or embedding rows
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_old_tokens_keep_their_weights_and_new_ones_get_a_new_models(cell, embedding_dim):
    old = ["b", "d", "f"]
    new = ["a", "b", "c", "d", "e", "f"]
    cfg = ModelConfig(cell=cell, vocab_size=3, embedding_dim=embedding_dim, hidden_size=4, num_layers=2)
    model = SequenceModel(cfg, rng=1)
    grown = extend_model(model, old, new, rng=7)
    fresh = SequenceModel(ModelConfig(cell=cell, vocab_size=6, embedding_dim=embedding_dim, hidden_size=4,
                                      num_layers=2), rng=7)
    assert grown.config.vocab_size == 6 and grown.output_size == 6
    moved, added = [1, 3, 5], [0, 2, 4]
    token_rows = {"embedding.weight": 0, "head.weight": 0, "head.bias": 0}
    if embedding_dim is None:
        token_rows["rnn.weight_ih_l0"] = 1  # one-hot inputs: a column per token
    for name, w in model.params.items():
        g = grown.params[name]
        if name in token_rows:
            axis = token_rows[name]
            assert np.array_equal(np.take(g, moved, axis=axis), w), name
            assert np.array_equal(np.take(g, added, axis=axis), np.take(fresh.params[name], added, axis=axis))
        else:
            assert np.array_equal(g, w), name
    # so the old tokens' logits are where their new ids are, the same numbers
    ids = np.array([[0, 2], [1, 0]])  # (T, B) in the old vocabulary
    out_old, _, _ = model.train(False).forward(ids)
    out_new, _, _ = grown.train(False).forward(np.array(moved)[ids])
    np.testing.assert_allclose(out_new[..., moved], out_old, rtol=1e-6, atol=1e-7)


def test_what_cannot_be_extended():
    model = SequenceModel(ModelConfig(vocab_size=3, hidden_size=2), rng=0)
    with pytest.raises(ValueError, match="reads 3 token ids, the vocabulary given has 2"):
        extend_model(model, ["a", "b"], ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"lacks 1 of the model's tokens: \['c'\]"):
        extend_model(model, ["a", "b", "c"], ["a", "b", "d", "e"])
    with pytest.raises(ValueError, match="another order and no more"):
        extend_model(model, ["a", "b", "c"], ["c", "b", "a"])
