"""The finite-difference checker, the truncated-BPTT objective, and the layer x loss x truncation matrix."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scratchrnn import gradcheck
from scratchrnn.cli import main
from scratchrnn.gradcheck import (
    GradcheckConfig,
    check_config,
    check_gradients,
    matrix_configs,
    numerical_gradient,
    recurrent_cells,
    run_matrix,
    truncated_objective,
)
from scratchrnn.nn import RNN

T, B, F, H = 5, 2, 3, 4


# -- the checker on functions with known gradients ---------------------------------------------
def _smooth_problem(seed: int = 0):
    """f = sum(a * w**2) + sum(sin(v)) + 0.5 * u^T M u, with gradients written out by hand."""
    gen = np.random.default_rng(seed)
    a = gen.standard_normal((3, 4))  # (3, 4)
    m = gen.standard_normal((5, 5))  # (5, 5)
    params = {
        "w": gen.standard_normal((3, 4)),  # (3, 4)
        "v": gen.standard_normal(6),  # (6,)
        "u": gen.standard_normal(5),  # (5,)
        "s": np.array(0.7),  # () a 0-d parameter
    }

    def fn(p):
        return float(np.sum(a * p["w"] ** 2) + np.sum(np.sin(p["v"])) + 0.5 * p["u"] @ m @ p["u"]
                     + np.exp(p["s"]))

    def grads(p):
        return {
            "w": 2.0 * a * p["w"],
            "v": np.cos(p["v"]),
            "u": 0.5 * (m + m.T) @ p["u"],
            "s": np.exp(p["s"]),
        }

    return fn, params, grads


def test_numerical_gradient_matches_closed_form():
    fn, params, grads = _smooth_problem()
    num = numerical_gradient(fn, params)
    exact = grads(params)
    assert set(num) == set(params)
    for name in params:
        assert num[name].shape == params[name].shape
        np.testing.assert_allclose(num[name], exact[name], rtol=1e-7, atol=1e-8, err_msg=name)


def test_check_gradients_passes_on_exact_gradient():
    fn, params, grads = _smooth_problem(1)
    report = check_gradients(fn, params, grads(params))
    assert report.ok, str(report)
    assert [c.name for c in report.checks] == list(params)
    assert all(c.checked == params[c.name].size for c in report.checks)
    assert report.max_rel_err < 1e-6


def test_numerical_gradient_on_non_contiguous_parameter():
    base = np.random.default_rng(2).standard_normal((4, 3))  # (4, 3)
    w = base.T  # (3, 4) a transposed view, not C-contiguous
    c = np.arange(12.0).reshape(3, 4)  # (3, 4)
    num = numerical_gradient(lambda p: float(np.sum(c * p["w"] ** 3)), {"w": w})
    np.testing.assert_allclose(num["w"], 3.0 * c * w**2, rtol=1e-7, atol=1e-8)


def test_numerical_gradient_only_on_requested_indices():
    fn, params, grads = _smooth_problem(3)
    num = numerical_gradient(fn, params, indices={"w": [0, 5, 11], "s": None})
    assert set(num) == {"w", "s"}
    flat = num["w"].reshape(-1)
    done = np.zeros(12, dtype=bool)
    done[[0, 5, 11]] = True
    assert np.all(np.isnan(flat[~done]))
    np.testing.assert_allclose(flat[done], grads(params)["w"].reshape(-1)[done], rtol=1e-7)
    with pytest.raises(ValueError, match=r"\[0, 12\)"):
        numerical_gradient(fn, params, indices={"w": [12]})
    with pytest.raises(ValueError, match="unknown parameter"):
        numerical_gradient(fn, params, indices={"nope": None})


def test_scaled_gradient_fails():
    fn, params, grads = _smooth_problem(4)
    wrong = grads(params)
    wrong["w"] = wrong["w"] * 1.01
    report = check_gradients(fn, params, wrong)
    assert not report.ok
    assert [c.name for c in report.failures] == ["w"]
    assert report["w"].max_rel_err == pytest.approx(0.01 / 1.01, rel=1e-3)
    assert report["v"].ok and report["u"].ok and report["s"].ok


def test_single_wrong_entry_is_located():
    fn, params, grads = _smooth_problem(5)
    wrong = grads(params)
    exact_value = wrong["u"][3]
    wrong["u"][3] += 0.5
    report = check_gradients(fn, params, wrong)
    bad = report["u"]
    assert not bad.ok and bad.failed == 1
    assert bad.worst_index == (3,)
    assert bad.analytic == pytest.approx(exact_value + 0.5)
    assert bad.numeric == pytest.approx(exact_value, rel=1e-7)
    assert bad.max_abs_err == pytest.approx(0.5, rel=1e-6)
    assert bad.max_rel_err == pytest.approx(0.5 / max(abs(exact_value + 0.5), abs(exact_value)), rel=1e-6)
    assert "u[3]" in str(report) and "FAILED" in str(report)


def test_tolerance_boundary():
    # f(w) = 2 w: the numeric derivative is 2 up to rounding, far inside the margins used here
    params = {"w": np.array([0.3])}
    atol, rtol = 1e-5, 1e-3
    margin = atol + rtol * 2.0
    fn = lambda p: float(2.0 * p["w"][0])  # noqa: E731
    assert check_gradients(fn, params, {"w": np.array([2.0 + 0.9 * margin])}, atol=atol, rtol=rtol).ok
    assert not check_gradients(fn, params, {"w": np.array([2.0 + 1.1 * margin])}, atol=atol, rtol=rtol).ok
    assert not check_gradients(fn, params, {"w": np.array([2.0 - 1.1 * margin])}, atol=atol, rtol=rtol).ok
    # relative error floors its denominator at atol: tiny gradients are judged absolutely
    report = check_gradients(lambda p: float(1e-7 * p["w"][0]), params, {"w": np.array([0.0])}, atol=atol)
    assert report.ok and report["w"].max_rel_err == pytest.approx(1e-7 / atol, rel=1e-4)


def test_nan_gradient_fails():
    fn, params, grads = _smooth_problem(6)
    wrong = grads(params)
    wrong["v"][2] = np.nan
    report = check_gradients(fn, params, wrong)
    assert not report["v"].ok and report["v"].worst_index == (2,)


def test_params_restored_exactly():
    gen = np.random.default_rng(7)
    w = gen.standard_normal((4, 5)) * 10.0 ** gen.uniform(-8, 2, (4, 5))  # (4, 5) magnitudes 1e-8 .. 1e2
    # values where stepping down by eps and back up does not round-trip: undoing the step by
    # arithmetic would not restore them, only writing back the saved value does
    assert np.any((w - 1e-6) + 1e-6 != w)
    before = w.copy()
    numerical_gradient(lambda p: float(np.sum(np.tanh(p["w"]))), {"w": w})
    assert np.array_equal(w.view(np.uint64), before.view(np.uint64))


def test_params_restored_when_fn_raises():
    w = np.random.default_rng(8).standard_normal(6) + 0.1  # (6,)
    before = w.copy()
    calls = []

    def fn(p):
        calls.append(p["w"].copy())
        if len(calls) == 4:  # the second entry's -eps evaluation
            raise RuntimeError("boom")
        return float(np.sum(p["w"] ** 2))

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(fn, {"w": w})
    assert np.array_equal(w.view(np.uint64), before.view(np.uint64))
    assert calls[3][1] != before[1]  # it really was perturbed when fn raised


def test_non_finite_loss_is_reported():
    def fn(p):  # finite at w[0] = 0 and above, NaN below
        return float("nan") if p["w"][0] < 0 else float(p["w"][0] ** 2)

    with pytest.raises(ValueError, match=r"non-finite.*w\[0\] - eps"):
        numerical_gradient(fn, {"w": np.array([0.0, 1.0])})


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64])
def test_non_float64_params_rejected(dtype):
    params = {"w": np.ones(3, dtype=dtype)}
    with pytest.raises(ValueError, match="float64"):
        numerical_gradient(lambda p: float(np.sum(p["w"])), params)
    with pytest.raises(ValueError, match="float64"):
        check_gradients(lambda p: float(np.sum(p["w"])), params, {"w": np.ones(3)})


def test_bad_arguments_rejected():
    fn, params, grads = _smooth_problem(9)
    g = grads(params)
    with pytest.raises(ValueError, match="missing"):
        check_gradients(fn, params, {k: v for k, v in g.items() if k != "v"})
    with pytest.raises(ValueError, match="unexpected"):
        check_gradients(fn, params, {**g, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match="shape"):
        check_gradients(fn, params, {**g, "w": g["w"].T})
    with pytest.raises(ValueError, match="max_entries"):
        check_gradients(fn, params, g, max_entries=0)
    with pytest.raises(ValueError, match="eps"):
        numerical_gradient(fn, params, eps=0.0)
    read_only = np.ones(2)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        numerical_gradient(lambda p: 0.0, {"r": read_only})
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda p: p["w"], {"w": np.ones(2)})


def test_max_entries_samples_reproducibly():
    fn, params, grads = _smooth_problem(10)
    wrong = grads(params)
    wrong["w"] = wrong["w"] * 1.5  # every entry wrong, so the worst index is a sampled one
    a = check_gradients(fn, params, wrong, max_entries=5, rng=np.random.default_rng(3))
    b = check_gradients(fn, params, wrong, max_entries=5, rng=np.random.default_rng(3))
    assert a["w"].checked == 5 and a["v"].checked == 5 and a["u"].checked == 5 and a["s"].checked == 1
    assert a["w"].worst_index == b["w"].worst_index and a["w"].failed == 5
    calls = []

    def counting(p):
        calls.append(1)
        return fn(p)

    check_gradients(counting, params, grads(params), max_entries=2)
    assert len(calls) == 2 * (2 + 2 + 2 + 1)


# -- the truncated objective -------------------------------------------------------------------
def _rnn_problem(k, bidirectional=False, num_layers=1, seed=0, batch_first=False, cell=RNN):
    """A float64 layer, input, h0 and a smooth loss of (out, h_n) with its gradient by hand:
    L = sum(w * out) + 0.5 * sum(out**2) + sum(v * h_n)."""
    gen = np.random.default_rng(seed)
    rnn = cell(F, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
               dtype=np.float64, rng=gen)
    D = 2 if bidirectional else 1
    x = gen.standard_normal((B, T, F) if batch_first else (T, B, F))  # (T, B, F)
    h0 = 0.5 * gen.standard_normal((num_layers * D, B, H))  # (L*D, B, H)
    w = gen.standard_normal((B, T, D * H) if batch_first else (T, B, D * H))  # like out
    v = gen.standard_normal((num_layers * D, B, H))  # (L*D, B, H)

    def loss(out, h_n):
        return float(np.sum(w * out) + 0.5 * np.sum(out**2) + np.sum(v * h_n))

    out, h_n, cache = rnn.forward(x, h0)
    dx, dh0, grads = rnn.backward(w + out, v.copy(), cache, truncate=k)
    params = {**rnn.params, "x": x, "h0": h0}
    analytic = {**grads, "x": dx, "h0": dh0}
    return rnn, x, h0, loss, params, analytic


def _naive_step(p, suffix, x_t, h):
    return np.tanh(x_t @ p[f"weight_ih_l0{suffix}"].T + p[f"bias_ih_l0{suffix}"]
                   + h @ p[f"weight_hh_l0{suffix}"].T + p[f"bias_hh_l0{suffix}"])


def _naive_states(p, x, h0, bidirectional):
    """All states of a one-layer tanh RNN by a plain loop: fwd[t], rev[t] (rev after reading t)."""
    fwd, rev = np.empty((T, B, H)), np.empty((T, B, H))  # (T, B, H)
    h = h0[0]
    for t in range(T):
        h = fwd[t] = _naive_step(p, "", x[t], h)
    if bidirectional:
        h = h0[1]
        for t in reversed(range(T)):
            h = rev[t] = _naive_step(p, "_reverse", x[t], h)
    return fwd, rev


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("k", [0, 1, 3, 4])
def test_truncated_objective_matches_a_plain_loop(k, bidirectional):
    """The objective, rebuilt independently from its definition for a one-layer tanh RNN."""
    rnn, x, h0, loss, params, _ = _rnn_problem(k, bidirectional, seed=11)
    fwd_held, rev_held = _naive_states(rnn.params, x, h0, bidirectional)
    h0_held = h0.copy()
    fn = truncated_objective(rnn, x, loss, h0, truncate=k)
    gen = np.random.default_rng(12)
    for p in params.values():  # move every weight, the input and h0 away from where states were held
        p += 0.05 * gen.standard_normal(p.shape)
    D = 2 if bidirectional else 1
    out = np.empty((T, B, D * H))  # (T, B, D*H)
    h_n = np.empty((D, B, H))  # (D, B, H)
    for t in range(T):
        s = t - k - 1  # forward: held state at t-k-1, h0 held at -1, live h0 before that
        h = fwd_held[s] if s >= 0 else (h0_held[0] if s == -1 else h0[0])
        for j in range(max(0, t - k), t + 1):
            h = _naive_step(rnn.params, "", x[j], h)
        out[t, :, :H] = h
        if t == T - 1:
            h_n[0] = h
        if bidirectional:
            e = t + k + 1  # reverse: held state at t+k+1, h0 held at T, live h0 beyond
            h = rev_held[e] if e <= T - 1 else (h0_held[1] if e == T else h0[1])
            for j in reversed(range(t, min(T, t + k + 1))):
                h = _naive_step(rnn.params, "_reverse", x[j], h)
            out[t, :, H:] = h
            if t == 0:
                h_n[1] = h
    expected = loss(out, h_n)
    assert fn(None) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    full = loss(*rnn.forward(x, h0)[:2])
    assert abs(full - expected) > 1e-6  # the truncated objective is a different function


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("k", [0, 2])
def test_truncated_objective_equals_loss_at_the_held_point(k, bidirectional):
    rnn, x, h0, loss, _, _ = _rnn_problem(k, bidirectional, num_layers=2, seed=13)
    fn = truncated_objective(rnn, x, loss, h0, truncate=k)
    assert fn(None) == pytest.approx(loss(*rnn.forward(x, h0)[:2]), rel=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_truncation_is_discriminated(bidirectional):
    """Each truncated gradient passes against its own objective only."""
    k = 1
    rnn, x, h0, loss, params, analytic = _rnn_problem(k, bidirectional, num_layers=2, seed=14)
    assert check_gradients(truncated_objective(rnn, x, loss, h0, truncate=k), params, analytic).ok
    full = check_gradients(truncated_objective(rnn, x, loss, h0, truncate=None), params, analytic)
    assert not full.ok
    assert {"weight_hh_l0", "weight_hh_l1"} <= {c.name for c in full.failures}
    other = check_gradients(truncated_objective(rnn, x, loss, h0, truncate=2), params, analytic)
    assert not other.ok
    _, _, _, _, _, untruncated = _rnn_problem(None, bidirectional, num_layers=2, seed=14)
    assert not check_gradients(truncated_objective(rnn, x, loss, h0, truncate=k), params, untruncated).ok


def test_truncation_at_or_beyond_the_sequence_is_full_bptt():
    rnn, x, h0, loss, params, _ = _rnn_problem(T, bidirectional=True, seed=15)
    full = numerical_gradient(truncated_objective(rnn, x, loss, h0, truncate=None), params)
    beyond = numerical_gradient(truncated_objective(rnn, x, loss, h0, truncate=T), params)
    last = numerical_gradient(truncated_objective(rnn, x, loss, h0, truncate=T - 1), params)
    for name in params:
        np.testing.assert_array_equal(beyond[name], full[name])
    # k = T-1 still holds h0 constant for the term at T-1 (and t = 0 in reverse), nothing else
    for name in params:
        if name == "h0":
            assert np.max(np.abs(last[name] - full[name])) > 1e-3
        else:
            np.testing.assert_allclose(last[name], full[name], rtol=1e-6, atol=1e-8)


def test_truncated_objective_batch_first():
    k = 1
    rnn, x, h0, loss, params, analytic = _rnn_problem(k, bidirectional=True, seed=16, batch_first=True)
    fn = truncated_objective(rnn, x, loss, h0, truncate=k)
    report = check_gradients(fn, params, analytic)
    assert report.ok, str(report)
    assert not check_gradients(truncated_objective(rnn, x, loss, h0), params, analytic).ok


def test_truncated_objective_without_h0():
    gen = np.random.default_rng(17)
    rnn = RNN(F, H, bidirectional=True, dtype=np.float64, rng=gen)
    x = gen.standard_normal((T, B, F))  # (T, B, F)
    out, h_n, cache = rnn.forward(x)
    _, _, grads = rnn.backward(np.ones_like(out), None, cache, truncate=1)
    fn = truncated_objective(rnn, x, lambda o, h: float(np.sum(o)), truncate=1)
    assert check_gradients(fn, rnn.params, grads).ok


def test_truncated_objective_rejects_bad_layers():
    rnn32 = RNN(F, H, rng=0)
    with pytest.raises(ValueError, match="float64"):
        truncated_objective(rnn32, np.zeros((T, B, F), np.float32), lambda o, h: 0.0, truncate=1)
    dropped = RNN(F, H, num_layers=2, dropout=0.5, dtype=np.float64, rng=0)
    with pytest.raises(ValueError, match="dropout"):
        truncated_objective(dropped, np.zeros((T, B, F)), lambda o, h: 0.0, truncate=1)
    truncated_objective(dropped.eval(), np.zeros((T, B, F)), lambda o, h: 0.0, truncate=1)
    with pytest.raises(ValueError, match="truncate"):
        truncated_objective(RNN(F, H, dtype=np.float64, rng=0), np.zeros((T, B, F)), lambda o, h: 0.0,
                            truncate=-1)
    with pytest.raises(ValueError, match="recurrent layer"):
        truncated_objective(object(), np.zeros((T, B, F)), lambda o, h: 0.0)


# -- the matrix ----------------------------------------------------------------------------------
RNN_CONFIGS = matrix_configs(cells=("RNN",))
GATED_CONFIGS = matrix_configs(cells=("LSTM", "GRU"))
GATED_MAX_ENTRIES = 6  # sampled entries per gated-cell parameter, to keep this file fast


def test_matrix_covers_every_setting():
    seen = {(c.nonlinearity, c.bias, c.num_layers, c.loss, c.truncate) for c in RNN_CONFIGS}
    expected = {
        (nl, bias, layers, loss, k)
        for nl in ("tanh", "relu", "sigmoid", "identity")
        for bias in (True, False)
        for layers in (1, 2)
        for loss in ("mse", "bce", "ce", "last", "hn")
        for k in (None, 0, 2)
    }
    assert seen == expected and len(RNN_CONFIGS) == len(expected)
    # both directions with every single setting
    for setting in ("nonlinearity", "bias", "num_layers", "loss", "truncate"):
        for value in {getattr(c, setting) for c in RNN_CONFIGS}:
            assert {c.bidirectional for c in RNN_CONFIGS if getattr(c, setting) == value} == {False, True}
    gated = {(c.cell, c.bias, c.num_layers, c.loss, c.truncate) for c in GATED_CONFIGS}
    assert len(gated) == len(GATED_CONFIGS) == 2 * 2 * 2 * 5 * 3
    assert len({c.name for c in RNN_CONFIGS + GATED_CONFIGS}) == len(RNN_CONFIGS) + len(GATED_CONFIGS)


@pytest.mark.parametrize("cfg", RNN_CONFIGS, ids=lambda c: c.name.replace(" ", "-"))
def test_rnn_matrix(cfg):
    report = check_config(cfg)
    assert report.ok, f"{cfg.name}\n{report}"
    names = {c.name for c in report.checks}
    assert {"x", "h0", "weight_ih_l0", "weight_hh_l0"} <= names
    assert ("head.weight" in names) == (cfg.loss != "hn")


@pytest.mark.parametrize("cfg", GATED_CONFIGS, ids=lambda c: c.name.replace(" ", "-"))
def test_gated_matrix(cfg):
    if cfg.cell not in recurrent_cells():
        pytest.skip(f"{cfg.cell} is not available")
    report = check_config(cfg, max_entries=GATED_MAX_ENTRIES)
    assert report.ok, f"{cfg.name}\n{report}"
    if cfg.cell == "LSTM":
        assert "c0" in {c.name for c in report.checks}


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("k", [T - 1, T])
def test_truncation_boundary_configs(cell, k):
    if cell not in recurrent_cells():
        pytest.skip(f"{cell} is not available")
    cfg = GradcheckConfig(cell, "tanh", True, 2, True, "mse", k, hidden_size=3)
    report = check_config(cfg, max_entries=None if cell == "RNN" else GATED_MAX_ENTRIES)
    assert report.ok, f"{cfg.name}\n{report}"


def test_wrong_truncation_fails_in_a_config():
    """check_config's analytic side really uses the config's truncation."""
    cfg = GradcheckConfig("RNN", "tanh", True, 2, True, "ce", 1)
    rnn, objective, x, h0 = gradcheck._build(cfg)
    out, h_n, cache = rnn.forward(x, h0[0])
    _, dout, dh_n, head_grads = objective(out, h_n)
    _, _, grads = rnn.backward(dout, dh_n, cache, truncate=None)
    fn = truncated_objective(rnn, x, lambda o, h: objective(o, h)[0], h0[0], truncate=1)
    head_params = {f"head.{n}": p for n, p in objective.head.params.items()}
    report = check_gradients(fn, {**rnn.params, **head_params}, {**grads, **head_grads})
    assert not report.ok and not report["weight_hh_l0"].ok
    assert report["head.weight"].ok  # the head sits after the recurrence: truncation does not touch it


def test_run_matrix_rows(monkeypatch):
    configs = [GradcheckConfig("RNN", "tanh", True, 1, False, "mse", 0),
               GradcheckConfig("RNN", "relu", False, 1, True, "hn", 2)]
    monkeypatch.setattr(gradcheck, "matrix_configs", lambda quick=False: configs)
    rows = run_matrix()
    assert all(set(r) == {"config", "param", "rel_err", "ok"} for r in rows)
    assert [r["config"] for r in rows] == [configs[0].name] * 8 + [configs[1].name] * 6
    assert [r["param"] for r in rows] == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "head.weight", "head.bias", "x", "h0",
        "weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse", "x", "h0",
    ]
    assert all(isinstance(r["rel_err"], float) and isinstance(r["ok"], bool) for r in rows)
    assert all(r["ok"] for r in rows)
    strict = run_matrix(atol=0.0, rtol=0.0)  # rounding noise alone exceeds a zero tolerance
    assert not all(r["ok"] for r in strict)


def test_quick_matrix_is_small_and_covers_each_setting():
    quick = matrix_configs(quick=True)
    rnn = [c for c in quick if c.cell == "RNN"]
    assert {c.nonlinearity for c in rnn} == {"tanh", "relu", "sigmoid", "identity"}
    assert {c.loss for c in rnn} == {"mse", "bce", "ce", "last", "hn"}
    assert {c.truncate for c in rnn} >= {None, 0, 2}
    assert {c.bidirectional for c in rnn} == {False, True} and {c.num_layers for c in rnn} == {1, 2}
    assert {c.cell for c in quick} == set(recurrent_cells())


def test_cli_gradcheck_quick(capsys):
    assert main(["gradcheck", "--quick"]) == 0
    out = capsys.readouterr().out
    for cfg in matrix_configs(quick=True):
        assert cfg.name in out
    assert "0 above tolerance" in out


def test_unavailable_cell_is_a_value_error():
    with pytest.raises(ValueError, match="not available"):
        check_config(dataclasses.replace(RNN_CONFIGS[0], cell="Transformer"))
