"""The layers package (scratchrnn.nn): its names, and one contract for every recurrent cell."""

import numpy as np
import pytest

from scratchrnn import nn
from scratchrnn.nn.model import CELLS


def test_the_package_names():
    for name in nn.__all__:
        assert getattr(nn, name) is not None, name
    assert set(CELLS.values()) == {nn.RNN, nn.LSTM, nn.GRU}


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_every_cell_keeps_the_layer_contract(cls):
    """forward -> (out, h_n, cache), backward -> (dx, dh0, grads) with grads keyed like params."""
    layer = cls(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    out, h_n, cache = layer.forward(x)
    assert out.shape == (5, 2, 8) and not out.flags.writeable
    states = h_n if isinstance(h_n, tuple) else (h_n,)
    assert len(states) == cls.STATE_ARITY and all(s.shape == layer.state_shape(2) for s in states)
    dx, dh0, grads = layer.backward(np.ones_like(out), None, cache)
    assert dx.shape == x.shape and list(grads) == list(layer.params)
    assert all(grads[k].shape == p.shape and grads[k].dtype == p.dtype for k, p in layer.params.items())
