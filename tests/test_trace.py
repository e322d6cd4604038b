"""scratchrnn.trace: every recorded number of one step of the "hello" model against a plain-Python
reference (floats and math.exp only), per-step gradients that add up to the library's backward,
weights loaded from .json / .npz under PyTorch's names, and the errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from scratchrnn import checks
from scratchrnn.nn import reference
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.trace import (
    HELLO_LR,
    HELLO_TEXT,
    HELLO_VOCAB,
    HELLO_WEIGHTS,
    build_char_model,
    hello_model,
    load_weights,
    trace_step,
)

TOL = 1e-12
VOCAB = "helo"
INPUTS = [VOCAB.index(c) for c in "hell"]
TARGETS = [VOCAB.index(c) for c in "ello"]
LR = 0.5

# Hand-picked weights of the 4-character, 3-unit sigmoid model (PyTorch layouts: (out, in)).
W_IH = [[0.5, -0.3, 0.2, 0.1],
        [-0.4, 0.6, 0.3, -0.2],
        [0.1, 0.2, -0.5, 0.4]]
W_HH = [[0.3, -0.1, 0.2],
        [0.05, 0.4, -0.3],
        [-0.2, 0.1, 0.25]]
B_IH = [0.1, -0.05, 0.2]
B_HH = [-0.02, 0.03, 0.01]
W_OUT = [[0.7, -0.4, 0.2],
         [-0.3, 0.5, 0.6],
         [0.2, 0.3, -0.6],
         [-0.5, -0.2, 0.4]]
B_OUT = [0.05, -0.1, 0.15, 0.0]
HAND = {
    "rnn.weight_ih_l0": W_IH,
    "rnn.weight_hh_l0": W_HH,
    "rnn.bias_ih_l0": B_IH,
    "rnn.bias_hh_l0": B_HH,
    "head.weight": W_OUT,
    "head.bias": B_OUT,
}


# -- plain-Python reference --------------------------------------------------------------------
def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def matvec(m: list[list[float]], v: list[float]) -> list[float]:
    return [sum(row[j] * v[j] for j in range(len(v))) for row in m]


def matvec_t(m: list[list[float]], v: list[float]) -> list[float]:
    """m^T v."""
    return [sum(m[i][j] * v[i] for i in range(len(v))) for j in range(len(m[0]))]


def outer_sum(us: list[list[float]], vs: list[list[float]]) -> list[list[float]]:
    """sum_t u_t v_t^T."""
    return [[sum(u[i] * v[j] for u, v in zip(us, vs, strict=True)) for j in range(len(vs[0]))]
            for i in range(len(us[0]))]


def reference_step(inputs: list[int], targets: list[int], lr: float) -> dict:
    """Forward, backward and SGD update of the hand-set sigmoid model, written out step by step."""
    V, H, T = len(B_OUT), len(B_IH), len(inputs)
    xs, zs, hs, logits, probs, losses = [], [], [[0.0] * H], [], [], []
    for t in range(T):
        x = [1.0 if c == inputs[t] else 0.0 for c in range(V)]
        wx, wh = matvec(W_IH, x), matvec(W_HH, hs[-1])
        z = [wx[i] + B_IH[i] + wh[i] + B_HH[i] for i in range(H)]
        h = [sigmoid(zi) for zi in z]
        y = [a + b for a, b in zip(matvec(W_OUT, h), B_OUT, strict=True)]
        top = max(y)
        e = [math.exp(yc - top) for yc in y]
        p = [ec / sum(e) for ec in e]
        xs.append(x)
        zs.append(z)
        hs.append(h)
        logits.append(y)
        probs.append(p)
        losses.append(-math.log(p[targets[t]]))
    back = {}
    dz_next = [0.0] * H
    for t in range(T - 1, -1, -1):
        dy = [(probs[t][c] - (1.0 if c == targets[t] else 0.0)) / T for c in range(V)]
        from_out = matvec_t(W_OUT, dy)
        from_next = matvec_t(W_HH, dz_next)
        dh = [a + b for a, b in zip(from_out, from_next, strict=True)]
        h = hs[t + 1]
        dz = [dh[i] * h[i] * (1.0 - h[i]) for i in range(H)]
        back[t] = {"dlogits": dy, "dh_from_output": from_out, "dh_from_next_step": from_next, "dh": dh,
                   "dz": dz}
        dz_next = dz
    dzs = [back[t]["dz"] for t in range(T)]
    dys = [back[t]["dlogits"] for t in range(T)]
    db = [sum(dz[i] for dz in dzs) for i in range(H)]
    grads = {
        "rnn.weight_ih_l0": outer_sum(dzs, xs),
        "rnn.weight_hh_l0": outer_sum(dzs, hs[:-1]),
        "rnn.bias_ih_l0": db,
        "rnn.bias_hh_l0": list(db),
        "head.weight": outer_sum(dys, hs[1:]),
        "head.bias": [sum(dy[c] for dy in dys) for c in range(V)],
    }
    update = {k: (np.array(HAND[k]) - lr * np.array(g)).tolist() for k, g in grads.items()}
    return {"x": xs, "z": zs, "h": hs[1:], "logits": logits, "softmax": probs, "losses": losses,
            "loss": sum(losses) / T, "backward": back, "grads": grads, "update": update}


def one_layer(rec: dict) -> dict:
    """A step's record with its only layer's numbers beside the step's own."""
    (layer,) = rec["layers"]
    return {**{k: v for k, v in rec.items() if k != "layers"}, **layer}


