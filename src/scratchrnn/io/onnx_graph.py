"""Building an ONNX graph from scratchrnn's layers: the pieces ``scratchrnn.io.onnx_export`` joins.

:class:`Graph` collects nodes and float32 constants under unique names and keeps the two
conventions every exported graph shares:

* an *optional input* is a graph input with an initializer of the same name (ONNX's overridable
  initializer), empty: an ``If`` takes the default when it is left out (a state: zeros; lengths:
  the whole time axis) and otherwise reshapes what was fed to the default's shape, so a state or
  lengths of another batch size is an error (:meth:`Graph.optional_input`);
* a recurrent stack is one standard ``RNN``, ``LSTM`` or ``GRU`` operator per layer
  (:meth:`Graph.recurrent`), with ``sequence_lens`` always given, the layers' outputs
  concatenated direction by direction as PyTorch does, and the final states stacked
  ``(layers * directions, batch, hidden)``, layer-major.

The weights keep PyTorch's layout, so only the gate blocks move: ONNX's LSTM orders them input,
output, forget, cell (PyTorch: input, forget, cell, output) and its GRU update, reset, hidden
(PyTorch: reset, update, new), with ``linear_before_reset=1``, which is PyTorch's GRU (the reset
gate scales ``W_hn h + b_hn``). ``B`` is each direction's input bias then its recurrent bias. An
RNN's nonlinearity is ONNX's ``Tanh``, ``Relu``, ``Sigmoid``, or ``Affine`` with alpha 1 and beta
0 for the identity. Everything is float32: ONNX Runtime runs these operators in float32 only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["IR_VERSION", "OPSET", "STATE_INPUTS", "STATE_OUTPUTS", "Graph", "Stack", "onnx_activation"]

OPSET = 17  # the default domain's operator set the graphs use (axes of ReduceMax are an attribute)
IR_VERSION = 8  # the file format version; with opset 17, what ONNX Runtime 1.12 and later read
STATE_INPUTS = ("h0", "c0")  # the initial states' input names: h, and c for an LSTM
STATE_OUTPUTS = ("h_n", "c_n")  # the final states' output names
# PyTorch's gate blocks in the order ONNX wants them
_GATE_ORDER = {"RNN": (0,), "LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2)}
_ACTIVATIONS = {"tanh": ("Tanh", None), "relu": ("Relu", None), "sigmoid": ("Sigmoid", None),
                "identity": ("Affine", (1.0, 0.0))}


def onnx_activation(nonlinearity: str) -> tuple[str, tuple[float, float] | None]:
    """ONNX's name of an RNN nonlinearity and its (alpha, beta), or a ValueError naming it."""
    if nonlinearity not in _ACTIVATIONS:
        raise ValueError(f"an RNN with the nonlinearity {nonlinearity!r} has no ONNX activation; "
                         f"expected one of {', '.join(map(repr, _ACTIVATIONS))}")
    return _ACTIVATIONS[nonlinearity]


class Stack(NamedTuple):
    """What :meth:`Graph.recurrent` reads of a recurrent layer or cell."""

    kind: str  # "RNN", "LSTM" or "GRU"
    params: dict  # PyTorch's names: weight_ih_l0, ..., with _reverse for the reverse direction
    hidden_size: int
    num_layers: int
    num_directions: int
    bias: bool
    nonlinearity: str  # the RNN's; "tanh" for the others

    @property
    def arity(self) -> int:
        """The state arrays: 2 for an LSTM (h and c), else 1."""
        return 2 if self.kind == "LSTM" else 1

    @classmethod
    def of(cls, module) -> Stack:
        """The stack of a scratchrnn RNN, LSTM or GRU layer, or of an RNNCell, LSTMCell or GRUCell
        (one layer, one direction: its ``weight_ih`` is the layer's ``weight_ih_l0``)."""
        name = type(module).__name__
        if name.endswith("Cell"):
            params = {f"{k}_l0": v for k, v in module.params.items()}
            return cls(name[:-4].upper(), params, module.hidden_size, 1, 1, module.bias,
                       getattr(module, "nonlinearity", "tanh"))
        return cls(name, dict(module.params), module.hidden_size, module.num_layers, module.num_directions,
                   module.bias, getattr(module, "nonlinearity", "tanh"))


def _reorder(array: np.ndarray, kind: str, hidden: int) -> np.ndarray:
    """The (G*H, ...) rows of ``array`` with the gate blocks in ONNX's order."""
    return np.concatenate([array[g * hidden:(g + 1) * hidden] for g in _GATE_ORDER[kind]], axis=0)


