"""Central-difference gradient checks of any scalar function of a dict of float64 arrays.

Each checked entry ``p`` is moved to ``p + eps`` and ``p - eps`` in place (and put back exactly
afterwards, even if the function raises), and the derivative is estimated as

    n = (f(p + eps) - f(p - eps)) / (2 eps)

An analytic gradient ``a`` passes when every checked entry satisfies ``|a - n| <= atol + rtol * |n|``;
the reported relative error is ``|a - n| / max(|a|, |n|, atol)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..checks import check_optional_size, check_random_state, check_real

__all__ = ["GradcheckReport", "ParamCheck", "as_scalar", "check_gradients", "numerical_gradient"]

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


def as_scalar(value, where: str) -> float:
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
    eps = check_real("eps", eps, low=0.0, low_open=True)
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
                f_up = as_scalar(fn(params), f"at {name}{[int(j) for j in pos]} + eps")
                p[pos] = down
                f_down = as_scalar(fn(params), f"at {name}{[int(j) for j in pos]} - eps")
            finally:
                p[pos] = old
            g[pos] = (f_up - f_down) / (up - down)  # the step actually taken, after rounding
        grads[name] = g
    return grads


@dataclass
class ParamCheck:
    """The comparison for one parameter; errors are the worst over its checked entries.

    Attributes:
        name (str): the parameter's name in ``params``.
        shape (tuple of int): its shape.
        checked (int): entries compared.
        failed (int): entries with ``|a - n| > atol + rtol * |n|`` (a analytic, n numeric).
        max_rel_err (float): the largest ``|a - n| / max(|a|, |n|, atol)``.
        max_abs_err (float): the largest ``|a - n|``.
        worst_index (tuple of int): the entry with the largest relative error.
        analytic (float): the analytic gradient at ``worst_index``.
        numeric (float): the central difference at ``worst_index``.
    """

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
    """Per-parameter results of :func:`check_gradients`, in the order of ``params``.

    Attributes:
        checks (list of ParamCheck): one comparison per parameter.
        eps (float): the finite-difference step.
        atol (float): the absolute tolerance.
        rtol (float): the relative tolerance.
    """

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
    eps = check_real("eps", eps, low=0.0, low_open=True)
    atol, rtol = check_real("atol", atol, low=0.0), check_real("rtol", rtol, low=0.0)
    max_entries = check_optional_size("max_entries", max_entries)
    gen = None if rng is None else check_random_state(rng)
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
    indices = {}
    for name, p in params.items():
        if max_entries is not None and p.size > max_entries:
            if gen is None:
                gen = check_random_state(DEFAULT_SAMPLE_SEED)
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
