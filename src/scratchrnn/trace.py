"""Every number of one training step of a small RNN, LSTM or GRU, for teaching.

For a recurrent stack of one or more layers over one-hot characters (or dense input vectors) with
a linear head and softmax cross-entropy at every step (the classic "hello" example is a one-layer
Elman RNN), :func:`trace_step` records

* forward, per step t: input x_t; per layer (``layers[l]``, the first reading x_t, each other
  the hidden state of the layer below) the cell's named intermediates, for the RNN its
  pre-activation z_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh and hidden state h_t = f(z_t); then
  the top layer's logits y_t = W_out h_t + b_out, softmax p_t and loss -log p_t[target];
* backward, per step from the last: dy_t = (p_t - onehot(target_t)) / T; per layer the hidden
  gradient from above (``dh_from_output`` = W_out^T dy_t at the top layer, ``dh_from_layer_above``
  below it: what the input of the layer above received), the part flowing back from step t+1
  (``dh_from_next_step``), their sum dh_t and, for the RNN, the slope ``f_prime`` = f'(z_t) and
  dz_t = dh_t * f'(z_t);
* every parameter's gradient, its per-step terms (``grad_terms[name][t]``: the share step t adds,
  so the gradient is their sum) and its value after one SGD update ``w - lr * grad``.

For an LSTM a layer's forward record names each gate's pre-activation (``pre_i``, ``pre_f``,
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
steps and step backwards, run one step at a time here so every intermediate can be recorded); the
gradient totals are the library's own fast ``backward`` (the tests check that the two agree).
:mod:`scratchrnn.trace_page` draws a record as a page.
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

__all__ = ["HELLO_WEIGHTS", "build_char_model", "build_dense_model", "char_model_config", "hello_model",
           "load_weights", "read_dense_sequence", "trace_step"]

# Bytes a recorded number costs in the trace's record: a Python float (24) and its place in a list (8).
RECORD_BYTES_PER_NUMBER = 32
FORMAT, FORMAT_VERSION = "scratchrnn-trace", 2  # what a record is, and the version of its keys
GATES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}  # PyTorch's block order
# vectors of H numbers a layer's step records: forward fields plus backward fields (module docstring)
LAYER_STEP_VECTORS = {"rnn": 2 + 5, "lstm": 11 + 10, "gru": 9 + 6}
_WEIGHT_NAMES = {"w_ih": "weight_ih", "w_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}

# The guided example: the "hello" network (alphabet h, e, l, o in this one-hot order; 3 sigmoid
# hidden units; biases; PyTorch layouts (out, in)) with small weights set by hand, each distinct so
# a number on the page can be traced to the weights that made it. ``trace --example hello``.
HELLO_VOCAB, HELLO_TEXT, HELLO_LR = "helo", "hello", 0.1  # LR: the update shown (trace's default)
HELLO_WEIGHTS = {
    "rnn.weight_ih_l0": [[0.5, -0.3, 0.2, 0.1], [-0.4, 0.6, 0.3, -0.2], [0.1, 0.2, -0.5, 0.4]],
    "rnn.weight_hh_l0": [[0.3, -0.1, 0.2], [0.05, 0.4, -0.3], [-0.2, 0.1, 0.25]],
    "rnn.bias_ih_l0": [0.1, -0.05, 0.2],
    "rnn.bias_hh_l0": [-0.02, 0.03, 0.01],
    "head.weight": [[0.7, -0.4, 0.2], [-0.3, 0.5, 0.6], [0.2, 0.3, -0.6], [-0.5, -0.2, 0.4]],
    "head.bias": [0.05, -0.1, 0.15, 0.0],
}


def _forward_fields(cell: str, step, new_state, w) -> dict[str, list]:
    """The named intermediates of one layer's reference step (module docstring), batch of one."""
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
    """The cell's own part of one layer's step backward record (module docstring)."""
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
                      bias: bool = True, cell: str = "rnn", num_layers: int = 1) -> ModelConfig:
    """The configuration of ``build_char_model`` (checked, and refused if it could not fit)."""
    return ModelConfig(cell=cell, vocab_size=vocab_size, hidden_size=hidden_size, nonlinearity=nonlinearity,
                       num_layers=num_layers, bias=bias, head_bias=bias, dtype="float64")


