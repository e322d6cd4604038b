"""The first-token task (scratchrnn.tasks.first_token): lengths and head "final" learn the label,
head "last" on the padded batch without lengths stays at chance."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.tasks import first_token


def test_lengths_and_final_learn_it_and_last_without_lengths_does_not():
    r = first_token.run(first_token.Config.quick())
    m = r.metrics
    assert r.passed and m["accuracy_final_lengths"] >= 0.99
    assert m["accuracy_last_no_lengths"] < m["chance"] + 0.1  # no better than guessing, near enough
    assert r.curves["loss"] and r.curves["loss_last_no_lengths"]


def test_the_data_is_padded_past_each_length_and_labelled_by_the_first_token():
    cfg = first_token.Config(vocab=6, classes=3, max_len=9)
    x, lengths, y = first_token.make_data(cfg, 50, np.random.default_rng(0))
    assert x.shape == (9, 50) and lengths.min() >= 4 and lengths.max() <= 9
    pad = np.arange(9)[:, None] >= lengths
    assert np.all(x[pad] == 6) and np.all(x[~pad] < 6)
    np.testing.assert_array_equal(y, x[0] % 3)


def test_config_checks_its_fields():
    with pytest.raises(ValueError, match=r"classes must be an integer in \[2, 10\], got 11"):
        first_token.Config(classes=11)
