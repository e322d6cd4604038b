"""Initialisers. Each takes an explicit ``numpy.random.Generator``; nothing touches global state."""

from __future__ import annotations

import numpy as np

from .checks import check_dtype, check_generator, check_real
from .checks import check_random_state as as_generator  # the name this module has always exported

__all__ = ["as_generator", "normal", "uniform"]


def uniform(shape: tuple[int, ...], bound: float, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Samples from U(-bound, bound), PyTorch's default for recurrent and linear weights."""
    bound, dtype = check_real("bound", bound, low=0.0), check_dtype(dtype)
    return check_generator(rng).uniform(-bound, bound, size=shape).astype(dtype)


def normal(shape: tuple[int, ...], std: float, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Samples from N(0, std**2) (PyTorch's default for embeddings uses std = 1)."""
    std, dtype = check_real("std", std, low=0.0), check_dtype(dtype)
    return (check_generator(rng).standard_normal(size=shape) * std).astype(dtype)
