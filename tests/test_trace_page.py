"""scratchrnn.trace_page: every node of the page model is the record's number at its place, and every
element is its formula of the inputs the formula panel shows (recomputed here with numpy, for the
RNN with each nonlinearity, the LSTM and the GRU, one and two layers, one-hot and dense input); the
errors; a page that is self-contained and whose data cannot break out of its script; and, in a
headless Chromium, the drawn page: every cell's value and text, the panel of a click, the stage
controls, the truncation table (against the library's own truncated backward) and a screenshot."""

from __future__ import annotations

import json
import os
import re
import struct
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal, localcontext
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from scratchrnn import trace_page as trace_page_module
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.trace import HELLO_LR, HELLO_TEXT, HELLO_VOCAB, build_char_model, hello_model, trace_step
from scratchrnn.trace_page import MAX_PAGE_NUMBERS, explain, page_model, trace_page, write_trace_page

TOL = 1e-12
SCREENSHOT_ENV = "SCRATCHRNN_SCREENSHOT"  # a path: the screenshot test also writes its PNG there
SECTIONS = ["forward", "backward", "gradients", "update"]


# -- records ---------------------------------------------------------------------------------------
def hello_record() -> dict:
    """The guided example's record, as ``trace --example hello`` makes it."""
    ids = [HELLO_VOCAB.index(c) for c in HELLO_TEXT]
    return trace_step(hello_model(), ids[:-1], ids[1:], lr=HELLO_LR, vocab=list(HELLO_VOCAB))


def char_record(cell: str, layers: int = 1, nonlinearity: str = "tanh", bias: bool = True,
                text: str = "hello", vocab: str = "helo") -> dict:
    model = build_char_model(len(vocab), 3, nonlinearity, bias=bias, rng=3, cell=cell, num_layers=layers)
    ids = [vocab.index(c) for c in text]
    return trace_step(model, ids[:-1], ids[1:], lr=0.3, vocab=list(vocab))


def dense_record(cell: str, layers: int) -> dict:
    config = ModelConfig(cell=cell, input_size=3, output_size=4, hidden_size=3, num_layers=layers,
                         dtype="float64")
    x = np.random.default_rng(2).normal(size=(5, 3))  # (T, F)
    return trace_step(SequenceModel(config, rng=5), x, [1, 0, 3, 2, 1], lr=0.2, vocab=list("abcd"))


CASES = {
    "hello (rnn sigmoid)": hello_record,
    "rnn tanh": lambda: char_record("rnn"),
    "rnn relu": lambda: char_record("rnn", nonlinearity="relu"),
    "rnn identity": lambda: char_record("rnn", nonlinearity="identity"),
    "rnn sigmoid, no bias": lambda: char_record("rnn", nonlinearity="sigmoid", bias=False),
    "rnn tanh, 2 layers": lambda: char_record("rnn", layers=2),
    "rnn tanh, one step": lambda: char_record("rnn", text="he"),
    "lstm": lambda: char_record("lstm"),
    "lstm, 2 layers": lambda: char_record("lstm", layers=2),
    "lstm, no bias": lambda: char_record("lstm", bias=False),
    "gru": lambda: char_record("gru"),
    "gru, 2 layers": lambda: char_record("gru", layers=2),
    "gru, no bias": lambda: char_record("gru", bias=False),
    "lstm, 2 layers, dense input": lambda: dense_record("lstm", 2),
    "gru, dense input": lambda: dense_record("gru", 1),
    "rnn, 2 layers, dense input": lambda: dense_record("rnn", 2),
}


def record_places(record: dict):
    """(page node id, the record's value) for every number of the record, found in the record itself."""
    for name, value in record["params"].items():
        yield f"p.{name}", value
    for f in record["forward"]:
        t = f["t"]
        yield f"f.{t}.x", f["x"]
        for k, fields in enumerate(f["layers"]):
            for key, value in fields.items():
                yield f"f.{t}.{k}.{key}", value
        for key in ("logits", "softmax", "loss"):
            yield f"f.{t}.{key}", f[key]
    for rec in record["backward"]:
        t = rec["t"]
        yield f"b.{t}.dlogits", rec["dlogits"]
        for k, fields in enumerate(rec["layers"]):
            for key, value in fields.items():
                yield f"b.{t}.{k}.{key}", value
    for name, value in record["grads"].items():
        yield f"g.{name}", value
        for t, term in enumerate(record["grad_terms"][name]):
            yield f"g.{name}.{t}", term
    for name, value in record["update"].items():
        yield f"u.{name}", value


def expected_stage(record: dict, node_id: str) -> int:
    """Forward step t is stage t, backward step t (and its gradient terms) 2T-1-t, totals and update 2T."""
    T, parts = len(record["forward"]), node_id.split(".")
    if parts[0] == "p":
        return -1
    if parts[0] in ("f", "b"):
        t = int(parts[1])
        return t if parts[0] == "f" else 2 * T - 1 - t
    name = node_id[2:]
    return 2 * T if parts[0] == "u" or name in record["grads"] else 2 * T - 1 - int(parts[-1])


def drawn(model: dict) -> list[str]:
    """The node id of every node the page draws, once per place (a total is drawn twice)."""
    return [c for s in model["sections"] for row in s["rows"] for c in row["cells"] if c]


# -- each element from the inputs its panel shows ----------------------------------------------------
def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


ACTIVATIONS = {"sigmoid": sigmoid, "tanh": np.tanh, "relu": lambda a: np.maximum(a, 0.0),
               "identity": lambda a: a}
