"""Gradient clipping over ``name -> array`` dicts, in place, and the global L2 norm.

The norm clippers leave gradients whose norm is NaN or inf untouched and return that norm, so
the caller can skip the step instead of training on NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..checks import check_real, is_real

__all__ = [
    "clip_by_value",
    "clip_grad_norm",
    "clip_per_param_norm",
    "global_norm",
]

CLIP_EPS = 1e-6  # added to the norm before dividing, as torch.nn.utils.clip_grad_norm_ does


def _grad_arrays(grads) -> dict[str, np.ndarray]:
    if not isinstance(grads, Mapping):
        raise ValueError(f"grads must be a dict of name -> numpy array, got {type(grads).__name__}")
    for k, g in grads.items():
        if not isinstance(g, np.ndarray) or not np.issubdtype(g.dtype, np.floating):
            what = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
            raise ValueError(f"grad {k!r} must be a float numpy array, got {what}")
    return dict(grads)


def _norm(g: np.ndarray) -> float:
    """L2 norm by a BLAS dot product in the array's own dtype (no float64 temporary: this runs on
    every training step); if the sum of squares overflows, rescale by the largest entry."""
    flat = g.reshape(-1)  # (N,)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is handled below
        sq = float(np.vdot(flat, flat)) if flat.size else 0.0
    if math.isinf(sq):
        big = float(np.max(np.abs(g)))
        if not math.isfinite(big):
            return big  # an inf entry: the norm really is inf
        scaled = np.asarray(g, dtype=np.float64) / big  # (same shape as g)
        return big * math.sqrt(float(np.sum(scaled * scaled)))
    return math.sqrt(sq)


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """``sqrt(sum over all arrays and entries of g**2)``, computed in float64; NaN if any entry is NaN."""
    norms = [_norm(g) for g in _grad_arrays(grads).values()]
    return _norm(np.asarray(norms, dtype=np.float64)) if norms else 0.0  # (P,)


def clip_by_value(grads: Mapping[str, np.ndarray], min_value: float, max_value: float) -> float:
    """Clamp every entry into ``[min_value, max_value]`` in place; returns the fraction clipped.

    NaN entries are left as they are (and not counted).
    """
    lo = check_real("min_value", min_value, allow_inf=True)
    hi = check_real("max_value", max_value, allow_inf=True)
    if lo > hi:
        raise ValueError(f"min_value must be <= max_value, got [{lo}, {hi}]")
    arrays = _grad_arrays(grads)
    clipped = total = 0
    for g in arrays.values():
        clipped += int(np.count_nonzero((g < lo) | (g > hi)))
        total += g.size
        np.clip(g, lo, hi, out=g)
    return clipped / total if total else 0.0


def clip_grad_norm(grads: Mapping[str, np.ndarray], max_norm: float, eps: float = CLIP_EPS,
                   norm: float | None = None) -> float:
    """Scale all gradients in place by ``min(1, max_norm / (norm + eps))``; returns the norm before.

    ``norm`` is the global L2 norm over every entry (``global_norm``), as in
    ``torch.nn.utils.clip_grad_norm_``; pass it when already computed to save a pass over the
    gradients. If the norm is NaN or inf the gradients are left untouched and that norm is
    returned, so the caller can skip the step instead of training on NaN.
    """
    max_norm = check_real("max_norm", max_norm, low=0.0)
    eps = check_real("eps", eps, low=0.0)
    if norm is not None and not is_real(norm):
        raise ValueError(f"norm must be None or the gradients' global norm as a number, got {norm!r}")
    arrays = _grad_arrays(grads)
    total = global_norm(arrays) if norm is None else float(norm)
    if not math.isfinite(total):
        return total
    coef = max_norm / (total + eps)
    if coef < 1.0:
        for g in arrays.values():
            g *= coef
    return total


def clip_per_param_norm(
    grads: Mapping[str, np.ndarray], max_norm: float, eps: float = CLIP_EPS
) -> dict[str, float]:
    """Clip each array's own L2 norm to ``max_norm`` in place; returns ``{name: norm before}``.

    Arrays whose norm is NaN or inf are left untouched (their norm is reported).
    """
    max_norm = check_real("max_norm", max_norm, low=0.0)
    eps = check_real("eps", eps, low=0.0)
    norms = {}
    for k, g in _grad_arrays(grads).items():
        n = _norm(g)
        norms[k] = n
        if math.isfinite(n):
            coef = max_norm / (n + eps)
            if coef < 1.0:
                g *= coef
    return norms