def build_char_model(vocab_size: int, hidden_size: int, nonlinearity: str = "sigmoid", bias: bool = True,
                     rng=0, cell: str = "rnn", num_layers: int = 1) -> SequenceModel:
    """A character model (``cell`` "rnn", "lstm" or "gru"; ``nonlinearity`` is the RNN's) of
    ``num_layers`` layers with one-hot inputs in float64, as the worked examples use."""
    return SequenceModel(char_model_config(vocab_size, hidden_size, nonlinearity, bias, cell, num_layers),
                         rng=rng)


def build_dense_model(input_size: int, output_size: int, hidden_size: int,
                      nonlinearity: str = "sigmoid", bias: bool = True, rng=0, cell: str = "rnn",
                      num_layers: int = 1) -> SequenceModel:
    """Like ``build_char_model``, for dense input vectors of ``input_size`` numbers and a class of
    ``output_size`` predicted at every step."""
    config = ModelConfig(cell=cell, input_size=input_size, output_size=output_size, hidden_size=hidden_size,
                         nonlinearity=nonlinearity, num_layers=num_layers, bias=bias, head_bias=bias,
                         dtype="float64")
    return SequenceModel(config, rng=rng)


def read_dense_sequence(path: str | Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(inputs (T, F) float64, targets (T,) class ids, class names) from a JSON file
    ``{"inputs": [[x, ...], ...], "targets": [id, ...], "classes": [name, ...]}``; ``classes`` is
    optional (default "0", "1", ... up to the largest target). Each problem is named."""
    path = Path(path)
    raw = read_json(path, "dense sequence file")
    expected = '{"inputs": [[x, ...], ...], "targets": [class id, ...], "classes": [name, ...] (optional)}'
    if not isinstance(raw, dict) or not {"inputs", "targets"} <= set(raw) or set(raw) - {"inputs", "targets",
                                                                                          "classes"}:
        found = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise ValueError(f"{path} must hold {expected}, got {found}")
    x = _json_array(path, "inputs", raw["inputs"])
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{path}: 'inputs' must be a non-empty list of equal-length vectors (T, F), "
                         f"got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{path}: 'inputs' holds a NaN or an infinity; inputs must be finite")
    targets = raw["targets"]
    if not isinstance(targets, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                for v in targets):
        raise ValueError(f"{path}: 'targets' must be a list of class ids (integers >= 0), "
                         f"got {targets!r:.80}")
    classes = raw.get("classes")
    if classes is None:
        classes = [str(i) for i in range(max(targets, default=0) + 1)]
    elif not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes) \
            or len(set(classes)) != len(classes):
        raise ValueError(f"{path}: 'classes' must be a non-empty list of distinct names, got {classes!r:.80}")
    if len(targets) != len(x):
        raise ValueError(f"{path}: 'targets' must hold one class id per input vector ({len(x)}), "
                         f"got {len(targets)}")
    if any(v >= len(classes) for v in targets):
        raise ValueError(f"{path}: 'targets' must be ids in [0, {len(classes)}) of the {len(classes)} "
                         f"classes, got {max(targets)}")
    return x, np.array(targets, dtype=np.int64), classes


def hello_model() -> SequenceModel:
    """The guided example's model: ``build_char_model(4, 3)`` (sigmoid, biases) with ``HELLO_WEIGHTS``.
    Trace it on ``HELLO_TEXT`` over ``HELLO_VOCAB`` with learning rate ``HELLO_LR``."""
    model = build_char_model(len(HELLO_VOCAB), 3)
    model.load_state_dict({k: np.array(v) for k, v in HELLO_WEIGHTS.items()})
    return model


def load_weights(model: SequenceModel, path: str | Path) -> None:
    """Load weights from ``.npz`` or ``.json`` (name -> nested lists) with PyTorch names.

    Names may be the model's own (``rnn.weight_ih_l0``, ``head.weight``) or bare PyTorch names of
    ``torch.nn.RNN``, ``LSTM`` or ``GRU`` (``weight_ih_l0``, ``bias_hh_l1``) plus the head's
    ``head.weight`` and ``head.bias``. Every weight must be finite; a wrong shape is named with the
    shape the model's cell expects. Nothing is loaded unless everything is right.
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
        if np.issubdtype(np.asarray(v).dtype, np.number) and not np.all(np.isfinite(v)):
            raise ValueError(f"{path}: entry {k!r} holds a NaN or an infinity; weights must be finite")
        expected = model.params.get(name)
        if expected is not None and np.shape(v) != expected.shape:
            c = model.config
            gates = f" ({len(GATES[c.cell])} gates {', '.join(GATES[c.cell])} of {c.hidden_size} rows)" \
                if GATES[c.cell] and name.startswith("rnn.") else ""
            raise ValueError(f"{path}: entry {k!r} has shape {np.shape(v)}, the model's {name!r} is "
                             f"{expected.shape} for a {c.cell} of hidden size {c.hidden_size}{gates}")
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


def _check_model(model) -> None:
    if not isinstance(model, SequenceModel):
        raise ValueError(f"trace_step expects a SequenceModel (build_char_model), got {type(model).__name__}")
    c = model.config
    if c.bidirectional or c.embedding_dim is not None or c.head != "all":
        raise ValueError(
            "trace supports a one-direction RNN, LSTM or GRU of any number of layers with one-hot or "
            "dense inputs and a prediction at every step; "
            f"got cell={c.cell!r}, num_layers={c.num_layers}, bidirectional={c.bidirectional}, "
            f"embedding_dim={c.embedding_dim}, head={c.head!r}"
        )


def _inputs(model: SequenceModel, inputs, targets) -> tuple[np.ndarray, np.ndarray]:
    """(x (T, F) float64 input vectors, y (T,) target ids), checked against the model."""
    c, V = model.config, model.config.output_size or model.config.vocab_size
    y = np.asarray(targets)
    if model.token_input:
        x = np.asarray(inputs)
        if x.ndim != 1 or y.shape != x.shape or len(x) == 0:
            raise ValueError(
                "inputs and targets must be equal-length non-empty 1-D sequences, "
                f"got {x.shape} and {y.shape}"
            )
        checks = (("inputs", x, c.vocab_size), ("targets", y, V))
    else:
        x = np.asarray(inputs)
        if x.ndim != 2 or x.shape[1] != c.input_size or y.ndim != 1 or len(y) != len(x) or len(x) == 0:
            raise ValueError(f"a dense-input model takes inputs (T, {c.input_size}) and targets (T,), T > 0, "
                             f"got {x.shape} and {y.shape}")
        if x.dtype.kind not in "iuf" or not np.all(np.isfinite(x)):
            raise ValueError(f"inputs must be finite numbers, got numpy dtype {x.dtype}"
                             + ("" if x.dtype.kind not in "iuf" else " with a NaN or an infinity"))
        checks = (("targets", y, V),)
    for what, ids, n in checks:
        # a negative id would silently index from the end, so the range is checked here
        if ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= n:
            of = "the vocabulary" if model.token_input else "the output's classes"
            raise ValueError(f"{what} must be integer ids in [0, {n}) ({of}), got {ids.tolist()}")
    if model.token_input:
        x = np.eye(c.vocab_size)[x.astype(np.int64)]  # (T, V) one-hot rows
    return x.astype(np.float64), y.astype(np.int64)


def trace_step(model: SequenceModel, inputs: Sequence, targets: Sequence[int], lr: float = 0.1,
               vocab: Sequence[str] | None = None) -> dict:
    """Run one forward pass, backward pass and SGD update on one sequence and record every number.

    ``inputs`` are T token ids (a token-input model) or T input vectors (T, F) (a dense-input
    model); ``targets`` are T ids of the output's classes, which ``vocab`` names (default "0",
    "1", ...). Returns a JSON-able dict with keys ``forward``, ``backward``, ``grads``,
    ``grad_terms``, ``update``, ``loss`` and what the model is (module docstring). The model's
    parameters are not changed (the update is reported, not applied).
    """
    _check_model(model)
    lr = check_real("lr", lr)
    c = model.config
    V, H, L = c.output_size or c.vocab_size, c.hidden_size, c.num_layers
    if vocab is not None and len(vocab) != V:
        what = "vocabulary size" if model.token_input else "number of output classes"
        raise ValueError(f"vocab has {len(vocab)} entries, the model's {what} is {V}")
    names = [str(v) for v in vocab] if vocab is not None else [str(i) for i in range(V)]
    input_names = names if c.vocab_size == V else [str(i) for i in range(c.vocab_size or 0)]
    n_steps = len(inputs) if hasattr(inputs, "__len__") else 0
    # the record holds every weight three times (value, gradient, update) plus once per step (its
    # terms), and per step some vectors of V, F and H numbers, each a Python float in a list
    P, F = model.num_parameters(), c.input_size or c.vocab_size
    numbers = (3 + n_steps) * P + n_steps * (3 * V + F + L * LAYER_STEP_VECTORS[c.cell] * H)
    what = f"a trace of {n_steps} steps of a model of {P:,} weights"
    check_memory(numbers * RECORD_BYTES_PER_NUMBER, what, "its record", now=True)
    x, y = _inputs(model, inputs, targets)
    T = len(x)
    p = {k: v.astype(np.float64) for k, v in model.params.items()}
    ws = [reference.Weights(p[f"rnn.weight_ih_l{k}"], p[f"rnn.weight_hh_l{k}"],
                            p.get(f"rnn.bias_ih_l{k}", 0.0), p.get(f"rnn.bias_hh_l{k}", 0.0))
          for k in range(L)]
    w_out, b_out = p["head.weight"], p.get("head.bias", 0.0)
    cell = reference.get_cell(c.cell, c.nonlinearity)

    # forward: one reference step per input and layer, batch of one
    forward, steps, probs, tops = [], [], [], []
    zeros = np.zeros((1, H))  # (1, H)
    states = [(zeros, zeros) if c.cell == "lstm" else (zeros,) for _ in range(L)]  # h_{-1} = 0 (c_{-1} = 0)
    total = 0.0
    for t in range(T):
        below, layers, layer_steps = x[t][None], [], []
        for k in range(L):
            states[k], step = cell.step(below, states[k], ws[k])
            layers.append(_forward_fields(c.cell, step, states[k], ws[k]))
            layer_steps.append(step)
            below = states[k][0]  # (1, H) the next layer's input
        logits = below[0] @ w_out.T + b_out  # (V,)
        pt = softmax(logits)  # (V,)
        loss_t = float(-np.log(pt[y[t]]))
        total += loss_t
        steps.append(layer_steps)
        probs.append(pt)
        tops.append(below[0])
        forward.append({"t": t, "input": input_names[int(np.argmax(x[t]))] if model.token_input else None,
                        "target": names[y[t]], "x": x[t].tolist(), "layers": layers,
                        "logits": logits.tolist(), "softmax": pt.tolist(), "loss": loss_t})
    loss = total / T  # mean over steps, as cross_entropy's default reduction

    # backward from the last step, from the top layer down: a layer's hidden gradient is what comes
    # from above (the output, or the input of the layer above) plus what step t+1 sent back
    # (the step backward's dstate); the step's backward turns it into the pre-activation gradients
    backward = []
    terms = {k: [None] * T for k in p}
    from_next = [(zeros, zeros) if c.cell == "lstm" else (zeros,) for _ in range(L)]  # after step T: nothing
    for t in range(T - 1, -1, -1):
        dy = probs[t].copy()
        dy[y[t]] -= 1.0
        dy /= T  # (V,)
        terms["head.weight"][t] = np.outer(dy, tops[t])
        if "head.bias" in terms:
            terms["head.bias"][t] = dy
        from_above, layers = (dy @ w_out)[None], [None] * L  # (1, H)
        for k in reversed(range(L)):
            dh = from_above + from_next[k][0]  # (1, H)
            result = cell.step_backward((dh, *from_next[k][1:]), steps[t][k], ws[k])
            above = "dh_from_output" if k == L - 1 else "dh_from_layer_above"
            layers[k] = {above: from_above[0].tolist(), "dh_from_next_step": from_next[k][0][0].tolist(),
                         "dh": dh[0].tolist(),
                         **_backward_fields(c.cell, steps[t][k], dh, from_next[k], result, c.nonlinearity)}
            for name, g in result.grads.items():
                key = f"rnn.{_WEIGHT_NAMES[name]}_l{k}"
                if key in terms:
                    terms[key][t] = g
            from_next[k], from_above = result.dstate, result.dx
        backward.append({"t": t, "dlogits": dy.tolist(), "layers": layers})

    # the totals come from the library's own backward pass
    ids = np.argmax(x, axis=1)[:, None] if model.token_input else x[:, None, :].astype(model.dtype)
    out, _, cache = model.forward(ids)
    dlogits = np.stack([np.array(r["dlogits"]) for r in reversed(backward)])[:, None, :].astype(model.dtype)
    _, _, grads = model.backward(dlogits, None, cache)
    update = {k: model.params[k] - lr * g for k, g in grads.items()}
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "cell": c.cell,
        "nonlinearity": c.nonlinearity if c.cell == "rnn" else None,
        "num_layers": L,
        "hidden_size": H,
        "input": "one-hot" if model.token_input else "dense",
        "vocab": names,
        "lr": lr,
        "params": _lists(model.params),
        "forward": forward,
        "loss": loss,
        "backward": backward,
        "grads": _lists(grads),
        "grad_terms": {k: [np.asarray(v).tolist() for v in ts] for k, ts in terms.items()},
        "update": _lists(update),
    }
