"""The optimizer base class, its state-dict format and the checks every optimizer shares.

Parameters and gradients are dicts parallel to each other (a model's ``params`` and the
``grads`` its backward pass returns). An optimizer keeps references to the parameter arrays and
updates them *in place*; it never knows what a layer is, and it never writes into ``grads``.

Every optimizer has ``step(grads)``, a settable ``lr`` (schedules change it) and a
``state_dict()`` / ``load_state_dict(state)`` pair. The state dict is::

    {
        "type": "Adam",                       # class name, checked on load
        "hyper": {"lr": 0.001, ...},          # JSON scalars: int, float, str, bool, None
        "step": 12,                           # number of step() calls so far
        "buffers": {                          # per-parameter state, arrays parallel to params
            "exp_avg": {"weight": ndarray, ...},
            ...
        },
    }

so a checkpoint stores it as it is (``scratchrnn.io.save_checkpoint`` puts the arrays in ``.npy``
members and the rest in its JSON tree). Loading restores the optimizer bit for bit: ten steps,
save, load into a fresh optimizer, ten more steps gives the same arrays as twenty straight steps.

Given a module's ``params`` (a ``scratchrnn.nn.module.Parameters``), each ``step`` bumps the
weights' version, so the layers refuse a cache made before the step (``scratchrnn.nn.module``).
The buffers are sized from the parameters and refused before they are made when this machine's
available memory could not hold them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import ClassVar

import numpy as np

from ..checks import FLOAT_DTYPES, check_int, check_memory, check_real, format_bytes
from ..nn import workspace
from ..nn.module import Parameters

__all__ = [
    "Optimizer",
    "check_lr",
    "decayed_grad",
]


# -- validation helpers --------------------------------------------------------------------------
def _check_params(params) -> dict[str, np.ndarray]:
    """A shallow copy of the dict: the same arrays (updated in place), a fixed key order."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of name -> numpy array, got {type(params).__name__}")
    if not params:
        raise ValueError("params is empty; the optimizer needs at least one parameter array")
    for k, p in params.items():
        if not isinstance(k, str):
            raise ValueError(f"parameter names must be strings, got {k!r}")
        if not isinstance(p, np.ndarray):
            raise ValueError(f"parameter {k!r} must be a numpy array, got {type(p).__name__}")
        if p.dtype not in FLOAT_DTYPES:
            raise ValueError(f"parameter {k!r} has dtype {p.dtype}, expected float32 or float64")
        if not p.flags.writeable:
            raise ValueError(f"parameter {k!r} is read-only; the optimizer updates parameters in place")
    return dict(params)


