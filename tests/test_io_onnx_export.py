"""ONNX export (scratchrnn.io.onnx_export): every exported graph run in ONNX Runtime equals
scratchrnn's forward within 1e-5 on several time and batch sizes from one file, passes
onnx.checker, streams in two halves, and bad input is refused, naming it, with nothing written."""

import itertools
import json

import numpy as np
import pytest

from scratchrnn.io import MissingDependencyError, export_onnx, save_npz_weights, to_onnx
from scratchrnn.nn import GRU, LSTM, RNN, GRUCell, Linear, LSTMCell, RNNCell
from scratchrnn.nn.model import ModelConfig, SequenceModel

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = 1e-5
SIZES = ((1, 1), (4, 3), (9, 2))  # (T, B): one file runs them all


def session(path):
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the runtime's note that the defaults of h0 and lengths can be fed
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess, **feed) -> dict:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feed), strict=True))


def states(h) -> tuple:
    return h if isinstance(h, tuple) else (h,)


def assert_states(got: dict, state):
    """The outputs h_n (and c_n) equal a state as scratchrnn returns it."""
    for name, want in zip(("h_n", "c_n"), states(state), strict=False):
        assert_close(got[name], want)
    assert ("c_n" in got) == isinstance(state, tuple)


def assert_close(got, want):
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)


def model_inputs(model, rng, T, B):
    if model.token_input:
        return rng.integers(0, model.config.vocab_size, (T, B))
    return rng.standard_normal((T, B, model.config.input_size)).astype(model.dtype)


def export(tmp_path, model, name="model.onnx", **kwargs):
    path = to_onnx(model, tmp_path / name, **kwargs)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)  # the file, read back
    return session(path)


# -- SequenceModel: every cell, head and input, stacked and bidirectional --------------------------
INPUTS = {"onehot": dict(vocab_size=7), "embedding": dict(vocab_size=7, embedding_dim=4),
          "dense": dict(input_size=3, output_size=4)}
MODEL_CASES = list(itertools.product(("rnn", "lstm", "gru"), ("all", "last", "final", "mean", "max"),
                                     tuple(INPUTS), (False, True)))


@pytest.mark.parametrize(("cell", "head", "inputs", "bidirectional"), MODEL_CASES,
                         ids=["-".join(map(str, c)) for c in MODEL_CASES])
def test_sequence_model_equals_forward(tmp_path, cell, head, inputs, bidirectional):
    model = SequenceModel(ModelConfig(cell=cell, head=head, hidden_size=5, num_layers=2,
                                      bidirectional=bidirectional, **INPUTS[inputs]), rng=1).eval()
    sess = export(tmp_path, model)
    rng = np.random.default_rng(2)
    for T, B in SIZES:
        x = model_inputs(model, rng, T, B)
        lengths = rng.integers(1, T + 1, B)
        lengths[0] = T
        h0 = tuple(rng.standard_normal(s.shape).astype(np.float32) for s in states(model.init_state(B)))
        for given in (None, lengths):
            y, h_n, _ = model.forward(x, h0 if cell == "lstm" else h0[0], lengths=given)
            feed = {"input": x, **dict(zip(("h0", "c0"), h0, strict=False))}
            if given is not None:
                feed["lengths"] = given
            out = run(sess, **feed)
            assert_close(out["output"], y)
            assert_states(out, h_n)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_states_and_lengths_left_out_are_zeros_and_the_whole_sequence(tmp_path, cell):
    model = SequenceModel(ModelConfig(cell=cell, vocab_size=6, embedding_dim=3, hidden_size=4), rng=0).eval()
    sess = export(tmp_path, model)
    x = np.random.default_rng(0).integers(0, 6, (5, 3))
    y, h_n, _ = model.forward(x)
    out = run(sess, input=x)
    assert_close(out["output"], y)
    assert_states(out, h_n)
    names = ["output", "h_n"] + ["c_n"] * (cell == "lstm")
    assert [o.name for o in sess.get_outputs()] == names


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_streaming_in_two_halves_equals_one_pass(tmp_path, cell):
    model = SequenceModel(ModelConfig(cell=cell, vocab_size=9, embedding_dim=4, hidden_size=6,
                                      num_layers=2), rng=3).eval()
    sess = export(tmp_path, model)
    x = np.random.default_rng(1).integers(0, 9, (12, 4))
    whole = run(sess, input=x)
    first = run(sess, input=x[:5])
    carried = {"h0": first["h_n"]} | ({"c0": first["c_n"]} if cell == "lstm" else {})
    second = run(sess, input=x[5:], **carried)
    np.testing.assert_allclose(np.concatenate([first["output"], second["output"]]), whole["output"],
                               rtol=0, atol=TOL)
    for name in ("h_n", "c_n")[:1 + (cell == "lstm")]:
        np.testing.assert_allclose(second[name], whole[name], rtol=0, atol=TOL)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid", "identity"])