SLOPES = {"sigmoid": lambda h: h * (1 - h), "tanh": lambda h: 1 - h * h, "relu": lambda h: float(h > 0),
          "identity": lambda h: 1.0}
LINEAR = {"pre_activation", "pre_i", "pre_f", "pre_g", "pre_o", "pre_r", "pre_z", "hn", "pre_n", "logits"}


def linear(inputs: list) -> float:
    """Σ row · vector + the other numbers, as a pre-activation's panel lists them: a "row of" input
    times the input vector after it (x_t, h⁽k⁾_t, h_(t-1), h_t). A row no vector follows meets the
    zero state h_(-1), as the formula says (the GRU's hn at step 0)."""
    total, rest = 0.0, list(inputs)
    while rest:
        label, value = rest.pop(0)
        if label.startswith("row of"):
            if rest and rest[0][0].startswith(("x", "h")):
                total += float(value @ rest.pop(0)[1])
        else:
            assert np.ndim(value) == 0, f"{label} is not a number: {value}"
            total += float(value)
    return total


def transposed(inputs: list) -> float:
    """column · vector: a gradient sent back through a weight (W^T v)."""
    (label, column), (_, vector) = inputs
    assert label.startswith("column of"), label
    return float(column @ vector)


def previous(values: dict, label: str, t: int) -> float:
    """An input from step t-1, given for every step but the first, where the state before is zero."""
    assert (label in values) == (t > 0), f"{label} at step {t}: {sorted(values)}"
    return values.get(label, 0.0)


def gru_state_gradient(dpre, r):
    """[dpre_r, dpre_z, dpre_n * r]: what the GRU's W_hh and b_hh see (r scales the hn part)."""
    H = len(r)
    return np.concatenate([dpre[:2 * H], dpre[2 * H:] * r])


def target_index(record: dict, t: int) -> int:
    return record["vocab"].index(record["forward"][t]["target"])


def forward_value(record: dict, key: str, t: int, index: tuple, inputs: list) -> float:
    cell, v = record["cell"], dict(inputs)
    if key in LINEAR:
        return linear(inputs)
    if key == "hidden":
        if cell == "rnn":
            return ACTIVATIONS[record["nonlinearity"]](v["z_t"])
        if cell == "lstm":
            return v["o"] * v["tanh(c_t)"]
        return (1 - v["z"]) * v["n"] + v["z"] * previous(v, "h_(t-1)", t)
    if key in ("i", "f", "o", "r", "z"):
        return sigmoid(v[f"pre_{key}"])
    if key in ("g", "n"):
        return np.tanh(v[f"pre_{key}"])
    if key == "c":
        return v["f"] * previous(v, "c_(t-1)", t) + v["i"] * v["g"]
    if key == "tanh_c":
        return np.tanh(v["c_t"])
    if key == "reset_product":
        return v["r"] * v["hn"]
    if key == "softmax":
        e = np.exp(v["y_t"] - np.max(v["y_t"]))
        return (e / e.sum())[index[0]]
    if key == "loss":
        return -np.log(v["p_t"][target_index(record, t)])
    raise AssertionError(f"no formula here for forward {key!r}")


def backward_value(record: dict, key: str, t: int, index: tuple, inputs: list) -> float:
    cell, v, T = record["cell"], dict(inputs), len(record["forward"])
    if key == "dlogits":
        return (v["p_t"] - (index[0] == target_index(record, t))) / T
    if key in ("dh_from_output", "dh_from_layer_above"):
        return transposed(inputs)
    if key in ("dh_from_next_step", "dc_from_next_step") and t == T - 1:
        assert inputs == []
        return 0.0
    if key == "dh_from_next_step":
        if cell == "gru":
            da = gru_state_gradient(v["dpre_r, dpre_z, dpre_n (t+1)"], v["r_(t+1)"])
            return v["dh_(t+1)"] * v["z_(t+1)"] + v["column of W_hh"] @ da
        return transposed(inputs)
    if key in ("dh", "dc"):  # the two parts
        (_, a), (_, b) = inputs
        return a + b
    formulas = {
        "f_prime": lambda: SLOPES[record["nonlinearity"]](v["h_t"]),
        "dz": lambda: v["dh_t"] * v["f'(z_t)"],
        "dc_from_next_step": lambda: v["dc_(t+1)"] * v["f_(t+1)"],
        "dc_through_h": lambda: v["dh_t"] * v["o"] * (1 - v["tanh(c_t)"] ** 2),
        "dpre_i": lambda: v["dc"] * v["g"] * v["i"] * (1 - v["i"]),
        "dpre_f": lambda: v["dc"] * previous(v, "c_(t-1)", t) * v["f"] * (1 - v["f"]),
        "dpre_g": lambda: v["dc"] * v["i"] * (1 - v["g"] ** 2),
        "dpre_o": lambda: v["dh_t"] * v["tanh(c_t)"] * v["o"] * (1 - v["o"]),
        "dpre_r": lambda: v["dpre_n"] * v["hn"] * v["r"] * (1 - v["r"]),
        "dpre_z": lambda: v["dh_t"] * (previous(v, "h_(t-1)", t) - v["n"]) * v["z"] * (1 - v["z"]),
        "dpre_n": lambda: v["dh_t"] * (1 - v["z"]) * (1 - v["n"] ** 2),
    }
    if key not in formulas:
        raise AssertionError(f"no formula here for backward {key!r}")
    return formulas[key]()


