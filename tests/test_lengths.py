"""Sequence lengths in the recurrent layers (scratchrnn.nn.lengths): against PyTorch's packed
sequences, against each sequence run on its own, against the reference, and finite differences with
truncation; float64 throughout."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scratchrnn.gradcheck import check_gradients, truncated_objective
from scratchrnn.nn import GRU, LSTM, RNN, reference
from scratchrnn.nn.lengths import Lengths

FAST = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
ARITY = {"rnn": 1, "lstm": 2, "gru": 1}
TOL = 1e-10


def parts(state, arity):
    return (state,) if arity == 1 else tuple(state)


def wrap(ps, arity):
    return ps[0] if arity == 1 else tuple(ps)


def close(a, b, what, tol=TOL):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=what)


def problem(cell, T, B, F, H, L, bi, seed, give_h0=True, batch_first=False, lengths=None):
    """A float64 layer, padded input (NaN in the padding), lengths, h0 and upstream gradients."""
    rng = np.random.default_rng(seed)
    layer = FAST[cell](F, H, num_layers=L, bidirectional=bi, batch_first=batch_first, dtype=np.float64,
                       rng=seed)
    D, arity = 2 if bi else 1, ARITY[cell]
    lens = rng.integers(1, T + 1, size=B) if lengths is None else np.asarray(lengths)
    x = rng.standard_normal((T, B, F))
    x[np.arange(T)[:, None] >= lens] = np.nan  # padding that must never reach a valid number
    h0 = wrap([0.5 * rng.standard_normal((L * D, B, H)) for _ in range(arity)], arity) if give_h0 else None
    dout = rng.standard_normal((T, B, D * H))
    dh_n = wrap([rng.standard_normal((L * D, B, H)) for _ in range(arity)], arity)
    if batch_first:
        x, dout = x.transpose(1, 0, 2).copy(), dout.transpose(1, 0, 2).copy()
    return layer, x, lens, h0, dout, dh_n


def run(layer, x, lens, h0, dout, dh_n, truncate=None):
    out, h_n, cache = layer.forward(x, h0, lengths=lens)
    dx, dh0, grads = layer.backward(dout, dh_n, cache, truncate=truncate)
    return out, h_n, dx, dh0, grads


# -- against PyTorch's packed sequences ------------------------------------------------------------
torch = pytest.importorskip("torch")
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

from torch_reference import load_into_torch  # noqa: E402

TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def torch_run(cell, layer, x, lens, h0, dout, dh_n, batch_first):
    """PyTorch's packed run of the same layer: out, h_n, dx, dh0 and every parameter gradient."""
    tm = TORCH[cell](layer.input_size, layer.hidden_size, num_layers=layer.num_layers,
                     bidirectional=layer.bidirectional, batch_first=batch_first).double()
    load_into_torch(layer.params, tm)
    arity = ARITY[cell]
    T = x.shape[1] if batch_first else x.shape[0]
    xt = torch.tensor(np.nan_to_num(x), requires_grad=True)  # torch reads no padding either
    h0t = None if h0 is None else [torch.tensor(p, requires_grad=True) for p in parts(h0, arity)]
    packed = pack_padded_sequence(xt, torch.tensor(lens), batch_first=batch_first, enforce_sorted=False)
    out_p, hn = tm(packed, None if h0t is None else wrap(h0t, arity))
    out, _ = pad_packed_sequence(out_p, batch_first=batch_first, total_length=T)
    loss = (out * torch.tensor(dout)).sum()
    for s, d in zip(parts(hn, arity), parts(dh_n, arity), strict=True):
        loss = loss + (s * torch.tensor(d)).sum()
    loss.backward()
    grads = {n: p.grad.numpy() for n, p in tm.named_parameters()}
    dh0 = None if h0t is None else wrap([p.grad.numpy() for p in h0t], arity)
    h_n = wrap([s.detach().numpy() for s in parts(hn, arity)], arity)
    return out.detach().numpy(), h_n, xt.grad.numpy(), dh0, grads


@settings(max_examples=30, deadline=None)
@given(cell=st.sampled_from(["rnn", "lstm", "gru"]), T=st.integers(1, 6), B=st.integers(1, 4),
       F=st.integers(1, 3), H=st.integers(1, 3), L=st.integers(1, 2), bi=st.booleans(),
       give_h0=st.booleans(), batch_first=st.booleans(), seed=st.integers(0, 2**31 - 1))
