"""PyTorch references for the layer tests: weight loading and a plain per-step truncated-BPTT loop.

The loop here is deliberately naive: it runs the whole stack one step at a time with autograd and
realises truncation by ``.detach()`` at the cut states, so it shares no code or bookkeeping with the
vectorised backward pass it is used to check. A *cell* maps one step of one layer in one direction:

    new_state = cell(x_t, state, p)

with ``x_t`` (B, in), ``state`` a tuple of (B, H) tensors ((h,) for an RNN, (h, c) for an LSTM) and
``p`` that layer/direction's parameters keyed without their suffix (``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``; the biases are absent when the layer has none). The step's output is
``new_state[0]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np
import torch

__all__ = ["Cell", "load_into_torch", "rnn_cell", "torch_reference_backward", "truncated_reference"]

Cell = Callable[[torch.Tensor, tuple, Mapping[str, torch.Tensor]], tuple]

_PARAM_NAME = re.compile(r"^(?P<base>\w+?)_l(?P<layer>\d+)(?P<rev>_reverse)?$")


def load_into_torch(module_params: Mapping[str, np.ndarray], torch_module: torch.nn.Module) -> None:
    """Copy a scratchrnn ``params`` dict into a torch module whose parameters have the same names.

    Raises ValueError naming any name present on one side only, or any shape that differs.
    """
    theirs = dict(torch_module.named_parameters())
    missing = sorted(set(theirs) - set(module_params))
    extra = sorted(set(module_params) - set(theirs))
    if missing or extra:
        raise ValueError(f"parameter names differ: torch only {missing}, numpy only {extra}")
    with torch.no_grad():
        for name, p in theirs.items():
            v = np.asarray(module_params[name])
            if tuple(p.shape) != v.shape:
                raise ValueError(f"parameter {name!r}: torch shape {tuple(p.shape)}, numpy shape {v.shape}")
            p.copy_(torch.from_numpy(np.array(v, copy=True)).to(p.dtype))


def rnn_cell(activation: Callable[[torch.Tensor], torch.Tensor]) -> Cell:
    """Elman step ``h' = f(x W_ih^T + b_ih + h W_hh^T + b_hh)`` as a cell for ``truncated_reference``."""

    def cell(x_t, state, p):
        z = x_t @ p["weight_ih"].T + state[0] @ p["weight_hh"].T  # (B, H)
        if "bias_ih" in p:
            z = z + p["bias_ih"] + p["bias_hh"]
        return (activation(z),)

    return cell


def _split_params(params: Mapping[str, torch.Tensor]) -> dict[tuple[int, int], dict[str, torch.Tensor]]:
    """Group ``weight_ih_l1_reverse``-style names by (layer, direction), keyed by the base name."""
    groups: dict[tuple[int, int], dict[str, torch.Tensor]] = {}
    for name, p in params.items():
        m = _PARAM_NAME.match(name)
        if m is None:
            raise ValueError(f"parameter name {name!r} is not of the form <base>_l<k>[_reverse]")
        key = (int(m["layer"]), 1 if m["rev"] else 0)
        groups.setdefault(key, {})[m["base"]] = p
    return groups


def _as_state_tuple(state, arity: int) -> tuple:
    if state is None:
        return (None,) * arity
    if isinstance(state, (tuple, list)):
        if len(state) != arity:
            raise ValueError(f"expected a state tuple of length {arity}, got {len(state)}")
        return tuple(state)
    if arity != 1:
        raise ValueError(f"expected a state tuple of length {arity}, got a single array")
    return (state,)


def _leaf_states(state, arity: int, shape: tuple[int, int, int]) -> list[torch.Tensor]:
    """Float64 leaf tensors that require grad: the given state parts, or zeros where None."""
    parts = []
    for s in _as_state_tuple(state, arity):
        t = torch.zeros(shape, dtype=torch.float64) if s is None else torch.tensor(np.asarray(s, np.float64))
        parts.append(t.requires_grad_(True))
    return parts


