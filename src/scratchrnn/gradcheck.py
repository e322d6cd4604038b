"""Central-difference gradient checks, including the truncated-BPTT objective.

The checker works on any scalar function of a dict of float64 arrays. Each checked entry ``p`` is
moved to ``p + eps`` and ``p - eps`` in place (and put back exactly afterwards, even if the
function raises), and the derivative is estimated as

    n = (f(p + eps) - f(p - eps)) / (2 eps)

An analytic gradient ``a`` passes when every checked entry satisfies ``|a - n| <= atol + rtol * |n|``;
the reported relative error is ``|a - n| / max(|a|, |n|, atol)``.

Truncated BPTT (see ``scratchrnn.nn.recurrent``) does not give the gradient of the loss itself but
the exact gradient of a *truncated objective*: for the loss term at output step t, the states of
forward directions at step t-k-1 and of reverse directions at step t+k+1 are constants (their
values under the unperturbed parameters), and ``h_n`` counts as a term at step T-1 for forward
directions and at step 0 for reverse ones. :func:`truncated_objective` evaluates that objective
by re-running the layer on the window ``x[t-k .. t+k]`` of each step from the held states, so
``backward(truncate=k)`` can be compared with finite differences of it. The loss may be any
function of ``(out, h_n)``: its gradient through the assembled windows is
``sum_t dL/dout_t . d out_t^(t) / d theta``, exactly what the backward pass computes from ``dout``.

:func:`run_matrix` checks every layer x nonlinearity x bias x depth x direction x loss x
truncation on small float64 models; ``scratchrnn gradcheck`` prints its rows.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .checks import check_optional_int, check_random_state, check_truncate
from .losses import bce_with_logits, cross_entropy, mse
from .nn.linear import Linear
from .nn.model import CELLS
from .nn.recurrent import RecurrentBase

__all__ = [
    "GradcheckConfig",
    "GradcheckReport",
    "ParamCheck",
    "check_config",
    "check_gradients",
    "matrix_configs",
    "numerical_gradient",
    "recurrent_cells",
    "run_matrix",
    "truncated_objective",
]

DEFAULT_EPS = 1e-6  # central differences in float64: truncation ~eps**2, rounding ~1e-16 / eps
DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-3
DEFAULT_SAMPLE_SEED = 0  # entries sampled with ``max_entries`` and no generator use this seed


# -- the checker -------------------------------------------------------------------------------
def _check_params(params) -> dict[str, np.ndarray]:
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a mapping of name -> float64 array, got {type(params).__name__}")
    for name, p in params.items():
        if not isinstance(p, np.ndarray):
            raise ValueError(f"parameter {name!r} must be a numpy array, got {type(p).__name__}")
        if p.dtype != np.float64:
            raise ValueError(
                f"parameter {name!r} has dtype {p.dtype}, gradient checks need float64 "
                f"(finite differences in lower precision cannot meet the tolerances); build the model "
                f"with dtype=np.float64"
            )
        if not p.flags.writeable:
            raise ValueError(f"parameter {name!r} is read-only; the checker perturbs entries in place")
    return dict(params)


def _as_scalar(value, where: str) -> float:
    """A loss value: a number, a one-element array, or a tuple whose first item is one."""
    if isinstance(value, tuple):
        value = value[0] if value else None
    arr = np.asarray(value)
    if arr.size != 1 or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"the function must return a real scalar, got {value!r} {where}")
    out = float(arr.reshape(()))
    if not np.isfinite(out):
        raise ValueError(f"the function returned the non-finite value {out} {where}")
    return out


def _flat_indices(name: str, p: np.ndarray, idx) -> np.ndarray:
    if idx is None:
        return np.arange(p.size)  # (N,)
    flat = np.asarray(idx)
    if flat.ndim != 1 or (flat.size and not np.issubdtype(flat.dtype, np.integer)):
        raise ValueError(f"indices for {name!r} must be a 1-D sequence of flat integer indices, got {idx!r}")
    flat = flat.astype(np.int64)  # (n,)
    if flat.size and (flat.min() < 0 or flat.max() >= p.size):
        raise ValueError(
            f"indices for {name!r} must lie in [0, {p.size}) (the parameter has shape {p.shape}), "
            f"got values in [{flat.min()}, {flat.max()}]"
        )
    return flat


def numerical_gradient(
    fn: Callable[[dict], float],
    params: Mapping[str, np.ndarray],
    eps: float = DEFAULT_EPS,
    indices: Mapping[str, object] | None = None,
) -> dict[str, np.ndarray]:
    """Central differences ``(f(p + eps) - f(p - eps)) / (2 eps)`` of ``fn(params)``, entry by entry.

    params: name -> float64 array, perturbed in place and restored exactly (also when ``fn``
    raises). indices: None for every entry of every parameter, or name -> flat indices (None for
    all of that parameter); parameters not named are not differentiated. Returns name -> array
    shaped like the parameter, NaN at entries that were not differentiated.
    """
    params = _check_params(params)
    if not (isinstance(eps, (int, float)) and eps > 0 and np.isfinite(eps)):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    if indices is None:
        plan = {name: None for name in params}
    elif isinstance(indices, Mapping):
        unknown = [name for name in indices if name not in params]
        if unknown:
            raise ValueError(
                f"indices name unknown parameter(s) {unknown}; the parameters are {list(params)}"
            )
        plan = dict(indices)
    else:
        raise ValueError(
            f"indices must be None or a mapping of name -> flat indices, got {type(indices).__name__}"
        )
    grads = {}
    for name, idx in plan.items():
        p = params[name]
        flat = _flat_indices(name, p, idx)
        g = np.full(p.shape, np.nan)  # (*p.shape) NaN where not differentiated
        for i in flat:
            pos = np.unravel_index(int(i), p.shape)
            old = p[pos].copy()  # float64 scalar, restored bit for bit
            up, down = old + eps, old - eps
            try:
                p[pos] = up
                f_up = _as_scalar(fn(params), f"at {name}{[int(j) for j in pos]} + eps")
                p[pos] = down
                f_down = _as_scalar(fn(params), f"at {name}{[int(j) for j in pos]} - eps")
            finally:
                p[pos] = old
            g[pos] = (f_up - f_down) / (up - down)  # the step actually taken, after rounding
        grads[name] = g
    return grads


@dataclass
class ParamCheck:
    """The comparison for one parameter; errors are the worst over its checked entries."""

    name: str
    shape: tuple[int, ...]
    checked: int  # entries compared
    failed: int  # entries with |a - n| > atol + rtol * |n|
    max_rel_err: float  # max |a - n| / max(|a|, |n|, atol)
    max_abs_err: float  # max |a - n|
    worst_index: tuple[int, ...]  # where the relative error is largest
    analytic: float  # a and n at ``worst_index``
    numeric: float

    @property
    def ok(self) -> bool:
        """True when every checked entry meets the tolerance."""
        return self.failed == 0

    def __str__(self) -> str:
        status = "ok" if self.ok else f"FAILED ({self.failed}/{self.checked})"
        return (
            f"{self.name}{list(self.worst_index)}: rel {self.max_rel_err:.2e} abs {self.max_abs_err:.2e} "
            f"(analytic {self.analytic:.6e}, numeric {self.numeric:.6e}) {status}"
        )


@dataclass
class GradcheckReport:
    """Per-parameter results of :func:`check_gradients`, in the order of ``params``."""

    checks: list[ParamCheck]
    eps: float
    atol: float
    rtol: float

    @property
    def ok(self) -> bool:
        """True when every parameter passed."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[ParamCheck]:
        """The parameters that did not pass."""
        return [c for c in self.checks if not c.ok]

    @property
    def max_rel_err(self) -> float:
        """Worst relative error over all parameters (0.0 when nothing was checked)."""
        return max((c.max_rel_err for c in self.checks), default=0.0)

    def __getitem__(self, name: str) -> ParamCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def __str__(self) -> str:
        head = f"gradcheck eps={self.eps:g} atol={self.atol:g} rtol={self.rtol:g}: " + (
            "ok" if self.ok else f"{len(self.failures)} parameter(s) failed"
        )
        return "\n".join([head] + [f"  {c}" for c in self.checks])