class Graph:
    """An ONNX graph under construction (module docstring); ``onnx`` is the imported package."""

    def __init__(self, onnx, name: str):
        self.onnx, self.name = onnx, name
        self.FLOAT, self.INT32 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT32  # Cast's targets
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self._count = 0
        self._consts: dict[tuple, str] = {}

    # -- names and constants -------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value, hint: str = "const") -> str:
        """An initializer holding ``value`` (float arrays as float32, integers as int64); small
        integer constants are made once."""
        array = np.asarray(value)
        array = np.ascontiguousarray(array, dtype=np.float32 if array.dtype.kind == "f" else np.int64)
        key = None
        if array.size <= 8 and array.dtype.kind == "i":
            key = (array.dtype.str, array.shape, tuple(array.ravel().tolist()))
            if key in self._consts:
                return self._consts[key]
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        if key is not None:
            self._consts[key] = name
        return name

    def op(self, op_type: str, *inputs: str, outputs: int = 1, hint: str | None = None, **attrs):
        """A node; its output name (or a list of ``outputs`` names)."""
        names = [self.fresh(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), names, **attrs))
        return names[0] if outputs == 1 else names

    def zeros(self, shape: str) -> str:
        """float32 zeros of ``shape``, a 1-D int64 tensor."""
        zero = self.onnx.helper.make_tensor("zero", self.FLOAT, [1], [0.0])
        return self.op("ConstantOfShape", shape, value=zero)

    def dim(self, tensor: str, axis: int) -> str:
        """The size of ``tensor``'s axis as a 1-element int64 tensor."""
        return self.op("Gather", self.op("Shape", tensor), self.const([axis]), axis=0)

    def scalar_dim(self, tensor: str, axis: int) -> str:
        """The size of ``tensor``'s axis as an int64 scalar."""
        return self.op("Gather", self.op("Shape", tensor), self.const(axis), axis=0)

    # -- inputs and outputs ----------------------------------------------------------------------
    def input(self, name: str, elem: str, shape: list) -> str:
        """A required graph input of ``elem`` ("float" or "int64") and ``shape`` (ints and names)."""
        self.inputs.append(self._value_info(name, elem, shape))
        return name

    def optional_input(self, name: str, elem: str, shape: list, default: str) -> str:
        """An input of ``shape`` (ints and names) that may be left out: its initializer is empty
        (each named axis 0), and then ``default`` (a tensor of the full shape) is used. A tensor
        fed there is reshaped to the default's shape, so one with other sizes (a batch or lengths
        of another size) is an error rather than broadcast. Returns the tensor to read."""
        empty = [0 if isinstance(s, str) else s for s in shape]
        dtype = np.float32 if elem == "float" else np.int64
        self.initializers.append(self.onnx.numpy_helper.from_array(np.zeros(empty, dtype), name))
        self.inputs.append(self._value_info(name, elem, shape))
        helper, out = self.onnx.helper, self.fresh(name)
        fed = self.fresh(name + "_fed")
        given = helper.make_graph([helper.make_node("Reshape", [name, self.op("Shape", default)], [fed])],
                                  f"{name}_given", [], [self._value_info(fed, elem, shape)])
        left = self.fresh(name + "_default")
        default_graph = helper.make_graph([helper.make_node("Identity", [default], [left])],
                                          f"{name}_left_out", [], [self._value_info(left, elem, shape)])
        absent = self.op("Equal", self.op("Size", name), self.const(0))
        self.nodes.append(helper.make_node("If", [absent], [out], then_branch=default_graph,
                                           else_branch=given))
        return out

    def state_inputs(self, arity: int, shape: list, batch: str) -> list[str]:
        """The optional inputs ``h0`` (and ``c0`` when ``arity`` is 2) of ``shape``, zeros when
        left out; ``batch`` (a 1-element int64 tensor) is the size of its "batch" axis."""
        full = self.zeros(self.op("Concat", *[batch if s == "batch" else self.const([s]) for s in shape],
                                  axis=0))
        return [self.optional_input(n, "float", shape, full) for n in STATE_INPUTS[:arity]]

    def state_outputs(self, finals: list[str], shape: list, squeeze: bool = False) -> None:
        """The outputs ``h_n`` (and ``c_n``) of the final states, dropping their first axis of 1
        with ``squeeze`` (a cell's)."""
        for name, final in zip(STATE_OUTPUTS, finals, strict=False):
            tensor = self.op("Squeeze", final, self.const([0])) if squeeze else final
            self.output(name, tensor, "float", shape)

    def lengths_input(self, name: str, steps: str, batch: str) -> str:
        """An optional int64 input (batch,) of sequence lengths whose default is ``steps`` (an
        int64 scalar) for every sequence; returns the lengths to use, (batch,) int64."""
        return self.optional_input(name, "int64", ["batch"], self.op("Expand", steps, batch))

    def ones(self, batch: str) -> str:
        """int32 ones (batch,): the sequence lengths of one step."""
        return self.op("Cast", self.op("Expand", self.const(1), batch), to=self.INT32)

    def masked(self, out: str, mask: str) -> str:
        """``out`` (T, B, F) with the steps outside the bool ``mask`` (T, B) set to zero."""
        valid = self.op("Unsqueeze", mask, self.const([2]))
        return self.op("Mul", out, self.op("Cast", valid, to=self.FLOAT))

    def output(self, name: str, tensor: str, elem: str, shape: list) -> None:
        self.nodes.append(self.onnx.helper.make_node("Identity", [tensor], [name]))
        self.outputs.append(self._value_info(name, elem, shape))

    def _value_info(self, name: str, elem: str, shape: list):
        types = {"float": self.FLOAT, "int64": self.onnx.TensorProto.INT64}
        return self.onnx.helper.make_tensor_value_info(name, types[elem], shape)

    # -- shared pieces ---------------------------------------------------------------------------
    def steps_mask(self, lengths: str, steps: str, time_major: bool = True) -> str:
        """A bool mask of the steps inside each length: (T, B) time-major, else (B, T)."""
        arange = self.op("Range", self.const(0), steps, self.const(1))  # (T,)
        mask = self.op("Less", self.op("Unsqueeze", arange, self.const([1])),
                       self.op("Unsqueeze", lengths, self.const([0])))  # (T, B)
        return mask if time_major else self.op("Transpose", mask, perm=[1, 0])

    def linear(self, x: str, weight: np.ndarray | str, bias: np.ndarray | None, hint: str) -> str:
        """``x @ weight.T + bias`` over the last axis; ``weight`` (O, I) or the name of one."""
        w = weight if isinstance(weight, str) else self.const(weight, hint + ".weight")
        y = self.op("MatMul", x, self.op("Transpose", w, perm=[1, 0]), hint=hint)
        return y if bias is None else self.op("Add", y, self.const(bias, hint + ".bias"), hint=hint)

    def recurrent(self, rnn: Stack, x: str, states: list[str], lengths32: str, hint: str):
        """A recurrent stack over x (T, B, F) from initial ``states`` (h, and c for an LSTM, each
        (L*D, B, H)) -> outputs (T, B, D*H), final states [(L*D, B, H), ...]."""
        kind = rnn.kind
        H, D, L = rnn.hidden_size, rnn.num_directions, rnn.num_layers
        attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
        if kind == "RNN":
            name, ab = onnx_activation(rnn.nonlinearity)
            attrs["activations"] = [name] * D
            if ab is not None:
                attrs["activation_alpha"], attrs["activation_beta"] = [ab[0]] * D, [ab[1]] * D
        elif kind == "GRU":
            attrs["linear_before_reset"] = 1
        finals = [[] for _ in states]
        for layer in range(L):
            suffixes = ("", "_reverse")[:D]
            p = rnn.params
            w = np.stack([_reorder(p[f"weight_ih_l{layer}{s}"], kind, H) for s in suffixes])
            r = np.stack([_reorder(p[f"weight_hh_l{layer}{s}"], kind, H) for s in suffixes])
            ins = [x, self.const(w, f"{hint}.W_l{layer}"), self.const(r, f"{hint}.R_l{layer}")]
            if rnn.bias:
                b = np.stack([np.concatenate([_reorder(p[f"bias_ih_l{layer}{s}"], kind, H),
                                              _reorder(p[f"bias_hh_l{layer}{s}"], kind, H)])
                              for s in suffixes])
                ins.append(self.const(b, f"{hint}.B_l{layer}"))
            else:
                ins.append("")
            ins.append(lengths32)
            window = (self.const([layer * D]), self.const([(layer + 1) * D]), self.const([0]))
            ins += [self.op("Slice", s, *window) for s in states]
            outs = self.op(kind, *ins, outputs=1 + len(states), hint=f"{hint}_l{layer}", **attrs)
            y = self.op("Transpose", outs[0], perm=[0, 2, 1, 3])  # (T, D, B, H) -> (T, B, D, H)
            x = self.op("Reshape", y, self.const([0, 0, -1]))  # (T, B, D*H)
            for finals_of, final in zip(finals, outs[1:], strict=True):
                finals_of.append(final)
        stacked = [f[0] if L == 1 else self.op("Concat", *f, axis=0) for f in finals]
        return x, stacked

    def model(self, doc: str, metadata: dict[str, str]):
        """The checked ModelProto of this graph."""
        helper = self.onnx.helper
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  ir_version=IR_VERSION, producer_name="scratchrnn", doc_string=doc)
        helper.set_model_props(model, metadata)
        self.onnx.checker.check_model(model, full_check=True)
        return model
