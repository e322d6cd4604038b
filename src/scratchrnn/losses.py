"""Losses that return ``(loss, dlogits)``: the value as a Python float and its gradient.

The gradient has the shape and dtype of the prediction, so it feeds straight into the backward
pass of the layer that produced it. Every loss takes ``reduction`` ("mean" or "sum") and an
optional ``mask`` (bool, or 0/1 numbers) that selects which elements (or, for cross-entropy,
which positions) count; ``lengths`` (B,) does the same for time-major predictions (T, B, ...) of
a padded batch, dropping the steps past each sequence's length (``scratchrnn.nn.lengths``).
"mean" divides by the number of counted elements, like PyTorch; when
nothing is counted the loss is 0.0 and the gradient is all zeros. With ``m`` the 0/1 mask,
``n = sum(m)`` and ``k = n`` for "mean" or ``k = 1`` for "sum":

    mse:              L = sum(m * (p - y)**2) / k
                      dL/dp = 2 * m * (p - y) / k

    bce_with_logits:  l(z, y) = max(z, 0) - z*y + log1p(exp(-|z|))     (= -y log s - (1-y) log(1-s))
                      L = sum(m * l) / k,  with s = sigmoid(z)
                      dL/dz = m * (s - y) / k

    cross_entropy:    logits z (..., C), integer targets t (...)
                      l = logsumexp(z) - z[t] = log(sum_j exp(z_j - max z)) - (z[t] - max z)
                      L = sum(m * l) / k
                      dL/dz = m * (softmax(z) - onehot(t)) / k

    pinball:          Q quantile levels q_j in (0, 1); predictions (..., O*Q) for targets (..., O),
                      p[..., o*Q + j] the q_j-quantile of y[..., o]; with e = y - p,
                      l_j = max(q_j * e, (q_j - 1) * e)
                      L = sum over counted targets and their Q quantiles of l / k
                      dL/dp = m * (1[e < 0] - q_j) / k      (0.5 - q_j where e == 0)

For pinball "mean" counts targets, not predictions: the Q quantiles of one target add up, so a
model's validation loss (summed, divided by its targets) is the mean it trained on.

No loss overflows: the BCE form never exponentiates a positive number, and cross-entropy
subtracts each row's maximum before exponentiating, so logits of magnitude 1e4 are safe in
float32 and float64.
"""

from __future__ import annotations

import numpy as np

from .checks import FLOAT_DTYPES, check_lengths, is_int
from .functional import sigmoid
from .nn import workspace
from .nn.lengths import valid_steps

__all__ = ["bce_with_logits", "check_quantiles", "cross_entropy", "mse", "pinball"]

REDUCTIONS = ("mean", "sum")


# -- validation helpers ----------------------------------------------------------------------
def _check_reduction(reduction, loss: str) -> str:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        known = ", ".join(map(repr, REDUCTIONS))
        raise ValueError(f"{loss} reduction must be one of {known}, got {reduction!r}")
    return reduction


def _is_real(dtype: np.dtype) -> bool:
    return np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)