def check_gradients(
    fn: Callable[[dict], float],
    params: Mapping[str, np.ndarray],
    analytic: Mapping[str, np.ndarray],
    eps: float = DEFAULT_EPS,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    max_entries: int | None = None,
    rng: np.random.Generator | int | None = None,
) -> GradcheckReport:
    """Compare ``analytic`` (name -> dL/dparam, shapes of ``params``) with central differences of ``fn``.

    An entry passes when ``|a - n| <= atol + rtol * |n|``; the relative error reported is
    ``|a - n| / max(|a|, |n|, atol)``. ``analytic`` must hold exactly the keys of ``params``.
    With ``max_entries``, parameters larger than that are checked on that many distinct entries
    drawn with ``rng`` (a Generator or seed; None means seed ``DEFAULT_SAMPLE_SEED``).
    """
    params = _check_params(params)
    if not isinstance(analytic, Mapping):
        raise ValueError(
            f"analytic must be a mapping of name -> gradient array, got {type(analytic).__name__}"
        )
    missing = [k for k in params if k not in analytic]
    extra = [k for k in analytic if k not in params]
    if missing or extra:
        raise ValueError(
            f"analytic gradients must have the parameters' keys; missing {missing}, unexpected {extra}"
        )
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if not (isinstance(tol, (int, float)) and tol >= 0 and np.isfinite(tol)):
            raise ValueError(f"{name} must be a finite number >= 0, got {tol!r}")
    max_entries = check_optional_int("max_entries", max_entries, low=1)
    grads = {}
    for name, p in params.items():
        a = np.asarray(analytic[name])
        if a.shape != p.shape:
            raise ValueError(
                f"analytic gradient {name!r} has shape {a.shape}, the parameter has shape {p.shape}"
            )
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise ValueError(f"analytic gradient {name!r} must be real, got dtype {a.dtype}")
        grads[name] = a.astype(np.float64)  # (*p.shape)
    gen = None
    indices = {}
    for name, p in params.items():
        if max_entries is not None and p.size > max_entries:
            if gen is None:
                gen = check_random_state(DEFAULT_SAMPLE_SEED if rng is None else rng)
            indices[name] = np.sort(gen.choice(p.size, size=max_entries, replace=False))  # (m,)
        else:
            indices[name] = None
    numeric = numerical_gradient(fn, params, eps=eps, indices=indices)
    checks = []
    for name, p in params.items():
        flat = np.arange(p.size) if indices[name] is None else indices[name]  # (m,)
        a = grads[name].reshape(-1)[flat]  # (m,)
        n = numeric[name].reshape(-1)[flat]  # (m,)
        diff = np.abs(a - n)  # (m,)
        rel = diff / np.maximum(np.maximum(np.abs(a), np.abs(n)), atol) if atol > 0 else _safe_rel(a, n, diff)
        passed = diff <= atol + rtol * np.abs(n)  # (m,) False for NaN
        if flat.size:
            w = int(np.argmax(rel))  # a NaN counts as the worst
            worst, rel_max, abs_max = flat[w], float(rel[w]), float(np.max(diff))
            a_w, n_w = float(a[w]), float(n[w])
        else:
            worst, rel_max, abs_max, a_w, n_w = 0, 0.0, 0.0, 0.0, 0.0
        checks.append(
            ParamCheck(
                name=name,
                shape=p.shape,
                checked=int(flat.size),
                failed=int(flat.size - np.count_nonzero(passed)),
                max_rel_err=rel_max,
                max_abs_err=abs_max,
                worst_index=tuple(int(j) for j in np.unravel_index(int(worst), p.shape)) if p.size else (),
                analytic=a_w,
                numeric=n_w,
            )
        )
    return GradcheckReport(checks, float(eps), float(atol), float(rtol))