def test_every_rnn_nonlinearity_and_no_bias(tmp_path, nonlinearity):
    model = SequenceModel(ModelConfig(input_size=3, output_size=2, hidden_size=4, num_layers=2, bias=False,
                                      head_bias=False, nonlinearity=nonlinearity), rng=4).eval()
    sess = export(tmp_path, model)
    x = np.random.default_rng(5).standard_normal((6, 2, 3)).astype(np.float32)
    y, h_n, _ = model.forward(x)
    out = run(sess, input=x)
    assert_close(out["output"], y)
    assert_close(out["h_n"], h_n)


def test_tied_weights_are_stored_once(tmp_path):
    model = SequenceModel(ModelConfig(cell="gru", vocab_size=11, embedding_dim=6, hidden_size=6,
                                      tie_weights=True), rng=6).eval()
    sess = export(tmp_path, model)
    x = np.random.default_rng(0).integers(0, 11, (4, 2))
    assert_close(run(sess, input=x)["output"], model.forward(x)[0])
    proto = onnx.load(str(tmp_path / "model.onnx"))
    sizes = sorted(int(np.prod(t.dims)) for t in proto.graph.initializer)
    assert sizes.count(11 * 6) == 1  # the (V, E) matrix, read by the lookup and the head


def test_a_float64_model_runs_in_float32_within_the_tolerance(tmp_path):
    model = SequenceModel(ModelConfig(cell="lstm", input_size=3, output_size=2, hidden_size=5,
                                      dtype="float64", head="mean"), rng=7).eval()
    sess = export(tmp_path, model)
    x = np.random.default_rng(1).standard_normal((7, 3, 3))
    y, _, _ = model.forward(x)
    out = run(sess, input=x.astype(np.float32))["output"]
    np.testing.assert_allclose(out, y, rtol=0, atol=TOL)


def test_padding_ids_are_never_read(tmp_path):
    model = SequenceModel(ModelConfig(cell="rnn", vocab_size=5, embedding_dim=3, hidden_size=4,
                                      head="last"), rng=0).eval()
    sess = export(tmp_path, model)
    x = np.array([[1, 2], [3, -1], [4, 99]])  # past each length, ids outside the vocabulary
    lengths = np.array([3, 1])
    y, _, _ = model.forward(x, lengths=lengths)
    assert_close(run(sess, input=x, lengths=lengths)["output"], y)


def test_dropout_is_left_out(tmp_path):
    model = SequenceModel(ModelConfig(cell="lstm", vocab_size=5, hidden_size=4, num_layers=2, dropout=0.5),
                          rng=0)  # left in training mode: the export is the model in evaluation mode
    sess = export(tmp_path, model)
    x = np.random.default_rng(0).integers(0, 5, (3, 2))
    assert_close(run(sess, input=x)["output"], model.eval().forward(x)[0])


# -- layers and cells ------------------------------------------------------------------------------
@pytest.mark.parametrize(("cls", "batch_first"), list(itertools.product((RNN, LSTM, GRU), (False, True))))
def test_layer_stacks_equal_forward(tmp_path, cls, batch_first):
    layer = cls(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first, rng=1).eval()
    sess = export(tmp_path, layer)
    rng = np.random.default_rng(0)
    for T, B in SIZES:
        x = rng.standard_normal((B, T, 3) if batch_first else (T, B, 3)).astype(np.float32)
        lengths = rng.integers(1, T + 1, B)
        out, h_n, _ = layer.forward(x, lengths=lengths)
        got = run(sess, input=x, lengths=lengths)
        assert_close(got["output"], out)
        assert_states(got, h_n)


CELL_CASES = [(RNNCell, "tanh"), (RNNCell, "relu"), (LSTMCell, None), (GRUCell, None)]


@pytest.mark.parametrize(("cls", "nonlinearity"), CELL_CASES, ids=["rnn-tanh", "rnn-relu", "lstm", "gru"])
def test_cells_equal_one_step(tmp_path, cls, nonlinearity):
    cell = cls(3, 4, rng=2, **({} if nonlinearity is None else {"nonlinearity": nonlinearity}))
    sess = export(tmp_path, cell)
    rng = np.random.default_rng(0)
    for B in (1, 5):
        x = rng.standard_normal((B, 3)).astype(np.float32)
        given = tuple(rng.standard_normal((B, 4)).astype(np.float32) for _ in range(1 + (cls is LSTMCell)))
        for state in (None, given):
            new, _ = cell.forward(x, state if state is None or cls is LSTMCell else state[0])
            got = run(sess, input=x, **dict(zip(("h0", "c0"), state or (), strict=False)))
            assert_states(got, new)


# -- the file --------------------------------------------------------------------------------------
def test_the_file_names_its_model_inputs_and_outputs(tmp_path):
    model = SequenceModel(ModelConfig(cell="lstm", vocab_size=5, hidden_size=3), rng=0)
    to_onnx(model, tmp_path / "m.onnx", metadata={"vocab": "abcde"})
    proto = onnx.load(str(tmp_path / "m.onnx"))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["scratchrnn.module"] == "SequenceModel" and meta["vocab"] == "abcde"
    assert json.loads(meta["scratchrnn.config"])["cell"] == "lstm"
    assert meta["scratchrnn.inputs"] == "input,h0,c0,lengths"
    assert meta["scratchrnn.outputs"] == "output,h_n,c_n"
    assert [i.name for i in proto.graph.input] == ["input", "h0", "c0", "lengths"]
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["time", "batch"]  # dynamic axes
    ops = {n.op_type for n in proto.graph.node}
    assert "LSTM" in ops and "Loop" not in ops and "Scan" not in ops