def truncated_reference(
    cell: Cell,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    state0,
    dout: np.ndarray | None,
    dstate_n,
    num_layers: int,
    num_directions: int,
    truncate: int | None,
    state_arity: int = 1,
):
    """Gradients of the (optionally truncated) objective by autograd over a plain per-step loop.

    x: (T, B, F) time-major, float64 is used throughout; state0: an array (L*D, B, H), a tuple of
    ``state_arity`` such arrays, or None (zeros); dout: (T, B, D*H) or None; dstate_n: like state0
    (entries may be None) or None. The objective is

        sum_t <dout[t], out_t>  +  sum_{l,d} <dstate_n[i], state_n[i]>       (i = l*D + d)

    where, for ``truncate=k``, the term at output step t is evaluated with forward-direction states
    at step t-k-1 and reverse-direction states at step t+k+1 detached; a forward-direction final
    state counts as a term at step T-1, a reverse-direction one as a term at step 0. ``truncate=None``
    is full BPTT. Returns ``dx`` (T, B, F), ``dstate0`` (a tuple of (L*D, B, H), or one array when
    ``state_arity == 1``) and a dict of parameter gradients (zeros where no gradient arrives).
    """
    L, D = num_layers, num_directions
    T, B, _ = x.shape
    tp = {n: torch.tensor(np.asarray(v, np.float64), requires_grad=True) for n, v in params.items()}
    groups = _split_params(tp)
    H = groups[(0, 0)]["weight_hh"].shape[1]
    X = torch.tensor(np.asarray(x, np.float64), requires_grad=True)  # (T, B, F)
    s0 = _leaf_states(state0, state_arity, (L * D, B, H))  # each (L*D, B, H)
    ds_n = _as_state_tuple(dstate_n, state_arity)

    def run(cut_f: int, cut_r: int):
        """Forward through the stack, detaching fwd states after step cut_f and rev states after cut_r."""
        inp = [X[t] for t in range(T)]
        final = [[None] * (L * D) for _ in range(state_arity)]
        for layer in range(L):
            outs = []
            for d in range(D):
                p = groups[(layer, d)]
                state = tuple(s[layer * D + d] for s in s0)
                o = [None] * T
                steps = range(T) if d == 0 else range(T - 1, -1, -1)
                for s in steps:
                    prev = s - 1 if d == 0 else s + 1  # the step whose state feeds this one
                    if prev == (cut_f if d == 0 else cut_r):
                        state = tuple(v.detach() for v in state)
                    state = cell(inp[s], state, p)
                    o[s] = state[0]
                for j, v in enumerate(state):
                    final[j][layer * D + d] = v
                outs.append(o)
            inp = [torch.cat([outs[d][t] for d in range(D)], dim=-1) for t in range(T)]
        return inp, final

    # Each loss term is (cut_f, cut_r, kind, index); terms whose cuts coincide share one forward run.
    # Cuts beyond the sequence (fwd < -1, rev > T) detach nothing, so they are clamped together.
    def cuts(t: int) -> tuple[int, int]:
        if truncate is None:
            return (-2, T + 1)
        return (max(t - truncate - 1, -2), min(t + truncate + 1, T + 1))

    terms: dict[tuple[int, int], list] = {}
    if dout is not None:
        for t in range(T):
            terms.setdefault(cuts(t), []).append(("out", t))
    for j, g in enumerate(ds_n):
        if g is None:
            continue
        for layer in range(L):
            for d in range(D):
                terms.setdefault(cuts(T - 1 if d == 0 else 0), []).append(("state", (j, layer * D + d)))

    total = torch.zeros((), dtype=torch.float64)
    for (cf, cr), items in terms.items():
        out, final = run(cf, cr)
        for kind, where in items:
            if kind == "out":
                total = total + (out[where] * torch.tensor(np.asarray(dout[where], np.float64))).sum()
            else:
                j, i = where
                total = total + (final[j][i] * torch.tensor(np.asarray(ds_n[j][i], np.float64))).sum()
    if total.requires_grad:
        total.backward()

    def grad(t: torch.Tensor) -> np.ndarray:
        return np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy().copy()

    dstate0 = tuple(grad(s) for s in s0)
    return grad(X), dstate0[0] if state_arity == 1 else dstate0, {n: grad(p) for n, p in tp.items()}


def torch_reference_backward(
    torch_module: torch.nn.Module,
    x: np.ndarray,
    state0,
    dout: np.ndarray | None,
    dstate_n,
    batch_first: bool = False,
):
    """Forward and full backward through a ``torch.nn`` recurrent module in float64.

    x: as the module expects; state0: array, tuple or None (zeros are then used, so ``dstate0`` is
    still defined). The objective is ``<dout, out> + <dstate_n, state_n>`` (None terms are left out).
    Returns (out, state_n, dx, dstate0, grads), all numpy, states as arrays or tuples like torch.
    """
    torch_module.zero_grad(set_to_none=True)
    X = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
    B = x.shape[0] if batch_first else x.shape[1]
    L = torch_module.num_layers
    D = 2 if torch_module.bidirectional else 1
    H = torch_module.hidden_size
    is_tuple = isinstance(torch_module, torch.nn.LSTM)
    arity = 2 if is_tuple else 1
    parts = _leaf_states(state0, arity, (L * D, B, H))  # each (L*D, B, H)
    out, sn = torch_module(X, tuple(parts) if is_tuple else parts[0])
    sn_parts = sn if is_tuple else (sn,)
    total = torch.zeros((), dtype=torch.float64)
    if dout is not None:
        total = total + (out * torch.tensor(np.asarray(dout, np.float64))).sum()
    for v, g in zip(sn_parts, _as_state_tuple(dstate_n, arity), strict=True):
        if g is not None:
            total = total + (v * torch.tensor(np.asarray(g, np.float64))).sum()
    if total.requires_grad:
        total.backward()

    def grad(t: torch.Tensor) -> np.ndarray:
        return np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy().copy()

    grads = {n: grad(p) for n, p in torch_module.named_parameters()}
    d0 = tuple(grad(s) for s in parts)
    sn_np = tuple(v.detach().numpy().copy() for v in sn_parts)
    return (
        out.detach().numpy().copy(),
        sn_np if is_tuple else sn_np[0],
        grad(X),
        d0 if is_tuple else d0[0],
        grads,
    )