def _safe_rel(a: np.ndarray, n: np.ndarray, diff: np.ndarray) -> np.ndarray:
    """Relative error with atol = 0: 0 where both sides are exactly zero."""
    den = np.maximum(np.abs(a), np.abs(n))  # (m,)
    out = np.zeros_like(diff)  # (m,)
    np.divide(diff, den, out=out, where=den > 0)
    return out


# -- the truncated objective -------------------------------------------------------------------
def _state_tuple(state, arity: int) -> tuple[np.ndarray, ...] | None:
    if state is None:
        return None
    return (state,) if arity == 1 else tuple(state)


def truncated_objective(
    rnn: RecurrentBase,
    x: np.ndarray,
    loss: Callable,
    h0=None,
    truncate: int | None = None,
) -> Callable[..., float]:
    """The objective whose exact gradient ``rnn.backward(..., truncate=k)`` returns, as ``fn(params)``.

    rnn: a float64 recurrent layer (RNN, LSTM, GRU) without active dropout; x: its input (T, B, F)
    (or (B, T, F) with ``batch_first``); h0: (L*D, B, H), a tuple (h0, c0) for an LSTM, or None;
    loss(out, h_n) -> float (or a tuple starting with it), any differentiable function.

    With ``truncate=None`` the objective is ``loss(*rnn.forward(x, h0)[:2])``. With ``truncate=k``
    it is ``loss(out~, h_n~)`` where ``out~[t]`` is the output at t of a run on the window
    ``x[t-k .. t+k]`` (``x[t-k .. t]`` one-directional) started from the states held constant for
    that term: forward directions at t-k-1 (h0 itself, held, when t-k-1 = -1; the live h0 when
    t-k-1 < -1), reverse directions mirrored at t+k+1. ``h_n~`` takes its forward-direction
    entries from the window of step T-1 and its reverse-direction entries from that of step 0.
    Held states are computed once, here, from the current (unperturbed) parameters, x and h0;
    ``fn`` reads the layer's own parameter arrays and ``x`` and ``h0`` as they are when called, so
    pass those very arrays to :func:`check_gradients`. ``fn`` ignores its argument.
    """
    if not isinstance(rnn, RecurrentBase):
        raise ValueError(
            f"truncated_objective expects a recurrent layer (RNN, LSTM, GRU), got {type(rnn).__name__}"
        )
    if rnn.dtype != np.float64:
        raise ValueError(f"truncated_objective needs a float64 layer, got one with dtype {rnn.dtype}")
    if rnn.training and rnn.dropout > 0.0:
        raise ValueError(
            f"the layer has dropout={rnn.dropout} in training mode, so its output is random; "
            "call .eval() (or use dropout=0) before checking gradients"
        )
    if not callable(loss):
        raise ValueError(f"loss must be a callable loss(out, h_n) -> float, got {type(loss).__name__}")
    k = check_truncate(truncate)
    out_full, _, cache = rnn.forward(x, h0)
    time_axis = 1 if rnn.batch_first else 0
    T = out_full.shape[time_axis]
    D = rnn.num_directions
    bidir = D == 2
    if k is None or k >= T:  # every window is the whole sequence, and h0 is never held
        return lambda _params=None: _as_scalar(loss(*rnn.forward(x, h0)[:2]), "from loss(out, h_n)")

    arity = rnn.STATE_ARITY
    held = tuple(s.copy() for s in rnn.sequence_states(cache))  # (L*D, T, B, H) each
    shape = held[0][:, 0].shape  # (L*D, B, H)
    h0_held = (
        tuple(np.zeros(shape) for _ in range(arity)) if h0 is None
        else tuple(s.copy() for s in _state_tuple(h0, arity))
    )
    fwd = np.arange(0, shape[0], D)  # rows of forward directions in (L*D, ...)
    rev = np.arange(1, shape[0], D)  # rows of reverse directions
    B = shape[1]
    # Windows of equal length run as one batch: sequences never interact, so each window's
    # output is the same as a run of its own, and an edge-free k=0 objective is one call.
    starts = [max(0, t - k) for t in range(T)]
    ends = [min(T, t + k + 1) if bidir else t + 1 for t in range(T)]
    groups: dict[int, list[int]] = {}
    for t in range(T):
        groups.setdefault(ends[t] - starts[t], []).append(t)

    def held_state(s: int, t: int) -> np.ndarray:
        """Initial state s (h or c) of the window of term t, from the held states and held h0."""
        st = np.empty(shape)  # (L*D, B, H)
        before, after = t - k - 1, t + k + 1
        st[fwd] = held[s][fwd, before] if before >= 0 else h0_held[s][fwd]
        if bidir:
            st[rev] = held[s][rev, after] if after < T else h0_held[s][rev]
        return st

    # per group, the batched initial states from held values; ``fn`` overwrites the rows of
    # windows that start from the live h0 (forward rows when t-k-1 < -1, reverse when t+k+1 > T)
    base = {
        length: tuple(
            np.concatenate([held_state(s, t) for t in ts], axis=1)  # (L*D, n*B, H)
            for s in range(arity)
        )
        for length, ts in groups.items()
    }

    def fn(_params=None) -> float:
        x_tm = x.swapaxes(0, 1) if rnn.batch_first else x  # (T, B, F) view
        out = np.empty_like(out_full)  # (T, B, D*H) or (B, T, D*H)
        out_tm = out.swapaxes(0, 1) if rnn.batch_first else out  # (T, B, D*H) view
        h_n = [np.empty(shape) for _ in range(arity)]  # (L*D, B, H) each
        for length, ts in groups.items():
            xw = np.concatenate([x_tm[starts[t] : starts[t] + length] for t in ts], axis=1)  # (len, n*B, F)
            if rnn.batch_first:
                xw = np.ascontiguousarray(xw.swapaxes(0, 1))  # (n*B, len, F)
            init = tuple(b.copy() for b in base[length])  # (L*D, n*B, H) each
            if h0 is not None:
                live = _state_tuple(h0, arity)
                for j, t in enumerate(ts):
                    cols = slice(j * B, (j + 1) * B)
                    for s in range(arity):
                        if t - k - 1 < -1:
                            init[s][fwd, cols] = live[s][fwd]
                        if bidir and t + k + 1 > T:
                            init[s][rev, cols] = live[s][rev]
            out_w, hn_w, _ = rnn.forward(xw, init[0] if arity == 1 else init)
            out_w = out_w.swapaxes(0, 1) if rnn.batch_first else out_w  # (len, n*B, D*H)
            hn_w = _state_tuple(hn_w, arity)
            for j, t in enumerate(ts):
                cols = slice(j * B, (j + 1) * B)
                out_tm[t] = out_w[t - starts[t], cols]
                for s in range(arity):
                    if t == T - 1:
                        h_n[s][fwd] = hn_w[s][fwd, cols]
                    if t == 0 and bidir:
                        h_n[s][rev] = hn_w[s][rev, cols]
        hn_arg = h_n[0] if arity == 1 else tuple(h_n)
        return _as_scalar(loss(out, hn_arg), "from loss(out, h_n)")

    return fn


