"""The Module base: a flat ``params`` dict with PyTorch's names, and state-dict round trips."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..checks import check_dtype

__all__ = ["Module"]


class Module:
    """Base class: parameters live in ``self.params`` (name -> array), gradients in parallel dicts.

    A module holds no hidden state between calls: ``forward`` returns a cache and ``backward``
    takes it back, so the same module can serve several sequences at once.
    """

    def __init__(self, dtype=np.float32):
        self.dtype = check_dtype(dtype)
        self.params: dict[str, np.ndarray] = {}
        self.training = True

    # -- train / eval ------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Switch training mode (dropout on) or evaluation mode; returns ``self``."""
        self.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off); returns ``self``."""
        return self.train(False)

    # -- parameters --------------------------------------------------------------------------
    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return int(sum(p.size for p in self.params.values()))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters under PyTorch's names."""
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state: Mapping[str, np.ndarray], strict: bool = True) -> None:
        """Copy ``state`` into the parameters in place (optimizers keep their references).

        Missing, unexpected (when ``strict``) or wrongly shaped keys raise ``ValueError`` naming
        the key; values are cast to the module's dtype.
        """
        if not isinstance(state, Mapping):
            raise ValueError(f"state dict must be a mapping of name -> array, got {type(state).__name__}")
        missing = [k for k in self.params if k not in state]
        unexpected = [k for k in state if k not in self.params]
        if missing:
            raise ValueError(f"state dict is missing key(s) {missing} for {type(self).__name__}")
        if strict and unexpected:
            raise ValueError(f"state dict has unexpected key(s) {unexpected} for {type(self).__name__}")
        arrays = {}
        for k, p in self.params.items():
            v = np.asarray(state[k])
            if v.shape != p.shape:
                raise ValueError(f"state dict key {k!r} has shape {v.shape}, expected {p.shape}")
            if not np.issubdtype(v.dtype, np.number):
                raise ValueError(f"state dict key {k!r} has non-numeric dtype {v.dtype}")
            arrays[k] = v
        for k, v in arrays.items():  # validated first, so a bad dict changes nothing
            np.copyto(self.params[k], v, casting="unsafe")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        return ""
