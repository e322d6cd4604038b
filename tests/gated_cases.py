"""The tests the LSTM and the GRU share (forward, full and truncated BPTT against PyTorch, finite
differences, validation, state dicts), written once over a ``kind`` fixture ("lstm" or "gru") that
tests/test_lstm.py and tests/test_gru.py each define; they import the tests of their cell from here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scratchrnn.nn import lstm as lstm_module
from scratchrnn.nn import timeloop
from scratchrnn.nn.gru import GRU
from scratchrnn.nn.lstm import LSTM

torch = pytest.importorskip("torch")

from torch_reference import (  # noqa: E402  (needs torch, imported after the skip check)
    load_into_torch,
    torch_reference_backward,
    truncated_reference,
)

TOL = 1e-10  # float64 agreement with PyTorch
KINDS = {"lstm": (LSTM, torch.nn.LSTM, 2), "gru": (GRU, torch.nn.GRU, 1)}


# -- per-step torch cells written from the equations, for the truncated reference ----------------
def lstm_cell(x_t, state, p):
    h, c = state
    z = x_t @ p["weight_ih"].T + h @ p["weight_hh"].T  # (B, 4H)
    if "bias_ih" in p:
        z = z + p["bias_ih"] + p["bias_hh"]
    zi, zf, zg, zo = z.chunk(4, dim=-1)
    c = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
    return (torch.sigmoid(zo) * torch.tanh(c), c)


def gru_cell(x_t, state, p):
    (h,) = state
    gx = x_t @ p["weight_ih"].T  # (B, 3H)
    gh = h @ p["weight_hh"].T  # (B, 3H)
    if "bias_ih" in p:
        gx = gx + p["bias_ih"]
        gh = gh + p["bias_hh"]
    xr, xz, xn = gx.chunk(3, dim=-1)
    hr, hz, hn = gh.chunk(3, dim=-1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return ((1 - z) * n + z * h,)


CELLS = {"lstm": lstm_cell, "gru": gru_cell}


# -- helpers ------------------------------------------------------------------------------------
def as_tuple(state, arity):
    return tuple(state) if arity == 2 else (state,)


def wrap(parts, arity):
    return tuple(parts) if arity == 2 else parts[0]


def assert_close(a, b, what, tol=TOL):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    assert err <= tol, f"{what}: max abs difference {err:.3e} > {tol:.0e}"


def make_pair(kind, F, H, L, bias, batch_first, bi, seed):
    cls, tcls, _ = KINDS[kind]
    kw = dict(num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bi)
    ours = cls(F, H, **kw, dtype=np.float64, rng=seed)
    theirs = tcls(F, H, **kw).double()
    load_into_torch(ours.params, theirs)
    return ours, theirs


# -- full BPTT against torch.nn.LSTM / torch.nn.GRU -----------------------------------------------
@settings(max_examples=100, deadline=None)
@given(
    T=st.integers(1, 5),
    B=st.integers(1, 3),
    F=st.integers(1, 4),
    H=st.integers(1, 4),
    L=st.integers(1, 3),
    bi=st.booleans(),
    bias=st.booleans(),
    batch_first=st.booleans(),
    give_h0=st.booleans(),
    dstate_mode=st.sampled_from(["none", "all", "h only", "c only"]),
    give_dout=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
    lstm_via_scratch=st.booleans(),
)
@example(T=1, B=1, F=1, H=1, L=1, bi=False, bias=True, batch_first=False, give_h0=True,
         dstate_mode="all", give_dout=True, seed=0, lstm_via_scratch=True)
@example(T=1, B=1, F=2, H=3, L=3, bi=True, bias=False, batch_first=True, give_h0=False,
         dstate_mode="h only", give_dout=False, seed=1, lstm_via_scratch=False)
def test_full_bptt_matches_torch(
    kind, T, B, F, H, L, bi, bias, batch_first, give_h0, dstate_mode, give_dout, seed, lstm_via_scratch
):
    """Both ways the LSTM builds a step's gradient (into dA, or via scratch on small steps) are drawn."""
    saved = timeloop.SCRATCH_STEP_ELEMENTS
    timeloop.SCRATCH_STEP_ELEMENTS = 1 << 30 if lstm_via_scratch else 0
    try:
        _check_full_bptt(kind, T, B, F, H, L, bi, bias, batch_first, give_h0, dstate_mode, give_dout, seed)
    finally:
        timeloop.SCRATCH_STEP_ELEMENTS = saved