# -- the matrix of configurations --------------------------------------------------------------
NONLINEARITIES = ("tanh", "relu", "sigmoid", "identity")
LOSSES = ("mse", "bce", "ce", "last", "hn")  # see _Objective
TRUNCATIONS = (None, 0, 2)
# Summed, not averaged: gradients of order one keep ``atol`` from hiding errors in small ones.
REDUCTION = "sum"
RNN_HIDDEN = 4
GATED_HIDDEN = 3
H0_SCALE = 0.5  # std of the random initial states
PADDED_FRACTION = 0.25  # share of masked (bce) or ignored (ce) positions
# quick matrix: (nonlinearity, bias, num_layers, bidirectional, loss, truncate); together they
# touch every nonlinearity, loss, truncation, stacking and both directions
QUICK_RNN = (
    ("tanh", True, 2, True, "mse", 2),
    ("relu", False, 1, False, "ce", 0),
    ("sigmoid", True, 1, True, "hn", 0),
    ("identity", True, 2, False, "last", None),
    ("tanh", False, 1, True, "bce", 2),
    ("tanh", True, 2, False, "hn", 4),  # k = T-1: the last step where h0 is held, not live
)
QUICK_GATED = (
    ("tanh", True, 2, True, "hn", 0),
    ("tanh", False, 2, False, "ce", 2),
)


