"""Initialisers. Each takes an explicit ``numpy.random.Generator``; nothing touches global state."""

from __future__ import annotations

import numpy as np

__all__ = ["as_generator", "normal", "orthogonal", "uniform", "xavier_uniform"]


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Return ``rng`` itself, or a new Generator seeded with the integer (or OS entropy for ``None``)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def uniform(shape: tuple[int, ...], bound: float, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Samples from U(-bound, bound), PyTorch's default for recurrent and linear weights."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def normal(shape: tuple[int, ...], std: float, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Samples from N(0, std**2) (PyTorch's default for embeddings uses std = 1)."""
    return (rng.standard_normal(size=shape) * std).astype(dtype)


def xavier_uniform(shape: tuple[int, int], rng: np.random.Generator, gain: float = 1.0, dtype=np.float32):
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))`` for a (out, in) matrix."""
    fan_out, fan_in = shape
    bound = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, bound, rng, dtype)


def orthogonal(shape: tuple[int, int], rng: np.random.Generator, gain: float = 1.0, dtype=np.float32):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, signs fixed by diag(R)."""
    rows, cols = shape
    a = rng.standard_normal(size=(max(rows, cols), min(rows, cols)))  # (max, min)
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the decomposition unique, as in Saxe et al. (2014)
    if rows < cols:
        q = q.T
    return (gain * q[:rows, :cols]).astype(dtype)
