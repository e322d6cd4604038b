"""Pure math: stable activations, softmax, log-softmax and one-hot.

Every activation takes an optional ``out`` array so the recurrent layers can write into
preallocated buffers, and each has a derivative written in terms of the activation's *output*
``y = f(z)``, which is what the backward pass keeps:

    tanh:     y = tanh(z)              dy/dz = 1 - y**2
    sigmoid:  y = 1 / (1 + exp(-z))    dy/dz = y * (1 - y)
    relu:     y = max(z, 0)            dy/dz = [y > 0]
    identity: y = z                    dy/dz = 1

None of them overflows: sigmoid is computed as ``0.5 * (1 + tanh(z / 2))`` and softmax subtracts
the row maximum before exponentiating, so inputs of magnitude 1e4 are safe in float32 and float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .checks import check_int, check_numeric_dtype, check_size

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "get_activation",
    "identity",
    "index_add_rows",
    "log_softmax",
    "one_hot",
    "relu",
    "sigmoid",
    "softmax",
    "sum_rows",
    "tanh",
]


def tanh(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Hyperbolic tangent, ``tanh(z)``; never overflows."""
    return np.tanh(z, out=out)


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-z))`` computed as ``0.5 * (1 + tanh(z / 2))``.

    The tanh form has no exp, so it cannot overflow for any finite input.
    """
    half, one = _HALF_ONE.get(getattr(z, "dtype", None), (0.5, 1.0))
    out = np.multiply(z, half, out=out)
    np.tanh(out, out=out)
    np.add(out, one, out=out)
    return np.multiply(out, half, out=out)


# 0.5 and 1 as 0-d arrays of each float dtype: a ufunc converts a Python float on every call, a
# measurable share of a small step (benchmarks/README.md, "sigmoid"); the values, and so the
# results, are the same
_HALF_ONE = {np.dtype(t): (np.array(0.5, t), np.array(1.0, t)) for t in (np.float32, np.float64)}


def relu(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Rectified linear unit ``max(z, 0)``."""
    return np.maximum(z, 0, out=out)