def _check_grads(grads, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Gradients keyed exactly like ``params`` with matching shapes, cast to the parameter dtype."""
    if not isinstance(grads, Mapping):
        raise ValueError(f"grads must be a dict of name -> numpy array, got {type(grads).__name__}")
    missing = [k for k in params if k not in grads]
    if missing:
        raise ValueError(f"grads is missing key(s) {missing}; expected the parameter names {list(params)}")
    unexpected = [k for k in grads if k not in params]
    if unexpected:
        raise ValueError(
            f"grads has unexpected key(s) {unexpected}; expected the parameter names {list(params)}"
        )
    out = {}
    for k, p in params.items():
        g = np.asarray(grads[k])
        if g.shape != p.shape:
            raise ValueError(f"grad {k!r} has shape {g.shape}, the parameter has shape {p.shape}")
        if not (np.issubdtype(g.dtype, np.floating) or np.issubdtype(g.dtype, np.integer)):
            raise ValueError(f"grad {k!r} has non-numeric dtype {g.dtype}, expected a float array")
        out[k] = g.astype(p.dtype, copy=False)  # never written to: it may be the caller's array
    return out


def check_lr(value) -> float:
    """A learning rate as a ``float``: a finite real number >= 0, else ValueError naming ``lr``."""
    return check_real("lr", value, low=0.0)


def decayed_grad(g: np.ndarray, p: np.ndarray, weight_decay: float) -> np.ndarray:
    """``g + weight_decay * p`` (the L2 penalty's gradient added) in a workspace array, computed as
    that formula is, so with the same bits. Neither ``g`` nor ``p`` is written to."""
    out = np.multiply(p, weight_decay, out=workspace.empty(p.shape, p.dtype))  # (same shape as p)
    return np.add(g, out, out=out)


# -- the optimizer base ---------------------------------------------------------------------------
class Optimizer:
    """Base class: keeps ``params`` (the caller's arrays), a frozen ``config``, the current ``lr``,
    a step counter and ``buffers[buffer_name][param_name]`` arrays shaped like the parameters.

    Subclasses set ``Config`` (a frozen dataclass of scalars), list their buffers in
    ``_buffer_names`` and implement ``_update(p, g, bufs)`` for one parameter.
    """

    Config: ClassVar[type]
    _lr_field: ClassVar[str] = "lr"  # the config field that ``lr`` reads and writes

    def __init__(self, params: Mapping[str, np.ndarray], config):
        self.params = _check_params(params)
        # the version every step bumps: a module's params carry one, a plain dict does not
        self.version = params.version if isinstance(params, Parameters) else None
        self.config = config
        self.lr = getattr(config, self._lr_field)
        self.step_count = 0
        names = self._buffer_names()
        size = sum(p.nbytes for p in self.params.values())
        check_memory(len(names) * size, f"{type(self).__name__} over {format_bytes(size)} of parameters",
                     f"its buffers ({', '.join(names)}: one of each per parameter)", now=True)
        self.buffers = {b: {k: self._init_buffer(b, p) for k, p in self.params.items()} for b in names}

    # -- learning rate -----------------------------------------------------------------------
    @property
    def lr(self) -> float:
        """The learning rate used by the next ``step``; schedules set it."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = check_lr(value)

    # -- hooks for subclasses ----------------------------------------------------------------
    def _buffer_names(self) -> tuple[str, ...]:
        return ()

    def _init_buffer(self, name: str, p: np.ndarray) -> np.ndarray:
        return np.zeros_like(p)  # same shape and dtype as the parameter

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def _begin_step(self) -> None:
        """Called once per step, after ``step_count`` goes up and before the updates: where an
        optimizer computes what every parameter's update of this step shares."""

    # -- public API --------------------------------------------------------------------------
    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        """Update every parameter in place from ``grads`` (same keys and shapes as ``params``)."""
        checked = _check_grads(grads, self.params)
        self.step_count += 1
        self._begin_step()
        for k, p in self.params.items():
            self._update(p, checked[k], {b: bufs[k] for b, bufs in self.buffers.items()})
        if self.version is not None:
            self.version.bump()  # caches made before this step are now stale

    def hyper(self) -> dict:
        """The hyperparameters as JSON scalars, with the current learning rate."""
        h = asdict(self.config)
        h[self._lr_field] = self.lr
        return h

    def state_dict(self) -> dict:
        """``{"type", "hyper", "step", "buffers": {buffer: {param: array copy}}}``; see the module doc."""
        return {
            "type": type(self).__name__,
            "hyper": self.hyper(),
            "step": self.step_count,
            "buffers": {b: {k: v.copy() for k, v in bufs.items()} for b, bufs in self.buffers.items()},
        }

    def load_state_dict(self, state: Mapping) -> None:
        """Restore hyperparameters, step count and buffers (copied, cast to the parameter dtypes).

        Everything is validated before anything changes, so a bad state leaves the optimizer intact.
        """
        if not isinstance(state, Mapping):
            raise ValueError(f"optimizer state must be a dict, got {type(state).__name__}")
        expected_keys = {"type", "hyper", "step", "buffers"}
        if set(state) != expected_keys:
            raise ValueError(f"optimizer state has keys {sorted(state)}, expected {sorted(expected_keys)}")
        if state["type"] != type(self).__name__:
            raise ValueError(
                f"optimizer state is for {state['type']!r}, this optimizer is {type(self).__name__!r}"
            )
        hyper = state["hyper"]
        names = [f.name for f in fields(self.Config)]
        if not isinstance(hyper, Mapping) or set(hyper) != set(names):
            got = sorted(hyper) if isinstance(hyper, Mapping) else type(hyper).__name__
            raise ValueError(f"optimizer state 'hyper' has keys {got}, expected {sorted(names)}")
        config = self.Config(**hyper)
        step = state["step"]
        step = check_int("optimizer state 'step'", step, low=0)

        old_config = self.config
        self.config = config  # the buffer set can depend on the hyperparameters
        try:
            wanted = self._buffer_names()
        finally:
            self.config = old_config
        bufs = state["buffers"]
        if not isinstance(bufs, Mapping) or set(bufs) != set(wanted):
            got = sorted(bufs) if isinstance(bufs, Mapping) else type(bufs).__name__
            raise ValueError(f"optimizer state 'buffers' has {got}, expected {sorted(wanted)}")
        new_buffers = {}
        for b in wanted:
            per_param = bufs[b]
            if not isinstance(per_param, Mapping) or set(per_param) != set(self.params):
                got = sorted(per_param) if isinstance(per_param, Mapping) else type(per_param).__name__
                raise ValueError(f"optimizer buffer {b!r} has keys {got}, expected {sorted(self.params)}")
            new_buffers[b] = {}
            for k, p in self.params.items():
                v = np.asarray(per_param[k])
                if v.shape != p.shape:
                    raise ValueError(
                        f"optimizer buffer {b!r} for {k!r} has shape {v.shape}, expected {p.shape}"
                    )
                if not np.issubdtype(v.dtype, np.number):
                    raise ValueError(f"optimizer buffer {b!r} for {k!r} has non-numeric dtype {v.dtype}")
                new_buffers[b][k] = v.astype(p.dtype, copy=True)  # (same shape as the parameter)
        self.config = config
        self.lr = getattr(config, self._lr_field)
        self.step_count = int(step)
        self.buffers = new_buffers

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self.hyper().items())
        return f"{type(self).__name__}({body})"
