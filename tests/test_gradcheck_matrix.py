"""The layer x loss x truncation matrix (scratchrnn.gradcheck.matrix) and ``scratchrnn gradcheck``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scratchrnn.cli import main
from scratchrnn.gradcheck import (
    GradcheckConfig,
    check_config,
    check_gradients,
    matrix,
    matrix_configs,
    recurrent_cells,
    run_matrix,
    truncated_objective,
)

T, B, F, H = 5, 2, 3, 4


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
    # every cell x loss x truncation with and without lengths, in both directions
    combos = {(c.cell, c.loss, c.truncate, c.bidirectional, c.lengths) for c in RNN_CONFIGS + GATED_CONFIGS}
    assert len(combos) == 3 * 5 * 3 * 2 * 2


def test_the_lengths_axis_checks_what_lengths_change():
    """A config with lengths really has sequences of several lengths, and its check fails when the
    layer's backward ignores where they end (the gradient of the padded batch without lengths)."""
    cfg = GradcheckConfig("GRU", loss="last", lengths=True, batch=3, hidden_size=3, bidirectional=True)
    rnn, objective, x, _ = matrix._build(cfg)
    lens = objective.targets["lengths"]
    assert sorted(lens)[0] == 1 and sorted(lens)[-1] == cfg.seq_len
    assert check_config(cfg).ok
    forward = type(rnn).forward
    try:  # lengths dropped in the layer only: the loss still reads each sequence's last step
        type(rnn).forward = lambda self, x, h0=None, rng=None, lengths=None: forward(self, x, h0, rng)
        assert not check_config(cfg).ok
    finally:
        type(rnn).forward = forward


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
    rnn, objective, x, h0 = matrix._build(cfg)
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
    monkeypatch.setattr(matrix, "matrix_configs", lambda quick=False: configs)
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


def test_configs_are_checked_when_made():
    cfg = GradcheckConfig(num_layers=np.int64(2), truncate=np.int32(1), bias=np.bool_(False))
    assert (type(cfg.num_layers), type(cfg.truncate), type(cfg.bias)) == (int, int, bool)
    for fields, message in ((dict(cell=None), r"cell must be the name of a layer class \(.*\), got None"),
                            (dict(loss="nll"), "loss must be one of mse, bce, ce, last, hn, got 'nll'"),
                            (dict(seq_len=0), "seq_len must be a positive integer, got 0")):
        with pytest.raises(ValueError, match=message):
            GradcheckConfig(**fields)
    with pytest.raises(ValueError, match="eps must be > 0.0, got 0.0"):
        check_config(GradcheckConfig(), eps=0.0)
