"""The input projections and weight layouts the cells share: every step's ``x @ W_ih.T + b`` at
once (a gather of columns for token ids), its weight and input gradients, and the re-laid-out
weight blocks of the gated cells' forward passes."""

from __future__ import annotations

import numpy as np

from ..functional import index_add_rows
from . import timeloop, workspace

__all__ = ["input_gates", "input_grad", "input_weight_grad", "relayout_rows"]


# A transposed copy of a large block goes 16 source rows at a time: each destination row then gets
# a whole cache line per piece instead of one element, about twice as fast from H = 512 on. Small
# blocks are copied whole, where the per-piece Python overhead would dominate.
_TRANSPOSE_PIECE_ROWS = 16
_TRANSPOSE_IN_PIECES_FROM = 256  # rows per block


def relayout_rows(w: np.ndarray, H: int, order, scales, transpose: bool = False, out=None) -> np.ndarray:
    """Blocks of H rows of w (G*H, ...) stacked in ``order``, block j multiplied by ``scales[j]``.

    The prepared weights of the gated cells, built in one pass with no intermediate copies. With
    ``transpose`` a 2-D w (G*H, K) comes out as the C-contiguous transpose (K, G*H). Scales of
    1 and 1/2 are exact, so the values are those of reordering, scaling and transposing in turn.
    ``out`` (a view of the result's shape, e.g. columns of a bigger array) receives the result.
    """
    shape = (w.shape[1], w.shape[0]) if transpose else w.shape
    if out is None:
        out = np.empty(shape, w.dtype)  # (G*H, ...) or (K, G*H)
    elif out.shape != shape or out.dtype != w.dtype:
        raise ValueError(f"relayout_rows: out must be {shape} {w.dtype}, got {out.shape} {out.dtype}")
    piece = _TRANSPOSE_PIECE_ROWS if transpose and H >= _TRANSPOSE_IN_PIECES_FROM else H
    for j, (block, scale) in enumerate(zip(order, scales, strict=True)):
        for r in range(0, H, piece):
            n = min(piece, H - r)
            src = w[block * H + r : block * H + r + n]  # (n, ...)
            if transpose:
                src, dst = src.T, out[:, j * H + r : j * H + r + n]  # (K, n)
            else:
                dst = out[j * H + r : j * H + r + n]  # (n, ...)
            if scale == 1:
                np.copyto(dst, src)
            else:
                np.multiply(src, scale, out=dst)
    return out


def input_gates(x: np.ndarray, w_ih: np.ndarray, bias: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    """All steps' input projections plus the combined bias: x (T, B, F) or (B, F), or token ids
    (T, B) or (B,) -> out (T*B, G*H) = x @ w_ih.T + bias.

    Integer x holds token ids of one-hot vectors, whose product with w_ih is just a column of w_ih,
    so the projection is a gather of the N columns in use (O(N * G*H), not a copy of all V columns).
    """
    if x.dtype.kind in "iu":
        np.copyto(out, np.take(w_ih, x.reshape(-1), axis=1).T)  # (T*B, G*H)
    else:
        np.matmul(x.reshape(-1, x.shape[-1]), w_ih.T, out=out)  # (T*B, G*H)
    if bias is not None:
        out += bias
    return out


def input_weight_grad(x: np.ndarray, dz2: np.ndarray, num_inputs: int) -> np.ndarray:
    """d w_ih (G*H, F) of ``input_gates`` for the gradients dz2 (T*B, G*H) at its output."""
    if x.dtype.kind in "iu":
        return np.ascontiguousarray(index_add_rows(x, dz2, num_inputs).T)  # (G*H, V)
    return dz2.T @ x.reshape(-1, x.shape[-1])  # (G*H, F)


def input_grad(grads: np.ndarray, w_ih: np.ndarray, t0: int) -> np.ndarray:
    """dx (..., T, B, F) = grads (..., T, B, K) @ w_ih (K, F), in workspace memory.

    The steps before t0 got no gradient (truncated many-to-one BPTT): they are zeros, left out of
    the product. One product over every row when grads can be read as rows in place, else one per
    leading index (the LSTM's per-offset gradients, which are feature-major).
    """
    *lead, T, B, K = grads.shape
    F = w_ih.shape[1]
    if t0 == 0 and not lead:  # the common case, one product
        dx = workspace.empty((T, B, F), w_ih.dtype)  # (T, B, F)
        np.matmul(grads.reshape(T * B, K), w_ih, out=dx.reshape(T * B, F))
        return dx
    dx = (workspace.empty if t0 == 0 else workspace.zeros)((*lead, T, B, F), w_ih.dtype)  # (..., T, B, F)
    src, dst = grads[..., t0:, :, :], dx[..., t0:, :, :]
    m = (T - t0) * B
    try:
        rows, out = timeloop.view_as(src, (src.size // K, K)), timeloop.view_as(dst, (dst.size // F, F))
    except AttributeError:  # rows cannot be read in place: a product per leading index
        rows, out = src.reshape(*lead, m, K), timeloop.view_as(dst, (*lead, m, F))
    np.matmul(rows, w_ih, out=out)
    return dx
