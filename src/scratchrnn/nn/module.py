"""The Module base: a flat ``params`` dict with PyTorch's names, and state-dict round trips.

Versions of the weights
-----------------------
``params`` is a :class:`Parameters` dict, which carries a :class:`ParamVersion`: a counter that
``load_state_dict`` and every optimizer step (``scratchrnn.optim``) bump after changing the arrays
in place. A model and its layers share one counter. ``forward`` writes the version into the cache
it returns, and ``backward`` refuses a cache whose version is not the current one (as PyTorch
refuses a graph whose saved tensors were modified in place): the gradients of a cache made with
older weights would be silently wrong. The check is one integer comparison per ``backward``;
nothing is hashed or copied. Writes into the arrays by hand (``params["w"][...] = 0``) are not
seen: call ``params.version.bump()`` after them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..checks import check_dtype, check_flag, check_memory

__all__ = ["Module", "ParamVersion", "Parameters", "check_weights_fit"]


class ParamVersion:
    """How many times a set of parameter arrays has been changed in place (``value``, from 0)."""

    def __init__(self):
        self.value = 0

    def bump(self) -> None:
        """Record a change of the arrays: caches made before it are refused by ``backward``."""
        self.value += 1

    def __repr__(self) -> str:
        return f"ParamVersion({self.value})"


class Parameters(dict):
    """A module's ``params``: a dict name -> array with the :class:`ParamVersion` of its arrays.

    Optimizers given a ``Parameters`` bump its version after each step; ``dict(params)`` or any
    other copy is a plain dict, whose changes nobody records.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.version = ParamVersion()


def check_weights_fit(shapes: Mapping[str, tuple[int, ...]], dtype, what: str) -> int:
    """The bytes of weights of ``shapes`` in ``dtype``; a ValueError (``checks.check_memory``) if
    they would not fit in this machine's memory. Called before anything is allocated."""
    dtype = check_dtype(dtype)
    count = sum(math.prod(shape) for shape in shapes.values())
    return check_memory(count * dtype.itemsize, what, f"its {count:,} weights ({dtype}, gradients and "
                                                      "optimizer state not counted)")


class Module:
    """Base class: parameters live in ``self.params`` (name -> array), gradients in parallel dicts.

    A module holds no hidden state between calls: ``forward`` returns a cache and ``backward``
    takes it back, so the same module can serve several sequences at once.
    """

    def __init__(self, dtype=np.float32):
        self.dtype = check_dtype(dtype)
        self.params: Parameters = Parameters()
        self.training = True

    # -- train / eval ------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Switch training mode (dropout on) or evaluation mode; returns ``self``."""
        self.training = check_flag("mode", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off); returns ``self``."""
        return self.train(False)

    # -- parameters --------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """The version of the weights (module docstring): 0 when made, one more per change."""
        return self.params.version.value

    def check_cache_version(self, made: int) -> None:
        """Refuse a cache made with version ``made`` of the weights when they have changed since."""
        now = self.params.version.value
        if made != now:
            raise ValueError(
                f"{type(self).__name__}.backward: this cache was made with older weights (version {made}, "
                f"now {now}): run forward again after load_state_dict or an optimizer step"
            )

    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return int(sum(p.size for p in self.params.values()))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters under PyTorch's names."""
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state: Mapping[str, np.ndarray], strict: bool = True) -> None:
        """Copy ``state`` into the parameters in place (optimizers keep their references).

        Missing, unexpected (when ``strict``) or wrongly shaped keys raise ``ValueError`` naming
        the key; values are cast to the module's dtype. The weights' version goes up by one, so
        caches made before are refused by ``backward``.
        """
        strict = check_flag("strict", strict)
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
        self.params.version.bump()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        return ""
