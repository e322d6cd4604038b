"""scratchrnn.nn.cells: one-step cells against torch.nn.RNNCell/LSTMCell/GRUCell (float64, 1e-10),
against finite differences, and a loop of each cell against the layer it is one step of."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.gradcheck import check_gradients
from scratchrnn.nn import GRU, LSTM, RNN
from scratchrnn.nn.cells import CellCache, GRUCell, LSTMCell, RNNCell

torch = pytest.importorskip("torch")

TOL = 1e-10
CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", None)]
CELL = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
LAYER = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
TORCH = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}


def make(kind, nl, F=3, H=5, bias=True, dtype=np.float64, rng=0):
    kwargs = {} if nl is None else {"nonlinearity": nl}
    return CELL[kind](F, H, bias=bias, dtype=dtype, rng=rng, **kwargs)


def state_of(kind, rng, B, H):
    parts = tuple(0.5 * rng.standard_normal((B, H)) for _ in range(2 if kind == "lstm" else 1))
    return parts if kind == "lstm" else parts[0]


def as_parts(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("kind", "nl"), CASES)
def test_a_step_and_its_backward_equal_torchs_cell(kind, nl, bias):
    rng = np.random.default_rng(1)
    B, F, H = 4, 3, 5
    cell = make(kind, nl, F, H, bias=bias)
    x, state = rng.standard_normal((B, F)), state_of(kind, rng, B, H)
    new, cache = cell.forward(x, state)
    g = tuple(rng.standard_normal((B, H)) for _ in as_parts(new))
    dx, dstate, grads = cell.backward(g if kind == "lstm" else g[0], cache)

    kwargs = {} if nl is None else {"nonlinearity": nl}
    tcell = getattr(torch.nn, TORCH[kind])(F, H, bias=bias, dtype=torch.float64, **kwargs)
    tcell.load_state_dict({k: torch.from_numpy(v) for k, v in cell.state_dict().items()})
    tx = torch.from_numpy(x).requires_grad_()
    ts = tuple(torch.from_numpy(s).requires_grad_() for s in as_parts(state))
    tnew = as_parts(tcell(tx, ts if kind == "lstm" else ts[0]))
    sum(torch.sum(a * torch.from_numpy(b)) for a, b in zip(tnew, g, strict=True)).backward()
    for ours, theirs in zip(as_parts(new), tnew, strict=True):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=TOL, atol=TOL)
    for ours, theirs in zip(as_parts(dstate), ts, strict=True):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=TOL, atol=TOL)
    assert set(grads) == set(cell.params) == {k for k, _ in tcell.named_parameters()}
    for name, p in tcell.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=TOL, atol=TOL, err_msg=name)


@pytest.mark.parametrize(("kind", "nl"), CASES)
def test_the_backward_matches_finite_differences(kind, nl):
    rng = np.random.default_rng(2)
    B, F, H = 2, 3, 4
    cell = make(kind, nl, F, H)
    x = rng.standard_normal((B, F)) + (0.3 if nl == "relu" else 0.0)
    state = state_of(kind, rng, B, H)
    new, cache = cell.forward(x, state)
    g = tuple(rng.standard_normal((B, H)) for _ in as_parts(new))
    dx, dstate, grads = cell.backward(g if kind == "lstm" else g[0], cache)
    inputs = {"x": x, **{f"s{j}": s for j, s in enumerate(as_parts(state))}}
    params = {**inputs, **cell.params}
    analytic = {"x": dx, **{f"s{j}": d for j, d in enumerate(as_parts(dstate))}, **grads}

    def loss(_p):
        s = tuple(params[f"s{j}"] for j in range(len(as_parts(state))))
        out, _ = cell.forward(params["x"], s if kind == "lstm" else s[0])
        return sum(float(np.sum(a * b)) for a, b in zip(as_parts(out), g, strict=True))

    report = check_gradients(loss, params, analytic)
    assert report.ok, str(report)
    assert report.max_rel_err < 1e-5


@pytest.mark.parametrize(("kind", "nl"), CASES)
def test_a_loop_of_the_cell_is_the_layer_forward_and_backward(kind, nl):
    rng = np.random.default_rng(3)
    T, B, F, H = 6, 3, 4, 5
    kwargs = {} if nl is None else {"nonlinearity": nl}
    layer = LAYER[kind](F, H, dtype=np.float64, rng=4, **kwargs)
    cell = make(kind, nl, F, H, rng=5)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.params.items()})
    x = rng.standard_normal((T, B, F))
    h0 = state_of(kind, rng, B, H)
    layer_h0 = tuple(s[None] for s in as_parts(h0))
    out, h_n, layer_cache = layer.forward(x, layer_h0 if kind == "lstm" else layer_h0[0])
    state, caches, outs = h0, [], []
    for t in range(T):
        state, c = cell.forward(x[t], state)
        caches.append(c)
        outs.append(as_parts(state)[0])
    np.testing.assert_allclose(np.stack(outs), out, rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(as_parts(state), as_parts(h_n), strict=True):
        np.testing.assert_allclose(ours, theirs[0], rtol=1e-12, atol=1e-12)

    dout = rng.standard_normal(out.shape)
    dh_n = tuple(rng.standard_normal((1, B, H)) for _ in as_parts(h0))
    dx, dh0, grads = layer.backward(dout, dh_n if kind == "lstm" else dh_n[0], layer_cache)
    dstate = tuple(d[0] for d in dh_n)  # BPTT by hand: the loop run backwards
    total = {k: 0.0 for k in cell.params}
    dxs = [None] * T
    for t in reversed(range(T)):
        dstate = (dstate[0] + dout[t],) + dstate[1:]
        dxs[t], back, step_grads = cell.backward(dstate if kind == "lstm" else dstate[0], caches[t])
        dstate = as_parts(back)
        for k, v in step_grads.items():
            total[k] = total[k] + v
    np.testing.assert_allclose(np.stack(dxs), dx, rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(dstate, as_parts(dh0), strict=True):
        np.testing.assert_allclose(ours, theirs[0], rtol=1e-12, atol=1e-12)
    for k, v in total.items():
        np.testing.assert_allclose(v, grads[k + "_l0"], rtol=1e-12, atol=1e-12, err_msg=k)


def test_the_lstm_takes_no_gradient_at_c_as_zeros_and_float32_stays_float32():
    rng = np.random.default_rng(6)
    cell = LSTMCell(3, 4, rng=0)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    (h, c), cache = cell.forward(x)  # a None state is zeros
    assert h.dtype == c.dtype == np.float32 and h.shape == (2, 4)
    dh = rng.standard_normal((2, 4)).astype(np.float32)
    a = cell.backward((dh, None), cache)
    b = cell.backward((dh, np.zeros_like(dh)), cache)
    np.testing.assert_array_equal(a[0], b[0])
    assert all(g.dtype == np.float32 for g in a[2].values())


def test_the_cells_draw_torchs_initial_ranges_and_say_what_they_are():
    cell = GRUCell(7, 16, rng=0)
    assert {k: v.shape for k, v in cell.params.items()} == {
        "weight_ih": (48, 7), "weight_hh": (48, 16), "bias_ih": (48,), "bias_hh": (48,)}
    assert all(np.abs(v).max() <= 0.25 for v in cell.params.values())  # U(-1/sqrt(16), 1/sqrt(16))
    np.testing.assert_array_equal(GRUCell(7, 16, rng=0).params["weight_hh"], cell.params["weight_hh"])
    assert repr(cell) == "GRUCell(7, 16)"
    relu = RNNCell(2, 3, bias=False, nonlinearity="relu")
    assert repr(relu) == "RNNCell(2, 3, bias=False, nonlinearity='relu')"
    assert set(RNNCell(2, 3, bias=False).params) == {"weight_ih", "weight_hh"}


def test_bad_input_is_named():
    cell = LSTMCell(3, 4, dtype=np.float64)
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"^LSTMCell expects x of shape \(batch, 3\), got \(2, 5\)$"):
        cell.forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="^LSTMCell expects x of dtype float64, got float32$"):
        cell.forward(x.astype(np.float32))
    with pytest.raises(ValueError, match=r"^LSTMCell expects the state as a tuple \(h, c\)"):
        cell.forward(x, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"^LSTMCell expects the state of shape \(2, 4\) and dtype float64, "
                                         r"got \(2, 3\) float64$"):
        cell.forward(x, (np.zeros((2, 4)), np.zeros((2, 3))))
    with pytest.raises(ValueError, match="^RNNCell's nonlinearity must be 'tanh' or 'relu'"):
        RNNCell(3, 4, nonlinearity="sigmoid")
    _, cache = cell.forward(x)
    assert isinstance(cache, CellCache)
    with pytest.raises(ValueError, match=r"^LSTMCell.backward expects \(dh, dc\)"):
        cell.backward(np.zeros((2, 4)), cache)
    with pytest.raises(ValueError, match="^LSTMCell.backward expects the cache forward returned, got tuple$"):
        cell.backward((np.zeros((2, 4)), None), (1, 2))
    cell.load_state_dict(cell.state_dict())
    with pytest.raises(ValueError, match="this cache was made with older weights"):
        cell.backward((np.zeros((2, 4)), None), cache)