def _check_prediction(x, name: str, loss: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{loss} {name} must be float32 or float64, got dtype {arr.dtype}")
    return arr


def _check_real_target(y, shape: tuple[int, ...], dtype: np.dtype, pred_name: str, loss: str) -> np.ndarray:
    """Targets of the prediction's exact shape, any real dtype, cast to the prediction's dtype."""
    arr = np.asarray(y)
    if arr.dtype != np.bool_ and not _is_real(arr.dtype):
        raise ValueError(f"{loss} targets must be real numbers, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(
            f"{loss} targets have shape {arr.shape}, {pred_name} have shape {shape}; they must match"
        )
    return arr.astype(dtype, copy=False)


def _check_mask(mask, shape: tuple[int, ...], what: str, loss: str) -> np.ndarray:
    """A boolean mask that broadcasts to ``shape``; 0/1 numbers are accepted and converted."""
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        if not _is_real(arr.dtype):
            raise ValueError(f"{loss} mask must be boolean or hold 0/1 numbers, got dtype {arr.dtype}")
        if arr.size and not np.all((arr == 0) | (arr == 1)):
            bad = arr[(arr != 0) & (arr != 1)].flat[0]
            raise ValueError(
                f"{loss} mask must hold only 0 and 1 (or be boolean), got the value {bad.item()!r}"
            )
        arr = arr != 0  # same shape as the mask, bool
    try:
        broadcast = np.broadcast_shapes(arr.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != shape:
        raise ValueError(
            f"{loss} mask has shape {arr.shape}, which does not broadcast to the {what} shape {shape}"
        )
    return arr


def _with_lengths(mask, lengths, shape: tuple[int, ...], what: str, loss: str):
    """``mask`` with the steps past each length dropped, for time-major (T, B, ...) ``shape``:
    the mask itself without lengths, else a boolean mask broadcasting to ``shape``."""
    if lengths is None:
        return mask
    least = 2 if what == "targets" else 3  # positions (T, B) of cross_entropy, else (T, B, O) values
    if len(shape) < least:
        want = "(T, B)" if least == 2 else "(T, B, O)"
        raise ValueError(f"{loss} lengths need time-major {what} {want}, got shape {shape}")
    T, B = shape[:2]
    valid = valid_steps(check_lengths(lengths, B, T, f"{loss} lengths"), T)  # (T, B)
    valid = valid.reshape(T, B, *([1] * (len(shape) - 2)))  # (T, B, 1, ...)
    return valid if mask is None else np.logical_and(_check_mask(mask, shape, what, loss), valid)


def _check_class_weight(weight, C: int, loss: str) -> np.ndarray:
    """Class weights: C finite non-negative numbers, as a float64 array."""
    arr = np.asarray(weight)
    if arr.dtype == np.bool_ or not _is_real(arr.dtype) or arr.shape != (C,):
        got = f"shape {arr.shape} and dtype {arr.dtype}"
        raise ValueError(f"{loss} weight must be {C} class weights (one per class), got {got}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)) or arr.min() < 0:
        raise ValueError(f"{loss} weight must hold finite non-negative numbers, got values in "
                         f"[{arr.min()}, {arr.max()}]")
    return arr


def _divisor(reduction: str, count: float) -> float:
    return count if reduction == "mean" else 1


# -- losses ----------------------------------------------------------------------------------
def mse(pred, target, reduction: str = "mean", mask=None, lengths=None) -> tuple[float, np.ndarray]:
    """Squared error ``sum(m * (p - y)**2) / k``; returns (loss, dL/dpred).

    pred: float32/float64 array of any shape; target: same shape (cast to pred's dtype);
    mask: bool or 0/1, broadcastable to pred; lengths: (B,) for pred (T, B, ...), the steps past
    each length do not count. ``k`` is the number of counted elements for "mean"
    (torch.nn.MSELoss) and 1 for "sum". Gradient ``2 * m * (p - y) / k``, pred's dtype.
    """
    reduction = _check_reduction(reduction, "mse")
    pred = _check_prediction(pred, "predictions", "mse")
    target = _check_real_target(target, pred.shape, pred.dtype, "predictions", "mse")
    mask = _with_lengths(mask, lengths, pred.shape, "prediction", "mse")
    diff = workspace.empty(pred.shape, pred.dtype)  # (...) p - y, then the gradient
    np.subtract(pred, target, out=diff)
    if mask is None:
        count = diff.size
    else:
        m = _check_mask(mask, pred.shape, "prediction", "mse")
        count = int(np.count_nonzero(np.broadcast_to(m, pred.shape)))
        np.copyto(diff, 0.0, where=~m)  # not diff *= m: a NaN target that does not count stays out
    if count == 0:
        return 0.0, np.zeros_like(diff)
    k = _divisor(reduction, count)
    loss = float(np.vdot(diff, diff)) / k
    diff *= 2.0 / k
    return loss, diff


def bce_with_logits(logits, targets, reduction: str = "mean", mask=None,
                    lengths=None) -> tuple[float, np.ndarray]:
    """Binary cross-entropy on logits, ``max(z, 0) - z*y + log1p(exp(-|z|))``; returns (loss, dL/dz).

    logits: float32/float64 array of any shape; targets: probabilities in [0, 1] of the same shape;
    mask: bool or 0/1, broadcastable to logits; lengths as for ``mse``. Reduced like ``mse``;
    gradient ``m * (sigmoid(z) - y) / k``.
    """
    loss_name = "bce_with_logits"
    reduction = _check_reduction(reduction, loss_name)
    z = _check_prediction(logits, "logits", loss_name)
    y = _check_real_target(targets, z.shape, z.dtype, "logits", loss_name)
    m = None
    count = z.size
    mask = _with_lengths(mask, lengths, z.shape, "logits", loss_name)
    if mask is not None:
        m = _check_mask(mask, z.shape, "logits", loss_name)
        count = int(np.count_nonzero(np.broadcast_to(m, z.shape)))
        y = np.where(m, y, z.dtype.type(0))  # targets that do not count may hold anything (padding)
    if y.size and not (y.min() >= 0 and y.max() <= 1):
        where = "" if m is None else " where they count"
        raise ValueError(f"{loss_name} targets must be probabilities in [0, 1]{where}, got values in "
                         f"[{y.min()}, {y.max()}]")
    if count == 0:
        return 0.0, np.zeros_like(z)
    k = _divisor(reduction, count)

    # exp(-|z|) <= 1, so neither the exp nor the log1p can overflow.
    elem = np.abs(z, out=workspace.empty(z.shape, z.dtype))  # (...) an array even for 0-d logits
    np.negative(elem, out=elem)
    np.exp(elem, out=elem)
    np.log1p(elem, out=elem)
    elem += np.maximum(z, 0)
    elem -= z * y
    if m is not None:
        np.copyto(elem, 0.0, where=~m)
    loss = float(elem.sum(dtype=np.float64)) / k

    grad = sigmoid(z, out=elem)  # (...) reuses the loss buffer
    grad -= y
    if m is not None:
        np.copyto(grad, 0.0, where=~m)
    grad *= 1.0 / k
    return loss, grad


def check_quantiles(quantiles, name: str = "quantiles") -> tuple[float, ...]:
    """Quantile levels: a non-empty increasing sequence of numbers in (0, 1), as a tuple of floats."""
    if isinstance(quantiles, (str, bytes)) or not hasattr(quantiles, "__len__") or len(quantiles) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of levels in (0, 1), got {quantiles!r}")
    levels = []
    for q in quantiles:
        if isinstance(q, bool) or not _is_real(np.asarray(q).dtype) or np.ndim(q) != 0 \
                or not 0 < float(q) < 1:
            raise ValueError(f"{name} must hold levels in (0, 1), got {q!r}")
        levels.append(float(q))
    if any(b <= a for a, b in zip(levels[:-1], levels[1:], strict=True)):
        raise ValueError(f"{name} must be increasing, got {tuple(levels)}")
    return tuple(levels)


def pinball(pred, target, quantiles, reduction: str = "mean", mask=None,
            lengths=None) -> tuple[float, np.ndarray]:
    """The quantile (pinball) loss of Q quantiles per target (module docstring); returns
    (loss, dL/dpred).

    pred: (..., O*Q) float32/float64, the Q quantiles of each target side by side; target:
    (..., O) real numbers; quantiles: the Q levels, increasing in (0, 1); mask: bool or 0/1,
    broadcastable to target (which targets count); lengths: (B,) for target (T, B, O). "mean"
    divides by the number of counted targets, "sum" does not.
    """
    loss_name = "pinball"
    reduction = _check_reduction(reduction, loss_name)
    levels = check_quantiles(quantiles, f"{loss_name} quantiles")
    p = _check_prediction(pred, "predictions", loss_name)
    Q = len(levels)
    y = np.asarray(target)
    if y.dtype == np.bool_ or not _is_real(y.dtype):
        raise ValueError(f"{loss_name} targets must be real numbers, got dtype {y.dtype}")
    want = (*y.shape[:-1], y.shape[-1] * Q) if y.ndim else None
    if want != p.shape:
        raise ValueError(f"{loss_name} predictions have shape {p.shape}; {Q} quantiles of targets of shape "
                         f"{y.shape} need {want if want else '(..., O) targets'}")
    mask = _with_lengths(mask, lengths, y.shape, "target", loss_name)
    count = y.size
    m = None
    if mask is not None:
        m = np.broadcast_to(_check_mask(mask, y.shape, "target", loss_name), y.shape)  # (..., O)
        count = int(np.count_nonzero(m))
        y = np.where(m, y, 0)  # targets that do not count may hold anything (NaN padding)
    if count == 0:
        return 0.0, np.zeros_like(p)
    k = _divisor(reduction, count)
    q = np.asarray(levels, dtype=p.dtype)  # (Q,)
    e = y.astype(p.dtype)[..., None] - p.reshape(*y.shape, Q)  # (..., O, Q) y - p
    elem = np.maximum(q * e, (q - 1) * e)  # (..., O, Q)
    grad = np.where(e < 0, 1 - q, -q)  # (..., O, Q) dl/dp
    grad = np.where(e == 0, 0.5 - q, grad)  # torch.maximum's even split at a tie
    if m is not None:
        elem = np.where(m[..., None], elem, 0)
        grad = np.where(m[..., None], grad, 0)
    loss = float(elem.sum(dtype=np.float64)) / k
    return loss, (grad / k).astype(p.dtype).reshape(p.shape)


def cross_entropy(
    logits, targets, reduction: str = "mean", mask=None, ignore_index: int | None = None, lengths=None,
    weight=None,
) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy over the last axis; returns (loss, dL/dlogits).

    logits: (..., C) float32/float64; targets: integer class indices of shape (...);
    mask: bool or 0/1, broadcastable to (...); positions whose target equals ``ignore_index``
    do not count either, nor, with ``lengths`` (B,) for logits (T, B, C), the steps past each
    length. Per position ``l = logsumexp(z) - z[t]``; "mean" divides the sum over
    counted positions by their number (torch.nn.functional.cross_entropy), "sum" does not.
    Gradient ``(softmax(z) - onehot(t)) / k`` on counted positions and 0 elsewhere. ``weight``
    (C,) non-negative class weights, as torch's ``weight=``: position i counts ``weight[t_i]``
    times, and "mean" divides by the counted positions' total weight. Targets must lie
    in [0, C) wherever they count; positions that do not count may hold any integer (e.g. padding).
    """
    loss_name = "cross_entropy"
    reduction = _check_reduction(reduction, loss_name)
    z = _check_prediction(logits, "logits", loss_name)
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError(
            f"{loss_name} expects logits of shape (..., C) with C >= 1 classes, got shape {z.shape}"
        )
    t = np.asarray(targets)
    if t.dtype.kind not in "iu":  # signed or unsigned integers (not bool)
        raise ValueError(f"{loss_name} targets must be integer class indices, got dtype {t.dtype}")
    lead, C = z.shape[:-1], z.shape[-1]
    if t.shape != lead:
        raise ValueError(
            f"{loss_name} targets have shape {t.shape}, logits have shape {z.shape}; "
            f"targets must have the logits' shape without the class axis, {lead}"
        )
    if ignore_index is not None and not is_int(ignore_index):
        raise ValueError(f"{loss_name} ignore_index must be an integer or None, got {ignore_index!r}")
    w = None if weight is None else _check_class_weight(weight, C, loss_name)  # (C,) float64

    # Which positions count: the mask and ignore_index, if any (None means all of them).
    counted = None
    mask = _with_lengths(mask, lengths, lead, "targets", loss_name)
    if mask is not None:
        counted = np.broadcast_to(_check_mask(mask, lead, "targets", loss_name), lead)  # (...)
    if ignore_index is not None:
        kept = t != ignore_index  # (...)
        counted = kept if counted is None else counted & kept
    t_flat = t.reshape(-1)  # (N,)
    if counted is None:
        count = t_flat.size
        live = t_flat
    else:
        counted = counted.reshape(-1)  # (N,)
        count = int(np.count_nonzero(counted))
        live = t_flat[counted]  # (n,)
    if live.size and (live.min() < 0 or live.max() >= C):
        what = "targets" if counted is None else "counted targets"
        raise ValueError(
            f"{loss_name} {what} must lie in [0, {C}) for {C} classes, "
            f"got values in [{live.min()}, {live.max()}]"
        )
    if counted is not None:
        t_flat = np.where(counted, t_flat, 0)  # (N,) any valid index; these rows are zeroed below
    row_w = None  # (N,) each position's weight, 0 where it does not count (with class weights)
    if w is not None:
        row_w = w[t_flat] if counted is None else np.where(counted, w[t_flat], 0.0)
        total = float(row_w.sum())
        count = 0 if total == 0.0 else count
    if count == 0:
        return 0.0, np.zeros_like(z)
    k = _divisor(reduction, count if row_w is None else total)

    N = t_flat.size
    # One (N, C) buffer: shifted logits -> exp in place -> scaled softmax in place -> gradient.
    row_max = z.max(axis=-1, keepdims=True)  # (..., 1)
    probs = np.subtract(z, row_max, out=workspace.empty(z.shape, z.dtype)).reshape(N, C)  # (N, C) z - max z
    flat = probs.reshape(-1)  # (N*C,) view
    at_target = np.arange(0, N * C, C)  # (N,) flat positions of the targets
    at_target += t_flat
    picked = flat[at_target]  # (N,) z[t] - max z
    np.exp(probs, out=probs)
    sums = probs.sum(axis=1)  # (N,) in [1, C], so its log is safe
    row_loss = np.log(sums)  # (N,)
    row_loss -= picked
    # Row scale 1 / (sum * k), times 0 for rows that do not count, so one pass both normalises
    # the softmax, applies the reduction and zeroes the uncounted rows.
    if row_w is not None:  # class weights: each row's weight over k, 0 where it does not count
        weight = (row_w / k).astype(z.dtype)  # (N,)
        loss = float(np.dot(row_loss.astype(np.float64), row_w)) / k
        np.divide(weight, sums, out=sums)
    elif counted is None:
        weight = 1.0 / k
        loss = float(row_loss.sum(dtype=np.float64)) / k
        np.divide(weight, sums, out=sums)  # (N,) 1 / (sum * k)
    else:
        weight = (counted / k).astype(z.dtype)  # (N,)
        loss = float(row_loss[counted].sum(dtype=np.float64)) / k
        np.divide(weight, sums, out=sums)
    probs *= sums[:, None]
    flat[at_target] -= weight
    return loss, probs.reshape(z.shape)