def assert_numbers_close(got, expected, what: str) -> None:
    """Nested lists of floats equal in shape and within TOL everywhere."""
    g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert g.shape == e.shape, f"{what}: shape {g.shape}, expected {e.shape}"
    np.testing.assert_allclose(g, e, rtol=0.0, atol=TOL, err_msg=what)


def hand_model() -> SequenceModel:
    model = build_char_model(4, 3, "sigmoid", rng=123)
    model.load_state_dict({k: np.array(v) for k, v in HAND.items()})
    return model


# -- the step, number by number ------------------------------------------------------------------
def test_trace_step_records_every_number_of_the_hand_set_model():
    model = hand_model()
    before = model.state_dict()
    tr = trace_step(model, INPUTS, TARGETS, lr=LR, vocab=list(VOCAB))
    ref = reference_step(INPUTS, TARGETS, LR)
    json.dumps(tr)  # JSON-able as promised
    assert tr["vocab"] == list(VOCAB) and tr["lr"] == LR and tr["nonlinearity"] == "sigmoid"
    for k, v in HAND.items():
        assert tr["params"][k] == v  # the recorded parameters are exactly the hand-set ones
    assert len(tr["forward"]) == 4
    for t, rec in enumerate(map(one_layer, tr["forward"])):
        assert rec["t"] == t and rec["input"] == "hell"[t] and rec["target"] == "ello"[t]
        assert rec["x"] == ref["x"][t]
        assert_numbers_close(rec["pre_activation"], ref["z"][t], f"pre_activation[{t}]")
        assert_numbers_close(rec["hidden"], ref["h"][t], f"hidden[{t}]")
        assert_numbers_close(rec["logits"], ref["logits"][t], f"logits[{t}]")
        assert_numbers_close(rec["softmax"], ref["softmax"][t], f"softmax[{t}]")
        assert_numbers_close(rec["loss"], ref["losses"][t], f"loss[{t}]")
    assert_numbers_close(tr["loss"], ref["loss"], "loss")
    assert [rec["t"] for rec in tr["backward"]] == [3, 2, 1, 0]  # recorded from the last step back
    for rec in map(one_layer, tr["backward"]):
        for key in ("dlogits", "dh_from_output", "dh_from_next_step", "dh", "dz"):
            assert_numbers_close(rec[key], ref["backward"][rec["t"]][key], f"{key}[{rec['t']}]")
    # nothing flows into the last step
    assert tr["backward"][0]["layers"][0]["dh_from_next_step"] == [0.0, 0.0, 0.0]
    assert set(tr["grads"]) == set(tr["update"]) == set(HAND)
    for k in HAND:
        assert_numbers_close(tr["grads"][k], ref["grads"][k], f"grad {k}")
        assert_numbers_close(tr["update"][k], ref["update"][k], f"update {k}")
    for k, v in model.params.items():  # the update is reported, not applied
        np.testing.assert_array_equal(v, before[k])


def test_the_guided_hello_example_is_the_hand_computed_step():
    """``hello_model`` (what ``trace --example hello`` and the README's page show) holds these hand-set
    weights, and its trace on "hello" is the plain-Python step above."""
    assert HELLO_WEIGHTS == HAND and HELLO_VOCAB == VOCAB and HELLO_TEXT == "hello"
    ids = [VOCAB.index(c) for c in HELLO_TEXT]
    tr = trace_step(hello_model(), ids[:-1], ids[1:], lr=HELLO_LR, vocab=list(HELLO_VOCAB))
    ref = reference_step(INPUTS, TARGETS, HELLO_LR)
    for t, rec in enumerate(map(one_layer, tr["forward"])):
        assert_numbers_close(rec["hidden"], ref["h"][t], f"hidden[{t}]")
        assert_numbers_close(rec["softmax"], ref["softmax"][t], f"softmax[{t}]")
    for k in HAND:
        assert_numbers_close(tr["update"][k], ref["update"][k], f"update {k}")