def _check_full_bptt(kind, T, B, F, H, L, bi, bias, batch_first, give_h0, dstate_mode, give_dout, seed):
    _, _, arity = KINDS[kind]
    if not give_dout and dstate_mode == "none":
        give_dout = True  # otherwise every gradient is trivially zero
    rng = np.random.default_rng(seed)
    D = 2 if bi else 1
    ours, theirs = make_pair(kind, F, H, L, bias, batch_first, bi, seed)
    x = rng.standard_normal((B, T, F) if batch_first else (T, B, F))
    sshape = (L * D, B, H)
    h0 = wrap([rng.standard_normal(sshape) for _ in range(arity)], arity) if give_h0 else None
    dout = rng.standard_normal((B, T, D * H) if batch_first else (T, B, D * H)) if give_dout else None
    ds = [rng.standard_normal(sshape) for _ in range(arity)]
    if dstate_mode == "none":
        dstate_n = None
    elif dstate_mode == "h only":
        dstate_n = wrap([ds[0]] + [None] * (arity - 1), arity)
    elif dstate_mode == "c only" and arity == 2:
        dstate_n = (None, ds[1])
    else:
        dstate_n = wrap(ds, arity)

    out, state_n, cache = ours.forward(x, h0)
    dx, dstate0, grads = ours.backward(dout, dstate_n, cache)
    r_out, r_state_n, r_dx, r_dstate0, r_grads = torch_reference_backward(
        theirs, x, h0, dout, dstate_n, batch_first=batch_first
    )
    assert_close(out, r_out, "out")
    for j, (a, b) in enumerate(zip(as_tuple(state_n, arity), as_tuple(r_state_n, arity), strict=True)):
        assert_close(a, b, f"final state {j}")
    assert_close(dx, r_dx, "dx")
    for j, (a, b) in enumerate(zip(as_tuple(dstate0, arity), as_tuple(r_dstate0, arity), strict=True)):
        assert_close(a, b, f"initial-state gradient {j}")
    assert list(grads) == list(ours.params)
    for name, g in grads.items():
        assert g.dtype == np.float64
        assert_close(g, r_grads[name], name)


@pytest.mark.parametrize("scratch_elements", [0, 1 << 30], ids=["into dA", "via scratch"])
def test_lstm_backward_step_paths_match_torch(monkeypatch, scratch_elements):
    """The LSTM builds a step's gradient straight into dA or, on small steps, in a scratch array
    first (``timeloop.SCRATCH_STEP_ELEMENTS``); the sizes above all take the scratch path."""
    monkeypatch.setattr(timeloop, "SCRATCH_STEP_ELEMENTS", scratch_elements)
    T, B, F, H, L = 6, 3, 4, 5, 2
    rng = np.random.default_rng(7)
    ours, theirs = make_pair("lstm", F, H, L, True, False, True, 7)
    x = rng.standard_normal((T, B, F))
    h0 = tuple(rng.standard_normal((2 * L, B, H)) for _ in range(2))
    dout = rng.standard_normal((T, B, 2 * H))
    dstate_n = tuple(rng.standard_normal((2 * L, B, H)) for _ in range(2))
    out, _, cache = ours.forward(x, h0)
    dx, dstate0, grads = ours.backward(dout, dstate_n, cache)
    _, _, r_dx, r_dstate0, r_grads = torch_reference_backward(theirs, x, h0, dout, dstate_n)
    assert_close(dx, r_dx, "dx")
    for j in range(2):
        assert_close(dstate0[j], r_dstate0[j], f"initial-state gradient {j}")
    for name, g in grads.items():
        assert_close(g, r_grads[name], name)


# -- truncated BPTT against a per-step loop with .detach() at the cuts ---------------------------
STRUCTURES = [(1, False), (2, False), (1, True), (3, True)]


