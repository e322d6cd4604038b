"""``scratchrnn trace``: the text, JSON and page outputs, the guided example, and its one-line errors
that leave no file behind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import main_error
from scratchrnn.cli import main
from scratchrnn.trace import HELLO_TEXT, HELLO_VOCAB, hello_model, trace_step
from scratchrnn.trace_page import trace_page


def test_trace_json_to_stdout_is_valid_json(capsys):
    assert main(["trace", "--vocab", "helo", "--text", "hello", "--json", "-"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["vocab"] == ["h", "e", "l", "o"]
    assert [s["input"] for s in record["forward"]] == list("hell")
    assert [s["target"] for s in record["forward"]] == list("ello")
    assert set(record["grads"]) == set(record["params"]) == set(record["update"])


def test_trace_with_weights_file_and_bad_weights(capsys, tmp_path):
    from scratchrnn.trace import build_char_model

    model = build_char_model(4, 3, "sigmoid", rng=5)
    good = tmp_path / "w.npz"
    np.savez(good, **{k.removeprefix("rnn."): v for k, v in model.params.items()})
    out_json = tmp_path / "trace.json"
    assert main(["trace", "--vocab", "helo", "--weights", str(good), "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert "backward pass" in printed and "update" in printed
    record = json.loads(out_json.read_text())
    np.testing.assert_array_equal(np.array(record["params"]["head.weight"]), model.params["head.weight"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"weight_ih_l0": [[0.0] * 5] * 3}))
    msg = main_error(capsys, ["trace", "--vocab", "helo", "--weights", str(bad)])
    assert msg == (f"scratchrnn: error: {bad}: entry 'weight_ih_l0' has shape (3, 5), the model's "
                   "'rnn.weight_ih_l0' is (3, 4) for a rnn of hidden size 3")
    assert "not in the vocabulary" in main_error(capsys, ["trace", "--vocab", "hel", "--text", "hello"])
    assert "does not exist" in main_error(capsys, ["trace", "--weights", str(tmp_path / "none.npz")])


@pytest.mark.parametrize("cell, names", [
    ("lstm", ("pre_i", "pre_o", "tanh_c", "dc_from_next_step", "dc_through_h", "dpre_g")),
    ("gru", ("pre_r", "hn", "reset_product", "pre_n", "dpre_z", "dpre_n")),
])
def test_trace_prints_every_gate_of_an_lstm_and_a_gru_by_name(capsys, tmp_path, cell, names):
    from scratchrnn.trace import build_char_model

    model = build_char_model(4, 3, rng=2, cell=cell)
    weights = tmp_path / "w.npz"  # PyTorch's names for the cell's weights
    np.savez(weights, **{k.removeprefix("rnn."): v for k, v in model.params.items()})
    assert main(["trace", "--cell", cell, "--vocab", "helo", "--weights", str(weights)]) == 0
    printed = capsys.readouterr().out
    assert f"cell {cell}" in printed and all(f"    {n} " in printed for n in names)
    assert "dlogits = (softmax - onehot(target)) / 4: the 1/T of the mean loss over 4 steps" in printed
    lines = printed.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  rnn.weight_ih_l0 = [["))
    assert lines[first + 1].index("[") == lines[first].index("[[") + 1  # a matrix's rows aligned
    assert main(["trace", "--cell", cell, "--vocab", "helo", "--weights", str(weights), "--json", "-"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["cell"] == cell
    w_hh = np.array(record["params"]["rnn.weight_hh_l0"])
    np.testing.assert_array_equal(w_hh, model.params["rnn.weight_hh_l0"])


def test_the_guided_example_writes_the_page_of_the_hello_record(capsys, tmp_path):
    page, record_file = tmp_path / "hello.html", tmp_path / "hello.json"
    assert main(["trace", "--example", "hello", "--html", str(page), "--json", str(record_file)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {page}" in printed and f"wrote {record_file}" in printed
    ids = [HELLO_VOCAB.index(c) for c in HELLO_TEXT]
    expected = trace_step(hello_model(), ids[:-1], ids[1:], lr=0.1, vocab=list(HELLO_VOCAB))
    assert json.loads(record_file.read_text()) == json.loads(json.dumps(expected))
    assert page.read_text(encoding="utf-8") == trace_page(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hello.html", "hello.json"]  # no temporary left


def test_two_layers_print_under_layer_headings_and_terms_sum_to_the_gradient(capsys):
    assert main(["trace", "--cell", "gru", "--num-layers", "2", "--vocab", "helo", "--json", "-"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["num_layers"] == 2 and len(record["forward"][0]["layers"]) == 2
    assert "rnn.weight_hh_l1" in record["grads"]
    for name, total in record["grads"].items():
        np.testing.assert_allclose(np.sum(record["grad_terms"][name], axis=0), total, rtol=0, atol=1e-12)
    assert main(["trace", "--cell", "gru", "--num-layers", "2", "--vocab", "helo", "--terms"]) == 0
    printed = capsys.readouterr().out
    assert "2 layers" in printed and "    layer 1\n      pre_r " in printed and "    layer 2\n" in printed
    assert "dh_from_layer_above" in printed and "dh_from_output" in printed
    assert printed.count("    step 3: ") == len(record["grads"])  # each gradient's last term
    assert main(["trace", "--cell", "gru", "--num-layers", "2", "--vocab", "helo"]) == 0
    assert "    step 0: " not in capsys.readouterr().out  # the terms only on request


@pytest.mark.parametrize("argv, words", [
    (["--example", "hello", "--cell", "lstm"],
     "--example hello sets the model and its text; it takes none of --cell"),
    (["--example", "hello", "--text", "hi", "--seed", "3"], "none of --text, --seed"),
    (["--example", "hello", "--seed", "0"], "none of --seed"),  # a default given is still given
    (["--example", "hello", "--hidden-size", "3"], "none of --hidden-size"),
    (["--vocab", "hel", "--text", "hello"], "characters ['o'] of --text are not in the vocabulary"),
    (["--vocab", "hhel"], "--vocab has repeated characters"),
    (["--text", "h"], "--text needs at least two characters (an input and its next character), got 'h'"),
    (["--hidden-size", "64", "--text", "abcdefghijklmnopqrstuvwxyz"], "more than the 20,000 a page draws"),
])
def test_bad_requests_are_one_line_and_write_nothing(capsys, tmp_path, argv, words):
    page, record_file = tmp_path / "page.html", tmp_path / "record.json"
    msg = main_error(capsys, ["trace", *argv, "--html", str(page), "--json", str(record_file)])
    assert words in msg
    assert list(tmp_path.iterdir()) == []  # neither the page nor the record is written


def test_a_missing_folder_is_one_line(capsys, tmp_path):
    msg = main_error(capsys, ["trace", "--html", str(tmp_path / "none" / "page.html")])
    assert "cannot write" in msg and "page.html" in msg
    assert list(tmp_path.iterdir()) == []


def test_no_file_is_written_when_another_cannot_be(capsys, tmp_path):
    record = tmp_path / "ok.json"
    msg = main_error(capsys, ["trace", "--json", str(record), "--html", str(tmp_path / "none" / "page.html")])
    assert "cannot write" in msg and "page.html" in msg
    assert list(tmp_path.iterdir()) == []  # the record, which could be written, is not either


def test_a_model_without_biases_prints_equations_without_them(capsys):
    for cell in ("rnn", "lstm", "gru"):
        assert main(["trace", "--cell", cell, "--no-bias"]) == 0
        line = next(li for li in capsys.readouterr().out.splitlines() if li.startswith("forward pass: "))
        assert " + b" not in line and "W_" in line and "y_t = W h_t" in line
        assert main(["trace", "--cell", cell]) == 0
        line = next(li for li in capsys.readouterr().out.splitlines() if li.startswith("forward pass: "))
        assert " + b_ih" in line or " + b_in" in line
        assert "y_t = W h_t + b" in line


def test_dense_inputs_from_a_file(capsys, tmp_path):
    seq = tmp_path / "seq.json"
    seq.write_text(json.dumps({"inputs": [[0.5, -1.0], [0.25, 0.0], [1.0, 2.0]], "targets": [1, 0, 2],
                               "classes": ["down", "flat", "up"]}), encoding="utf-8")
    page = tmp_path / "dense.html"
    assert main(["trace", "--inputs", str(seq), "--cell", "gru", "--html", str(page), "--json", "-"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["input"] == "dense" and record["vocab"] == ["down", "flat", "up"]
    assert [f["x"] for f in record["forward"]] == [[0.5, -1.0], [0.25, 0.0], [1.0, 2.0]]
    assert np.shape(record["params"]["rnn.weight_ih_l0"]) == (9, 2)  # 3 gates of 3 units, 2 inputs
    assert page.read_text(encoding="utf-8") == trace_page(record)
    assert main(["trace", "--inputs", str(seq)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("dense input of 2 numbers, classes ['down', 'flat', 'up']")
    assert "  t=1 -> target 'down'" in printed
    assert "neither --text nor --vocab" in main_error(capsys, ["trace", "--inputs", str(seq), "--text", "hi"])
    seq.write_text(json.dumps({"inputs": [[1.0]], "targets": [3], "classes": ["a", "b"]}), encoding="utf-8")
    assert "of the 2 classes, got 3" in main_error(capsys, ["trace", "--inputs", str(seq)])