def test_reference_is_not_trivially_matched():
    """The hand-set numbers give a non-degenerate step: only the input column of "o" (never read) has
    a zero gradient, and the recurrent path carries gradient back from every step but the last."""
    ref = reference_step(INPUTS, TARGETS, LR)
    o = VOCAB.index("o")
    for k, g in ref["grads"].items():
        g = np.asarray(g)
        if k == "rnn.weight_ih_l0":
            assert np.all(g[:, o] == 0.0)
            g = np.delete(g, o, axis=1)
        assert np.all(np.abs(g) > 1e-4), k
    assert ref["backward"][3]["dh_from_next_step"] == [0.0, 0.0, 0.0]
    for t in range(3):
        assert all(abs(v) > 1e-4 for v in ref["backward"][t]["dh_from_next_step"]), t


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "tanh", "relu", "identity"])
@pytest.mark.parametrize("bias", [True, False])
def test_per_step_gradients_sum_to_the_library_totals(nonlinearity, bias):
    V, H = 5, 4
    model = build_char_model(V, H, nonlinearity, bias=bias, rng=7)
    rng = np.random.default_rng(11)
    for p in model.params.values():  # larger weights than the default init, so every term matters
        p[...] = rng.uniform(-1.0, 1.0, size=p.shape)
    inputs = rng.integers(0, V, size=9).tolist()
    targets = rng.integers(0, V, size=9).tolist()
    tr = trace_step(model, inputs, targets, lr=0.1)
    T = len(inputs)
    back = {rec["t"]: one_layer(rec) for rec in tr["backward"]}
    xs = np.array([rec["x"] for rec in tr["forward"]])  # (T, V)
    hs = np.array([[0.0] * H] + [one_layer(rec)["hidden"] for rec in tr["forward"]])  # (T+1, H)
    dz = np.array([back[t]["dz"] for t in range(T)])  # (T, H)
    dy = np.array([back[t]["dlogits"] for t in range(T)])  # (T, V)
    per_step = {
        "rnn.weight_ih_l0": sum(np.outer(dz[t], xs[t]) for t in range(T)),
        "rnn.weight_hh_l0": sum(np.outer(dz[t], hs[t]) for t in range(T)),
        "head.weight": sum(np.outer(dy[t], hs[t + 1]) for t in range(T)),
    }
    if bias:
        per_step.update({"rnn.bias_ih_l0": dz.sum(0), "rnn.bias_hh_l0": dz.sum(0), "head.bias": dy.sum(0)})
    assert set(tr["grads"]) == set(per_step) == set(model.params)
    for k, g in per_step.items():
        np.testing.assert_allclose(tr["grads"][k], g, rtol=0.0, atol=TOL, err_msg=k)
    # and the per-step dh is the sum of its two recorded parts
    for rec in map(one_layer, tr["backward"]):
        np.testing.assert_allclose(rec["dh"], np.add(rec["dh_from_output"], rec["dh_from_next_step"]),
                                   rtol=0.0, atol=0.0)


def test_trace_uses_index_names_without_a_vocab():
    tr = trace_step(hand_model(), INPUTS, TARGETS)
    assert tr["vocab"] == ["0", "1", "2", "3"]
    assert [r["input"] for r in tr["forward"]] == ["0", "1", "2", "2"]
    assert tr["lr"] == 0.1


# -- loading weights ---------------------------------------------------------------------------
def test_load_weights_json_with_the_models_own_names(tmp_path):
    path = tmp_path / "hello.json"
    path.write_text(json.dumps(HAND), encoding="utf-8")
    model = build_char_model(4, 3, "sigmoid", rng=5)
    load_weights(model, path)
    for k, v in HAND.items():
        np.testing.assert_array_equal(model.params[k], np.array(v))
    assert trace_step(model, INPUTS, TARGETS)["params"] == HAND


def test_load_weights_json_with_bare_pytorch_names(tmp_path):
    bare = {k.removeprefix("rnn."): v for k, v in HAND.items()}
    assert "weight_ih_l0" in bare and "head.weight" in bare
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(bare), encoding="utf-8")
    model = build_char_model(4, 3, "sigmoid", rng=5)
    load_weights(model, str(path))  # a str path works too
    for k, v in HAND.items():
        np.testing.assert_array_equal(model.params[k], np.array(v))