@example(cell="lstm", T=5, B=3, F=2, H=2, L=2, bi=True, give_h0=True, batch_first=False, seed=0)
@example(cell="gru", T=1, B=1, F=1, H=1, L=1, bi=False, give_h0=False, batch_first=True, seed=1)
def test_lengths_match_torch_packed_sequences(cell, T, B, F, H, L, bi, give_h0, batch_first, seed):
    lengths = None
    if B >= 2:  # length 1 and length T in every drawn batch that has room for both
        lengths = np.random.default_rng(seed).integers(1, T + 1, size=B)
        lengths[0], lengths[-1] = 1, T
    layer, x, lens, h0, dout, dh_n = problem(cell, T, B, F, H, L, bi, seed, give_h0, batch_first, lengths)
    ours = run(layer, x, lens, h0, dout, dh_n)
    theirs = torch_run(cell, layer, x, lens, h0, dout, dh_n, batch_first)
    arity = ARITY[cell]
    close(ours[0], theirs[0], "out")
    for a, b, name in zip(parts(ours[1], arity), parts(theirs[1], arity), ("h_n", "c_n"), strict=False):
        close(a, b, name)
    close(ours[2], theirs[2], "dx")
    if give_h0:
        for a, b, name in zip(parts(ours[3], arity), parts(theirs[3], arity), ("dh0", "dc0"), strict=False):
            close(a, b, name)
    for name, g in theirs[4].items():
        close(ours[4][name], g, name)


# -- against each sequence on its own, and the reference -----------------------------------------
@settings(max_examples=30, deadline=None)
@given(cell=st.sampled_from(["rnn", "lstm", "gru"]), T=st.integers(1, 6), B=st.integers(1, 4),
       H=st.integers(1, 3), L=st.integers(1, 2), bi=st.booleans(),
       truncate=st.one_of(st.none(), st.integers(0, 6)), seed=st.integers(0, 2**31 - 1))
