"""The machinery shared by the RNN, LSTM and GRU: multi-layer, optionally bidirectional stacks.

Conventions (shared by RNN, LSTM and GRU)
-----------------------------------------
Arrays are time-major, ``x`` is (T, B, F); ``batch_first=True`` swaps the first two axes at the
edge only. Parameters use PyTorch's names and shapes: ``weight_ih_l{k}`` (G*H, in),
``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,), suffix ``_reverse`` for
the backward direction. Layer k > 0 reads the concatenated outputs of layer k-1, (T, B, D*H).

What a cell writes, and what is shared
-------------------------------------
``RecurrentBase`` runs the layers and directions (the reverse direction on time-flipped arrays;
with lengths each sequence reversed within its own length, ``scratchrnn.nn.lengths``, and the batch
run in time segments, ``scratchrnn.nn.segments``),
validates inputs and states, applies dropout between layers and carries gradients down the stack,
per offset when BPTT is truncated (``scratchrnn.nn.timeloop`` explains offsets). A cell writes only
what is its own: ``_direction_forward`` (prepare one layer and direction's weights, loop over the
steps with its step function, return its cache), ``_backward_steps`` (its
``timeloop.StepBackward`` built from that cache), ``_direction_states`` (every step's state from the
cache), and for the stepper ``prepare_step``, ``layer_step`` and ``layer_scan``
(``scratchrnn.nn.stepper``). The
plain loops that define all of it are ``scratchrnn.nn.reference``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..checks import (
    MAX_LAYERS,
    check_flag,
    check_memory,
    check_probability,
    check_random_state,
    check_size,
    check_truncate,
)
from ..init import uniform
from . import segments, timeloop, workspace
from .lengths import Lengths, reverse_time
from .module import Module, check_weights_fit
from .stepper import RecurrentStepper

__all__ = ["ParamNames", "RecurrentBase", "recurrent_param_shapes"]


def recurrent_param_shapes(gates: int, input_size: int, hidden_size: int, num_layers: int = 1,
                           bias: bool = True, bidirectional: bool = False) -> dict[str, tuple[int, ...]]:
    """The parameter shapes of a recurrent stack with ``gates`` gates per cell (1 RNN, 3 GRU,
    4 LSTM), in the order the layer makes them: per layer, per direction, ``weight_ih`` (G*H, in),
    ``weight_hh`` (G*H, H), then ``bias_ih`` and ``bias_hh`` (G*H,). Layer k > 0 reads D*H features."""
    G, H = check_size("gates", gates), check_size("hidden_size", hidden_size)
    input_size = check_size("input_size", input_size)
    num_layers = check_size("num_layers", num_layers, limit=MAX_LAYERS)
    bias, D = check_flag("bias", bias), 2 if check_flag("bidirectional", bidirectional) else 1
    shapes = {}
    for layer in range(num_layers):
        in_size = input_size if layer == 0 else H * D
        for suffix in ("", "_reverse")[:D]:
            shapes[f"weight_ih_l{layer}{suffix}"] = (G * H, in_size)
            shapes[f"weight_hh_l{layer}{suffix}"] = (G * H, H)
            if bias:
                shapes[f"bias_ih_l{layer}{suffix}"] = (G * H,)
                shapes[f"bias_hh_l{layer}{suffix}"] = (G * H,)
    return shapes


class ParamNames(NamedTuple):
    """The parameter names of one layer and direction, e.g. ``weight_ih_l1_reverse``."""

    weight_ih: str
    weight_hh: str
    bias_ih: str
    bias_hh: str


@dataclass
class _Cache:
    """What ``backward`` needs from ``forward``; returned to the caller, never kept on the module."""

    T: int
    B: int
    layers: list  # per layer: list over directions of the cell's own cache
    masks: list  # per layer below the top: dropout mask (steps, B, D*H) or None
    version: int  # the weights' version at forward (scratchrnn.nn.module)
    lengths: Lengths | None = None  # the batch's sequence lengths (the layers ran lengths.steps steps)
    # with segments (scratchrnn.nn.segments): how the layers ran the batch (longest first), or None
    plan: segments.Plan | None = None


class RecurrentBase(Module):
    """Stacking, directions, validation and truncation bookkeeping shared by RNN, LSTM and GRU.

    Subclasses set ``GATES`` and ``STATE_ARITY`` (1 for h, 2 for (h, c)) and implement the hooks
    at the end of the class for one layer in one direction, written as if time ran forwards: the
    reverse direction is run on time-flipped arrays, or with lengths on each sequence reversed
    within its length (module docstring).
    """

    GATES = 1
    STATE_ARITY = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype=np.float32,
        rng=None,
    ):
        super().__init__(dtype)
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = check_size("hidden_size", hidden_size)
        self.num_layers = check_size("num_layers", num_layers, limit=MAX_LAYERS)
        self.dropout = check_probability("dropout", dropout)
        self.bias = check_flag("bias", bias)
        self.batch_first = check_flag("batch_first", batch_first)
        self.bidirectional = check_flag("bidirectional", bidirectional)
        self.num_directions = 2 if self.bidirectional else 1
        gen = check_random_state(rng)
        H, G, D = self.hidden_size, self.GATES, self.num_directions
        shapes = recurrent_param_shapes(G, self.input_size, H, self.num_layers, self.bias, self.bidirectional)
        check_weights_fit(shapes, self.dtype, f"{self._name()}(input_size={self.input_size:,}, "
                                              f"hidden_size={H:,}, num_layers={self.num_layers:,}"
                                              f"{', bidirectional' if self.bidirectional else ''})")
        # Floats per sequence step and batch entry of the arrays a forward pass makes (each layer
        # and direction's input above the first, gates and states, about G + 3 per unit; dense
        # input adds its features per direction): what forward checks against the memory
        # available before it starts.
        self._step_floats = D * (self.num_layers * (G + 3) * H + (self.num_layers - 1) * D * H)
        # Dropout masks are drawn from a generator spawned off the initialisation one, so a seed
        # fixes both; forward(..., rng=) overrides it for callers that manage their own streams.
        self._dropout_rng = gen.spawn(1)[0]
        self._names = {  # (layer, suffix) -> ParamNames, made once: backward passes look them up
            (layer, suffix): ParamNames(*(f"{k}_l{layer}{suffix}" for k in ParamNames._fields))
            for layer in range(self.num_layers) for suffix in self._suffixes()
        }
        bound = 1.0 / np.sqrt(H)  # PyTorch: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))
        for name, shape in shapes.items():  # in the order PyTorch makes them (recurrent_param_shapes)
            self.params[name] = uniform(shape, bound, gen, self.dtype)

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse")[: self.num_directions]

    def param_names(self, layer: int, suffix: str = "") -> ParamNames:
        """The names of one layer and direction's parameters (``suffix`` "" or "_reverse")."""
        return self._names[layer, suffix]

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        if not self.bias:
            parts.append("bias=False")
        if self.batch_first:
            parts.append("batch_first=True")
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        if self.bidirectional:
            parts.append("bidirectional=True")
        parts.append(f"dtype={self.dtype}")
        return ", ".join(parts)

    # -- validation --------------------------------------------------------------------------
    def _name(self) -> str:
        return type(self).__name__

    def _check_input(self, x, lengths=None) -> tuple[np.ndarray, Lengths | None]:
        """x as (T, B, F) floats or (T, B) token ids, and its ``Lengths`` (None without lengths);
        token ids are checked inside the lengths only."""
        layout = "(B, T, F)" if self.batch_first else "(T, B, F)"
        if not isinstance(x, np.ndarray):
            raise ValueError(f"{self._name()} expects a numpy array {layout}, got {type(x).__name__}")
        if x.dtype.kind in "iu":  # token ids standing for one-hot vectors of size input_size
            if x.ndim != 2:
                ids = "(B, T)" if self.batch_first else "(T, B)"
                raise ValueError(
                    f"{self._name()} reads integer input as {ids} token ids, got a {x.ndim}-D {x.dtype} "
                    f"array of shape {x.shape}; pass features {layout} as {self.dtype}, the layer's dtype"
                )
            if x.size == 0:
                raise ValueError(
                    f"{self._name()} input must have at least one step and one sequence, got {x.shape}"
                )
            x = x.T if self.batch_first else x  # (T, B)
            seq = None if lengths is None else Lengths(lengths, x.shape[1], x.shape[0])
            ids = x if seq is None else x[: seq.steps][seq.valid]
            if ids.min() < 0 or ids.max() >= self.input_size:
                padding = "" if seq is None else " inside the lengths"
                raise ValueError(
                    f"token ids{padding} must lie in [0, {self.input_size}) (the input size), "
                    f"got values in [{ids.min()}, {ids.max()}]"
                )
            return x, seq
        if x.ndim != 3:
            raise ValueError(
                f"{self._name()} expects a 3-D input {layout}, got a {x.ndim}-D array of shape {x.shape}"
            )
        if x.shape[2] != self.input_size:
            raise ValueError(f"input has {x.shape[2]} features, the {self._name()} expects {self.input_size}")
        if x.dtype != self.dtype:
            raise ValueError(
                f"input has dtype {x.dtype}, the {self._name()}'s weights are {self.dtype}; convert the "
                f"input with .astype(np.{self.dtype}) or build the layer with dtype=np.{x.dtype}"
            )
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(
                f"{self._name()} input {layout} must have at least one step and one sequence, got {x.shape}"
            )
        x = x.transpose(1, 0, 2) if self.batch_first else x  # (T, B, F)
        return x, None if lengths is None else Lengths(lengths, x.shape[1], x.shape[0])

    def state_shape(self, B: int) -> tuple[int, int, int]:
        """The shape (L*D, B, H) of each array of a state (h0, h_n, c0, c_n) for a batch of B."""
        return (self.num_layers * self.num_directions, B, self.hidden_size)

    def _check_states(self, state, B: int, what: str) -> tuple[np.ndarray, ...] | None:
        """Validate an initial state (or its gradient) and return it as a tuple of arrays."""
        if state is None:
            return None
        shape = self.state_shape(B)
        if self.STATE_ARITY == 1:
            if isinstance(state, (tuple, list)):
                raise ValueError(
                    f"{self._name()} expects {what} as a single array of shape {shape}, "
                    f"got a {type(state).__name__}"
                )
            parts = (state,)
        else:
            if not isinstance(state, (tuple, list)) or len(state) != self.STATE_ARITY:
                got = f"a {type(state).__name__}"
                if isinstance(state, (tuple, list)):
                    got += f" of length {len(state)}"
                raise ValueError(
                    f"{self._name()} expects {what} as a tuple (h, c) of arrays of shape {shape}, got {got}"
                )
            parts = tuple(state)
        for p in parts:
            if not isinstance(p, np.ndarray):
                raise ValueError(
                    f"{self._name()} {what} must be a numpy array of shape {shape}, got {type(p).__name__}"
                )
            if p.shape != shape:
                raise ValueError(
                    f"{self._name()} {what} has shape {p.shape}, expected {shape} "
                    "(layers*directions, batch, hidden)"
                )
            if p.dtype != self.dtype:
                raise ValueError(
                    f"{self._name()} {what} has dtype {p.dtype}, the layer's weights are {self.dtype}"
                )
        return parts

    def _wrap_state(self, parts):
        return parts[0] if self.STATE_ARITY == 1 else tuple(parts)

    def initial_state(self, batch_size: int):
        """A zero state for a batch: (L*D, B, H), or a tuple (h, c) of them for an LSTM."""
        B = check_size("batch_size", batch_size)
        zeros = tuple(np.zeros(self.state_shape(B), self.dtype) for _ in range(self.STATE_ARITY))
        return self._wrap_state(zeros)

    # -- forward -----------------------------------------------------------------------------
    def forward(self, x: np.ndarray, h0=None, rng: np.random.Generator | None = None, lengths=None):
        """Run the whole sequence.

        x: (T, B, F) (or (B, T, F) with ``batch_first``); h0: (L*D, B, H), a tuple (h0, c0) for an
        LSTM, or None for zeros. Returns ``out`` (T, B, D*H), ``h_n`` (L*D, B, H) (a tuple for an
        LSTM) and the cache for ``backward``. Dropout between layers applies in training mode
        only, with masks drawn from ``rng`` (a Generator or an int seed; default: the layer's own
        generator).

        ``lengths`` (B,) integers in [1, T], or None: sequence b is ``x[:lengths[b], b]`` and the
        rest padding, as with PyTorch's ``pack_padded_sequence``: ``out`` is zero past each length,
        ``h_n`` is each sequence's state after its own last step, and a reverse direction starts at
        each sequence's last step (``scratchrnn.nn.lengths``).
        """
        x, seq = self._check_input(x, lengths)  # (T, B, F)
        T, B = x.shape[:2]
        if seq is not None and seq.full:
            seq = None  # every sequence has the padded length: the plain run is the same computation
        floats = self._step_floats + (0 if x.dtype.kind in "iu" else self.num_directions * self.input_size)
        check_memory(T * B * floats * self.dtype.itemsize,  # the message is made only if refused
                     lambda: f"{self._name()}.forward over {T:,} steps of a batch of {B:,}",
                     "its activations", now=True)
        D = self.num_directions
        states0 = self._check_states(h0, B, "h0")
        if states0 is None:
            states0 = tuple(np.zeros(self.state_shape(B), self.dtype) for _ in range(self.STATE_ARITY))
        plan = None if seq is None else segments.make_plan(seq)
        order = None if plan is None else plan.order
        if order is not None:  # the layers run the batch longest first (scratchrnn.nn.segments)
            seq = Lengths(seq.lengths[order], B, T)
            states0 = tuple(s[:, order] for s in states0)
        states_n = tuple(np.empty(self.state_shape(B), self.dtype) for _ in range(self.STATE_ARITY))
        drop = self.dropout if self.training else 0.0
        gen = self._dropout_rng if rng is None else check_random_state(rng)
        if plan is not None:  # (steps, B, F) sorted, the padding the segments read replaced
            layer_in = segments.sorted_copy(x, plan, seq.steps)
            segments.clear_padding(layer_in, plan.padding, layer_in[0] if x.dtype.kind in "iu" else None)
        else:
            layer_in = np.ascontiguousarray(x) if seq is None else seq.input(x)  # (steps, B, F)
        caches, masks = [], []
        for layer in range(self.num_layers):
            outs, dir_caches = [], []
            for d, suffix in enumerate(self._suffixes()):
                i = layer * D + d
                xin = layer_in if d == 0 else reverse_time(layer_in, seq)  # (steps, B, F)
                state0 = tuple(s[i] for s in states0)
                if plan is not None:  # the rows still running, segment by segment
                    run = functools.partial(self._direction_forward, layer, suffix)
                    out, st_n, cache = segments.forward(run, self._direction_states, xin, state0, seq, plan)
                else:
                    out, st_n, cache = self._direction_forward(layer, suffix, xin, state0)
                if seq is not None and plan is None:  # each sequence's state after its own last step
                    st_n = tuple(seq.final(a) for a in self._direction_states(cache))
                for s, v in zip(states_n, st_n, strict=True):
                    s[i] = v
                outs.append(out if d == 0 else reverse_time(out, seq, contiguous=False))  # (steps, B, H)
                dir_caches.append(cache)
            layer_out = outs[0] if D == 1 else np.concatenate(outs, axis=2)  # (T, B, D*H)
            mask = None
            if drop > 0.0 and layer < self.num_layers - 1:
                keep = gen.random(layer_out.shape) >= drop  # (T, B, D*H)
                mask = keep.astype(self.dtype) / self.dtype.type(1.0 - drop)
                layer_out = layer_out * mask
            caches.append(dir_caches)
            masks.append(mask)
            layer_in = layer_out
        if plan is not None:  # (T, B, D*H) in the caller's order, zero past each length already
            layer_in = segments.restored(layer_in, plan, T)
        elif seq is not None:
            layer_in = seq.padded(layer_in)  # (T, B, D*H), zeros past each length
        elif not layer_in.flags.c_contiguous:  # a cell's output view (the LSTM's)
            layer_in = workspace.copy(layer_in)  # (T, B, D*H)
        if order is not None:  # the final states back in the caller's order
            undo = np.argsort(order)
            states_n = tuple(s[:, undo] for s in states_n)
        out = layer_in.transpose(1, 0, 2) if self.batch_first else layer_in.view()
        # ``out`` may share memory with the cache that backward reads (the RNN's and GRU's hidden
        # states are their caches): writing into it would silently corrupt the gradients, so it is
        # handed out read-only (copy it to modify it).
        out.flags.writeable = False
        cache = _Cache(T, B, caches, masks, self.params.version.value, seq, plan)
        return out, self._wrap_state(states_n), cache

    __call__ = forward

    # -- backward ----------------------------------------------------------------------------
    def backward(self, dout, dh_n, cache: _Cache, truncate: int | None = None):
        """Backpropagation through time.

        dout: gradient of the loss w.r.t. ``out`` (same shape) or None; dh_n: w.r.t. ``h_n`` (a
        tuple for an LSTM, entries may be None) or None. ``truncate=k`` gives the exact gradient of
        the truncated objective (``scratchrnn.nn.timeloop``). Returns ``dx`` (shaped like ``x``),
        ``dh0`` (shaped like ``h0``) and ``grads`` (keys and shapes of ``params``). With lengths,
        ``dout`` past a length is ignored (those outputs are constant zeros) and ``dx`` is zero there.
        """
        if not isinstance(cache, _Cache):
            raise ValueError(
                f"{self._name()}.backward expects the cache returned by forward, got {type(cache).__name__}"
            )
        self.check_cache_version(cache.version)
        k = check_truncate(truncate)
        T, B, seq = cache.T, cache.B, cache.lengths
        steps_run = T if seq is None else seq.steps
        if k is not None and k >= steps_run:
            k = None  # a window of every step or more cuts nothing (h0 included): plain BPTT is cheaper
        H, D = self.hidden_size, self.num_directions
        if dout is not None:
            dout = self._check_grad_out(dout, T, B)  # (T, B, D*H)
            if cache.plan is not None:  # (steps, B, D*H) in the order the layers ran; the outputs
                dout = segments.sorted_copy(dout, cache.plan, seq.steps)  # past a length are constant
                segments.clear_padding(dout, cache.plan.padding)  # zeros (the rest is never read)
            elif seq is not None:  # the outputs past a length are constant zeros
                dout = seq.mask(dout[: seq.steps])  # (steps, B, D*H)
        dstates_n = self._check_dstate(dh_n, B)
        order = None if cache.plan is None else cache.plan.order
        if order is not None:
            dstates_n = tuple([None if s is None else s[:, order] for s in dstates_n])
        grads: dict[str, np.ndarray] = {}
        dstates0 = tuple([np.zeros(self.state_shape(B), self.dtype) for _ in range(self.STATE_ARITY)])
        # g: gradient arriving at the current layer's output; with truncation an (A, T, B, D*H)
        # stack over offsets ``offs`` (see scratchrnn.nn.timeloop), else (T, B, D*H) or None.
        g = dout
        offs = None if k is None else np.zeros(1, dtype=np.int64)
        if k is not None and g is not None:
            g = g[None]  # (1, T, B, D*H)
        for layer in reversed(range(self.num_layers)):
            keep = k is not None and layer > 0  # the layer below continues from the per-offset gradients
            dx_acc, dx_offs = None, None
            for d, suffix in enumerate(self._suffixes()):
                i = layer * D + d
                gd = None if g is None else g[..., d * H : (d + 1) * H]  # (.., T, B, H)
                gd_offs = offs
                if d == 1:  # run the reverse direction in its own time, where offsets change sign
                    gd = None if gd is None else reverse_time(gd, seq, contiguous=False)
                    gd_offs = None if offs is None else -offs[::-1]
                    if gd is not None and k is not None:
                        gd = gd[::-1]
                dsn = tuple([None if s is None else s[i] for s in dstates_n])
                if cache.plan is not None:
                    F = self.input_size if layer == 0 else D * H
                    steps_of = functools.partial(self._backward_steps, layer, suffix)
                    dx, dxo, dst0, layer_grads = segments.bptt(steps_of, cache.layers[layer][d], gd, gd_offs,
                                                               dsn, k, keep, B, F)
                else:
                    steps = self._backward_steps(layer, suffix, cache.layers[layer][d])
                    dx, dxo, dst0, layer_grads = self._bptt(steps, gd, gd_offs, dsn, k, keep, seq)
                grads.update(layer_grads)
                if d == 1 and dx is not None:
                    dx = reverse_time(dx, seq, contiguous=False)
                    if dxo is not None:
                        dx, dxo = dx[::-1], -dxo[::-1]
                for s, v in zip(dstates0, dst0, strict=True):
                    s[i] = v
                if dx is not None:  # None: token-id input, which has no gradient
                    dx_acc, dx_offs = timeloop.add_offsets(dx_acc, dx_offs, dx, dxo)
            mask = cache.masks[layer - 1] if layer > 0 else None
            if mask is not None:
                dx_acc *= mask  # (.., T, B, D*H): dx_acc is this call's own array, never a cache's
            g, offs = dx_acc, dx_offs
        dx = g  # zero past each length already
        if dx is not None and cache.plan is not None:
            dx = segments.restored(dx, cache.plan, T)  # (T, B, F) in the caller's order
        elif dx is not None and seq is not None:
            dx = seq.padded(dx)  # (T, B, F), zeros after the steps run
        if order is not None:  # back to the caller's order
            dstates0 = tuple(s[:, np.argsort(order)] for s in dstates0)
        if dx is not None and self.batch_first:
            dx = dx.transpose(1, 0, 2)
        return dx, self._wrap_state(dstates0), {name: grads[name] for name in self.params}

    @staticmethod
    def _bptt(steps: timeloop.StepBackward, gd, gd_offs, dstate_n, k, keep, seq: Lengths | None):
        """One direction's BPTT (full, or truncated to k) from its output gradient gd (.., T, B, H)
        and final-state gradient dstate_n (B, H) each: (dx, dx's offsets or None, dstate0, weight
        gradients). With lengths each sequence's final-state gradient enters at its last step."""
        dout = None if gd is None else steps.to_state(gd)  # (.., T, *S)
        at = None
        if seq is not None:
            dstate_n, at = seq.final_grads(dstate_n, steps.to_state)
        dsn = tuple([None if s is None else steps.to_state(s) for s in dstate_n])
        if k is None:
            dst0, t0, per_offset, dxo = timeloop.full_bptt(steps, dout, dsn, at), 0, None, None
        else:
            dst0, t0, per_offset, dxo, _ = timeloop.truncated_bptt(steps, dout, gd_offs, dsn, k, keep, at)
        dx = steps.input_grad(steps.grads if per_offset is None else per_offset, t0)
        return dx, dxo, tuple([steps.from_state(s) for s in dst0]), steps.weight_grads(t0)

    def _check_grad_out(self, dout, T: int, B: int) -> np.ndarray:
        H, D = self.hidden_size, self.num_directions
        shape = (B, T, D * H) if self.batch_first else (T, B, D * H)
        if not isinstance(dout, np.ndarray) or dout.shape != shape:
            got = dout.shape if isinstance(dout, np.ndarray) else type(dout).__name__
            raise ValueError(f"{self._name()}.backward: dout must have the shape of out {shape}, got {got}")
        if dout.dtype != self.dtype:
            raise ValueError(f"{self._name()}.backward: dout has dtype {dout.dtype}, expected {self.dtype}")
        return dout.transpose(1, 0, 2) if self.batch_first else dout

    def _check_dstate(self, dh_n, B: int):
        if dh_n is None:
            return (None,) * self.STATE_ARITY
        if self.STATE_ARITY > 1 and isinstance(dh_n, (tuple, list)) and len(dh_n) == self.STATE_ARITY:
            shape = self.state_shape(B)
            out = []
            for p in dh_n:
                if p is not None:
                    if not isinstance(p, np.ndarray) or p.shape != shape or p.dtype != self.dtype:
                        got = (p.shape, p.dtype) if isinstance(p, np.ndarray) else type(p).__name__
                        raise ValueError(
                            f"{self._name()}.backward: each dh_n entry must be {shape} {self.dtype}, "
                            f"got {got}"
                        )
                out.append(p)
            return tuple(out)
        return self._check_states(dh_n, B, "dh_n")

    def sequence_states(self, cache: _Cache) -> tuple[np.ndarray, ...]:
        """Every layer's state at every step, from a forward cache: a tuple (h,) or (h, c) of
        arrays (L*D, T, B, H) in original time order (for a reverse direction, entry t is the state
        after it has read step t); with lengths, zeros past each sequence's length."""
        if not isinstance(cache, _Cache):
            raise ValueError(f"{self._name()}.sequence_states expects the cache returned by forward")
        D, lens = self.num_directions, cache.lengths
        out = tuple(np.zeros((self.num_layers * D, cache.T, cache.B, self.hidden_size), self.dtype)
                    for _ in range(self.STATE_ARITY))
        for layer, dir_caches in enumerate(cache.layers):
            for d, c in enumerate(dir_caches):
                every = (self._direction_states(c) if cache.plan is None
                         else segments.states(self._direction_states, c, cache.B))  # (steps, B, H) each
                for dst, states in zip(out, every, strict=True):
                    if lens is None:
                        dst[layer * D + d] = states if d == 0 else states[::-1]
                    else:
                        ordered = states if d == 0 else lens.reverse(states)
                        lens.mask(ordered, out=dst[layer * D + d, : lens.steps])
        if cache.plan is not None and cache.plan.order is not None:  # back to the caller's order
            out = tuple(s[:, :, np.argsort(cache.plan.order)] for s in out)
        return out

    # -- stepping one token at a time ------------------------------------------------------------
    def stepper(self) -> RecurrentStepper:
        """A :class:`RecurrentStepper` running the whole stack one time step per call, with the
        weights prepared once, now: a snapshot (make a new stepper after the weights change).
        Unidirectional layers only; always evaluation mode (no dropout)."""
        return RecurrentStepper(self)

    # -- what a cell writes (module docstring) ----------------------------------------------------
    def prepare_step(self, layer: int, suffix: str = ""):  # pragma: no cover - abstract
        """The weights of one layer and direction laid out for the step math: a NamedTuple of
        arrays (or None) whose first two fields are ``w_ih`` (G*H, F) and ``bias`` (G*H,) or None,
        the arguments of ``input_gates``. The stepper makes these once."""
        raise NotImplementedError

    def layer_step(self, w, table, prev, new):  # pragma: no cover - abstract
        """One layer's time step with prepared weights ``w``, as a function ``run(x) -> new[0]``
        whose scratch arrays and views are made here, once. ``prev`` and ``new`` are tuples of
        (B, H) state views: run reads x (token ids (B,) when ``table`` (F, G*H) is given, see
        ``stepper.step_input_gates``, else (B, F) floats) and ``prev``, and writes ``new`` in place."""
        raise NotImplementedError

    def layer_scan(self, w, state):  # pragma: no cover - abstract
        """One layer's recurrence over a chunk for inference (``stepper.chunk_session``), as a
        function ``scan(gates) -> out``: gates (T, B, G*H) are every step's input gates (as
        ``input_gates`` gives them; scan may overwrite them), out (T, B, H) the layer's outputs.
        ``state`` is a tuple of (B, H) arrays, read as the state before the chunk and left holding
        the state after it, so the next call continues from there. No cache is kept."""
        raise NotImplementedError

    def _direction_forward(self, layer, suffix, x, state0):  # pragma: no cover - abstract
        """One layer and direction over x (T, B, F) (or ids (T, B)) from state0 (a tuple of (B, H)):
        (out (T, B, H), final state (a tuple of (B, H)), the cell's named cache). x and state0 may
        be strided views (a segment's rows and steps, ``scratchrnn.nn.segments``): read them, never
        write them."""
        raise NotImplementedError

    def _direction_states(self, cache) -> tuple[np.ndarray, ...]:  # pragma: no cover - abstract
        """The states (T, B, H) of one direction in processing order, from its cache."""
        raise NotImplementedError

    def _backward_steps(self, layer, suffix, cache) -> timeloop.StepBackward:  # pragma: no cover - abstract
        """The cell's per-step backward of one layer and direction, from its cache."""
        raise NotImplementedError
