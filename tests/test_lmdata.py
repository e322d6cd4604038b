"""scratchrnn.lmdata: a language model's text split into training and (bounded) validation streams."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.lmdata import split_stream

IDS = np.arange(1000) % 7  # (1000,)


def test_val_tokens_bounds_the_validation_to_the_first_tokens_held_out():
    train, val = split_stream(IDS, batch_size=4, window=10, val_fraction=0.2)
    assert train.streams.size <= 800 and val.streams.size <= 200
    train2, val2 = split_stream(IDS, batch_size=4, window=10, val_fraction=0.2, val_tokens=60)
    np.testing.assert_array_equal(train2.streams, train.streams)  # the training text does not move
    held = IDS[800:860]
    assert 0 < val2.streams.size <= 60
    np.testing.assert_array_equal(val2.streams.T.ravel(), held[: val2.streams.size])  # (S, B): B chunks
    _, val3 = split_stream(IDS, batch_size=4, window=10, val_fraction=0.2, val_tokens=5000)
    np.testing.assert_array_equal(val3.streams, val.streams)  # more than is held out: all of it


def test_bad_val_tokens_and_too_little_text_are_named():
    with pytest.raises(ValueError, match="val_tokens must be None or an integer >= 2, got 1"):
        split_stream(IDS, 4, 10, 0.2, val_tokens=1)
    with pytest.raises(ValueError, match="^the text is shorter than one window: 900 characters for training"):
        split_stream(IDS, 4, 1000, 0.1, unit="character")
    assert split_stream(IDS, 4, 10, 0.0, val_tokens=50)[1] is None
