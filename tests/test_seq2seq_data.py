"""Symbol vocabularies behind PAD, BOS and EOS, and padded batches of pairs."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.seq2seq.data import BOS, EOS, PAD, SourceFormat, SymbolVocab, batch


def test_symbols_keep_their_order_behind_the_specials():
    v = SymbolVocab("ba+")
    assert len(v) == 6 and (PAD, BOS, EOS) == (0, 1, 2)
    assert v.encode("ab+").tolist() == [4, 3, 5]
    assert v.encode("ab", eos=True).tolist() == [4, 3, EOS]
    assert v.decode([BOS, 4, 3, PAD, 5, EOS, 3]) == "ab+"  # specials dropped, EOS ends it
    assert SymbolVocab(["ab", "c"]).decode([3, 4], join=" ") == "ab c"
    assert v == SymbolVocab(list("ba+")) and v != SymbolVocab("ab+")


@pytest.mark.parametrize("symbols, match", [
    ("", "non-empty string symbols"),
    ("abca", r"distinct, got \['a'\]"),
    (["<eos>", "a"], "specials"),
])
def test_bad_vocabularies_are_named(symbols, match):
    with pytest.raises(ValueError, match=match):
        SymbolVocab(symbols)


def test_unknown_symbols_and_ids_are_named():
    v = SymbolVocab("ab")
    with pytest.raises(ValueError,
                       match=r"symbols \['x', 'z'\] are not in the vocabulary SymbolVocab\('ab'\)"):
        v.encode("axbz")
    with pytest.raises(ValueError, match="id 9 is not in the vocabulary of 5 ids"):
        v.decode([3, 9])


def test_batch_pads_time_major_with_lengths():
    src, sl, tgt, tl = batch([np.array([3, 4, 5]), np.array([6])], [np.array([7, EOS]), np.array([EOS])])
    assert src.shape == (3, 2) and src[:, 1].tolist() == [6, PAD, PAD]
    assert sl.tolist() == [3, 1] and tl.tolist() == [2, 1] and tgt[:, 0].tolist() == [7, EOS]
    only_src, lengths = batch([np.array([3])])
    assert only_src.shape == (1, 1) and lengths.tolist() == [1]


def test_a_source_format_pads_then_reverses_and_refuses_what_is_too_long():
    assert SourceFormat().apply("535+61") == list("535+61")  # the default changes nothing
    assert "".join(SourceFormat(width=7).apply("535+61")) == "535+61 "
    assert "".join(SourceFormat(width=7, reverse=True).apply("535+61")) == " 16+535"
    assert SourceFormat(width=4, fill="<sp>").apply(["ab", "c"]) == ["ab", "c", "<sp>", "<sp>"]
    with pytest.raises(ValueError, match="^8 symbols, more than the 7 the model reads$"):
        SourceFormat(width=7).apply("5350+610")
    form = SourceFormat(width=np.int64(3), reverse=np.True_)
    assert form == SourceFormat(width=3, reverse=True) and type(form.width) is int
    assert SourceFormat.from_dict(form.to_dict()) == form


@pytest.mark.parametrize("kwargs, match", [
    ({"width": 0}, "width must be None or a positive integer, got 0"),
    ({"width": 2.5}, "width must be None or a positive integer, got 2.5"),
    ({"fill": ""}, "fill must be a non-empty string, got ''"),
    ({"reverse": 1}, "reverse must be True or False, got 1"),
])
def test_bad_source_formats_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SourceFormat(**kwargs)
