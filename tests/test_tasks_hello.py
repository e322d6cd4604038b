"""The hello task: every next character of "hello" is right, also by a plain-Python forward pass of
the trained weights.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratchrnn.tasks import TaskResult, hello


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))



# -- one run of the task per module -----------------------------------------------------------
@pytest.fixture(scope="module")
def hello_result() -> TaskResult:
    return hello.run(hello.Config())



def test_hello_predicts_every_next_character(hello_result):
    assert hello_result.metrics["accuracy"] == 1.0
    assert hello_result.metrics["prediction"] == "hello"
    assert hello_result.passed
    assert hello_result.figures == ()  # the loss curves only


def test_hello_recomputed_with_plain_python(hello_result):
    """A plain-Python forward pass of the trained weights predicts e, l, l, o after h, e, l, l."""
    p = {k: np.asarray(v).tolist() for k, v in hello_result.artifacts["model"].params.items()}
    alphabet = hello.ALPHABET
    h = [0.0] * len(p["rnn.bias_ih_l0"])
    for cur, nxt in zip("hell", "ello", strict=True):
        j = alphabet.index(cur)  # one-hot input: W_ih x is column j
        h = [
            sigmoid(p["rnn.weight_ih_l0"][i][j] + p["rnn.bias_ih_l0"][i] + p["rnn.bias_hh_l0"][i]
                    + sum(p["rnn.weight_hh_l0"][i][k] * h[k] for k in range(len(h))))
            for i in range(len(h))
        ]
        logits = [p["head.bias"][c] + sum(p["head.weight"][c][k] * h[k] for k in range(len(h)))
                  for c in range(len(alphabet))]
        assert alphabet[logits.index(max(logits))] == nxt


def test_config_is_checked_when_made():
    assert type(hello.Config(hidden_size=np.int64(4)).hidden_size) is int
    with pytest.raises(ValueError, match="vocab_size 4 and hidden_size 1,000,000 needs about 8 TB"):
        hello.Config(hidden_size=1_000_000)
    with pytest.raises(ValueError, match="text must be a str of the characters 'helo', got list"):
        hello.encode(["h", "e"])