def gradient_value(record: dict, name: str, index: tuple, inputs: list) -> float:
    """A gradient's step term (the gradient that reaches the weight's rows, times its input) or total."""
    if name in record["grads"]:
        T = len(record["forward"])
        assert [label for label, _ in inputs] == [f"term {t}" for t in range(T)]
        return sum(value for _, value in inputs)
    name = name.rsplit(".", 1)[0]
    if inputs[0][0] == "dpre_r, dpre_z, dpre_n":  # a GRU's hidden-side weights
        grad, rest = gru_state_gradient(inputs[0][1], inputs[1][1])[index[0]], inputs[2:]
    else:
        grad, rest = inputs[0][1], inputs[1:]
    if "weight" not in name:
        assert rest == []
        return grad
    return grad * rest[0][1] if rest else 0.0  # no input: the term of h_(-1) = 0


def expected_value(record: dict, node_id: str, index: tuple, inputs: list) -> float | None:
    """The element at index of node_id by its formula, from the panel's inputs only; None for a given
    number (a weight or an input), which has none."""
    parts = node_id.split(".")
    if parts[0] == "p" or parts[-1] == "x":
        assert inputs == []
        return None
    if parts[0] == "u":
        (_, w), (_, dw) = inputs
        return w - record["lr"] * dw
    if parts[0] == "g":
        return gradient_value(record, node_id[2:], index, inputs)
    step = forward_value if parts[0] == "f" else backward_value
    return step(record, parts[-1], int(parts[1]), index, inputs)


@pytest.mark.parametrize("case", CASES)
def test_every_node_is_the_records_number_at_its_place(case):
    record = CASES[case]()
    model = page_model(record)
    places = dict(record_places(record))
    assert set(model["nodes"]) == set(places)
    for node_id, value in places.items():
        node = model["nodes"][node_id]
        assert node["value"] == value, node_id  # the recorded lists themselves, exactly
        assert node["stage"] == expected_stage(record, node_id), node_id
    assert [s["id"] for s in model["sections"]] == SECTIONS
    assert set(drawn(model)) == set(places)  # every node has a place on the page
    T = len(record["forward"])
    widths = {"forward": T, "backward": T, "gradients": T + 1, "update": 3}
    for section in model["sections"]:
        assert len(section["columns"]) == widths[section["id"]]
        assert all(len(row["cells"]) == widths[section["id"]] for row in section["rows"])


@pytest.mark.parametrize("case", CASES)
def test_each_element_is_its_formula_of_the_inputs_the_panel_shows(case):
    """All elements of all nodes: the panel's inputs are the right ones if the formula of them gives
    the recorded number (a wrong step, layer, gate block or transposition would not)."""
    record = CASES[case]()
    model = page_model(record)
    checked = Counter()
    for node_id, node in model["nodes"].items():
        value = np.asarray(node["value"], dtype=np.float64)
        for index in np.ndindex(value.shape):
            shown = explain(model, node_id, index)
            assert shown["value"] == value[index] and shown["formula"] == node["formula"]
            assert [label for label, _ in shown["inputs"]] == [ref["label"] for ref in node["inputs"]]
            want = expected_value(record, node_id, index, shown["inputs"])
            if want is not None:
                assert abs(shown["value"] - want) <= TOL * max(1.0, abs(want)), (node_id, index, want)
                checked[node_id.split(".")[0]] += 1
    assert set(checked) == {"f", "b", "g", "u"}


def test_a_panels_inputs_are_the_picked_parts_of_other_nodes():
    """The picks themselves, in the hello trace: a row and the vector it multiplies, a column, an outer
    product's two factors, the same element."""
    record = hello_record()
    model = page_model(record)
    p, f1, f2 = record["params"], record["forward"][1], record["forward"][2]
    pre = explain(model, "f.2.0.pre_activation", (1,))["inputs"]
    assert [label for label, _ in pre] == ["row of W_ih", "x_t", "b_ih", "row of W_hh", "h_(t-1)", "b_hh"]
    np.testing.assert_array_equal(pre[0][1], p["rnn.weight_ih_l0"][1])
    np.testing.assert_array_equal(pre[1][1], f2["x"])
    assert pre[2][1] == p["rnn.bias_ih_l0"][1] and pre[5][1] == p["rnn.bias_hh_l0"][1]
    np.testing.assert_array_equal(pre[4][1], f1["layers"][0]["hidden"])
    back = explain(model, "b.1.0.dh_from_output", (2,))["inputs"]
    np.testing.assert_array_equal(back[0][1], np.array(p["head.weight"])[:, 2])
    term = explain(model, "g.rnn.weight_hh_l0.2", (0, 1))["inputs"]
    dz = record["backward"][1]["layers"][0]["dz"]  # step 2's (backward[0] is the last step's)
    assert term == [("dz_t", dz[0]), ("h_(t-1)", f1["layers"][0]["hidden"][1])]


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, match", [
    ([1, 2], "expected a trace record .*got 'list'"),
    ({"forward": []}, "expected a trace record .*got None"),
    ({"format": "scratchrnn-run"}, "expected a trace record .*got 'scratchrnn-run'"),
    ({"format": "scratchrnn-trace", "version": 1}, "version 2, got version 1"),
    ({"format": "scratchrnn-trace"}, "version 2, got version None"),
])
def test_what_is_not_a_version_2_trace_is_refused(bad, match):
    for make in (page_model, trace_page):
        with pytest.raises(ValueError, match=match):
            make(bad)


def too_large_record() -> dict:
    model = build_char_model(30, 30, rng=0)  # 2,790 weights, each drawn 4 + T times
    ids = list(range(11))
    return trace_step(model, ids[:-1], ids[1:])