def test_lengths_equal_separate_unpadded_runs(cell, T, B, H, L, bi, truncate, seed):
    """The padded batch with lengths gives, for every sequence, what a batch of that sequence alone
    gives (outputs, states, dx, dh0), and the weight gradients are the sum over the sequences; with
    truncation too. The reference with lengths is the same computation written as that loop."""
    layer, x, lens, h0, dout, dh_n = problem(cell, T, B, 2, H, L, bi, seed)
    arity = ARITY[cell]
    out, h_n, dx, dh0, grads = run(layer, x, lens, h0, dout, dh_n, truncate)
    total = {}
    for b, n in enumerate(lens):
        def one(s, b=b):  # sequence b's entries of a state
            return wrap([p[:, b : b + 1] for p in parts(s, arity)], arity)

        o, hn, c = layer.forward(np.ascontiguousarray(x[:n, b : b + 1]), one(h0))
        dxb, dh0b, gb = layer.backward(np.ascontiguousarray(dout[:n, b : b + 1]), one(dh_n), c,
                                       truncate=truncate)
        close(out[:n, b], o[:, 0], "out")
        assert not out[n:, b].any(), "outputs past the length are zero"
        assert not dx[n:, b].any(), "dx past the length is zero"
        close(dx[:n, b], dxb[:, 0], "dx")
        for whole, single in ((h_n, hn), (dh0, dh0b)):
            for p, q in zip(parts(whole, arity), parts(single, arity), strict=True):
                close(p[:, b], q[:, 0], "state")
        for k, v in gb.items():
            total[k] = total.get(k, 0.0) + v
    for k, v in total.items():
        close(grads[k], v, k)
    r_out, r_hn, r_cache = reference.forward(cell, layer.params, np.nan_to_num(x), h0, lengths=lens)
    r_dx, r_dh0, r_grads = reference.backward(r_cache, layer.params, dout, dh_n, truncate=truncate)
    close(out, r_out, "reference out", 1e-12)
    close(dx, r_dx, "reference dx", 1e-12)
    for k, v in r_grads.items():
        close(grads[k], v, k, 1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("truncate", [None, 1, 3])
def test_finite_differences_with_lengths_and_truncation(cell, truncate):
    """backward(lengths=, truncate=k) is the gradient of the sum over sequences of each one's
    truncated objective (scratchrnn.gradcheck.truncated), by central differences."""
    T, B, F, H, L = 5, 3, 2, 3, 2
    layer, x, lens, h0, dout, dh_n = problem(cell, T, B, F, H, L, True, 3, lengths=[2, 5, 4])
    arity = ARITY[cell]
    _, _, dx, dh0, grads = run(layer, x, lens, h0, dout, dh_n, truncate)
    xs = [np.ascontiguousarray(x[:n, b : b + 1]) for b, n in enumerate(lens)]
    h0s = [wrap([np.ascontiguousarray(p[:, b : b + 1]) for p in parts(h0, arity)], arity) for b in range(B)]
    fns = []
    for b, n in enumerate(lens):
        w, v = dout[:n, b : b + 1], [p[:, b : b + 1] for p in parts(dh_n, arity)]

        def loss(out, h_n, w=w, v=v):
            states = zip(v, parts(h_n, arity), strict=True)
            return float(np.sum(w * out) + sum(np.sum(a * s) for a, s in states))

        fns.append(truncated_objective(layer, xs[b], loss, h0s[b], truncate=truncate))
    params = {**layer.params, **{f"x{b}": xs[b] for b in range(B)}}
    analytic = {**grads, **{f"x{b}": dx[:n, b : b + 1] for b, n in enumerate(lens)}}
    report = check_gradients(lambda _: sum(f(None) for f in fns), params, analytic)
    assert report.ok, report
    assert not dx[~(np.arange(T)[:, None] < lens)].any()
    assert dh0 is not None


def test_lengths_with_token_ids_read_no_padding_id():
    """Token ids: padding may hold any integer (here -1, outside the vocabulary); the result equals
    the one-hot input with the same lengths."""
    rng = np.random.default_rng(0)
    T, B, V, H = 6, 3, 5, 4
    for cls in (RNN, LSTM, GRU):
        layer = cls(V, H, bidirectional=True, dtype=np.float64, rng=1)
        lens = np.array([6, 2, 4])
        ids = rng.integers(0, V, size=(T, B))
        ids[np.arange(T)[:, None] >= lens] = -1
        out, h_n, cache = layer.forward(ids, lengths=lens)
        onehot = np.eye(V)[np.where(ids < 0, 0, ids)]
        out2, h_n2, _ = layer.forward(onehot, lengths=lens)
        close(out, out2, "out")
        close(np.array(h_n), np.array(h_n2), "h_n")
        dx, _, grads = layer.backward(np.ones_like(out), None, cache)
        assert dx is None and set(grads) == set(layer.params)
        with pytest.raises(ValueError, match=r"token ids inside the lengths must lie in \[0, 5\)"):
            layer.forward(np.where(ids < 0, 7, ids), lengths=np.array([6, 6, 4]))


def test_full_lengths_are_the_plain_run_and_steps_after_the_longest_are_not_run():
    rng = np.random.default_rng(1)
    layer = LSTM(2, 3, num_layers=2, dtype=np.float64, rng=0)
    x = rng.standard_normal((7, 2, 2))
    out, h_n, _ = layer.forward(x)
    out_l, h_n_l, _ = layer.forward(x, lengths=[7, 7])
    np.testing.assert_array_equal(out, out_l)
    np.testing.assert_array_equal(h_n[0], h_n_l[0])
    _, _, cache = layer.forward(x, lengths=np.array([3, 4]))
    assert cache.lengths.steps == 4
    run = cache.layers[0][0]  # the cell ran 4 steps, not 7 (as one segment or several)
    assert (run.gates.shape[0] if cache.plan is None else cache.plan.segments[-1].stop) == 4


def test_sequence_states_are_zero_past_each_length():
    layer = GRU(2, 3, bidirectional=True, dtype=np.float64, rng=0)
    x = np.random.default_rng(2).standard_normal((5, 2, 2))
    out, _, cache = layer.forward(x, lengths=[5, 2])
    (hs,) = layer.sequence_states(cache)  # (L*D, T, B, H)
    close(np.concatenate([hs[0], hs[1]], axis=2), out, "states are the outputs")
    assert not hs[:, 2:, 1].any()


def test_lengths_index_arrays():
    seq = Lengths(np.array([3, 1, 2]), 3, 5)
    assert seq.steps == 3 and not seq.full
    a = np.arange(9).reshape(3, 3, 1)  # (steps, B, 1): a[t, b] = 3t + b
    np.testing.assert_array_equal(seq.reverse(a)[:, :, 0], [[6, 1, 5], [3, 4, 2], [0, 7, 8]])
    np.testing.assert_array_equal(seq.reverse(seq.reverse(a)), a)
    np.testing.assert_array_equal(seq.final(a)[:, 0], [6, 1, 5])
    at_end, earlier = seq.ending()
    assert at_end.tolist() == [True, False, False]
    assert {t: r.tolist() for t, r in earlier.items()} == {0: [1], 1: [2]}


@pytest.mark.parametrize(("lengths", "match"), [
    ([3, 3], r"1-D integer array of 3 sequence lengths in \[1, 4\], got shape \(2,\)"),
    (np.array([[1, 2, 3]]), r"got shape \(1, 3\)"),
    (np.array([1.0, 2.0, 3.0]), r"got dtype float64"),
    ([0, 2, 3], r"got values in \[0, 3\]"),
    ([1, 2, 5], r"got values in \[1, 5\]"),
    (3, r"got int"),
    ("abc", r"got str"),
])
def test_bad_lengths_are_named(lengths, match):
    layer = RNN(2, 3, dtype=np.float64, rng=0)
    with pytest.raises(ValueError, match=match):
        layer.forward(np.zeros((4, 3, 2)), lengths=lengths)


def test_lengths_with_a_state_of_the_wrong_arity_are_refused():
    layer = LSTM(2, 3, dtype=np.float64, rng=0)
    h = np.zeros((1, 2, 3))
    with pytest.raises(ValueError, match=r"expects h0 as a tuple \(h, c\) .* got a ndarray"):
        layer.forward(np.zeros((4, 2, 2)), h, lengths=[4, 2])
    with pytest.raises(ValueError, match=r"got a tuple of length 3"):
        layer.forward(np.zeros((4, 2, 2)), (h, h, h), lengths=[4, 2])
    gru = GRU(2, 3, dtype=np.float64, rng=0)
    with pytest.raises(ValueError, match=r"expects h0 as a single array"):
        gru.forward(np.zeros((4, 2, 2)), (h, h), lengths=[4, 2])