def identity(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``z`` itself (a linear RNN); copies into ``out`` when one is given."""
    if out is None:
        return np.array(z, copy=True)
    if out is not z:
        np.copyto(out, z)
    return out


def _dtanh(y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    one = _HALF_ONE.get(getattr(y, "dtype", None), (0.5, 1.0))[1]
    out = np.multiply(y, y, out=out)  # y**2
    return np.subtract(one, out, out=out)


def _dsigmoid(y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    one = _HALF_ONE.get(getattr(y, "dtype", None), (0.5, 1.0))[1]
    if out is not None and np.may_share_memory(out, y):
        # y is read again after 1 - y is formed, so an aliased out cannot hold that factor.
        return np.multiply(y, one - y, out=out)
    out = np.subtract(one, y, out=out)
    return np.multiply(out, y, out=out)


def _drelu(y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    if out is None:
        out = np.empty_like(y)
    return np.greater(y, 0, out=out, casting="unsafe")


def _didentity(y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    if out is None:
        return np.ones_like(y)
    out.fill(1.0)
    return out


@dataclass(frozen=True)
class Activation:
    """An activation ``f`` and its derivative ``f'`` expressed through ``y = f(z)``.

    Attributes:
        name (str): the name ``get_activation`` knows it by.
        forward (callable): ``f(z, out=None) -> y``.
        derivative_from_output (callable): ``f'`` from the output, ``(y, out=None) -> dy/dz``.
    """

    name: str
    forward: Callable[..., np.ndarray]
    derivative_from_output: Callable[..., np.ndarray]


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation("tanh", tanh, _dtanh),
    "sigmoid": Activation("sigmoid", sigmoid, _dsigmoid),
    "relu": Activation("relu", relu, _drelu),
    "identity": Activation("identity", identity, _didentity),
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name; unknown names raise ``ValueError`` listing the known ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown nonlinearity {name!r}; expected one of {known}") from None


def _logits(z, axis, what: str) -> tuple[np.ndarray, int]:
    """z as a float array (integers and bools in float64, as numpy computes them) and a valid axis."""
    arr = np.asarray(z)
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        raise ValueError(f"{what} expects real numbers, got an array of dtype {arr.dtype}")
    axis = check_int("axis", axis)
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis must be in [{-arr.ndim}, {arr.ndim}) for the {arr.ndim}-D input of {what}, "
                         f"got {axis}")
    return arr, axis


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(z) / sum(exp(z))`` along ``axis``, shifted by the maximum so it cannot overflow.

    Float input keeps its dtype; integer (and bool) input is computed in float64."""
    z, axis = _logits(z, axis, "softmax")
    shifted = z - np.max(z, axis=axis, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= np.sum(shifted, axis=axis, keepdims=True)
    return shifted


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``z - logsumexp(z)`` along ``axis``, computed from the max-shifted logits (integer input
    in float64, as for ``softmax``)."""
    z, axis = _logits(z, axis, "log_softmax")
    shifted = z - np.max(z, axis=axis, keepdims=True)
    lse = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    shifted -= lse
    return shifted


def one_hot(indices: np.ndarray, num_classes: int, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """One-hot encode integer ``indices`` of any shape into ``indices.shape + (num_classes,)``."""
    idx = np.asarray(indices)
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"one_hot expects integer indices, got dtype {idx.dtype}")
    num_classes = check_size("num_classes", num_classes)
    dtype = check_numeric_dtype(dtype)
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(
            f"one_hot indices must lie in [0, {num_classes}), got values in [{idx.min()}, {idx.max()}]"
        )
    out = np.zeros(idx.shape + (num_classes,), dtype=dtype)  # (..., C)
    np.put_along_axis(out, idx[..., None], 1, axis=-1)
    return out


ONE_HOT_MATMUL_MAX_ROWS = 128  # up to this many table rows a one-hot matmul beats scattered adds


def index_add_rows(ids: np.ndarray, rows: np.ndarray, num: int) -> np.ndarray:
    """``out[i] = sum of rows[j] over j with ids[j] == i``: (N,) ids, (N, D) rows -> (num, D).

    The gradient of a table lookup (embeddings, one-hot inputs). A small table (a character
    vocabulary) is summed as one matmul ``onehot(ids).T @ rows``, which BLAS runs at full speed;
    a large one with one scattered add over flat indices, faster than ``np.add.at`` on rows
    (benchmarks/README.md, "index_add_rows").
    """
    num = check_size("num", num)
    ids = np.asarray(ids).reshape(-1)  # (N,)
    D = rows.shape[-1]
    rows = rows.reshape(-1, D)  # (N, D)
    if ids.size == 0:
        return np.zeros((num, D), rows.dtype)
    if num <= ONE_HOT_MATMUL_MAX_ROWS:
        onehot_t = np.zeros((num, ids.size), rows.dtype)  # (num, N)
        onehot_t[ids, np.arange(ids.size)] = 1.0
        return onehot_t @ rows  # (num, D)
    out = np.zeros((num, D), rows.dtype)  # (num, D)
    flat = (ids[:, None] * D + np.arange(D)).reshape(-1)  # (N*D,) positions in out
    np.add.at(out.reshape(-1), flat, rows.reshape(-1))
    return out


def sum_rows(a: np.ndarray) -> np.ndarray:
    """The sum of the rows of a 2-D array, (N, K) -> (K,): a bias gradient from the gradients of
    every position. Computed as the product ``ones(N) @ a``, which BLAS runs over the rows at full
    speed; numpy's ``a.sum(axis=0)`` steps through a C-contiguous array row by row, several times
    slower on the (T*B, H) arrays of a backward pass (benchmarks/README.md, "sum_rows")."""
    return np.dot(np.ones(a.shape[0], a.dtype), a)  # (K,)
