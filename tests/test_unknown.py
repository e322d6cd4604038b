"""scratchrnn.unknown: characters outside a vocabulary refused by name, or left out of a text with
the positions of those kept; tokens a vocabulary cannot read named."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.data.text import CharVocab, WordVocab
from scratchrnn.unknown import UNKNOWN, check_known, known_text, preview

VOCAB = CharVocab.from_text("abc \n")


def test_a_text_the_vocabulary_reads_comes_back_as_it_is():
    assert known_text("abc cab\n", VOCAB, "skip") == ("abc cab\n", None, [], 0)
    assert known_text("abc", None, "skip") == ("abc", None, [], 0)  # a word model reads every word
    assert known_text(42, VOCAB) == (42, None, [], 0)  # left for the scorer to refuse


def test_skip_leaves_the_characters_out_and_keeps_the_positions_of_the_others():
    text = "ab\u00e9c \U0001f600a\u00e9"  # an astral character too: positions count characters
    kept, positions, missing, count = known_text(text, VOCAB, "skip")
    assert kept == "abc a" and missing == ["\u00e9", "\U0001f600"] and count == 3
    assert positions.tolist() == [0, 1, 3, 4, 6] and positions.dtype.kind == "i"
    assert "".join(text[i] for i in positions) == kept


def test_error_names_the_characters_and_how_many_times_they_come():
    with pytest.raises(ValueError) as info:
        known_text("ab\u00e9\u00e9x", VOCAB)
    assert str(info.value) == ("the text has 2 character(s) that are not in the model's vocabulary of 5 "
                               "(3 in all): 'x', '\u00e9'; unknown='skip' scores the text without them")


def test_nothing_left_to_score_and_a_wrong_choice_are_errors():
    with pytest.raises(ValueError, match="nothing is left to score: the text has only whitespace besides 1"):
        known_text(" \u00e9\u00e9 ", VOCAB, "skip")
    with pytest.raises(ValueError, match="unknown must be one of error, skip, got 'map'"):
        known_text("abc", VOCAB, "map")
    with pytest.raises(ValueError, match="unknown must be one of"):
        known_text("abc", None, "map")  # checked for a word model too
    assert UNKNOWN == ("error", "skip")


def test_check_known_names_what_a_vocabulary_without_an_unknown_token_cannot_read():
    check_known(list("abc"), VOCAB, "the prime")
    with pytest.raises(ValueError) as info:
        check_known(list("abxyx"), VOCAB, "the prime", "character")
    assert str(info.value) == ("the prime has 2 character(s) that are not in the model's vocabulary of 5: "
                               "'x', 'y'")
    words = WordVocab.from_sentences([["to", "be"]])
    check_known(["never", "seen"], words, "the text")  # read as the unknown token: no error


def test_preview_shows_a_few_and_counts_the_rest():
    assert preview(["a", "b"]) == "'a', 'b'"
    assert preview(range(12), limit=3) == "0, 1, 2, ... (12 in all)"
    assert preview(np.array([1, 2]).tolist()) == "1, 2"
