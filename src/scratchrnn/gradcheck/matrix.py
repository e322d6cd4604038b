"""The matrix of gradient checks behind ``scratchrnn gradcheck``: every layer x nonlinearity x bias x
depth x direction x loss x truncation x sequence lengths, on small float64 models, against finite
differences of the truncated objective.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from ..checks import check_flag, check_optional_size, check_real, check_size, check_truncate
from ..functional import get_activation
from ..losses import bce_with_logits, cross_entropy, mse
from ..nn.heads import pool, unpool
from ..nn.lengths import Lengths
from ..nn.linear import Linear
from ..nn.model import CELLS
from .checker import DEFAULT_ATOL, DEFAULT_EPS, DEFAULT_RTOL, GradcheckReport, check_gradients
from .truncated import truncated_objective

__all__ = ["GradcheckConfig", "check_config", "matrix_configs", "recurrent_cells", "run_matrix"]

NONLINEARITIES = ("tanh", "relu", "sigmoid", "identity")
LOSSES = ("mse", "bce", "ce", "last", "hn")  # see _Objective
TRUNCATIONS = (None, 0, 2)
# Summed, not averaged: gradients of order one keep ``atol`` from hiding errors in small ones.
REDUCTION = "sum"
RNN_HIDDEN = 4
GATED_HIDDEN = 3
H0_SCALE = 0.5  # std of the random initial states
LENGTHS_BATCH = 3  # sequences of a config with lengths: T steps, 1 step and one drawn, in a drawn order
PADDED_FRACTION = 0.25  # share of masked (bce) or ignored (ce) positions
# quick matrix: (nonlinearity, bias, num_layers, bidirectional, loss, truncate, lengths); together
# they touch every nonlinearity, loss, truncation, stacking, both directions and lengths
QUICK_RNN = (
    ("tanh", True, 2, True, "mse", 2, True),
    ("relu", False, 1, False, "ce", 0, False),
    ("sigmoid", True, 1, True, "hn", 0, False),
    ("identity", True, 2, False, "last", None, True),
    ("tanh", False, 1, True, "bce", 2, False),
    ("tanh", True, 2, False, "hn", 4, False),  # k = T-1: the last step where h0 is held, not live
)
QUICK_GATED = (
    ("tanh", True, 2, True, "hn", 0, True),
    ("tanh", False, 2, False, "ce", 2, False),
)


def recurrent_cells() -> dict[str, type]:
    """The recurrent layer classes by class name (RNN, LSTM, GRU)."""
    return {cls.__name__: cls for cls in CELLS.values()}


@dataclass(frozen=True)
class GradcheckConfig:
    """One model to check: a recurrent layer, an optional head and loss, and a truncation.

    Attributes:
        cell (str, default "RNN"): the layer class, "RNN", "LSTM" or "GRU".
        nonlinearity (str, default "tanh"): the RNN's activation (the LSTM and GRU ignore it).
        bias (bool, default True): whether the layer has biases.
        num_layers (int, default 1): stacked layers.
        bidirectional (bool, default False): both directions.
        loss (str, default "mse"): "mse" (Linear head, mse at every step), "bce" (head, masked
            bce_with_logits), "ce" (head, cross_entropy with some ignore_index targets), "last"
            (many-to-one cross_entropy on the last step) or "hn" (mse on the final states, no head).
        truncate (int or None, default None): per-output truncated BPTT of this many steps; None: full.
        lengths (bool, default False): the batch's sequences have lengths of their own, drawn in
            [1, seq_len] with one of each extreme (``forward(..., lengths=)``; "last" reads each
            sequence's last step, the per-step losses skip the steps past each length).
        seq_len (int, default 5): time steps T.
        batch (int, default 2): sequences B.
        input_size (int, default 3): input features F.
        hidden_size (int, default 4): hidden features H.
        out_size (int, default 3): head outputs, or classes.
        check_inputs (bool, default True): check dL/dx and dL/dh0 (and dL/dc0) too.
    """

    cell: str = "RNN"  # "RNN" | "LSTM" | "GRU"
    nonlinearity: str = "tanh"  # RNN only
    bias: bool = True
    num_layers: int = 1
    bidirectional: bool = False
    # "mse": Linear head + mse on every step; "bce": Linear head + masked bce_with_logits;
    # "ce": Linear head + cross_entropy over integer targets with some ignore_index positions;
    # "last": many-to-one, Linear head + cross_entropy on the last step only;
    # "hn": mse on the final states h_n (and c_n), no head
    loss: str = "mse"
    truncate: int | None = None
    lengths: bool = False  # sequences of their own lengths in the batch
    seq_len: int = 5  # T
    batch: int = 2  # B
    input_size: int = 3  # F
    hidden_size: int = 4  # H
    out_size: int = 3  # head outputs / classes
    check_inputs: bool = True  # also check dL/dx and dL/dh0 (and dL/dc0)

    def __post_init__(self):
        # any name: a config may name a cell whose module is missing (check_config then refuses it)
        if not isinstance(self.cell, str) or not self.cell:
            raise ValueError(f"cell must be the name of a layer class (RNN, LSTM, GRU), got {self.cell!r}")
        get_activation(self.nonlinearity)
        if not isinstance(self.loss, str) or self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        flags = ("bias", "bidirectional", "check_inputs", "lengths")
        checked = {name: check_flag(name, getattr(self, name)) for name in flags}
        checked["truncate"] = check_truncate(self.truncate)
        for name in ("num_layers", "seq_len", "batch", "input_size", "hidden_size", "out_size"):
            checked[name] = check_size(name, getattr(self, name))
        for name, value in checked.items():  # frozen: numpy scalars stored as Python values
            object.__setattr__(self, name, value)

    @property
    def name(self) -> str:
        """A short readable label, e.g. ``RNN tanh bias L2 bi mse k=2`` (then ``lengths`` with them)."""
        parts = [self.cell] + ([self.nonlinearity] if self.cell == "RNN" else [])
        parts += ["bias" if self.bias else "nobias", f"L{self.num_layers}"]
        parts += ["bi" if self.bidirectional else "uni", self.loss, f"k={self.truncate}"]
        return " ".join(parts + (["lengths"] if self.lengths else []))

    @property
    def seed(self) -> int:
        """A seed derived from the label, so a config's data do not depend on its place in the matrix."""
        return zlib.crc32(self.name.encode())


@dataclass
class _Objective:
    """The head and loss of a config: ``__call__(out, h_n) -> (loss, dout, dh_n, head_grads)``;
    ``value(out, h_n)`` is the loss alone (what finite differences evaluate)."""

    kind: str
    head: Linear | None
    targets: dict = field(default_factory=dict)

    def _loss(self, out: np.ndarray, h_n):
        """(loss, gradient w.r.t. the loss input, head cache)."""
        tg = self.targets
        lens = tg.get("lengths")  # (B,) or None
        if self.kind == "hn":
            parts = h_n if isinstance(h_n, tuple) else (h_n,)
            loss, dparts = 0.0, []
            for part, y in zip(parts, tg["states"], strict=True):
                value, d = mse(part, y, reduction=REDUCTION)
                loss += value
                dparts.append(d)  # (L*D, B, H)
            return loss, dparts, None
        seq = None if lens is None else Lengths(lens, out.shape[1], out.shape[0])
        head = "last" if self.kind == "last" else "all"  # (B, D*H) or (T, B, D*H) features
        feats, pooled = pool(head, out, h_n, 1, seq)
        z, cache = self.head.forward(feats)  # (..., O)
        if self.kind == "mse":
            loss, dz = mse(z, tg["y"], reduction=REDUCTION, lengths=lens)
        elif self.kind == "bce":
            loss, dz = bce_with_logits(z, tg["y"], reduction=REDUCTION, mask=tg["mask"], lengths=lens)
        elif self.kind == "ce":
            loss, dz = cross_entropy(z, tg["y"], reduction=REDUCTION, ignore_index=tg["ignore_index"],
                                     lengths=lens)
        else:  # "last"
            loss, dz = cross_entropy(z, tg["y"], reduction=REDUCTION)
        return loss, dz, (cache, pooled)

    def value(self, out: np.ndarray, h_n) -> float:
        return self._loss(out, h_n)[0]

    def __call__(self, out: np.ndarray, h_n):
        loss, grad, cache = self._loss(out, h_n)
        if self.kind == "hn":
            return loss, None, grad[0] if len(grad) == 1 else tuple(grad), {}
        head_cache, pooled = cache
        dfeats, head_grads = self.head.backward(grad, head_cache)
        dout, _ = unpool(dfeats, pooled, 1, via_state=False)  # (T, B, D*H)
        return loss, dout, None, {f"head.{n}": g for n, g in head_grads.items()}


def _build(cfg: GradcheckConfig):
    """The layer, head/loss, input and initial state of a config, all float64, from its seed."""
    cells = recurrent_cells()
    if cfg.cell not in cells:
        raise ValueError(f"cell {cfg.cell!r} is not available; expected one of {', '.join(cells)}")
    gen = np.random.default_rng(cfg.seed)
    kwargs = dict(num_layers=cfg.num_layers, bias=cfg.bias, bidirectional=cfg.bidirectional,
                  dtype=np.float64, rng=gen)
    if cfg.cell == "RNN":
        kwargs["nonlinearity"] = cfg.nonlinearity
    rnn = cells[cfg.cell](cfg.input_size, cfg.hidden_size, **kwargs)
    T, B, H, O = cfg.seq_len, cfg.batch, cfg.hidden_size, cfg.out_size
    DH = H * rnn.num_directions
    state_shape = (cfg.num_layers * rnn.num_directions, B, H)
    x = gen.standard_normal((T, B, cfg.input_size))  # (T, B, F)
    lengths = None
    if cfg.lengths:  # (B,): one of T steps, one of 1 (when B > 1), the others drawn; in a drawn order
        lengths = gen.integers(1, T + 1, size=B)
        lengths[0] = T
        lengths[1:2] = 1
        lengths = gen.permutation(lengths)
    h0 = tuple(  # (L*D, B, H) each, inside the range the activations produce
        H0_SCALE * gen.standard_normal(state_shape) for _ in range(rnn.STATE_ARITY)
    )
    head = None if cfg.loss == "hn" else Linear(DH, O, dtype=np.float64, rng=gen)
    targets: dict = {"lengths": lengths}
    if cfg.loss == "mse":
        targets["y"] = gen.standard_normal((T, B, O))  # (T, B, O)
    elif cfg.loss == "bce":
        targets["y"] = gen.random((T, B, O))  # (T, B, O) soft labels in [0, 1)
        mask = gen.random((T, B, 1)) >= PADDED_FRACTION  # (T, B, 1) some steps padded out
        mask[0, 0, 0] = True  # never an all-padding batch
        targets["mask"] = mask
    elif cfg.loss == "ce":
        y = gen.integers(0, O, size=(T, B))  # (T, B)
        y[gen.random((T, B)) < PADDED_FRACTION] = -1  # ignored positions
        y[0, 0] = 0
        targets["y"], targets["ignore_index"] = y, -1
    elif cfg.loss == "last":
        targets["y"] = gen.integers(0, O, size=(B,))  # (B,)
    else:
        targets["states"] = [gen.standard_normal(state_shape) for _ in range(rnn.STATE_ARITY)]  # (L*D, B, H)
    return rnn, _Objective(cfg.loss, head, targets), x, h0


def check_config(
    cfg: GradcheckConfig,
    eps: float = DEFAULT_EPS,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    max_entries: int | None = None,
) -> GradcheckReport:
    """Build ``cfg``'s model and compare ``backward(truncate=k)`` (plus the head's backward) with
    central differences of the truncated objective, for every parameter (and x, h0, c0)."""
    if not isinstance(cfg, GradcheckConfig):
        raise ValueError(f"cfg must be a GradcheckConfig, got {type(cfg).__name__}")
    _check_tolerances(eps, atol, rtol)
    max_entries = check_optional_size("max_entries", max_entries)
    rnn, objective, x, h0 = _build(cfg)
    head = objective.head
    h0_arg = h0[0] if rnn.STATE_ARITY == 1 else h0
    lengths = objective.targets.get("lengths")
    out, h_n, cache = rnn.forward(x, h0_arg, lengths=lengths)
    _, dout, dh_n, head_grads = objective(out, h_n)
    dx, dh0, grads = rnn.backward(dout, dh_n, cache, truncate=cfg.truncate)
    params = dict(rnn.params)
    analytic = dict(grads)
    if head is not None:
        params.update({f"head.{n}": p for n, p in head.params.items()})
        analytic.update(head_grads)
    if cfg.check_inputs:
        params["x"], analytic["x"] = x, dx
        dh0 = (dh0,) if rnn.STATE_ARITY == 1 else dh0
        for name, p, g in zip(("h0", "c0"), h0, dh0, strict=False):
            params[name], analytic[name] = p, g
    fn = truncated_objective(rnn, x, objective.value, h0_arg, cfg.truncate, lengths=lengths)
    return check_gradients(fn, params, analytic, eps=eps, atol=atol, rtol=rtol, max_entries=max_entries,
                           rng=np.random.default_rng(cfg.seed))


def _check_tolerances(eps, atol, rtol) -> None:
    check_real("eps", eps, low=0.0, low_open=True)
    check_real("atol", atol, low=0.0)
    check_real("rtol", rtol, low=0.0)


def matrix_configs(quick: bool = False, cells: tuple[str, ...] | None = None) -> list[GradcheckConfig]:
    """The configurations of :func:`run_matrix`.

    Full: for the RNN every nonlinearity x bias x num_layers (1, 2) x loss x truncation (None, 0,
    2), and for LSTM / GRU every bias x num_layers x loss x truncation; ``bidirectional`` alternates
    so that changing any single other setting flips it (half the cost, both directions covered
    with every setting), and ``lengths`` alternates with num_layers and truncation alone, so that
    every loss x truncation is checked with and without lengths in both directions. Quick: a
    handful of configs that still touch every code path.
    ``cells`` defaults to the importable ones; cells named explicitly are listed even when their
    module is missing (:func:`check_config` then raises ``ValueError``).
    """
    quick = check_flag("quick", quick)
    names = tuple(recurrent_cells()) if cells is None else tuple(cells)
    configs = []
    for cell in names:
        # gated cells have 3-4x the weights per unit: a smaller state keeps the matrix fast
        hidden = RNN_HIDDEN if cell == "RNN" else GATED_HIDDEN
        if quick:
            nets = QUICK_RNN if cell == "RNN" else QUICK_GATED
            configs += [
                GradcheckConfig(cell, nl, bias, layers, bidir, loss, k, lengths=lens, hidden_size=hidden,
                                batch=LENGTHS_BATCH if lens else 2)
                for nl, bias, layers, bidir, loss, k, lens in nets
            ]
            continue
        nonlins = NONLINEARITIES if cell == "RNN" else ("tanh",)
        for a, nl in enumerate(nonlins):
            for b, bias in enumerate((True, False)):
                for c, layers in enumerate((1, 2)):
                    for d, loss in enumerate(LOSSES):
                        for e, k in enumerate(TRUNCATIONS):
                            bidir = (a + b + c + d + e) % 2 == 1
                            lens = (c + e) % 2 == 1
                            configs.append(GradcheckConfig(cell, nl, bias, layers, bidir, loss, k,
                                                           lengths=lens, hidden_size=hidden,
                                                           batch=LENGTHS_BATCH if lens else 2))
    return configs


def run_matrix(
    quick: bool = False,
    eps: float = DEFAULT_EPS,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
) -> list[dict]:
    """Check every configuration of :func:`matrix_configs`; one row per config x parameter:
    ``{"config": str, "param": str, "rel_err": float, "ok": bool}``."""
    _check_tolerances(eps, atol, rtol)
    rows = []
    for cfg in matrix_configs(quick=quick):
        report = check_config(cfg, eps=eps, atol=atol, rtol=rtol)
        for c in report.checks:
            rows.append({"config": cfg.name, "param": c.name, "rel_err": c.max_rel_err, "ok": c.ok})
    return rows