def recurrent_cells() -> dict[str, type]:
    """The recurrent layer classes by class name (RNN, LSTM, GRU)."""
    return {cls.__name__: cls for cls in CELLS.values()}


@dataclass(frozen=True)
class GradcheckConfig:
    """One model to check: a recurrent layer, an optional head and loss, and a truncation."""

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
    seq_len: int = 5  # T
    batch: int = 2  # B
    input_size: int = 3  # F
    hidden_size: int = 4  # H
    out_size: int = 3  # head outputs / classes
    check_inputs: bool = True  # also check dL/dx and dL/dh0 (and dL/dc0)

    @property
    def name(self) -> str:
        """A short readable label, e.g. ``RNN tanh bias L2 bi mse k=2``."""
        parts = [self.cell] + ([self.nonlinearity] if self.cell == "RNN" else [])
        parts += ["bias" if self.bias else "nobias", f"L{self.num_layers}"]
        parts += ["bi" if self.bidirectional else "uni", self.loss, f"k={self.truncate}"]
        return " ".join(parts)

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
        if self.kind == "hn":
            parts = h_n if isinstance(h_n, tuple) else (h_n,)
            loss, dparts = 0.0, []
            for part, y in zip(parts, tg["states"], strict=True):
                value, d = mse(part, y, reduction=REDUCTION)
                loss += value
                dparts.append(d)  # (L*D, B, H)
            return loss, dparts, None
        feats = out[-1] if self.kind == "last" else out  # (B, D*H) or (T, B, D*H)
        z, cache = self.head.forward(feats)  # (..., O)
        if self.kind == "mse":
            loss, dz = mse(z, tg["y"], reduction=REDUCTION)
        elif self.kind == "bce":
            loss, dz = bce_with_logits(z, tg["y"], reduction=REDUCTION, mask=tg["mask"])
        else:  # "ce" and "last"
            loss, dz = cross_entropy(z, tg["y"], reduction=REDUCTION, ignore_index=tg.get("ignore_index"))
        return loss, dz, cache

    def value(self, out: np.ndarray, h_n) -> float:
        return self._loss(out, h_n)[0]

    def __call__(self, out: np.ndarray, h_n):
        loss, grad, cache = self._loss(out, h_n)
        if self.kind == "hn":
            return loss, None, grad[0] if len(grad) == 1 else tuple(grad), {}
        dfeats, head_grads = self.head.backward(grad, cache)
        if self.kind == "last":
            dout = np.zeros_like(out)  # (T, B, D*H)
            dout[-1] = dfeats
        else:
            dout = dfeats  # (T, B, D*H)
        return loss, dout, None, {f"head.{n}": g for n, g in head_grads.items()}