def test_load_weights_npz_from_a_torch_rnn_and_linear(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    rnn = torch.nn.RNN(4, 3, nonlinearity="tanh", dtype=torch.float64)
    head = torch.nn.Linear(3, 4, dtype=torch.float64)
    arrays = {k: v.detach().numpy() for k, v in rnn.state_dict().items()}  # weight_ih_l0, ...
    arrays.update({f"head.{k}": v.detach().numpy() for k, v in head.state_dict().items()})
    path = tmp_path / "torch.npz"
    np.savez(path, **arrays)
    model = build_char_model(4, 3, "tanh", rng=5)
    load_weights(model, path)
    for k, v in arrays.items():
        name = k if k.startswith("head.") else f"rnn.{k}"
        np.testing.assert_array_equal(model.params[name], v)
    # the loaded model computes what the torch modules compute
    x = torch.nn.functional.one_hot(torch.tensor(INPUTS), 4).to(torch.float64)[:, None, :]  # (T, 1, V)
    with torch.no_grad():
        expected = head(rnn(x)[0]).numpy()  # (T, 1, V)
    got, _, _ = model.forward(np.array(INPUTS)[:, None])
    np.testing.assert_allclose(got, expected, rtol=0.0, atol=TOL)


def test_load_weights_npz_with_the_models_own_names(tmp_path):
    path = tmp_path / "own.npz"
    np.savez(path, **{k: np.array(v) for k, v in HAND.items()})
    model = build_char_model(4, 3, "sigmoid", rng=5)
    load_weights(model, path)
    for k, v in HAND.items():
        np.testing.assert_array_equal(model.params[k], np.array(v))


def write(tmp_path, name: str, content) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def test_load_weights_errors(tmp_path):
    model = build_char_model(4, 3, "sigmoid", rng=5)
    before = model.state_dict()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_weights(model, tmp_path / "missing.json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_weights(model, write(tmp_path, "bad.json", "{not json"))
    with pytest.raises(ValueError, match="JSON object of name -> array, got list"):
        load_weights(model, write(tmp_path, "list.json", "[1, 2]"))
    with pytest.raises(ValueError, match="must end in .npz or .json, got .txt"):
        load_weights(model, write(tmp_path, "weights.txt", json.dumps(HAND)))
    with pytest.raises(ValueError, match="no suffix"):
        load_weights(model, write(tmp_path, "weights", json.dumps(HAND)))
    wrong_shape = dict(HAND, **{"rnn.weight_hh_l0": [[0.1, 0.2], [0.3, 0.4]]})
    with pytest.raises(ValueError, match=r"entry 'rnn.weight_hh_l0' has shape \(2, 2\), the model's "
                                         r"'rnn.weight_hh_l0' is \(3, 3\) for a rnn of hidden size 3$"):
        load_weights(model, write(tmp_path, "shape.json", json.dumps(wrong_shape)))
    with pytest.raises(ValueError, match="missing key"):
        load_weights(model, write(tmp_path, "part.json", json.dumps({"head.bias": B_OUT})))
    with pytest.raises(ValueError, match="unexpected key"):
        load_weights(model, write(tmp_path, "extra.json", json.dumps(dict(HAND, extra=[1.0]))))
    ragged = dict(HAND, **{"head.bias": [[1.0, 2.0], [3.0]]})
    with pytest.raises(ValueError, match="'head.bias' must be a rectangular array"):
        load_weights(model, write(tmp_path, "ragged.json", json.dumps(ragged)))
    nulls = dict(HAND, **{"head.bias": [None, 1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="'head.bias' must hold only numbers"):
        load_weights(model, write(tmp_path, "null.json", json.dumps(nulls)))
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_weights(model, write(tmp_path, "text.npz", "hello"))
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_weights(model, write(tmp_path, "zip.npz", b"PK\x03\x04 not really a zip archive"))
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match=r"not a readable \.npz file \(it holds a single \.npy array"):
        load_weights(model, single.rename(tmp_path / "single.npz"))
    for k, v in model.params.items():  # no failed load changed anything
        np.testing.assert_array_equal(v, before[k])


# -- LSTM and GRU gates ------------------------------------------------------------------------------
def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gate_records_follow_their_equations_and_sum_to_the_library_gradients(cell):
    V, H = 5, 3
    model = SequenceModel(ModelConfig(cell=cell, vocab_size=V, hidden_size=H, dtype="float64"), rng=4)
    inputs, targets = [0, 3, 1, 4, 2], [3, 1, 4, 2, 0]
    tr = trace_step(model, inputs, targets, lr=0.1)
    assert tr["cell"] == cell and tr["nonlinearity"] is None
    p = model.params
    logits, _, _ = model.forward(np.array(inputs)[:, None])  # (T, 1, V) the library's forward
    np.testing.assert_allclose([f["logits"] for f in tr["forward"]], logits[:, 0], rtol=1e-12, atol=1e-12)
    forward, backward = [one_layer(f) for f in tr["forward"]], [one_layer(b) for b in tr["backward"]]
    names = [k for k in forward[0] if k not in ("input", "target")]
    fw = {k: np.array([f[k] for f in forward]) for k in names}  # name -> (T, ...)
    bw = {k: np.array([b[k] for b in reversed(backward)]) for k in backward[0]}
    h_prev = np.vstack([np.zeros(H), fw["hidden"][:-1]])  # (T, H)
    if cell == "lstm":
        for g, act in zip("ifgo", (_sig, _sig, np.tanh, _sig), strict=True):
            np.testing.assert_allclose(fw[g], act(fw[f"pre_{g}"]), rtol=1e-12)
        c_prev = np.vstack([np.zeros(H), fw["c"][:-1]])
        np.testing.assert_allclose(fw["c"], fw["f"] * c_prev + fw["i"] * fw["g"], rtol=1e-12)
        np.testing.assert_allclose(fw["hidden"], fw["o"] * np.tanh(fw["c"]), rtol=1e-12)
        np.testing.assert_allclose(bw["dc"], bw["dc_from_next_step"] + bw["dc_through_h"], rtol=1e-12)
        np.testing.assert_array_equal(bw["dc_from_next_step"][-1], 0.0)  # nothing after the last step
        da_h = np.concatenate([bw[f"dpre_{g}"] for g in "ifgo"], axis=1)  # (T, 4H)
        da_x = da_h
    else:
        np.testing.assert_allclose(fw["r"], _sig(fw["pre_r"]), rtol=1e-12)
        np.testing.assert_allclose(fw["reset_product"], fw["r"] * fw["hn"], rtol=1e-12)
        np.testing.assert_allclose(fw["n"], np.tanh(fw["pre_n"]), rtol=1e-12)
        np.testing.assert_allclose(fw["hidden"], (1 - fw["z"]) * fw["n"] + fw["z"] * h_prev, rtol=1e-12)
        da_x = np.concatenate([bw["dpre_r"], bw["dpre_z"], bw["dpre_n"]], axis=1)  # (T, 3H)
        da_h = np.concatenate([bw["dpre_r"], bw["dpre_z"], bw["dpre_n"] * fw["r"]], axis=1)
    np.testing.assert_allclose(bw["dh"], bw["dh_from_output"] + bw["dh_from_next_step"], rtol=1e-12)
    # the per-step pre-activation gradients of the reference, summed, are the library's totals
    g = {k: np.array(v) for k, v in tr["grads"].items()}
    np.testing.assert_allclose(da_x.T @ fw["x"], g["rnn.weight_ih_l0"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(da_h.T @ h_prev, g["rnn.weight_hh_l0"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(da_x.sum(axis=0), g["rnn.bias_ih_l0"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(da_h.sum(axis=0), g["rnn.bias_hh_l0"], rtol=1e-12, atol=1e-14)
    update = np.array(tr["update"]["head.weight"])
    np.testing.assert_allclose(update, p["head.weight"] - 0.1 * g["head.weight"])


# -- models and sequences the trace cannot handle --------------------------------------------------
@pytest.mark.parametrize(
    "config, match",
    [
        (dict(cell="lstm", num_layers=2, bidirectional=True),
         "cell='lstm', num_layers=2, bidirectional=True"),
        (dict(bidirectional=True), "bidirectional=True"),
        (dict(embedding_dim=2), "embedding_dim=2"),
        (dict(head="last"), "head='last'"),
    ],
)
def test_trace_rejects_models_it_cannot_handle(config, match):
    model = SequenceModel(ModelConfig(vocab_size=4, hidden_size=3, dtype="float64", **config), rng=0)
    with pytest.raises(ValueError, match=match):
        trace_step(model, INPUTS, TARGETS)


@pytest.mark.parametrize(
    "inputs, targets, match",
    [
        (INPUTS, TARGETS, r"inputs \(T, 2\) and targets \(T,\), T > 0, got \(4,\) and \(4,\)"),
        (np.zeros((4, 3)), TARGETS, r"got \(4, 3\) and \(4,\)"),
        (np.zeros((3, 2)), TARGETS, r"got \(3, 2\) and \(4,\)"),
        (np.zeros((0, 2)), [], r"got \(0, 2\) and \(0,\)"),
        ([[0.0, np.nan]] * 4, TARGETS, "inputs must be finite numbers, got numpy dtype float64 with a NaN"),
        ([["a", "b"]] * 4, TARGETS, "inputs must be finite numbers, got numpy dtype <U1"),
        (np.zeros((4, 2)), [0, 1, 2, 4], r"targets must be integer ids in \[0, 4\) \(the output's classes\)"),
    ],
)
def test_dense_input_traces_refuse_inputs_of_the_wrong_shape_or_kind(inputs, targets, match):
    model = SequenceModel(ModelConfig(input_size=2, output_size=4, hidden_size=3, dtype="float64"), rng=0)
    with pytest.raises(ValueError, match=match):
        trace_step(model, inputs, targets)


@pytest.mark.parametrize(
    "inputs, targets, kwargs, match",
    [
        ([0, 1, 2], [1, 2], {}, "equal-length"),
        ([], [], {}, "non-empty"),
        ([[0, 1]], [[1, 2]], {}, "1-D"),
        ([0, 1, 2], [1, 2, -1], {}, r"targets must be integer ids in \[0, 4\)"),
        ([0, 1, 2], [1, 2, 4], {}, "targets must be integer ids"),
        ([0, 5, 2], [1, 2, 3], {}, "inputs must be integer ids"),
        ([0, -1, 2], [1, 2, 3], {}, "inputs must be integer ids"),
        ([0.0, 1.5, 2.0], [1, 2, 3], {}, "inputs must be integer ids"),
        ([0, 1, 2], [1, 2, 3], {"vocab": "hel"}, "vocab has 3 entries, the model's vocabulary size is 4"),
    ],
)
def test_trace_rejects_bad_sequences(inputs, targets, kwargs, match):
    with pytest.raises(ValueError, match=match):
        trace_step(hand_model(), inputs, targets, **kwargs)


def test_models_and_records_too_large_for_the_machine_are_refused(monkeypatch):
    with pytest.raises(ValueError, match=r"^a model of 1 rnn layer with vocab_size 4 and hidden_size "
                                         r"1,000,000 needs about 8 TB for its .* weights \(float64"):
        build_char_model(4, 1_000_000)
    model = build_char_model(4, 3)
    monkeypatch.setattr(checks, "machine_memory", lambda: 16 * 10**3)
    monkeypatch.setattr(checks, "available_memory", lambda: 10**3)
    # (3 + 2) * 43 weights (value, gradient, update, a term per step) and per step 3 * 4 + 4 + 7 * 3
    # numbers, each 32 bytes: 9.25 kB for 2 steps
    with pytest.raises(ValueError, match="^a trace of 2 steps of a model of 43 weights needs about 9.25 kB "
                                         "for its record; this machine has 1 kB available$"):
        trace_step(model, [0, 1], [1, 2])


def test_trace_step_checks_its_model_and_rate():
    with pytest.raises(ValueError, match="trace_step expects a SequenceModel"):
        trace_step("model", [0], [1])
    with pytest.raises(ValueError, match="lr must be finite, got nan"):
        trace_step(build_char_model(4, 3), [0], [1], lr=float("nan"))
    assert trace_step(build_char_model(4, 3), [0], [1], lr=np.float32(0.5))["lr"] == 0.5


@pytest.mark.parametrize("nonlinearity, slope", [
    ("sigmoid", lambda z: _sig(z) * (1 - _sig(z))),
    ("tanh", lambda z: 1 - np.tanh(z) ** 2),
    ("relu", lambda z: (z > 0).astype(float)),
    ("identity", np.ones_like),
])
def test_the_backward_record_shows_the_slope_beside_dz(nonlinearity, slope):
    model = build_char_model(4, 3, nonlinearity, rng=1)
    tr = trace_step(model, [0, 1, 2, 3], [1, 2, 3, 0])
    assert (tr["format"], tr["version"]) == ("scratchrnn-trace", 2)
    for b in map(one_layer, tr["backward"]):
        z = np.array(tr["forward"][b["t"]]["layers"][0]["pre_activation"])
        np.testing.assert_allclose(b["f_prime"], slope(z), rtol=1e-12, atol=1e-15)  # f'(z_t) from its formula
        np.testing.assert_allclose(b["dz"], np.array(b["dh"]) * b["f_prime"], rtol=1e-12, atol=1e-15)


# -- stacks, dense input and per-step weight-gradient terms ------------------------------------------
def _stack_model(cell: str, layers: int = 2, dense: int | None = None) -> SequenceModel:
    size = dict(input_size=dense, output_size=5) if dense else dict(vocab_size=5)
    model = SequenceModel(ModelConfig(cell=cell, hidden_size=3, num_layers=layers, nonlinearity="tanh",
                                      dtype="float64", **size), rng=3)
    rng = np.random.default_rng(5)
    for p in model.params.values():  # larger than the default init, so every path carries gradient
        p[...] = rng.uniform(-0.9, 0.9, size=p.shape)
    return model


SEQ_IN, SEQ_OUT = [0, 3, 1, 4, 2, 2], [3, 1, 4, 2, 0, 1]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("dense", [None, 4])
def test_a_two_layer_stack_is_recorded_as_the_reference_computes_it(cell, dense):
    model = _stack_model(cell, dense=dense)
    T = len(SEQ_IN)
    x = np.random.default_rng(8).normal(size=(T, dense)) if dense else np.eye(5)[SEQ_IN]  # (T, F)
    tr = trace_step(model, x if dense else SEQ_IN, SEQ_OUT, lr=0.2)
    assert (tr["num_layers"], tr["hidden_size"], tr["input"]) == (2, 3, "dense" if dense else "one-hot")
    json.dumps(tr)
    np.testing.assert_array_equal([f["x"] for f in tr["forward"]], x)
    # every layer's hidden states are the reference's stacked forward
    rnn_params = {k.removeprefix("rnn."): v for k, v in model.params.items() if k.startswith("rnn.")}
    out, h_n, _ = reference.forward(cell, rnn_params, x[:, None, :], nonlinearity="tanh")
    top = np.array([f["layers"][1]["hidden"] for f in tr["forward"]])  # (T, H)
    np.testing.assert_allclose(top, out[:, 0], rtol=0.0, atol=1e-12)
    last = [f["layers"] for f in tr["forward"]][-1]
    h_last = h_n[0] if cell == "lstm" else h_n
    np.testing.assert_allclose([lay["hidden"] for lay in last], h_last[:, 0], rtol=0.0, atol=1e-12)
    # backward: the lower layer's gradient from above is what the upper layer's input received, and
    # each layer's dh is the sum of its two parts
    for b in tr["backward"]:
        lower, upper = b["layers"]
        assert set(upper) > {"dh_from_output", "dh_from_next_step", "dh"} and "dh_from_output" not in lower
        np.testing.assert_allclose(upper["dh"], np.add(upper["dh_from_output"], upper["dh_from_next_step"]),
                                   rtol=0.0, atol=0.0)
        np.testing.assert_allclose(lower["dh"], np.add(lower["dh_from_layer_above"],
                                                       lower["dh_from_next_step"]), rtol=0.0, atol=0.0)
        w_ih = np.array(tr["params"]["rnn.weight_ih_l1"])
        blocks = {"rnn": ["dz"], "lstm": ["dpre_i", "dpre_f", "dpre_g", "dpre_o"],
                  "gru": ["dpre_r", "dpre_z", "dpre_n"]}[cell]
        da = np.concatenate([upper[k] for k in blocks])  # the upper layer's pre-activation gradient
        np.testing.assert_allclose(lower["dh_from_layer_above"], da @ w_ih, rtol=0.0, atol=1e-15)
    # the per-step terms of every weight add up to the library's gradient
    assert set(tr["grad_terms"]) == set(tr["grads"]) == set(model.params)
    for k, terms in tr["grad_terms"].items():
        assert len(terms) == T
        np.testing.assert_allclose(np.sum(terms, axis=0), tr["grads"][k], rtol=0.0, atol=1e-12, err_msg=k)
        assert np.abs(np.array(terms)).max() > 0.0, k


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_two_layer_trace_equals_torch_autograd(cell):
    torch = pytest.importorskip("torch")
    model = _stack_model(cell)
    tr = trace_step(model, SEQ_IN, SEQ_OUT)
    kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    extra = {"nonlinearity": "tanh"} if cell == "rnn" else {}
    rnn = kind(5, 3, num_layers=2, dtype=torch.float64, **extra)
    head = torch.nn.Linear(3, 5, dtype=torch.float64)
    with torch.no_grad():
        for k, v in rnn.named_parameters():
            v.copy_(torch.from_numpy(model.params[f"rnn.{k}"]))
        head.weight.copy_(torch.from_numpy(model.params["head.weight"]))
        head.bias.copy_(torch.from_numpy(model.params["head.bias"]))
    x = torch.nn.functional.one_hot(torch.tensor(SEQ_IN), 5).to(torch.float64)[:, None, :]  # (T, 1, V)
    logits = head(rnn(x)[0])[:, 0]  # (T, V)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(SEQ_OUT))
    loss.backward()
    assert abs(tr["loss"] - loss.item()) < 1e-12
    np.testing.assert_allclose([f["logits"] for f in tr["forward"]], logits.detach().numpy(), atol=1e-12)
    got = {f"rnn.{k}": v.grad.numpy() for k, v in rnn.named_parameters()}
    got.update({"head.weight": head.weight.grad.numpy(), "head.bias": head.bias.grad.numpy()})
    for k, g in got.items():
        np.testing.assert_allclose(tr["grads"][k], g, rtol=0.0, atol=1e-12, err_msg=k)
        np.testing.assert_allclose(np.sum(tr["grad_terms"][k], axis=0), g, rtol=0.0, atol=1e-12, err_msg=k)


def test_the_head_terms_are_each_steps_outer_product():
    tr = trace_step(hand_model(), INPUTS, TARGETS)
    back = {b["t"]: b for b in tr["backward"]}
    for t, f in enumerate(tr["forward"]):
        dy = np.array(back[t]["dlogits"])
        h = f["layers"][0]["hidden"]
        np.testing.assert_array_equal(tr["grad_terms"]["head.weight"][t], np.outer(dy, h))
        np.testing.assert_array_equal(tr["grad_terms"]["head.bias"][t], dy)
        dz = np.array(back[t]["layers"][0]["dz"])
        np.testing.assert_allclose(tr["grad_terms"]["rnn.weight_ih_l0"][t], np.outer(dz, f["x"]), atol=1e-15)


def test_load_weights_of_a_two_layer_torch_lstm_under_bare_names(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(4, 3, num_layers=2, dtype=torch.float64)
    arrays = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}  # weight_ih_l1, ...
    arrays.update({"head.weight": np.full((4, 3), 0.1), "head.bias": np.zeros(4)})
    path = tmp_path / "lstm.npz"
    np.savez(path, **arrays)
    model = build_char_model(4, 3, cell="lstm", num_layers=2)
    load_weights(model, path)
    for k, v in arrays.items():
        np.testing.assert_array_equal(model.params[k if k.startswith("head.") else f"rnn.{k}"], v)
    # an RNN's weights for the LSTM: the shape is named with the gates it needs
    rnn = build_char_model(4, 3, cell="rnn")
    rnn_file = tmp_path / "rnn.json"
    rnn_file.write_text(json.dumps(_lists_of(rnn.params)), encoding="utf-8")
    with pytest.raises(ValueError, match=r"entry 'rnn.weight_ih_l0' has shape \(3, 4\), the model's "
                                         r"'rnn.weight_ih_l0' is \(12, 4\) for a lstm of hidden size 3 "
                                         r"\(4 gates i, f, g, o of 3 rows\)$"):
        load_weights(build_char_model(4, 3, cell="lstm"), rnn_file)


def _lists_of(params) -> dict:
    return {k: np.asarray(v).tolist() for k, v in params.items()}


def test_load_weights_refuses_non_finite_weights(tmp_path):
    model = hand_model()
    before = model.state_dict()
    path = tmp_path / "inf.npz"
    arrays = {k: np.array(v) for k, v in HAND.items()}
    np.savez(path, **dict(arrays, **{"head.bias": np.array([1, np.inf, 0, 0])}))
    with pytest.raises(ValueError, match="'head.bias' holds a NaN or an infinity; weights must be finite"):
        load_weights(model, path)
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, before[k])


# -- a dense sequence from a file -----------------------------------------------------------------
def test_a_dense_sequence_file_is_read_and_traced(tmp_path):
    from scratchrnn.trace import build_dense_model, read_dense_sequence

    path = tmp_path / "seq.json"
    path.write_text(json.dumps({"inputs": [[0.5, -1.0], [0.25, 0], [1, 2]], "targets": [1, 0, 2],
                                "classes": ["down", "flat", "up"]}), encoding="utf-8")
    x, y, classes = read_dense_sequence(path)
    assert x.dtype == np.float64 and x.tolist() == [[0.5, -1.0], [0.25, 0.0], [1.0, 2.0]]
    assert y.tolist() == [1, 0, 2] and classes == ["down", "flat", "up"]
    model = build_dense_model(2, 3, 4, "tanh", cell="lstm", num_layers=2, rng=1)
    c = model.config
    assert (c.input_size, c.output_size, c.hidden_size, c.num_layers, c.cell) == (2, 3, 4, 2, "lstm")
    tr = trace_step(model, x, y, vocab=classes)
    assert tr["input"] == "dense" and [f["target"] for f in tr["forward"]] == ["flat", "down", "up"]
    path.write_text(json.dumps({"inputs": [[1.0]], "targets": [2]}), encoding="utf-8")
    assert read_dense_sequence(path)[2] == ["0", "1", "2"]  # classes default to the ids up to the largest


@pytest.mark.parametrize("content, match", [
    ([1, 2], "must hold {\"inputs\""),
    ({"inputs": [[1.0]]}, r"got \['inputs'\]"),
    ({"inputs": [[1.0]], "targets": [0], "label": 1}, r"got \['inputs', 'label', 'targets'\]"),
    ({"inputs": [1.0, 2.0], "targets": [0, 1]}, r"'inputs' must be a non-empty list of equal-length vectors"),
    ({"inputs": [[1.0], [2.0, 3.0]], "targets": [0, 1]}, "'inputs' must be a rectangular array"),
    ({"inputs": [["a"]], "targets": [0]}, "'inputs' must hold only numbers"),
    ({"inputs": [[1e999]], "targets": [0]}, "'inputs' holds a NaN or an infinity"),
    ({"inputs": [[1.0]], "targets": [0.5]}, r"'targets' must be a list of class ids \(integers >= 0\)"),
    ({"inputs": [[1.0]], "targets": [-1]}, "'targets' must be a list of class ids"),
    ({"inputs": [[1.0]], "targets": [True]}, "'targets' must be a list of class ids"),
    ({"inputs": [[1.0]], "targets": [0], "classes": ["a", "a"]}, "'classes' must be a non-empty list of"),
    ({"inputs": [[1.0]], "targets": [3], "classes": ["a", "b"]}, r"ids in \[0, 2\) of the 2 classes, got 3"),
    ({"inputs": [[1.0], [2.0]], "targets": [0]}, r"one class id per input vector \(2\), got 1"),
])
def test_a_bad_dense_sequence_file_is_named(tmp_path, content, match):
    from scratchrnn.trace import read_dense_sequence

    path = tmp_path / "seq.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(ValueError, match=match) as info:
        read_dense_sequence(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_record_size_estimate_counts_the_vectors_a_layer_step_records(cell):
    from scratchrnn.trace import LAYER_STEP_VECTORS

    H = 3
    record = trace_step(build_char_model(4, H, cell=cell), INPUTS, TARGETS)
    for forward, backward in zip(record["forward"], record["backward"], strict=True):
        fields = [*forward["layers"][0].values(), *backward["layers"][0].values()]
        assert all(len(v) == H for v in fields)
        assert len(fields) == LAYER_STEP_VECTORS[cell]
