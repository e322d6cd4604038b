"""Linear and Embedding layers with PyTorch's parameter names, shapes and initialisation."""

from __future__ import annotations

import numpy as np

from ..checks import check_int, check_random_state
from ..functional import index_add_rows
from ..init import normal, uniform
from . import workspace
from .module import Module

__all__ = ["Embedding", "Linear"]


def _check_input(x, features: int, dtype: np.dtype, what: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{what} expects a numpy array, got {type(x).__name__}")
    if x.ndim < 1:
        raise ValueError(f"{what} expects an input with a feature axis, got a 0-D array")
    if x.shape[-1] != features:
        raise ValueError(f"input has {x.shape[-1]} features, the {what} expects {features}")
    if x.dtype != dtype:
        raise ValueError(
            f"input has dtype {x.dtype}, the {what}'s weights are {dtype}; "
            f"convert the input with .astype(np.{dtype}) or build the layer with dtype=np.{x.dtype}"
        )
    return x


class Linear(Module):
    """``y = x W^T + b`` over the last axis; ``weight`` is (out, in), ``bias`` is (out,).

    Initialised like ``torch.nn.Linear``: U(-1/sqrt(in), 1/sqrt(in)) for both.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32, rng=None):
        super().__init__(dtype)
        self.in_features = check_int("Linear in_features", in_features, low=1)
        self.out_features = check_int("Linear out_features", out_features, low=1)
        self.bias = bool(bias)
        gen = check_random_state(rng)
        bound = 1.0 / np.sqrt(in_features)
        self.params["weight"] = uniform((out_features, in_features), bound, gen, self.dtype)  # (O, I)
        if bias:
            self.params["bias"] = uniform((out_features,), bound, gen, self.dtype)  # (O,)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias}"

    def forward(self, x: np.ndarray):
        """x (..., in) -> y (..., out), cache."""
        _check_input(x, self.in_features, self.dtype, "Linear layer")
        x2 = x.reshape(-1, self.in_features)  # (N, I)
        y = workspace.empty((x2.shape[0], self.out_features), self.dtype)  # (N, O)
        np.matmul(x2, self.params["weight"].T, out=y)
        if self.bias:
            y += self.params["bias"]
        return y.reshape(x.shape[:-1] + (self.out_features,)), x

    def backward(self, dy: np.ndarray, cache, need_dx: bool = True):
        """dy (..., out) -> dx (..., in) (None unless ``need_dx``), grads."""
        x = cache
        shape = x.shape[:-1] + (self.out_features,)
        if not isinstance(dy, np.ndarray) or dy.shape != shape:
            got = dy.shape if isinstance(dy, np.ndarray) else type(dy).__name__
            raise ValueError(f"Linear.backward: dy must have the output's shape {shape}, got {got}")
        if dy.dtype != self.dtype:
            raise ValueError(
                f"Linear.backward: dy has dtype {dy.dtype}, the layer's weights are {self.dtype}"
            )
        x2 = x.reshape(-1, self.in_features)  # (N, I)
        dy2 = dy.reshape(-1, self.out_features)  # (N, O)
        dw = workspace.empty((self.out_features, self.in_features), self.dtype)  # (O, I)
        grads = {"weight": np.matmul(dy2.T, x2, out=dw)}
        if self.bias:
            grads["bias"] = dy2.sum(axis=0)  # (O,)
        dx = None
        if need_dx:
            dx = workspace.empty((dy2.shape[0], self.in_features), self.dtype)  # (N, I)
            np.matmul(dy2, self.params["weight"], out=dx)
            dx = dx.reshape(x.shape)  # (..., I)
        return dx, grads


class Embedding(Module):
    """A lookup table ``weight`` (num_embeddings, embedding_dim) initialised N(0, 1) like PyTorch."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype=np.float32, rng=None):
        super().__init__(dtype)
        self.num_embeddings = check_int("Embedding num_embeddings", num_embeddings, low=1)
        self.embedding_dim = check_int("Embedding embedding_dim", embedding_dim, low=1)
        shape = (self.num_embeddings, self.embedding_dim)
        self.params["weight"] = normal(shape, 1.0, check_random_state(rng), self.dtype)  # (V, E)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"

    def forward(self, idx: np.ndarray):
        """Integer indices of any shape -> vectors ``idx.shape + (embedding_dim,)``, cache."""
        idx = np.asarray(idx)
        if not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"Embedding expects integer indices, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise ValueError(
                f"Embedding indices must lie in [0, {self.num_embeddings}), "
                f"got values in [{idx.min()}, {idx.max()}]"
            )
        return self.params["weight"][idx], idx  # (..., E)

    def backward(self, dy: np.ndarray, cache):
        """dy (..., E) -> grads; rows that share an index accumulate."""
        dw = index_add_rows(cache, dy.reshape(-1, self.embedding_dim), self.num_embeddings)  # (V, E)
        return None, {"weight": dw}
