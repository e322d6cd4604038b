"""Every number of one training step of a small character RNN, LSTM or GRU, for teaching.

For a one-layer recurrent network over one-hot characters with a linear head and softmax
cross-entropy (the classic "hello" example is the Elman RNN), :func:`trace_step` records

* forward, per step t: input x_t, pre-activation z_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh,
  hidden state h_t = f(z_t), logits y_t = W_out h_t + b_out, softmax p_t, loss -log p_t[target];
* backward, per step from the last: dy_t = (p_t - onehot(target_t)) / T, the hidden gradient
  from the output (W_out^T dy_t), the part flowing back from step t+1 (W_hh^T dz_{t+1}), their
  sum dh_t, the slope ``f_prime`` = f'(z_t) and dz_t = dh_t * f'(z_t);
* every parameter's gradient and its value after one SGD update ``w - lr * grad``.

For an LSTM the forward record names, per step, each gate's pre-activation (``pre_i``, ``pre_f``,
``pre_g``, ``pre_o``: the blocks of x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), the gates ``i``,
``f``, ``g``, ``o``, the cell state ``c`` = f * c_{t-1} + i * g, ``tanh_c`` and ``hidden`` =
o * tanh(c); the backward record adds the cell gradient from step t+1 (``dc_from_next_step``), the
part that comes through h_t (``dc_through_h`` = dh * o * (1 - tanh(c)^2)), their sum ``dc`` and
each gate's pre-activation gradient (``dpre_i`` ...). For a GRU: ``pre_r``, ``pre_z``, ``r``, ``z``,
``hn`` = h_{t-1} W_hn^T + b_hn, the ``reset_product`` r * hn, ``pre_n`` = x_t W_in^T + b_in +
r * hn, ``n`` and ``hidden`` = (1 - z) * n + z * h_{t-1}; backward ``dpre_r``, ``dpre_z``,
``dpre_n``. The record's ``cell`` says which; ``format`` ("scratchrnn-trace") and ``version``
(``FORMAT_VERSION``) say what the record is, for a reader of its JSON.

The per-step numbers are those of the reference implementation (``scratchrnn.nn.reference``'s
``rnn_step`` and ``rnn_step_backward``, run one step at a time here so every intermediate can be
recorded); the totals are the library's own fast ``backward`` (the tests check that the two agree).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .checks import check_memory, check_real
from .functional import get_activation, softmax
from .io import read_json, read_npz
from .nn import reference
from .nn.model import ModelConfig, SequenceModel

__all__ = ["build_char_model", "char_model_config", "load_weights", "trace_step"]

# Bytes a recorded number costs in the trace's record: a Python float (24) and its place in a list (8).
RECORD_BYTES_PER_NUMBER = 32
FORMAT, FORMAT_VERSION = "scratchrnn-trace", 1  # what a record is, and the version of its keys
GATES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}  # PyTorch's block order


def _forward_fields(cell: str, step, new_state, w) -> dict[str, list]:
    """The named intermediates of one reference step (module docstring), batch of one."""
    if cell == "rnn":
        return {"pre_activation": step.z[0].tolist(), "hidden": step.h[0].tolist()}
    if cell == "lstm":
        a = step.x @ w.w_ih.T + w.b_ih + step.h_prev @ w.w_hh.T + w.b_hh  # (1, 4H)
        pre = dict(zip(GATES["lstm"], np.split(a[0], 4), strict=True))
        out = {f"pre_{k}": v.tolist() for k, v in pre.items()}
        out.update({k: getattr(step, k)[0].tolist() for k in GATES["lstm"]})
        return {**out, "c": new_state[1][0].tolist(), "tanh_c": step.tanh_c[0].tolist(),
                "hidden": new_state[0][0].tolist()}
    ax = np.split((step.x @ w.w_ih.T + w.b_ih)[0], 3)  # 3 x (H,) the input's parts of r, z, n
    ah = np.split((step.h_prev @ w.w_hh.T + w.b_hh)[0], 3)  # 3 x (H,) the state's parts
    reset = step.r[0] * step.hn[0]  # (H,)
    return {"pre_r": (ax[0] + ah[0]).tolist(), "pre_z": (ax[1] + ah[1]).tolist(), "r": step.r[0].tolist(),
            "z": step.z[0].tolist(), "hn": step.hn[0].tolist(), "reset_product": reset.tolist(),
            "pre_n": (ax[2] + reset).tolist(), "n": step.n[0].tolist(), "hidden": new_state[0][0].tolist()}


def _backward_fields(cell: str, step, dh: np.ndarray, from_next: tuple, result,
                     nonlinearity: str) -> dict[str, list]:
    """The cell's own part of one step's backward record (module docstring)."""
    if cell == "rnn":
        slope = get_activation(nonlinearity).derivative_from_output(step.h[0])  # (H,) f'(z_t) from h_t
        return {"f_prime": slope.tolist(), "dz": result.da[0].tolist()}
    out = {}
    if cell == "lstm":
        through_h = dh[0] * step.o[0] * (1.0 - step.tanh_c[0] ** 2)  # (H,)
        out = {"dc_from_next_step": from_next[1][0].tolist(), "dc_through_h": through_h.tolist(),
               "dc": (from_next[1][0] + through_h).tolist()}
    blocks = np.split(result.da[0], len(GATES[cell]))  # G x (H,)
    return {**out, **{f"dpre_{k}": v.tolist() for k, v in zip(GATES[cell], blocks, strict=True)}}


def char_model_config(vocab_size: int, hidden_size: int, nonlinearity: str = "sigmoid",
                      bias: bool = True, cell: str = "rnn") -> ModelConfig:
    """The configuration of ``build_char_model`` (checked, and refused if it could not fit)."""
    return ModelConfig(cell=cell, vocab_size=vocab_size, hidden_size=hidden_size, nonlinearity=nonlinearity,
                       bias=bias, head_bias=bias, dtype="float64")


def build_char_model(vocab_size: int, hidden_size: int, nonlinearity: str = "sigmoid", bias: bool = True,
                     rng=0, cell: str = "rnn") -> SequenceModel:
    """A one-layer character model (``cell`` "rnn", "lstm" or "gru"; ``nonlinearity`` is the RNN's)
    with one-hot inputs in float64, as the worked examples use."""
    return SequenceModel(char_model_config(vocab_size, hidden_size, nonlinearity, bias, cell), rng=rng)


def load_weights(model: SequenceModel, path: str | Path) -> None:
    """Load weights from ``.npz`` or ``.json`` (name -> nested lists) with PyTorch names.

    Names may be the model's own (``rnn.weight_ih_l0``, ``head.weight``) or bare PyTorch RNN names
    (``weight_ih_l0``) plus ``weight``/``bias`` of the head given as ``head.weight``/``head.bias``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if path.suffix == ".json":
        raw = read_json(path, "weights file")
        if not isinstance(raw, dict):
            raise ValueError(f"{path} must hold a JSON object of name -> array, got {type(raw).__name__}")
        arrays = {k: _json_array(path, k, v) for k, v in raw.items()}
    elif path.suffix == ".npz":
        arrays = read_npz(path)
    else:
        raise ValueError(f"weights file {path} must end in .npz or .json, got {path.suffix or 'no suffix'}")
    state = {}
    for k, v in arrays.items():
        name = k if "." in k else f"rnn.{k}"
        state[name] = v
    model.load_state_dict(state)


def _json_array(path: Path, name: str, value) -> np.ndarray:
    """One JSON entry (nested lists of numbers) as a float64 array; anything else is a ValueError."""
    try:
        arr = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{path}: entry {name!r} must be a rectangular array of numbers: {exc}") from None
    if arr.dtype.kind not in "iuf":  # strings, nulls and booleans are not weights
        raise ValueError(f"{path}: entry {name!r} must hold only numbers, got numpy dtype {arr.dtype}")
    return arr.astype(np.float64)


def _lists(d: dict[str, np.ndarray]) -> dict[str, list]:
    return {k: np.asarray(v).tolist() for k, v in d.items()}


def trace_step(model: SequenceModel, inputs: Sequence[int], targets: Sequence[int], lr: float = 0.1,
               vocab: Sequence[str] | None = None) -> dict:
    """Run one forward pass, backward pass and SGD update on one sequence and record every number.

    Returns a JSON-able dict with keys ``forward``, ``backward``, ``grads``, ``update``, ``loss``.
    The model's parameters are not changed (the update is reported, not applied).
    """
    if not isinstance(model, SequenceModel):
        raise ValueError(f"trace_step expects a SequenceModel (build_char_model), got {type(model).__name__}")
    lr = check_real("lr", lr)
    rnn, c = model.rnn, model.config
    one_hot = c.num_layers == 1 and not c.bidirectional and c.embedding_dim is None
    if not one_hot or c.head != "all":
        raise ValueError(
            "trace supports a one-layer, one-direction RNN, LSTM or GRU with one-hot inputs and a "
            "prediction at every step; "
            f"got cell={c.cell!r}, num_layers={c.num_layers}, bidirectional={c.bidirectional}, "
            f"embedding_dim={c.embedding_dim}, head={c.head!r}"
        )
    if not model.token_input:
        raise ValueError(f"trace needs a character (token-input) model, got input_size={c.input_size}")
    x, y = np.asarray(inputs), np.asarray(targets)
    if x.ndim != 1 or y.shape != x.shape or len(x) == 0:
        raise ValueError(
            f"inputs and targets must be equal-length non-empty 1-D sequences, got {x.shape} and {y.shape}"
        )
    V, T = c.vocab_size, len(x)
    # the record holds every weight three times (value, gradient, update) and per step some vectors
    # of V and H numbers, each a Python float in a list
    numbers = 3 * model.num_parameters() + T * (4 * V + (6 + 3 * len(GATES[c.cell])) * c.hidden_size)
    what = f"a trace of {T} steps of a model of {model.num_parameters():,} weights"
    check_memory(numbers * RECORD_BYTES_PER_NUMBER, what, "its record", now=True)
    for what, ids in (("inputs", x), ("targets", y)):
        # a negative id would silently index from the end, so the range is checked here
        if ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= V:
            raise ValueError(f"{what} must be integer ids in [0, {V}) (the vocabulary), got {ids.tolist()}")
    x, y = x.astype(np.int64), y.astype(np.int64)
    if vocab is not None and len(vocab) != V:
        raise ValueError(f"vocab has {len(vocab)} entries, the model's vocabulary size is {V}")
    p = {k: v.astype(np.float64) for k, v in model.params.items()}
    w = reference.Weights(p["rnn.weight_ih_l0"], p["rnn.weight_hh_l0"], p.get("rnn.bias_ih_l0", 0.0),
                          p.get("rnn.bias_hh_l0", 0.0))
    w_out, b_out = p["head.weight"], p.get("head.bias", 0.0)
    cell = reference.get_cell(c.cell, c.nonlinearity)
    names = list(vocab) if vocab is not None else [str(i) for i in range(V)]

    # forward: one reference step per character, batch of one
    forward, steps, probs = [], [], []
    zeros = np.zeros((1, rnn.hidden_size))  # (1, H)
    state = (zeros, zeros) if c.cell == "lstm" else (zeros,)  # h_{-1} = 0 (and c_{-1} = 0)
    total = 0.0
    for t in range(T):
        xt = np.zeros((1, V))  # (1, V) one-hot
        xt[0, x[t]] = 1.0
        state, step = cell.step(xt, state, w)
        logits = state[0][0] @ w_out.T + b_out  # (V,)
        pt = softmax(logits)  # (V,)
        loss_t = float(-np.log(pt[y[t]]))
        total += loss_t
        steps.append(step)
        probs.append(pt)
        forward.append({"t": t, "input": names[x[t]], "target": names[y[t]], "x": xt[0].tolist(),
                        **_forward_fields(c.cell, step, state, w),
                        "logits": logits.tolist(), "softmax": pt.tolist(), "loss": loss_t})
    loss = total / T  # mean over steps, as cross_entropy's default reduction

    # backward from the last step: the hidden gradient is what the output sends plus what step t+1
    # sent back (rnn_step_backward's dstate); the step's backward turns it into dz_t
    backward = []
    from_next = (zeros, zeros) if c.cell == "lstm" else (zeros,)  # what step T sends back: nothing
    for t in range(T - 1, -1, -1):
        dy = probs[t].copy()
        dy[y[t]] -= 1.0
        dy /= T  # (V,)
        from_out = (dy @ w_out)[None]  # (1, H)
        dh = from_out + from_next[0]  # (1, H)
        result = cell.step_backward((dh, *from_next[1:]), steps[t], w)
        backward.append({"t": t, "dlogits": dy.tolist(), "dh_from_output": from_out[0].tolist(),
                         "dh_from_next_step": from_next[0][0].tolist(), "dh": dh[0].tolist(),
                         **_backward_fields(c.cell, steps[t], dh, from_next, result, c.nonlinearity)})
        from_next = result.dstate

    # the totals come from the library's own backward pass
    out, _, cache = model.forward(x[:, None])
    dlogits = np.stack([np.array(r["dlogits"]) for r in reversed(backward)])[:, None, :].astype(model.dtype)
    _, _, grads = model.backward(dlogits, None, cache)
    update = {k: model.params[k] - lr * g for k, g in grads.items()}
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "vocab": names,
        "lr": lr,
        "cell": c.cell,
        "nonlinearity": c.nonlinearity if c.cell == "rnn" else None,
        "params": _lists(model.params),
        "forward": forward,
        "loss": loss,
        "backward": backward,
        "grads": _lists(grads),
        "update": _lists(update),
    }
