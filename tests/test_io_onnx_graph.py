"""The ONNX graph builder (scratchrnn.io.onnx_graph): gate blocks in ONNX's order, the optional
inputs' defaults, shared small constants, and the activations the RNN operator names."""

import numpy as np
import pytest

from scratchrnn.io.onnx_graph import Graph, Stack, onnx_activation
from scratchrnn.nn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402 - after the skip: the package is optional


def session(graph: Graph):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(graph.model("test", {}).SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def initializer(graph: Graph, prefix: str) -> np.ndarray:
    (found,) = [t for t in graph.initializers if t.name.startswith(prefix)]
    return numpy_helper.to_array(found)


@pytest.mark.parametrize(("cls", "order"), [(RNN, [0]), (LSTM, [0, 3, 1, 2]), (GRU, [1, 0, 2])])
def test_gate_blocks_move_to_onnx_order(cls, order):
    """PyTorch's LSTM blocks i, f, g, o become ONNX's i, o, f, c; its GRU's r, z, n become z, r, h."""
    H = 2
    layer = cls(3, H, bidirectional=True, rng=0)
    for name, array in layer.params.items():  # each gate block holds its PyTorch index (+ 10 reversed)
        blocks = np.repeat(np.arange(array.shape[0] // H), H) + (10 if name.endswith("reverse") else 0)
        array[...] = blocks.reshape((-1,) + (1,) * (array.ndim - 1))
    graph = Graph(onnx, "g")
    x = graph.input("x", "float", ["time", "batch", 3])
    h0 = graph.state_inputs(1, [2, "batch", H], graph.dim(x, 1))
    graph.recurrent(Stack.of(layer), x, h0 * Stack.of(layer).arity, graph.ones(graph.dim(x, 1)), "rnn")
    want = np.repeat(order, H)
    w, r, b = (initializer(graph, f"rnn.{k}_l0") for k in "WRB")
    assert w.shape == (2, len(order) * H, 3) and r.shape == (2, len(order) * H, H)
    np.testing.assert_array_equal(w[0, :, 0], want)
    np.testing.assert_array_equal(w[1, :, 0], want + 10)
    np.testing.assert_array_equal(r[0, :, 0], want)
    np.testing.assert_array_equal(b[0], np.concatenate([want, want]))  # input bias, then recurrent
    node = next(n for n in graph.nodes if n.op_type == cls.__name__)
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["direction"] == b"bidirectional" and attrs["hidden_size"] == H
    assert attrs.get("linear_before_reset", 0) == (1 if cls is GRU else 0)


def test_a_cell_is_a_one_layer_one_direction_stack():
    stack = Stack.of(LSTMCell(3, 4, bias=False))
    assert (stack.kind, stack.num_layers, stack.num_directions, stack.bias) == ("LSTM", 1, 1, False)
    assert sorted(stack.params) == ["weight_hh_l0", "weight_ih_l0"]
    assert Stack.of(RNNCell(2, 2, nonlinearity="relu")).nonlinearity == "relu"
    assert Stack.of(GRUCell(2, 2)).kind == "GRU"


def test_optional_inputs_default_to_zeros_and_the_whole_time_axis():
    graph = Graph(onnx, "g")
    x = graph.input("x", "float", ["time", "batch", 2])
    steps, batch = graph.scalar_dim(x, 0), graph.dim(x, 1)
    h0, c0 = graph.state_inputs(2, [3, "batch", 4], batch)
    graph.output("h", h0, "float", [3, "batch", 4])
    graph.output("c", c0, "float", [3, "batch", 4])
    graph.output("n", graph.lengths_input("lengths", steps, batch), "int64", ["batch"])
    sess = session(graph)
    x = np.zeros((5, 2, 2), np.float32)
    h, c, n = sess.run(None, {"x": x})
    assert h.shape == c.shape == (3, 2, 4) and not h.any() and not c.any()
    np.testing.assert_array_equal(n, [5, 5])
    given = np.arange(24, dtype=np.float32).reshape(3, 2, 4)
    h, c, n = sess.run(None, {"x": x, "h0": given, "lengths": np.array([2, 4])})
    np.testing.assert_array_equal(h, given)
    assert not c.any()  # c0 left out while h0 is given
    np.testing.assert_array_equal(n, [2, 4])


@pytest.mark.parametrize("feed", [{"lengths": np.array([2])}, {"lengths": np.array([2, 3, 4])},
                                  {"h0": np.zeros((3, 1, 4), np.float32)},
                                  {"h0": np.zeros((3, 3, 4), np.float32)}],
                         ids=["lengths-short", "lengths-long", "h0-batch-1", "h0-batch-3"])
def test_an_optional_input_of_another_batch_size_is_an_error_not_broadcast(feed):
    graph = Graph(onnx, "g")
    x = graph.input("x", "float", ["time", "batch", 2])
    steps, batch = graph.scalar_dim(x, 0), graph.dim(x, 1)
    (h0,) = graph.state_inputs(1, [3, "batch", 4], batch)
    graph.output("h", h0, "float", [3, "batch", 4])
    graph.output("n", graph.lengths_input("lengths", steps, batch), "int64", ["batch"])
    with pytest.raises(ort.capi.onnxruntime_pybind11_state.Fail, match="cannot be reshaped"):
        session(graph).run(None, {"x": np.zeros((5, 2, 2), np.float32), **feed})


def test_small_integer_constants_are_made_once():
    graph = Graph(onnx, "g")
    assert graph.const([0]) == graph.const([0]) != graph.const([1])
    assert graph.const(np.ones(3)) != graph.const(np.ones(3))  # float arrays are weights, each its own
    assert numpy_helper.to_array(graph.initializers[-1]).dtype == np.float32


def test_activations():
    assert onnx_activation("identity") == ("Affine", (1.0, 0.0))
    assert onnx_activation("relu") == ("Relu", None)
    with pytest.raises(ValueError, match="the nonlinearity 'gelu' has no ONNX activation; expected one of"):
        onnx_activation("gelu")