@pytest.mark.parametrize(("L", "bi"), STRUCTURES)
@pytest.mark.parametrize("k", [0, 1, 3, 7])
def test_truncated_bptt_matches_detached_reference(kind, L, bi, k):
    _, _, arity = KINDS[kind]
    T, B, F, H = 5, 2, 3, 3
    D = 2 if bi else 1
    seed = 100 * L + 10 * k + bi
    rng = np.random.default_rng(seed)
    bias = (L + k) % 2 == 0
    cls = KINDS[kind][0]
    model = cls(F, H, num_layers=L, bias=bias, bidirectional=bi, dtype=np.float64, rng=seed)
    x = rng.standard_normal((T, B, F))
    h0 = wrap([rng.standard_normal((L * D, B, H)) for _ in range(arity)], arity)
    out, state_n, cache = model.forward(x, h0)
    dout = rng.standard_normal(out.shape)
    dstate_n = wrap([rng.standard_normal((L * D, B, H)) for _ in range(arity)], arity)

    dx, dstate0, grads = model.backward(dout, dstate_n, cache, truncate=k)
    r_dx, r_dstate0, r_grads = truncated_reference(
        CELLS[kind], model.params, x, h0, dout, dstate_n, L, D, k, state_arity=arity
    )
    assert_close(dx, r_dx, "dx")
    for j, (a, b) in enumerate(zip(as_tuple(dstate0, arity), as_tuple(r_dstate0, arity), strict=True)):
        assert_close(a, b, f"initial-state gradient {j}")
    for name, g in grads.items():
        assert_close(g, r_grads[name], name)

    full = model.backward(dout, dstate_n, cache)
    if k >= T - 1:  # no path is longer than T-1 steps, so nothing is cut
        assert_close(dx, full[0], "dx (truncation beyond the sequence)")
    else:  # the path from the last output back to the first input is longer than k
        assert np.max(np.abs(dx - full[0])) > 1e-6, "truncation should change the gradient"


@settings(max_examples=50, deadline=None)
@given(
    T=st.integers(1, 5),
    B=st.integers(1, 2),
    H=st.integers(1, 3),
    L=st.integers(1, 3),
    bi=st.booleans(),
    bias=st.booleans(),
    batch_first=st.booleans(),
    give_h0=st.booleans(),
    k=st.integers(0, 6),
    seed=st.integers(0, 2**31 - 1),
)
def test_truncated_bptt_random_sizes(kind, T, B, H, L, bi, bias, batch_first, give_h0, k, seed):
    cls, _, arity = KINDS[kind]
    F, D = 2, 2 if bi else 1
    rng = np.random.default_rng(seed)
    kw = dict(num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bi)
    model = cls(F, H, **kw, dtype=np.float64, rng=seed)
    x = rng.standard_normal((T, B, F))  # time-major for the reference
    h0 = wrap([rng.standard_normal((L * D, B, H)) for _ in range(arity)], arity) if give_h0 else None
    dout = rng.standard_normal((T, B, D * H))
    dstate_n = wrap([rng.standard_normal((L * D, B, H)) for _ in range(arity)], arity)
    swap = (lambda a: a.transpose(1, 0, 2)) if batch_first else (lambda a: a)
    _, _, cache = model.forward(swap(x), h0)
    dx, dstate0, grads = model.backward(swap(dout), dstate_n, cache, truncate=k)
    r_dx, r_dstate0, r_grads = truncated_reference(
        CELLS[kind], model.params, x, h0, dout, dstate_n, L, D, k, state_arity=arity
    )
    assert_close(swap(dx), r_dx, "dx")
    for j, (a, b) in enumerate(zip(as_tuple(dstate0, arity), as_tuple(r_dstate0, arity), strict=True)):
        assert_close(a, b, f"initial-state gradient {j}")
    for name, g in grads.items():
        assert_close(g, r_grads[name], name)