def test_export_onnx_reads_a_trainer_checkpoint_and_keeps_its_vocabulary(tmp_path):
    from io_helpers import trainer_checkpoint
    from scratchrnn.io import load_module

    ckpt = trainer_checkpoint(tmp_path, cell="gru")
    (path,) = export_onnx(ckpt)
    assert path == tmp_path / "last.onnx"
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(meta["scratchrnn.vocab"]) == list("abcde")
    model = load_module(ckpt).eval()
    x = np.array([[0, 1], [2, 3], [4, 0]])
    assert_close(run(session(path), input=x)["output"], model.forward(x)[0])


def test_export_onnx_refuses_an_estimator_a_text_and_its_own_input(tmp_path):
    from io_helpers import trainer_checkpoint
    from scratchrnn.estimators import SequenceClassifier

    X = [np.random.default_rng(i).standard_normal((4, 2)) for i in range(6)]
    clf = SequenceClassifier(hidden_size=3, epochs=1, random_state=0).fit(X, [0, 1] * 3)
    clf.save(tmp_path / "clf.npz")
    with pytest.raises(ValueError, match="clf.npz is a SequenceClassifier file: its predictions scale"):
        export_onnx(tmp_path / "clf.npz")
    (tmp_path / "t.txt").write_text("not a model")
    with pytest.raises(ValueError, match="t.txt is neither a scratchrnn checkpoint nor a weights file"):
        export_onnx(tmp_path / "t.txt")
    ckpt = trainer_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="onto itself"):
        export_onnx(ckpt, ckpt)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".onnx") == []


def test_export_onnx_reads_a_weights_file(tmp_path):
    layer = LSTM(2, 3, rng=0)
    save_npz_weights(layer, tmp_path / "w.npz")
    (path,) = export_onnx(tmp_path / "w.npz", tmp_path / "lstm.onnx")
    x = np.ones((2, 1, 2), np.float32)
    assert_close(run(session(path), input=x)["output"], layer.forward(x)[0])


# -- bad input ---------------------------------------------------------------------------------------
def test_a_module_onnx_export_does_not_take_is_named(tmp_path):
    with pytest.raises(ValueError, match="ONNX export takes a scratchrnn SequenceModel.*got a Linear"):
        to_onnx(Linear(2, 3), tmp_path / "x.onnx")

    class MyLSTM(LSTM):
        pass

    with pytest.raises(ValueError, match="got MyLSTM"):
        to_onnx(MyLSTM(2, 3), tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="got dict"):
        to_onnx({"weight": np.ones(2)}, tmp_path / "x.onnx")
    assert list(tmp_path.iterdir()) == []


def test_part_is_only_for_a_seq2seq(tmp_path):
    with pytest.raises(ValueError, match="a SequenceModel is one graph, got part='encoder'"):
        to_onnx(SequenceModel(ModelConfig(vocab_size=3, hidden_size=2)), tmp_path / "x.onnx", part="encoder")
    assert list(tmp_path.iterdir()) == []


def test_metadata_must_be_strings(tmp_path):
    with pytest.raises(ValueError, match="metadata maps strings to strings"):
        to_onnx(RNNCell(2, 2), tmp_path / "x.onnx", metadata={"n": 3})
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_named_and_nothing_is_written(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"its folder {tmp_path / 'missing'} does not exist"):
        to_onnx(RNNCell(2, 2), tmp_path / "missing" / "x.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_writing_leaves_the_old_file(tmp_path, monkeypatch):
    import scratchrnn.io.onnx_export as onnx_export

    target = tmp_path / "x.onnx"
    target.write_bytes(b"old")

    def broken(*args, **kwargs):
        raise KeyboardInterrupt  # as an interrupt arriving while the graph is built

    monkeypatch.setattr(onnx_export, "onnx_model", broken)
    with pytest.raises(KeyboardInterrupt):
        to_onnx(RNNCell(2, 2), target)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.onnx"]


def test_weights_beyond_one_protobuf_are_refused_before_building(tmp_path, monkeypatch):
    import scratchrnn.io.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "_PROTOBUF_LIMIT", 100)
    with pytest.raises(ValueError, match="an ONNX file holds at most"):
        to_onnx(LSTMCell(4, 4), tmp_path / "x.onnx")
    assert list(tmp_path.iterdir()) == []


def test_without_onnx_the_error_says_what_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingDependencyError, match=r"install scratchrnn\[onnx\]"):
        to_onnx(RNNCell(2, 2), tmp_path / "x.onnx")
    assert list(tmp_path.iterdir()) == []
