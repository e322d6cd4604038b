"""Linear and Embedding layers with PyTorch's parameter names, shapes and initialisation."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..checks import check_flag, check_memory, check_random_state, check_size
from ..functional import index_add_rows, sum_rows
from ..init import normal, uniform
from . import workspace
from .module import Module, check_weights_fit

__all__ = ["Embedding", "EmbeddingCache", "Linear", "LinearCache", "embedding_param_shapes",
           "linear_param_shapes"]


class LinearCache(NamedTuple):
    """What ``Linear.backward`` needs from ``forward``."""

    x: np.ndarray  # (..., in) the input
    version: int  # the weights' version at forward (scratchrnn.nn.module)


class EmbeddingCache(NamedTuple):
    """What ``Embedding.backward`` needs from ``forward``."""

    ids: np.ndarray  # (...) the indices looked up
    version: int  # the weights' version at forward


def linear_param_shapes(in_features: int, out_features: int, bias: bool = True) -> dict[str, tuple[int, ...]]:
    """The parameter shapes of a ``Linear``, in its order: ``weight`` (out, in), ``bias`` (out,)."""
    shapes = {"weight": (check_size("out_features", out_features), check_size("in_features", in_features))}
    if check_flag("bias", bias):
        shapes["bias"] = shapes["weight"][:1]
    return shapes


def embedding_param_shapes(num_embeddings: int, embedding_dim: int) -> dict[str, tuple[int, ...]]:
    """The parameter shape of an ``Embedding``: ``weight`` (num_embeddings, embedding_dim)."""
    num, dim = check_size("num_embeddings", num_embeddings), check_size("embedding_dim", embedding_dim)
    return {"weight": (num, dim)}


def _check_output_memory(rows: int, width: int, dtype: np.dtype, what: str) -> None:
    check_memory(rows * width * dtype.itemsize, lambda: f"{what} of {rows:,} rows of {width:,}", "its output",
                 now=True)


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
        self.in_features = check_size("Linear in_features", in_features)
        self.out_features = check_size("Linear out_features", out_features)
        self.bias = check_flag("Linear bias", bias)
        gen = check_random_state(rng)
        shapes = linear_param_shapes(self.in_features, self.out_features, self.bias)
        check_weights_fit(shapes, self.dtype, f"Linear({self.in_features:,}, {self.out_features:,})")
        bound = 1.0 / np.sqrt(self.in_features)
        for name, shape in shapes.items():  # weight (O, I), bias (O,)
            self.params[name] = uniform(shape, bound, gen, self.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias}"

    def forward(self, x: np.ndarray):
        """x (..., in) -> y (..., out), cache (a ``LinearCache``)."""
        _check_input(x, self.in_features, self.dtype, "Linear layer")
        x2 = x.reshape(-1, self.in_features)  # (N, I)
        _check_output_memory(x2.shape[0], self.out_features, self.dtype, "Linear.forward")
        y = workspace.empty((x2.shape[0], self.out_features), self.dtype)  # (N, O)
        np.matmul(x2, self.params["weight"].T, out=y)
        if self.bias:
            y += self.params["bias"]
        return y.reshape(x.shape[:-1] + (self.out_features,)), LinearCache(x, self.params.version.value)

    def backward(self, dy: np.ndarray, cache: LinearCache, need_dx: bool = True):
        """dy (..., out) -> dx (..., in) (None unless ``need_dx``), grads."""
        if not isinstance(cache, LinearCache):
            raise ValueError(
                f"Linear.backward expects the cache returned by forward, got {type(cache).__name__}"
            )
        self.check_cache_version(cache.version)
        x = cache.x
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
            grads["bias"] = sum_rows(dy2)  # (O,)
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
        self.num_embeddings = check_size("Embedding num_embeddings", num_embeddings)
        self.embedding_dim = check_size("Embedding embedding_dim", embedding_dim)
        gen = check_random_state(rng)
        shapes = embedding_param_shapes(self.num_embeddings, self.embedding_dim)
        check_weights_fit(shapes, self.dtype, f"Embedding({self.num_embeddings:,}, {self.embedding_dim:,})")
        self.params["weight"] = normal(shapes["weight"], 1.0, gen, self.dtype)  # (V, E)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"

    def forward(self, idx: np.ndarray):
        """Integer indices of any shape -> vectors ``idx.shape + (embedding_dim,)``, cache (an
        ``EmbeddingCache``)."""
        idx = np.asarray(idx)
        if idx.dtype.kind not in "iu":  # signed or unsigned integers (not bool)
            raise ValueError(f"Embedding expects integer indices, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise ValueError(
                f"Embedding indices must lie in [0, {self.num_embeddings}), "
                f"got values in [{idx.min()}, {idx.max()}]"
            )
        _check_output_memory(idx.size, self.embedding_dim, self.dtype, "Embedding.forward")
        return self.params["weight"][idx], EmbeddingCache(idx, self.params.version.value)  # (..., E)

    def backward(self, dy: np.ndarray, cache: EmbeddingCache):
        """dy (..., E) -> grads; rows that share an index accumulate."""
        if not isinstance(cache, EmbeddingCache):
            raise ValueError(
                f"Embedding.backward expects the cache returned by forward, got {type(cache).__name__}"
            )
        self.check_cache_version(cache.version)
        shape = cache.ids.shape + (self.embedding_dim,)
        if not isinstance(dy, np.ndarray) or dy.shape != shape:
            got = dy.shape if isinstance(dy, np.ndarray) else type(dy).__name__
            raise ValueError(f"Embedding.backward: dy must have the output's shape {shape}, got {got}")
        dw = index_add_rows(cache.ids, dy.reshape(-1, self.embedding_dim), self.num_embeddings)  # (V, E)
        return None, {"weight": dw}