@pytest.mark.parametrize("which", ["out only", "state only"])
def test_truncated_bptt_single_source(kind, which):
    """Only dout or only the final-state gradient (for an LSTM: only dc_n) enters."""
    _, _, arity = KINDS[kind]
    T, B, F, H, L = 6, 1, 2, 3, 2
    rng = np.random.default_rng(7)
    model = KINDS[kind][0](F, H, num_layers=L, bidirectional=True, dtype=np.float64, rng=3)
    x = rng.standard_normal((T, B, F))
    out, _, cache = model.forward(x)
    dout = rng.standard_normal(out.shape) if which == "out only" else None
    dstate_n = None
    if which == "state only":
        dc_n = rng.standard_normal((2 * L, B, H))
        dstate_n = (None, dc_n) if arity == 2 else dc_n
    dx, dstate0, grads = model.backward(dout, dstate_n, cache, truncate=2)
    r_dx, r_dstate0, r_grads = truncated_reference(
        CELLS[kind], model.params, x, None, dout, dstate_n, L, 2, 2, state_arity=arity
    )
    assert_close(dx, r_dx, "dx")
    for j, (a, b) in enumerate(zip(as_tuple(dstate0, arity), as_tuple(r_dstate0, arity), strict=True)):
        assert_close(a, b, f"initial-state gradient {j}")
    for name, g in grads.items():
        assert_close(g, r_grads[name], name)


# -- finite differences ---------------------------------------------------------------------------
@pytest.mark.parametrize("scratch_elements", [0, 1 << 30], ids=["into grads", "via scratch"])
def test_finite_differences(monkeypatch, kind, scratch_elements):
    monkeypatch.setattr(timeloop, "SCRATCH_STEP_ELEMENTS", scratch_elements)  # see the paths test
    _, _, arity = KINDS[kind]
    T, B, F, H, L = 4, 2, 3, 2, 2
    rng = np.random.default_rng(11)
    model = KINDS[kind][0](F, H, num_layers=L, bidirectional=True, dtype=np.float64, rng=5)
    x = rng.standard_normal((T, B, F))
    h0 = [rng.standard_normal((2 * L, B, H)) for _ in range(arity)]
    w_out = rng.standard_normal((T, B, 2 * H))  # the loss is linear in out, h_n (and c_n)
    w_state = [rng.standard_normal((2 * L, B, H)) for _ in range(arity)]

    def loss():
        out, state_n, _ = model.forward(x, wrap(h0, arity))
        total = np.sum(w_out * out)
        for w, s in zip(w_state, as_tuple(state_n, arity), strict=True):
            total += np.sum(w * s)
        return total

    _, _, cache = model.forward(x, wrap(h0, arity))
    dx, dstate0, grads = model.backward(w_out, wrap(w_state, arity), cache)
    checks = [("x", x, dx)] + [(f"state0[{j}]", h0[j], g) for j, g in enumerate(as_tuple(dstate0, arity))]
    checks += [(name, model.params[name], grads[name]) for name in model.params]
    eps = 1e-6
    for what, arr, analytic in checks:
        numeric = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            orig = arr[idx]
            arr[idx] = orig + eps
            up = loss()
            arr[idx] = orig - eps
            down = loss()
            arr[idx] = orig
            numeric[idx] = (up - down) / (2 * eps)
        err = np.max(np.abs(numeric - analytic) / np.maximum(1.0, np.abs(numeric)))
        assert err < 1e-7, f"{what}: finite-difference mismatch {err:.2e}"


# -- validation -----------------------------------------------------------------------------------
def test_lstm_rejects_a_single_array_as_h0():
    model = LSTM(3, 4, num_layers=2, rng=0)
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"tuple \(h, c\).*\(2, 2, 4\).*got a ndarray"):
        model.forward(x, np.zeros((2, 2, 4), np.float32))
    with pytest.raises(ValueError, match=r"tuple \(h, c\).*got a tuple of length 3"):
        model.forward(x, (np.zeros((2, 2, 4), np.float32),) * 3)


def test_gru_rejects_a_tuple_as_h0():
    model = GRU(3, 4, rng=0)
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"single array of shape \(1, 2, 4\), got a tuple"):
        model.forward(x, (np.zeros((1, 2, 4), np.float32),))


@pytest.mark.parametrize("bad", ["h", "c"])
def test_lstm_rejects_wrong_state_shapes(bad):
    model = LSTM(3, 4, num_layers=2, bidirectional=True, rng=0)
    x = np.zeros((5, 2, 3), np.float32)
    good, wrong = np.zeros((4, 2, 4), np.float32), np.zeros((4, 3, 4), np.float32)
    h0 = (wrong, good) if bad == "h" else (good, wrong)
    with pytest.raises(ValueError, match=r"has shape \(4, 3, 4\), expected \(4, 2, 4\)"):
        model.forward(x, h0)


