"""Test helpers shared by the scratchrnn.io test files: bit-exact comparisons and the modules saved.

Nothing here imports torch; the files that need it skip themselves when it is missing.
"""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.nn.model import CELLS, ModelConfig, SequenceModel

CELL_CASES = [("rnn", {"nonlinearity": "tanh"}), ("rnn", {"nonlinearity": "relu"}), ("lstm", {}), ("gru", {})]
CELL_IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru"]
SEQUENCE_CONFIGS = [
    dict(cell="rnn", vocab_size=7, embedding_dim=5, hidden_size=6),
    dict(cell="lstm", vocab_size=7, hidden_size=5, num_layers=2, bidirectional=True, head="last"),
    dict(cell="gru", input_size=4, output_size=3, hidden_size=5, head="last", head_bias=False),
    dict(cell="rnn", vocab_size=6, hidden_size=4, nonlinearity="relu", bias=False, num_layers=2),
    dict(cell="gru", vocab_size=6, embedding_dim=3, hidden_size=4, bidirectional=True, dtype="float64"),
    dict(cell="lstm", input_size=3, output_size=2, hidden_size=4, dtype="float64"),
]
SEQUENCE_IDS = ["rnn-embed", "lstm-onehot-last-bidir", "gru-dense-last", "relu-onehot-nobias",
                "gru-embed-bidir-f64", "lstm-dense-f64"]


def assert_same_array(got, want):
    """Same type, dtype (byte order included), shape and bytes: bit-identical."""
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes()


def assert_same_params(got: dict, want: dict):
    """Same names in the same order, same dtypes and shapes, identical bits."""
    assert list(got) == list(want)
    for k in want:
        g, w = np.asarray(got[k]), np.asarray(want[k])
        assert g.dtype == w.dtype, (k, g.dtype, w.dtype)
        assert g.shape == w.shape, (k, g.shape, w.shape)
        assert g.tobytes() == w.tobytes(), k


def same_module(got, want):
    """Same class, dtype, constructor settings (and config) and bit-identical parameters."""
    assert type(got) is type(want)
    assert got.dtype == want.dtype
    assert repr(got) == repr(want)  # every constructor setting shows in the repr
    if isinstance(want, SequenceModel):
        assert got.config == want.config
    assert_same_params(got.params, want.params)


def torch_params(module) -> dict:
    """A torch module's state dict as numpy arrays."""
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def cell_class(cell: str):
    """The scratchrnn layer class of a cell ("rnn", "lstm", "gru"); skips the test if it is absent."""
    if cell not in CELLS:
        pytest.skip(f"scratchrnn.nn has no {cell.upper()} yet")
    return CELLS[cell]


def recurrent(cell, extra, case, dtype=np.float32, seed=0):
    """A recurrent layer of input size 3 and hidden size 4 with the given constructor keywords."""
    return cell_class(cell)(3, 4, **extra, **case, dtype=dtype, rng=seed)


def sequence_model(kwargs, seed=0) -> SequenceModel:
    """A SequenceModel from ModelConfig keywords; skips the test if its cell is absent."""
    cfg = ModelConfig(**kwargs)
    cell_class(cfg.cell)
    return SequenceModel(cfg, rng=seed)