def _build(cfg: GradcheckConfig):
    """The layer, head/loss, input and initial state of a config, all float64, from its seed."""
    cells = recurrent_cells()
    if cfg.cell not in cells:
        raise ValueError(f"cell {cfg.cell!r} is not available; expected one of {', '.join(cells)}")
    if cfg.loss not in LOSSES:
        raise ValueError(f"loss {cfg.loss!r} is unknown; expected one of {', '.join(LOSSES)}")
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
    h0 = tuple(  # (L*D, B, H) each, inside the range the activations produce
        H0_SCALE * gen.standard_normal(state_shape) for _ in range(rnn.STATE_ARITY)
    )
    head = None if cfg.loss == "hn" else Linear(DH, O, dtype=np.float64, rng=gen)
    targets: dict = {}
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
    rnn, objective, x, h0 = _build(cfg)
    head = objective.head
    h0_arg = h0[0] if rnn.STATE_ARITY == 1 else h0
    out, h_n, cache = rnn.forward(x, h0_arg)
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
    fn = truncated_objective(rnn, x, objective.value, h0_arg, cfg.truncate)
    return check_gradients(fn, params, analytic, eps=eps, atol=atol, rtol=rtol, max_entries=max_entries,
                           rng=np.random.default_rng(cfg.seed))


def matrix_configs(quick: bool = False, cells: tuple[str, ...] | None = None) -> list[GradcheckConfig]:
    """The configurations of :func:`run_matrix`.

    Full: for the RNN every nonlinearity x bias x num_layers (1, 2) x loss x truncation (None, 0,
    2), and for LSTM / GRU every bias x num_layers x loss x truncation; ``bidirectional`` alternates
    so that changing any single other setting flips it (half the cost, both directions covered
    with every setting). Quick: a handful of configs that still touch every code path.
    ``cells`` defaults to the importable ones; cells named explicitly are listed even when their
    module is missing (:func:`check_config` then raises ``ValueError``).
    """
    names = tuple(recurrent_cells()) if cells is None else tuple(cells)
    configs = []
    for cell in names:
        # gated cells have 3-4x the weights per unit: a smaller state keeps the matrix fast
        hidden = RNN_HIDDEN if cell == "RNN" else GATED_HIDDEN
        if quick:
            nets = QUICK_RNN if cell == "RNN" else QUICK_GATED
            configs += [
                GradcheckConfig(cell, nl, bias, layers, bidir, loss, k, hidden_size=hidden)
                for nl, bias, layers, bidir, loss, k in nets
            ]
            continue
        nonlins = NONLINEARITIES if cell == "RNN" else ("tanh",)
        for a, nl in enumerate(nonlins):
            for b, bias in enumerate((True, False)):
                for c, layers in enumerate((1, 2)):
                    for d, loss in enumerate(LOSSES):
                        for e, k in enumerate(TRUNCATIONS):
                            bidir = (a + b + c + d + e) % 2 == 1
                            configs.append(
                                GradcheckConfig(cell, nl, bias, layers, bidir, loss, k, hidden_size=hidden)
                            )
    return configs


def run_matrix(
    quick: bool = False,
    eps: float = DEFAULT_EPS,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
) -> list[dict]:
    """Check every configuration of :func:`matrix_configs`; one row per config x parameter:
    ``{"config": str, "param": str, "rel_err": float, "ok": bool}``."""
    rows = []
    for cfg in matrix_configs(quick=quick):
        report = check_config(cfg, eps=eps, atol=atol, rtol=rtol)
        for c in report.checks:
            rows.append({"config": cfg.name, "param": c.name, "rel_err": c.max_rel_err, "ok": c.ok})
    return rows