def test_gru_rejects_wrong_state_shape_and_dtype():
    model = GRU(3, 4, rng=0)
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"has shape \(2, 2, 4\), expected \(1, 2, 4\)"):
        model.forward(x, np.zeros((2, 2, 4), np.float32))
    with pytest.raises(ValueError, match=r"dtype float64.*float32"):
        model.forward(x, np.zeros((1, 2, 4), np.float64))


def test_backward_rejects_wrong_final_state_gradient():
    model = LSTM(3, 4, rng=0)
    out, _, cache = model.forward(np.zeros((5, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"tuple \(h, c\)"):
        model.backward(None, np.zeros((1, 2, 4), np.float32), cache)
    with pytest.raises(ValueError, match=r"dh_n entry must be \(1, 2, 4\)"):
        model.backward(None, (np.zeros((1, 2, 5), np.float32), None), cache)


# -- parameters, state dicts, float32, stability ------------------------------------------------
def test_state_dict_loads_into_torch_and_float32_outputs_agree(kind):
    cls, tcls, arity = KINDS[kind]
    model = cls(5, 6, num_layers=2, bidirectional=True, rng=1)
    theirs = tcls(5, 6, num_layers=2, bidirectional=True)
    sd = {k: torch.from_numpy(v) for k, v in model.state_dict().items()}
    theirs.load_state_dict(sd, strict=True)
    assert [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()] == [
        (k, v.shape) for k, v in model.params.items()
    ]
    x = np.random.default_rng(2).standard_normal((7, 3, 5)).astype(np.float32)
    out, state_n, _ = model.forward(x)
    with torch.no_grad():
        r_out, r_state = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(out, r_out.numpy(), atol=1e-5)
    for a, b in zip(as_tuple(state_n, arity), as_tuple(r_state, arity), strict=True):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-5)
    assert out.dtype == np.float32


def test_initialisation_like_torch_and_reproducible(kind):
    cls, _, _ = KINDS[kind]
    H = 64
    a, b = cls(10, H, num_layers=2, rng=42), cls(10, H, num_layers=2, rng=42)
    c = cls(10, H, num_layers=2, rng=43)
    bound = 1.0 / np.sqrt(H)
    for name, p in a.params.items():
        assert np.array_equal(p, b.params[name])
        assert not np.array_equal(p, c.params[name])
        assert np.max(np.abs(p)) <= bound
        assert np.max(np.abs(p)) > 0.9 * bound  # spread over the whole interval, not a narrower one


def test_huge_inputs_do_not_overflow(kind):
    cls, _, arity = KINDS[kind]
    model = cls(3, 4, rng=0)
    x = np.full((3, 2, 3), 1e4, np.float32)
    x[1] = -1e4
    out, state_n, cache = model.forward(x)  # warnings are errors in the test run
    dx, _, grads = model.backward(np.ones_like(out), None, cache)
    assert np.all(np.isfinite(out)) and np.all(np.abs(out) <= 1.0)
    assert np.all(np.isfinite(dx))
    assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_sequence_states_end_in_the_final_states_and_cache_is_reusable(kind):
    cls, _, arity = KINDS[kind]
    model = cls(2, 3, num_layers=2, bidirectional=True, dtype=np.float64, rng=0)
    x = np.random.default_rng(0).standard_normal((4, 2, 2))
    out, state_n, cache = model.forward(x)
    seqs = model.sequence_states(cache)
    assert len(seqs) == arity
    for seq, fin in zip(seqs, as_tuple(state_n, arity), strict=True):
        assert seq.shape == (4, 4, 2, 3)
        np.testing.assert_array_equal(seq[0::2, -1], fin[0::2])  # forward directions end at T-1
        np.testing.assert_array_equal(seq[1::2, 0], fin[1::2])  # reverse directions end at step 0
    np.testing.assert_array_equal(seqs[0][2], out[..., :3])  # the top layer's h is the output
    np.testing.assert_array_equal(seqs[0][3], out[..., 3:])
    g = np.random.default_rng(1).standard_normal(out.shape)
    first = model.backward(g, None, cache)
    model.backward(g, None, cache, truncate=1)
    again = model.backward(g, None, cache)
    np.testing.assert_array_equal(first[0], again[0])
    for name in first[2]:
        np.testing.assert_array_equal(first[2][name], again[2][name])


@pytest.mark.parametrize("one_hot_max_ids", [0, 1 << 30], ids=["gathered", "one-hot-rows"])
@pytest.mark.parametrize("truncate", [None, 2])
def test_token_ids_equal_one_hot_input(monkeypatch, kind, one_hot_max_ids, truncate):
    """Token ids give what their one-hot vectors give. The LSTM takes the ids either as one-hot rows
    of its step's input (few distinct ids) or by gathering columns of W_ih (more); both are run
    (the GRU has one token path, run under both settings)."""
    from scratchrnn.functional import one_hot

    monkeypatch.setattr(lstm_module, "ONE_HOT_MAX_IDS", one_hot_max_ids)
    cls = KINDS[kind][0]
    rng = np.random.default_rng(11)
    m = cls(9, 5, num_layers=2, bidirectional=True, dtype=np.float64, rng=0)
    ids = rng.choice([1, 4, 6, 8], (6, 3))  # (T, B): a sparse set of ids, not 0 .. U-1
    o1, _, c1 = m.forward(ids)
    o2, _, c2 = m.forward(one_hot(ids, 9, np.float64))
    if cls is LSTM:
        # the LSTM's float path folds x_t into one product with h_{t-1} and the bias, so the sums
        # run in another order than the gather's: equal to rounding, not bit for bit
        np.testing.assert_allclose(o1, o2, rtol=0, atol=1e-14)
    else:
        np.testing.assert_array_equal(o1, o2)
    g = rng.standard_normal(o1.shape)
    dx1, _, g1 = m.backward(g, None, c1, truncate=truncate)
    _, _, g2 = m.backward(g, None, c2, truncate=truncate)
    assert dx1 is None
    for name in g1:
        np.testing.assert_allclose(g1[name], g2[name], rtol=0, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("above", [-1, 0, 1], ids=["1-id", "at-the-limit", "one-over"])
def test_lstm_token_path_follows_the_number_of_distinct_ids(above):
    """Up to ``ONE_HOT_MAX_IDS`` distinct ids ride in the step's product as one-hot rows (K = U + H
    + 1); beyond it the step product has no input columns (K = H + 1) and a table is gathered from.
    Either way the result is that of the one-hot input, and ids not in the sequence get a zero
    gradient."""
    from scratchrnn.functional import one_hot

    limit = lstm_module.ONE_HOT_MAX_IDS
    distinct = 1 if above < 0 else limit + above
    V, H = 2 * distinct + 3, 3
    m = LSTM(V, H, dtype=np.float64, rng=0)
    used = 2 * np.arange(distinct) + 1  # (U,) odd ids only
    ids = used[::-1].reshape(-1, 1)  # (T, 1)
    w, tokens = m._prepare_sequence(0, "", ids)
    as_rows = distinct <= limit
    assert w.shape == (4 * H, (distinct if as_rows else 0) + H + 1)
    assert (tokens.table is None) == as_rows
    np.testing.assert_array_equal(tokens.used, used)
    out, _, cache = m.forward(ids)
    ref, _, ref_cache = m.forward(one_hot(ids, V, np.float64))
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-14)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    g = m.backward(dout, None, cache)[2]["weight_ih_l0"]
    g_ref = m.backward(dout, None, ref_cache)[2]["weight_ih_l0"]
    np.testing.assert_allclose(g, g_ref, rtol=0, atol=1e-13)
    assert np.all(g[:, 0::2] == 0.0) and np.all(np.any(g[:, used] != 0.0, axis=0))


@pytest.mark.parametrize("layers", [1, 2])
def test_lstm_stack_output_is_contiguous_and_its_own(layers):
    """The LSTM keeps each layer's output as a view of its step inputs; the stack's output is made
    contiguous once at the top and shares no memory with the cache that backward reads."""
    m = LSTM(3, 4, num_layers=layers, rng=0)
    out, _, cache = m.forward(np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32))
    assert out.flags.c_contiguous and not out.flags.writeable
    top_z = cache.layers[-1][0][1]  # the top layer's step inputs z, which hold its h_t
    assert not np.shares_memory(out, top_z)