def test_a_trace_too_large_for_a_page_is_refused_with_the_limit_and_sizes():
    with pytest.raises(ValueError) as info:
        page_model(too_large_record())
    message = str(info.value)
    found = re.fullmatch(r"a page of this trace would draw ([\d,]+) numbers, more than the ([\d,]+) a page "
                         r"draws; trace fewer steps \(now 10\), a smaller hidden size \(now 30\) or a "
                         r"smaller vocabulary, or read the text or JSON output instead", message)
    assert found, message
    assert int(found[2].replace(",", "")) == MAX_PAGE_NUMBERS
    assert int(found[1].replace(",", "")) >= 2790 * (4 + 10) > MAX_PAGE_NUMBERS


def test_the_limit_counts_the_numbers_the_page_draws(monkeypatch):
    record = hello_record()
    model = page_model(record)
    numbers = sum(np.size(model["nodes"][c]["value"]) for c in drawn(model))
    monkeypatch.setattr(trace_page_module, "MAX_PAGE_NUMBERS", numbers)
    assert trace_page(record).startswith("<!DOCTYPE html>")  # at the limit: drawn
    monkeypatch.setattr(trace_page_module, "MAX_PAGE_NUMBERS", numbers // 2)
    with pytest.raises(ValueError, match=f"more than the {numbers // 2} a page draws"):
        trace_page(record)


def test_one_number_over_the_limit_is_refused(monkeypatch):
    record = hello_record()
    numbers = sum(np.size(page_model(record)["nodes"][c]["value"]) for c in drawn(page_model(record)))
    monkeypatch.setattr(trace_page_module, "MAX_PAGE_NUMBERS", numbers - 1)
    with pytest.raises(ValueError, match=f"would draw {numbers:,} numbers"):
        page_model(record)


def test_explain_refuses_an_unknown_node_or_an_index_of_the_wrong_shape():
    model = page_model(hello_record())
    with pytest.raises(ValueError, match="no node 'f.9.0.hidden' in this page"):
        explain(model, "f.9.0.hidden", (0,))
    with pytest.raises(ValueError, match=r"node 'f.2.0.hidden' has shape \(3,\), got index \(0, 1\)"):
        explain(model, "f.2.0.hidden", (0, 1))
    with pytest.raises(ValueError, match=r"node 'p.head.weight' has shape \(4, 3\), got index \(1,\)"):
        explain(model, "p.head.weight", (1,))
    with pytest.raises(ValueError, match=r"node 'f.0.loss' has shape \(\), got index \(0,\)"):
        explain(model, "f.0.loss", (0,))
    for outside in [(3,), (-1,)]:  # hidden size 3; a negative index would pick another gate's row
        with pytest.raises(ValueError, match=r"node 'f.2.0.hidden' has shape \(3,\), got index"):
            explain(model, "f.2.0.hidden", outside)


def test_a_trace_that_overflowed_is_refused_naming_the_number():
    model = build_char_model(4, 3, rng=3)
    model.params["head.weight"][...] = 1e308
    model.params["head.bias"][...] = 1e308  # the logits overflow to inf, the softmax to nan
    with np.errstate(all="ignore"):
        record = trace_step(model, [0, 1], [1, 2])
    with pytest.raises(ValueError, match=r"the trace's y_0 holds a NaN or an infinity; a page shows finite"):
        page_model(record)


def test_write_trace_page_writes_the_page_whole(tmp_path):
    record = hello_record()
    path = tmp_path / "trace.html"
    assert write_trace_page(record, path) == path
    assert path.read_text(encoding="utf-8") == trace_page(record)
    path.write_text("an older page", encoding="utf-8")
    assert write_trace_page(record, str(path)) == path  # a str path too, replacing what was there
    assert path.read_text(encoding="utf-8") == trace_page(record)
    assert [p.name for p in tmp_path.iterdir()] == ["trace.html"]  # no temporary file left


@pytest.mark.parametrize("bad", [{"format": "scratchrnn-trace", "version": 1}, "too large"])
def test_a_page_that_cannot_be_made_writes_nothing(tmp_path, bad):
    record = too_large_record() if bad == "too large" else bad
    new, old = tmp_path / "new.html", tmp_path / "old.html"
    old.write_bytes(b"sentinel: the page from before\n")
    for path in (new, old):
        with pytest.raises(ValueError):
            write_trace_page(record, path)
    assert not new.exists()
    assert old.read_bytes() == b"sentinel: the page from before\n"
    assert [p.name for p in tmp_path.iterdir()] == ["old.html"]


# -- the page: self-contained, its data in a script it cannot leave --------------------------------
class _Scripts(HTMLParser):
    """The page's script elements (attributes, text) and the text of its title and h1."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict, str]] = []
        self.text: dict[str, str] = {}
        self._in: str | None = None
        self._attrs: dict = {}

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "title", "h1"):
            self._in, self._attrs = tag, dict(attrs)
            if tag == "script":
                self.scripts.append((self._attrs, ""))

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "script":
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        elif self._in in ("title", "h1"):
            self.text[self._in] = self.text.get(self._in, "") + data


def parse_page(page: str) -> _Scripts:
    parser = _Scripts()
    parser.feed(page)
    parser.close()
    return parser


def page_data(page: str):
    """The JSON of the page's ``script#data``, as its script reads it."""
    (data,) = [text for attrs, text in parse_page(page).scripts if attrs.get("id") == "data"]
    return json.loads(data)


def test_the_hello_page_is_self_contained_and_small():
    record = hello_record()
    page = trace_page(record)
    size = len(page.encode("utf-8"))
    print(f"the hello page is {size:,} bytes")
    assert size < 1_000_000
    for fetches in (r"\bsrc\s*=", r"\bhref\s*=", r"<link\b", r"@import", r"\burl\s*\(", r"https?:",
                    r"<iframe", r"<img\b", r"\bfetch\s*\(", r"XMLHttpRequest", r"\bimport\s*\("):
        assert not re.search(fetches, page, re.IGNORECASE), fetches
    scripts = parse_page(page).scripts
    assert [attrs for attrs, _ in scripts] == [{"type": "application/json", "id": "data"}, {}]
    assert page_data(page) == json.loads(json.dumps(page_model(record)))
    assert "{{" not in page and "/*{{" not in page  # every placeholder filled


def test_names_with_markup_cannot_leave_the_data_script():
    names = ["</script><script>alert(1)</script>", "</SCRIPT >", 'a"&b', "<b>"]
    record = trace_step(build_char_model(4, 3, rng=3), [0, 1, 2, 3], [1, 2, 3, 0], vocab=names)
    page = trace_page(record)
    assert len(re.findall("</script", page, re.IGNORECASE)) == 2  # the page's own two
    assert page_data(page) == json.loads(json.dumps(page_model(record)))
    assert page_data(page)["sections"][0]["columns"][0] == f"t=0 {names[0]!r} → {names[1]!r}"


def test_a_title_spelled_in_markup_is_escaped():
    text = "</script>"  # a one-character vocabulary spells the sequence, which the title shows
    record = char_record("rnn", vocab="</scripte>", text=text)
    title = page_model(record)["title"]
    assert title.endswith(f"on {text!r}")
    page = trace_page(record)
    parsed = parse_page(page)
    assert unescape(parsed.text["title"]) == title == unescape(parsed.text["h1"])
    assert len(re.findall("</script", page, re.IGNORECASE)) == 2
    assert page_data(page)["title"] == title


def test_the_data_cannot_change_how_its_script_is_tokenized():
    names = ["<!--<script>", "a", "b", "c"]
    page = trace_page(trace_step(build_char_model(4, 3, rng=3), [0, 1, 2, 3], [1, 2, 3, 0], vocab=names))
    (data,) = [text for attrs, text in parse_page(page).scripts if attrs.get("id") == "data"]
    assert "<!--" not in data and "<script" not in data.lower()


def test_a_name_like_a_placeholder_stays_a_name():
    names = ["/*{{SCRIPT}}*/", "{{DATA}}", "/*{{STYLE}}*/", "{{TITLE}}"]
    record = trace_step(build_char_model(4, 3, rng=3), [0, 1, 2, 3], [1, 2, 3, 0], vocab=names)
    assert page_data(trace_page(record)) == json.loads(json.dumps(page_model(record)))


# -- in a browser ----------------------------------------------------------------------------------
CELLS_JS = """[...document.querySelectorAll("#page .cell")].map((c) =>
    [c.closest("section").id, c.dataset.node, c.dataset.index, c.dataset.value, c.textContent])"""
NODES_JS = """[...document.querySelectorAll("#page div.node")].map((n) => [n.dataset.node, n.dataset.stage,
    n.parentElement.closest("section").id])"""
ROWS_JS = """Object.fromEntries(%s.map((id) => [id, [...document.querySelectorAll(
    `section#${id} > div.scroll > table.grid > tbody > tr[data-row]`)].map((tr) => [tr.dataset.row,
    tr.dataset.layer])]))""" % json.dumps(SECTIONS)
PANEL_JS = """(() => ({
    hidden: document.getElementById("panel").hidden,
    title: document.getElementById("panel-title").textContent,
    value: document.getElementById("panel-value").dataset.value,
    formula: document.getElementById("panel-formula").textContent,
    inputs: [...document.querySelectorAll("#panel-inputs .input")].map((e) =>
        [e.dataset.label, [...e.querySelectorAll("span.cell")].map((c) => c.dataset.value)]),
    sources: [...document.querySelectorAll("#page .node.source")].map((n) => n.dataset.node),
    picked: [...document.querySelectorAll("#page .cell.picked")].map((c) =>
        c.dataset.node + "@" + c.dataset.index),
}))()"""


def js_format(v: float) -> str:
    """trace.js's format(v): "0"; toExponential(1) below 1e-3 or from 1e4 in size; else toFixed(3).
    Both round the exact binary value half away from zero (ECMA-262: "pick the larger n")."""
    if v == 0:
        return "0"
    sign = "-" if v < 0 else ""
    with localcontext() as ctx:
        ctx.prec = 1000  # exact: a double has at most 767 significant decimal digits
        a = abs(Decimal(v))
        if abs(v) < 1e-3 or abs(v) >= 1e4:
            e = a.adjusted()
            m = a.scaleb(-e).quantize(Decimal("0.1"), ROUND_HALF_UP)
            if m >= 10:
                m, e = (m / 10).quantize(Decimal("0.1"), ROUND_HALF_UP), e + 1
            return f"{sign}{m}e{'+' if e >= 0 else '-'}{abs(e)}"
        return f"{sign}{a.quantize(Decimal('0.001'), ROUND_HALF_UP)}"


# (the browser test runs trace.js's own format on these, and on more)
FORMAT_CASES = [(0.0625, "0.063"), (-0.0625, "-0.063"), (0.1235, "0.123"), (1.0, "1.000"), (-0.5, "-0.500"),
                (0.0, "0"), (-0.0, "0"), (2.5e-5, "2.5e-5"), (-0.00025, "-2.5e-4"), (0.000999, "1.0e-3"),
                (9.96e-4, "1.0e-3"), (12345.0, "1.2e+4"), (9999.9996, "10000.000"), (0.001, "0.001")]


def test_js_format_rounds_as_javascript_does():
    assert [(v, js_format(v)) for v, _ in FORMAT_CASES] == FORMAT_CASES


def index_of(text: str) -> tuple[int, ...]:
    return tuple(int(i) for i in text.split(",")) if text else ()


def layer_attribute(row: dict) -> str:
    """A row's data-layer: its layer, or "" for a row of no one layer (x_t, the head's, the gradients)."""
    return "" if row.get("layer") is None else str(row["layer"])


def check_every_cell(browser, record: dict, model: dict) -> None:
    """Every drawn cell's data-value is the record's number at its place, exactly (String(v) of a
    double reads back as the same double), and its text is format(v); every node and row is there."""
    places = dict(record_places(record))
    cells = browser.evaluate(CELLS_JS)
    assert len(cells) == sum(np.size(model["nodes"][c]["value"]) for c in drawn(model))
    seen = Counter()
    for section, node_id, index, value, text in cells:
        want = float(np.asarray(places[node_id], dtype=np.float64)[index_of(index)])
        assert float(value) == want, (node_id, index)
        assert text == js_format(want), (node_id, index, value)
        seen[section, "matrix" if "," in index else "vector" if index else "scalar"] += 1
    for section in SECTIONS:
        assert seen[section, "vector"] >= 8 or seen[section, "matrix"] >= 8, section
    assert seen["gradients", "matrix"] and seen["update", "matrix"] and seen["forward", "scalar"]
    nodes = browser.evaluate(NODES_JS)
    want_nodes = [(c, str(model["nodes"][c]["stage"]), s["id"])
                  for s in model["sections"] for row in s["rows"] for c in row["cells"] if c]
    assert [tuple(n) for n in nodes] == want_nodes
    rows = browser.evaluate(ROWS_JS)
    rows_wanted = {s["id"]: [[row.get("key") or row["label"], layer_attribute(row)] for row in s["rows"]]
                   for s in model["sections"]}
    assert rows == rows_wanted


def check_click(browser, model: dict, node_id: str, index: tuple[int, ...], close: bool = True) -> None:
    """Click the element and compare the panel with explain(); then close it."""
    index_text = ",".join(map(str, index))
    browser.click(f'#page .cell[data-node="{node_id}"][data-index="{index_text}"]')
    shown, want, node = browser.evaluate(PANEL_JS), explain(model, node_id, index), model["nodes"][node_id]
    assert not shown["hidden"]
    assert shown["title"] == node["label"] + (f"[{', '.join(map(str, index))}]" if index else "")
    assert float(shown["value"]) == want["value"]
    assert shown["formula"] == want["formula"]
    assert [label for label, _ in shown["inputs"]] == [label for label, _ in want["inputs"]]
    for (label, values), (_, values_wanted) in zip(shown["inputs"], want["inputs"], strict=True):
        assert [float(v) for v in values] == np.ravel(values_wanted).tolist(), (node_id, label)
    assert set(shown["sources"]) == {i for ref in node["inputs"] for i in ref["ids"]}
    assert set(shown["picked"]) == {f"{node_id}@{index_text}"}
    if not close:
        return
    browser.click("#panel-close")
    closed = browser.evaluate(PANEL_JS)
    assert closed["hidden"] and closed["sources"] == [] and closed["picked"] == []


def open_page(browser, record: dict, path: Path) -> dict:
    write_trace_page(record, path)
    browser.open(path)
    return page_model(record)


def test_the_hello_page_draws_every_number_of_the_record(browser, tmp_path):
    record = hello_record()
    model = open_page(browser, record, tmp_path / "hello.html")
    assert browser.console_errors == [] and browser.foreign_requests() == []
    check_every_cell(browser, record, model)
    assert browser.evaluate("document.title") == model["title"]
    # trace.js's own format, run by the browser, rounds as js_format does
    source = re.search(r"function format\(v\) \{.*?\n  \}", trace_page(record), re.DOTALL)[0]
    scales = 10.0 ** np.arange(-6, 6).repeat(20)  # (240,) |v| from 1e-6 to 1e6
    values = [*(v for v, _ in FORMAT_CASES), *(np.random.default_rng(0).normal(size=240) * scales).tolist()]
    assert browser.evaluate(f"{json.dumps(values)}.map({source})") == [js_format(v) for v in values]
    # a sample named by hand, against the record itself
    sample = {("f.2.0.hidden", "1"): record["forward"][2]["layers"][0]["hidden"][1],
              ("b.1.0.dh", "2"): record["backward"][2]["layers"][0]["dh"][2],  # backward[0] is step 3
              ("g.rnn.weight_ih_l0", "2,1"): record["grads"]["rnn.weight_ih_l0"][2][1],
              ("u.head.weight", "3,0"): record["update"]["head.weight"][3][0]}
    for (node_id, index), want in sample.items():
        selector = f'.cell[data-node="{node_id}"][data-index="{index}"]'
        value = browser.evaluate(f"document.querySelector({json.dumps(selector)}).dataset.value")
        assert float(value) == want
    assert browser.console_errors == []


def test_a_click_shows_the_formula_and_its_inputs(browser, tmp_path):
    record = hello_record()
    model = open_page(browser, record, tmp_path / "hello.html")
    for node_id, index in [("f.2.0.hidden", (1,)),  # same
                           ("f.2.0.pre_activation", (0,)),  # row and all
                           ("f.1.loss", ()),  # a scalar
                           ("b.1.0.dh", (1,)),  # its two parts
                           ("b.1.0.dh_from_next_step", (2,)),  # col
                           ("g.rnn.weight_hh_l0.2", (1, 2)),  # i and k: an outer product
                           ("g.head.bias", (3,)),  # a sum of terms
                           ("u.head.weight", (3, 1)),  # same, on matrices
                           ("p.head.bias", (0,))]:  # given: no inputs
        check_click(browser, model, node_id, index)
    # a click on another cell while the panel is open: the last cell's sources and pick are cleared
    check_click(browser, model, "b.2.0.dz", (0,), close=False)
    check_click(browser, model, "f.3.logits", (2,), close=False)
    browser.click('#page .cell[data-node="p.head.bias"][data-index="0"]')
    given = browser.evaluate("document.querySelector('#panel-inputs').textContent")
    assert given == "no inputs: a given value"
    assert browser.console_errors == []


def test_the_stage_controls_fade_what_is_not_yet_computed(browser, tmp_path):
    record = hello_record()
    model = open_page(browser, record, tmp_path / "hello.html")
    T = model["T"]
    stages = [(c, model["nodes"][c]["stage"]) for c in drawn(model)]
    future_js = "[...document.querySelectorAll('#page .node.future')].map((n) => n.dataset.node)"
    current_js = "[...document.querySelectorAll('#page .node.current')].map((n) => n.dataset.node)"
    label_js = "document.getElementById('stage-label').textContent"

    def check(stage: int | None, label: str) -> None:
        assert browser.evaluate(label_js) == label
        future = Counter(browser.evaluate(future_js))
        assert future == Counter(c for c, s in stages if stage is not None and s > stage)
        assert Counter(browser.evaluate(current_js)) == Counter(c for c, s in stages if s == stage)

    check(None, "every stage shown")
    for stage in range(2 * T + 1):
        browser.click("#stage-next")
        label = (f"forward pass, step {stage} of {T - 1}" if stage < T else
                 f"backward pass, step {2 * T - 1 - stage} (right to left)" if stage < 2 * T else
                 "weight gradients summed, and the update")
        check(stage, label)
        if stage == 2:
            assert len(browser.evaluate(future_js)) > 0
    browser.click("#stage-next")  # past the update: everything again
    check(None, "every stage shown")
    browser.click("#stage-prev")
    check(2 * T, "weight gradients summed, and the update")
    browser.click("#stage-prev")
    check(2 * T - 1, "backward pass, step 0 (right to left)")
    browser.click("#stage-all")
    check(None, "every stage shown")
    assert browser.evaluate(future_js) == []
    assert browser.console_errors == []


def library_reach(T: int, k: int) -> list[list[bool]]:
    """reach[s][t]: whether the loss at step s sends gradient to the input at step t under the library's
    ``truncate=k`` (a dense-input RNN's own backward, one loss at a time)."""
    config = ModelConfig(input_size=2, output_size=3, hidden_size=3, dtype="float64")
    model = SequenceModel(config, rng=0)
    x = np.random.default_rng(1).normal(size=(T, 1, 2))  # (T, B, F)
    _, _, cache = model.forward(x)
    reach = []
    for s in range(T):
        dy = np.zeros((T, 1, 3))  # (T, B, O)
        dy[s, 0] = [0.3, -0.5, 0.2]
        dx, _, _ = model.backward(dy, None, cache, truncate=k)
        reach.append([bool(np.any(dx[t] != 0)) for t in range(T)])
    return reach


def test_the_truncation_table_is_the_libraries_truncate(browser, tmp_path):
    record = hello_record()
    model = open_page(browser, record, tmp_path / "hello.html")
    T = model["T"]
    assert browser.evaluate("[...document.querySelectorAll('#truncate option')].map((o) => o.value)") == \
        ["off", *map(str, range(T))]
    visible_js = ("(() => { const s = document.getElementById('truncation'); "
                  "return !s.hidden && getComputedStyle(s).display !== 'none'; })()")
    table_js = """[...document.querySelectorAll("#reach tr[data-loss]")].map((tr) => [Number(tr.dataset.loss),
        [...tr.querySelectorAll("td[data-step]")].map((td) => [Number(td.dataset.step), td.className,
        td.textContent])])"""
    assert browser.evaluate(visible_js) is False
    for k in [*range(T), "off"]:
        browser.evaluate(f"""(() => {{ const s = document.getElementById("truncate"); s.value = "{k}";
            s.dispatchEvent(new Event("change", {{bubbles: true}})); }})()""")
        if k == "off":
            assert browser.evaluate(visible_js) is False
            continue
        assert browser.evaluate(visible_js) is True
        assert f"truncate={k}" in browser.evaluate("document.getElementById('truncation-text').textContent")
        reach = library_reach(T, k)
        table = browser.evaluate(table_js)
        assert [s for s, _ in table] == list(range(T))
        for s, cells in table:
            assert [t for t, _, _ in cells] == list(range(T))
            for t, cls, text in cells:
                rule = "" if t > s else "reached" if s - k <= t else "cut"  # steps s-k..s
                assert cls == rule, (k, s, t)
                assert (cls == "reached") == reach[s][t], (k, s, t)
                assert text == {"": "", "reached": "✓", "cut": "×"}[cls]
        assert any(cls == "cut" for _, cells in table for _, cls, _ in cells) == (k < T - 1)
    assert browser.console_errors == []


def test_a_two_layer_lstm_page(browser, tmp_path):
    """Its gates and the gradient between layers, under a title spelled in markup."""
    record = char_record("lstm", layers=2, vocab="</scripte>", text="</script>")
    model = open_page(browser, record, tmp_path / "lstm.html")
    assert browser.console_errors == [] and browser.foreign_requests() == []
    assert browser.evaluate("document.title") == model["title"] == browser.evaluate(
        "document.querySelector('h1').textContent")
    assert browser.evaluate("document.querySelector('#forward thead th:nth-child(2)').textContent") == \
        "t=0 '<' → '/'"
    check_every_cell(browser, record, model)
    for node_id, index in [("f.3.1.f", (2,)), ("f.3.1.pre_o", (1,)), ("f.3.1.c", (0,)),
                           ("f.3.1.hidden", (1,)), ("b.2.0.dh_from_layer_above", (0,)),
                           ("b.2.1.dh_from_next_step", (2,)), ("g.rnn.weight_ih_l1.4", (5, 2))]:
        check_click(browser, model, node_id, index)
    assert browser.console_errors == []


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_screenshot_of_the_hello_page(browser, tmp_path):
    """``SCRATCHRNN_SCREENSHOT=docs/trace_page.png pytest tests/test_trace_page.py -k screenshot``
    makes the picture in the docs."""
    open_page(browser, hello_record(), tmp_path / "hello.html")
    browser.click('#forward .cell[data-node="f.2.0.hidden"][data-index="1"]')  # the panel shows h_2[1]
    browser.evaluate("window.scrollTo(0, 0); document.querySelectorAll('.grid').forEach(g => "
                     "{ g.parentElement.scrollLeft = 0; })")
    assert browser.evaluate("document.getElementById('panel-formula').textContent") == "h_t = σ(z_t)"
    shot = browser.screenshot(tmp_path / "trace_page.png", 1000, 700).read_bytes()
    assert png_size(shot) == (1000, 700)
    assert len(shot) > 20_000  # coloured cells and text, not a blank page
    assert browser.console_errors == []
    if os.environ.get(SCREENSHOT_ENV):
        Path(os.environ[SCREENSHOT_ENV]).write_bytes(shot)


def section_rows(model: dict, section: str) -> dict:
    """(layer, key) -> row of one section of the page."""
    rows = next(s["rows"] for s in model["sections"] if s["id"] == section)
    return {(row.get("layer"), row.get("key")): row for row in rows}


@pytest.mark.parametrize("cell, node, formula, labels", [
    ("rnn", "f.1.0.pre_activation", "z_t = W_ih x_t + b_ih + W_hh h_(t-1) + b_hh",
     ["row of W_ih", "x_t", "b_ih", "row of W_hh", "h_(t-1)", "b_hh"]),
    ("rnn", "f.0.0.pre_activation", "z_t = W_ih x_t + b_ih + b_hh (h_(-1) = 0)",
     ["row of W_ih", "x_t", "b_ih", "b_hh"]),
    ("lstm", "f.1.0.pre_f", "pre_f = W_if x_t + b_if + W_hf h_(t-1) + b_hf: rows 3..5 of the stacked weights",
     ["row of W_if", "x_t", "b_if", "row of W_hf", "h_(t-1)", "b_hf"]),
    ("lstm", "f.2.1.pre_o", "pre_o = W_io h⁽1⁾_t + b_io + W_ho h_(t-1) + b_ho: rows 9..11",
     ["row of W_io", "h⁽1⁾_t", "b_io", "row of W_ho", "h_(t-1)", "b_ho"]),
    ("gru", "f.1.0.pre_z", "pre_z = W_iz x_t + b_iz + W_hz h_(t-1) + b_hz: rows 3..5",
     ["row of W_iz", "x_t", "b_iz", "row of W_hz", "h_(t-1)", "b_hz"]),
    ("gru", "f.1.0.pre_n", "pre_n = W_in x_t + b_in + r * hn", ["row of W_in", "x_t", "b_in", "r * hn"]),
    ("gru", "f.0.0.hidden", "h_t = (1 - z) * n + z * h_(t-1) (h_(-1) = 0)", ["z", "n"]),
])
def test_each_gate_is_written_with_its_own_weights(cell, node, formula, labels):
    model = page_model(char_record(cell, layers=2))
    assert model["nodes"][node]["formula"].startswith(formula)
    assert [ref["label"] for ref in model["nodes"][node]["inputs"]] == labels


def test_without_biases_no_formula_names_one():
    for cell in ("rnn", "lstm", "gru"):
        model = page_model(char_record(cell, bias=False))
        formulas = [node["formula"] for node in model["nodes"].values()]
        assert not any(re.search(r"\bb_[a-z]{2}\b", f) for f in formulas), cell
    model = page_model(char_record("lstm", bias=False))
    assert model["nodes"]["f.1.0.pre_g"]["formula"].startswith("pre_g = W_ig x_t + W_hg h_(t-1): rows 6..8")


def test_a_rows_note_is_the_general_steps_formula():
    rows = section_rows(page_model(char_record("lstm")), "backward")
    assert rows[(0, "dc_from_next_step")]["note"] == "dc_(t+1) * f_(t+1)"
    assert rows[(0, "dh_from_next_step")]["note"] == "W_hh^T dpre_(t+1) (all four gates)"
    assert rows[(None, "dlogits")]["note"] == ("dy_t = (p_t - onehot(target_t)) / 4: the 1/T of the mean "
                                               "loss enters here")
    forward = section_rows(page_model(char_record("lstm")), "forward")
    assert forward[(0, "pre_i")]["note"] == "pre_i = W_ii x_t + b_ii + W_hi h_(t-1) + b_hi"
    one_step = section_rows(page_model(char_record("lstm", text="he")), "backward")  # T = 1: its only step
    assert one_step[(0, "dc_from_next_step")]["note"] == "nothing comes back from after the last step"
