"""The seq2seq package's names."""

from __future__ import annotations

import scratchrnn.seq2seq as seq2seq


def test_the_package_names_the_model_its_attention_and_its_decoders():
    for name in seq2seq.__all__:
        assert getattr(seq2seq, name) is not None, name
    assert seq2seq.ATTENTION_KINDS == ("dot", "general", "additive")
    assert {"Seq2Seq", "Seq2SeqConfig", "greedy", "sample", "beam_search"} <= set(seq2seq.__all__)
