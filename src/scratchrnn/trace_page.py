"""A trace record (:func:`scratchrnn.trace.trace_step`) drawn as one self-contained HTML page.

The page shows the unrolled network: time steps left to right, each vector a row of cells coloured
by value, in four sections (the forward pass, the backward pass, each weight gradient as its
per-step terms and their sum, the SGD update beside the weights it starts from). Clicking a cell
shows its value, the formula that produced it and the values that went in; a control steps through
the forward pass, the backward pass (right to left) and the update; a toggle shows which paths
``truncate=k`` cuts. Scripts and styles are inline and nothing is fetched, so the page works
offline and prints.

What a cell's formula reads is decided here, in :func:`page_model`: every vector and matrix of the
record is a *node* with a formula and its *inputs*, each input a reference to other nodes and how
to pick from them for one element (:func:`explain` applies the picks; the page's script applies
the same ones, and the tests hold the two to the record). Picks, for an element at index j of a
vector or (i, k) of a matrix:

* ``same``: the input's element at the same index (plus ``offset`` on a vector's index);
* ``all``: the whole input (several nodes given together are concatenated);
* ``row``: row ``offset + j`` of a matrix input (a matrix-vector product's row);
* ``col``: column j of a matrix input (a transposed product: W^T v);
* ``i`` / ``k``: element i / k of a vector input (an outer product's two factors).
"""

from __future__ import annotations

import html
import json
import re
from functools import partial
from importlib import resources
from pathlib import Path

import numpy as np

from .io import atomic_path
from .trace import FORMAT, FORMAT_VERSION

__all__ = ["MAX_PAGE_NUMBERS", "explain", "page_model", "trace_page", "write_trace_page"]

# The most numbers a page draws. A cell is a few hundred bytes of page and a browser lays out each,
# so a larger trace is refused with the sizes that would make it fit.
MAX_PAGE_NUMBERS = 20_000
PLACEHOLDER = re.compile(r"\{\{TITLE\}\}|/\*\{\{STYLE\}\}\*/|\{\{DATA\}\}|/\*\{\{SCRIPT\}\}\*/")
ACTIVATION_NAMES = {"sigmoid": "σ", "tanh": "tanh", "relu": "relu", "identity": "id"}
_SLOPES = {"sigmoid": "h (1 - h)", "tanh": "1 - h²", "relu": "1 where h > 0, else 0", "identity": "1"}


def _ref(label: str, ids, pick: str, offset: int = 0) -> dict:
    ids = [ids] if isinstance(ids, str) else list(ids)
    return {"label": label, "ids": ids, "pick": pick, "offset": offset}


def _pre_refs(w: tuple[str, ...], x_name: str, below: str, prev: str | None, biased: bool, offset: int,
              gate: str = "") -> list[dict]:
    """The inputs of a pre-activation W_ih x + b_ih + W_hh h_(t-1) + b_hh (rows from ``offset``); a
    gate's weights are named by its letter, as the equations name them (W_if, b_hf for gate f)."""
    ih, hh = (f"i{gate}", f"h{gate}") if gate else ("ih", "hh")
    refs = [_ref(f"row of W_{ih}", f"p.{w[0]}", "row", offset), _ref(x_name, below, "all")]
    if biased:
        refs.append(_ref(f"b_{ih}", f"p.{w[2]}", "same", offset))
    if prev is not None:
        refs += [_ref(f"row of W_{hh}", f"p.{w[1]}", "row", offset), _ref("h_(t-1)", prev, "all")]
    if biased:
        refs.append(_ref(f"b_{hh}", f"p.{w[3]}", "same", offset))
    return refs


def _pre_formula(name: str, x_name: str, has_prev: bool, biased: bool, gate: str = "") -> str:
    """``name = W_ih x + b_ih + W_hh h_(t-1) + b_hh`` with a gate's own letters (``W_if``, ``b_hf``),
    the terms a step has (no W_hh term at the first step, no biases without them)."""
    ih, hh = (f"i{gate}", f"h{gate}") if gate else ("ih", "hh")
    text = f"{name} = W_{ih} {x_name}" + (f" + b_{ih}" if biased else "")
    if has_prev:
        text += f" + W_{hh} h_(t-1)"
    if biased:
        text += f" + b_{hh}"
    return text + ("" if has_prev else " (h_(-1) = 0)")


class _Builder:
    """Collects nodes (id -> value, formula, inputs, stage) and the rows of each section."""

    def __init__(self, record: dict):
        self.r = record
        self.T = len(record["forward"])
        self.L = record["num_layers"]
        self.H = record["hidden_size"]
        self.nodes: dict[str, dict] = {}

    def add(self, node_id: str, label: str, value, formula: str, inputs: list[dict], stage: int) -> str:
        self.nodes[node_id] = {"label": label, "value": value, "formula": formula, "inputs": inputs,
                               "stage": stage}
        return node_id

    # stages: forward step t is stage t; backward step t is stage T + (T - 1 - t); the totals and
    # the update are stage 2T
    def forward_stage(self, t: int) -> int:
        return t

    def backward_stage(self, t: int) -> int:
        return 2 * self.T - 1 - t


def _layer_name(layer: int, layers: int, name: str) -> str:
    """``name`` with the layer as a superscript-like prefix when there is more than one."""
    return name if layers == 1 else f"{name}⁽{layer + 1}⁾"


def _forward(b: _Builder) -> list[dict]:
    r, T, L, H = b.r, b.T, b.L, b.H
    cell = r["cell"]
    rows = [{"label": "x_t", "note": "the input" + (" (one-hot)" if r["input"] == "one-hot" else ""),
             "cells": []}]
    for t, f in enumerate(r["forward"]):
        rows[0]["cells"].append(b.add(f"f.{t}.x", f"x_{t}", f["x"], "the input at this step", [],
                                      b.forward_stage(t)))
    act = ACTIVATION_NAMES.get(r["nonlinearity"], "f")  # an LSTM's and a GRU's record name none
    layer_rows: dict[tuple[int, str], dict] = {}
    for t, f in enumerate(r["forward"]):
        stage = b.forward_stage(t)
        for k, fields in enumerate(f["layers"]):
            def n(key, step=t, layer=k):
                return f"f.{step}.{layer}.{key}"

            def lab(name, step=t, layer=k):
                return f"{_layer_name(layer, L, name)}_{step}"

            below = f"f.{t}.x" if k == 0 else n("hidden", layer=k - 1)
            x_name = "x_t" if k == 0 else f"h⁽{k}⁾_t"
            prev = n("hidden", step=t - 1) if t > 0 else None
            w = f"rnn.weight_ih_l{k}", f"rnn.weight_hh_l{k}", f"rnn.bias_ih_l{k}", f"rnn.bias_hh_l{k}"
            biased = w[2] in r["params"]

            pre = partial(_pre_refs, w, x_name, below, prev, biased)  # (offset, gate) -> the inputs
            formula = partial(_pre_formula, x_name=x_name, has_prev=prev is not None, biased=biased)
            specs: list[tuple[str, str, str, list]] = []  # key, label, formula, inputs
            if cell == "rnn":
                specs = [
                    ("pre_activation", "z", formula("z_t"), pre(0)),
                    ("hidden", "h", f"h_t = {act}(z_t)", [_ref("z_t", n("pre_activation"), "same")]),
                ]
            elif cell == "lstm":
                for g, gate in enumerate("ifgo"):
                    specs.append((f"pre_{gate}", f"pre_{gate}",
                                  f"{formula(f'pre_{gate}', gate=gate)}: rows {g * H}..{g * H + H - 1} "
                                  "of the stacked weights (gates i, f, g, o)", pre(g * H, gate)))
                for gate in "ifgo":
                    fn = "tanh" if gate == "g" else "σ"
                    specs.append((gate, gate, f"{gate} = {fn}(pre_{gate})",
                                  [_ref(f"pre_{gate}", n(f"pre_{gate}"), "same")]))
                c_refs = [_ref("f", n("f"), "same")]
                if prev is not None:
                    c_refs.append(_ref("c_(t-1)", n("c", step=t - 1), "same"))
                c_refs += [_ref("i", n("i"), "same"), _ref("g", n("g"), "same")]
                specs += [
                    ("c", "c", "c_t = f * c_(t-1) + i * g" + ("" if prev is not None else " (c_(-1) = 0)"),
                     c_refs),
                    ("tanh_c", "tanh(c)", "tanh(c_t)", [_ref("c_t", n("c"), "same")]),
                    ("hidden", "h", "h_t = o * tanh(c_t)", [_ref("o", n("o"), "same"),
                                                            _ref("tanh(c_t)", n("tanh_c"), "same")]),
                ]
            else:  # gru
                hn_refs = [] if prev is None else [_ref("row of W_hn", f"p.{w[1]}", "row", 2 * H),
                                                   _ref("h_(t-1)", prev, "all")]
                if biased:
                    hn_refs.append(_ref("b_hn", f"p.{w[3]}", "same", 2 * H))
                n_refs = [_ref("row of W_in", f"p.{w[0]}", "row", 2 * H), _ref(x_name, below, "all")]
                if biased:
                    n_refs.append(_ref("b_in", f"p.{w[2]}", "same", 2 * H))
                n_refs.append(_ref("r * hn", n("reset_product"), "same"))
                h_refs = [_ref("z", n("z"), "same"), _ref("n", n("n"), "same")]
                if prev is not None:
                    h_refs.append(_ref("h_(t-1)", prev, "same"))
                specs = [
                    ("pre_r", "pre_r", f"{formula('pre_r', gate='r')}: rows 0..{H - 1}", pre(0, "r")),
                    ("pre_z", "pre_z", f"{formula('pre_z', gate='z')}: rows {H}..{2 * H - 1}", pre(H, "z")),
                    ("r", "r", "r = σ(pre_r)", [_ref("pre_r", n("pre_r"), "same")]),
                    ("z", "z", "z = σ(pre_z)", [_ref("pre_z", n("pre_z"), "same")]),
                    ("hn", "hn", ("hn = W_hn h_(t-1)" + (" + b_hn" if biased else "") if prev is not None
                                  else "hn = " + ("b_hn" if biased else "0") + " (h_(-1) = 0)")
                     + f": rows {2 * H}..{3 * H - 1} of W_hh" + (" and b_hh" if biased else ""), hn_refs),
                    ("reset_product", "r * hn", "r * hn: the reset gate scales the state's part",
                     [_ref("r", n("r"), "same"), _ref("hn", n("hn"), "same")]),
                    ("pre_n", "pre_n", f"pre_n = W_in {x_name}" + (" + b_in" if biased else "") + " + r * hn",
                     n_refs),
                    ("n", "n", "n = tanh(pre_n)", [_ref("pre_n", n("pre_n"), "same")]),
                    ("hidden", "h", "h_t = (1 - z) * n + z * h_(t-1)" + ("" if prev is not None
                                                                         else " (h_(-1) = 0)"), h_refs),
                ]
            for key, label, formula, refs in specs:
                row = layer_rows.setdefault((k, key), {"label": _layer_name(k, L, label), "note": "",
                                                       "cells": [None] * T, "key": key, "layer": k})
                if t == min(1, T - 1):  # a row's note is the general step's formula, not the first's
                    row["note"] = formula.split(":")[0]
                row["cells"][t] = b.add(n(key), lab(label), fields[key], formula, refs, stage)
        top = f"f.{t}.{L - 1}.hidden"
        head = [_ref("row of W", "p.head.weight", "row"), _ref("h_t" if L == 1 else f"h⁽{L}⁾_t", top, "all")]
        if "head.bias" in r["params"]:
            head.append(_ref("b", "p.head.bias", "same"))
        target = r["vocab"].index(f["target"]) if f["target"] in r["vocab"] else None
        outs = [
            ("logits", "y", "y_t = W h_t + b" if "head.bias" in r["params"] else "y_t = W h_t", head),
            ("softmax", "p", "p_t = exp(y_t) / Σ exp(y_t)", [_ref("y_t", f"f.{t}.logits", "all")]),
            ("loss", "loss", f"loss_t = -log p_t[{f['target']!r}] (index {target})",
             [_ref("p_t", f"f.{t}.softmax", "all")]),
        ]
        for key, label, formula, refs in outs:
            note = "loss_t = -log p_t[target_t]" if key == "loss" else formula
            row = layer_rows.setdefault((L, key), {"label": label, "note": note,
                                                   "cells": [None] * T, "key": key, "layer": None})
            row["cells"][t] = b.add(f"f.{t}.{key}", f"{label}_{t}", f[key], formula, refs, stage)
    ordered = sorted(layer_rows.items(), key=lambda kv: kv[0][0])  # layers in order, keys as added
    return rows + [row for _, row in ordered]


def _backward(b: _Builder) -> list[dict]:
    r, T, L = b.r, b.T, b.L
    cell = r["cell"]
    by_t = {rec["t"]: rec for rec in r["backward"]}
    rows: dict[tuple[int, str], dict] = {}
    gates = {"rnn": ["dz"], "lstm": ["dpre_i", "dpre_f", "dpre_g", "dpre_o"],
             "gru": ["dpre_r", "dpre_z", "dpre_n"]}[cell]

    def n(key, t, layer):
        return f"b.{t}.{layer}.{key}"

    def fw(key, t, layer):
        return f"f.{t}.{layer}.{key}"

    for t in range(T - 1, -1, -1):
        rec, stage = by_t[t], b.backward_stage(t)
        target = r["forward"][t]["target"]
        entries = [(("top", "dlogits"), "dy", f"dy_t = (p_t - onehot({target!r})) / {T}: the 1/T of the "
                    f"mean loss over {T} steps enters here", f"b.{t}.dlogits", rec["dlogits"],
                    [_ref("p_t", f"f.{t}.softmax", "same")])]
        for k in reversed(range(L)):
            fields = rec["layers"][k]
            lab = _layer_name(k, L, "")
            last = t == T - 1
            if k == L - 1:
                above = ("dh_from_output", "dh from output", "W^T dy_t",
                         [_ref("column of W", "p.head.weight", "col"), _ref("dy_t", f"b.{t}.dlogits", "all")])
            else:
                above = ("dh_from_layer_above", "dh from layer above",
                         f"W_ih⁽{k + 2}⁾^T da⁽{k + 2}⁾_t: what the input of layer {k + 2} received",
                         [_ref(f"column of W_ih⁽{k + 2}⁾", f"p.rnn.weight_ih_l{k + 1}", "col"),
                          _ref(f"da⁽{k + 2}⁾_t", [n(g, t, k + 1) for g in gates], "all")])
            if last:
                nxt = ("nothing comes back from after the last step", [])
            elif cell == "rnn":
                nxt = ("W_hh^T dz_(t+1)", [_ref("column of W_hh", f"p.rnn.weight_hh_l{k}", "col"),
                                           _ref("dz_(t+1)", n("dz", t + 1, k), "all")])
            elif cell == "lstm":
                nxt = ("W_hh^T dpre_(t+1) (all four gates)",
                       [_ref("column of W_hh", f"p.rnn.weight_hh_l{k}", "col"),
                        _ref("dpre_(t+1)", [n(g, t + 1, k) for g in gates], "all")])
            else:
                nxt = ("dh_(t+1) * z_(t+1) + W_hh^T [dpre_r, dpre_z, dpre_n * r]_(t+1)",
                       [_ref("dh_(t+1)", n("dh", t + 1, k), "same"),
                        _ref("z_(t+1)", fw("z", t + 1, k), "same"),
                        _ref("column of W_hh", f"p.rnn.weight_hh_l{k}", "col"),
                        _ref("dpre_r, dpre_z, dpre_n (t+1)", [n(g, t + 1, k) for g in gates], "all"),
                        _ref("r_(t+1)", fw("r", t + 1, k), "all")])
            specs = [
                (above[0], "dh ← above" if k < L - 1 else "dh ← output", above[2], above[3]),
                ("dh_from_next_step", "dh ← t+1", nxt[0], nxt[1]),
                ("dh", "dh", f"dh_t = {above[0]} + dh_from_next_step",
                 [_ref(above[1], n(above[0], t, k), "same"),
                  _ref("dh from next step", n("dh_from_next_step", t, k), "same")]),
            ]
            if cell == "rnn":
                nl = r["nonlinearity"]
                specs += [
                    ("f_prime", "f'(z)", f"f'(z_t) of {nl}, from h_t: {_SLOPES[nl]}",
                     [_ref("h_t", fw("hidden", t, k), "same")]),
                    ("dz", "dz", "dz_t = dh_t * f'(z_t)", [_ref("dh_t", n("dh", t, k), "same"),
                                                          _ref("f'(z_t)", n("f_prime", t, k), "same")]),
                ]
            elif cell == "lstm":
                specs += [
                    ("dc_from_next_step", "dc ← t+1", "nothing comes back from after the last step" if last
                     else "dc_(t+1) * f_(t+1)",
                     [] if last else [_ref("dc_(t+1)", n("dc", t + 1, k), "same"),
                                      _ref("f_(t+1)", fw("f", t + 1, k), "same")]),
                    ("dc_through_h", "dc ← h", "dh_t * o * (1 - tanh(c_t)²)",
                     [_ref("dh_t", n("dh", t, k), "same"), _ref("o", fw("o", t, k), "same"),
                      _ref("tanh(c_t)", fw("tanh_c", t, k), "same")]),
                    ("dc", "dc", "dc_t = dc_from_next_step + dc_through_h",
                     [_ref("dc from next step", n("dc_from_next_step", t, k), "same"),
                      _ref("dc through h", n("dc_through_h", t, k), "same")]),
                    ("dpre_i", "dpre_i", "dc * g * i (1 - i)", [_ref("dc", n("dc", t, k), "same"),
                                                                _ref("g", fw("g", t, k), "same"),
                                                                _ref("i", fw("i", t, k), "same")]),
                    ("dpre_f", "dpre_f", "dc * c_(t-1) * f (1 - f)",
                     [_ref("dc", n("dc", t, k), "same")]
                     + ([_ref("c_(t-1)", fw("c", t - 1, k), "same")] if t > 0 else [])
                     + [_ref("f", fw("f", t, k), "same")]),
                    ("dpre_g", "dpre_g", "dc * i * (1 - g²)", [_ref("dc", n("dc", t, k), "same"),
                                                              _ref("i", fw("i", t, k), "same"),
                                                              _ref("g", fw("g", t, k), "same")]),
                    ("dpre_o", "dpre_o", "dh_t * tanh(c_t) * o (1 - o)",
                     [_ref("dh_t", n("dh", t, k), "same"), _ref("tanh(c_t)", fw("tanh_c", t, k), "same"),
                      _ref("o", fw("o", t, k), "same")]),
                ]
            else:
                specs += [
                    ("dpre_r", "dpre_r", "dpre_n * hn * r (1 - r)",
                     [_ref("dpre_n", n("dpre_n", t, k), "same"), _ref("hn", fw("hn", t, k), "same"),
                      _ref("r", fw("r", t, k), "same")]),
                    ("dpre_z", "dpre_z", "dh_t * (h_(t-1) - n) * z (1 - z)",
                     [_ref("dh_t", n("dh", t, k), "same")]
                     + ([_ref("h_(t-1)", fw("hidden", t - 1, k), "same")] if t > 0 else [])
                     + [_ref("n", fw("n", t, k), "same"), _ref("z", fw("z", t, k), "same")]),
                    ("dpre_n", "dpre_n", "dh_t * (1 - z) * (1 - n²)",
                     [_ref("dh_t", n("dh", t, k), "same"), _ref("z", fw("z", t, k), "same"),
                      _ref("n", fw("n", t, k), "same")]),
                ]
            for key, label, formula, refs in specs:
                entries.append(((k, key), f"{label}{lab}", formula, n(key, t, k), fields[key], refs))
        for (layer, key), label, formula, node_id, value, refs in entries:
            row = rows.setdefault((layer, key), {"label": label, "note": "", "cells": [None] * T, "key": key,
                                                 "layer": None if layer == "top" else layer})
            if t == max(T - 2, 0):  # a row's note is the general step's formula, not the last step's
                row["note"] = formula
            row["cells"][t] = b.add(node_id, f"{label}_{t}", value, formula, refs, stage)
    rows[("top", "dlogits")]["note"] = (f"dy_t = (p_t - onehot(target_t)) / {T}: the 1/T of the mean loss "
                                        "enters here")
    order = [("top", "dlogits")] + [kk for kk in rows if kk[0] != "top"]
    return [rows[kk] for kk in order]


def _input_of(b: _Builder, name: str, t: int) -> tuple[str, str]:
    """(label, node id) of what a weight multiplies at step t."""
    if name.startswith("head."):
        return ("h_t", f"f.{t}.{b.L - 1}.hidden")
    layer = int(name.rsplit("_l", 1)[1])
    if "weight_ih" in name:
        return ("x_t", f"f.{t}.x") if layer == 0 else (f"h⁽{layer}⁾_t", f"f.{t}.{layer - 1}.hidden")
    return ("h_(t-1)", f"f.{t - 1}.{layer}.hidden") if t > 0 else ("h_(-1) = 0", "")


def _gradients(b: _Builder) -> tuple[list[dict], list[dict]]:
    r, T = b.r, b.T
    cell = r["cell"]
    gates = {"rnn": ["dz"], "lstm": ["dpre_i", "dpre_f", "dpre_g", "dpre_o"],
             "gru": ["dpre_r", "dpre_z", "dpre_n"]}[cell]
    term_rows, update_rows = [], []
    final = 2 * T
    for name, total in r["grads"].items():
        terms = r["grad_terms"][name]
        cells = []
        for t in range(T):
            if name.startswith("head."):
                grad = [_ref("dy_t", f"b.{t}.dlogits", "i")]
                what = "dy_t"
            else:
                layer = int(name.rsplit("_l", 1)[1])
                ids = [f"b.{t}.{layer}.{g}" for g in gates]
                if cell == "gru" and "_hh" in name:
                    what = "da_h = [dpre_r, dpre_z, dpre_n * r]"
                    grad = [_ref("dpre_r, dpre_z, dpre_n", ids, "all"),
                            _ref("r", f"f.{t}.{layer}.r", "all")]
                else:
                    what = "dz_t" if cell == "rnn" else "dpre_t = [" + ", ".join(gates) + "]"
                    grad = [_ref(what.split(" =")[0], ids, "i")]
            if "weight" in name:
                label, node = _input_of(b, name, t)
                refs = grad + ([_ref(label, node, "k")] if node else [])
                formula = f"step {t}'s term: {what} ⊗ {label}" + ("" if node else ": zero")
            else:
                refs, formula = grad, f"step {t}'s term: {what}"
            cells.append(b.add(f"g.{name}.{t}", f"d{name} term {t}", terms[t], formula, refs,
                               b.backward_stage(t)))
        cells.append(b.add(f"g.{name}", f"d{name}", total,
                           f"d{name} = Σ_t its terms (the sum over the {T} steps)",
                           [_ref(f"term {t}", f"g.{name}.{t}", "same") for t in range(T)],
                           final))
        term_rows.append({"label": f"d{name}", "note": "per-step terms, then their sum", "cells": cells,
                          "key": name, "layer": None})
        update = b.add(f"u.{name}", f"{name} after", r["update"][name], f"{name} - {r['lr']} * d{name}",
                       [_ref(name, f"p.{name}", "same"), _ref(f"d{name}", f"g.{name}", "same")], final)
        update_rows.append({"label": name, "note": f"w ← w - {r['lr']} * dw",
                            "cells": [f"p.{name}", f"g.{name}", update], "key": name, "layer": None})
    return term_rows, update_rows


def page_model(record: dict) -> dict:
    """What the page draws: every node of ``record`` (value, formula, inputs, the stage that makes it)
    and the rows of each section. Refused, naming what it found, when ``record`` is not a trace."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        found = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise ValueError(f"expected a trace record (format {FORMAT!r} from trace_step), got {found!r}")
    if record.get("version") != FORMAT_VERSION:
        raise ValueError(f"this page draws trace records of version {FORMAT_VERSION}, got version "
                         f"{record.get('version')!r}")
    b = _Builder(record)
    numbers = sum(np.size(v) for v in record["params"].values()) * (4 + b.T)
    numbers += sum(np.size(f["x"]) + np.size(f["logits"]) * 2 + 1 for f in record["forward"])  # + loss
    numbers += sum(np.size(rec["dlogits"]) for rec in record["backward"])
    numbers += sum(np.size(v) for f in record["forward"] for lay in f["layers"] for v in lay.values())
    numbers += sum(np.size(v) for rec in record["backward"] for lay in rec["layers"] for v in lay.values())
    if numbers > MAX_PAGE_NUMBERS:
        raise ValueError(
            f"a page of this trace would draw {numbers:,} numbers, more than the {MAX_PAGE_NUMBERS:,} a page "
            f"draws; trace fewer steps (now {b.T}), a smaller hidden size (now {b.H}) or a smaller "
            "vocabulary, or read the text or JSON output instead")
    for name, value in record["params"].items():
        b.add(f"p.{name}", name, value, "given: the weights the step starts from", [], -1)
    forward = _forward(b)
    backward = _backward(b)
    terms, updates = _gradients(b)
    for node in b.nodes.values():
        if not np.all(np.isfinite(node["value"])):
            raise ValueError(f"the trace's {node['label']} holds a NaN or an infinity; a page shows finite "
                             "numbers only (weights this large overflow the step)")
    T = b.T
    steps = [f"t={f['t']}" + (f" {f['input']!r} → {f['target']!r}" if f["input"] is not None
                              else f" → {f['target']!r}") for f in record["forward"]]
    return {
        "title": _title(record),
        "T": T,
        "cell": record["cell"],
        "lr": record["lr"],
        "loss": record["loss"],
        "params": [f"p.{k}" for k in record["params"]],
        "sections": [
            {"id": "forward", "title": "Forward pass", "columns": steps, "rows": forward,
             "text": "Each column is one time step, left to right; each row one vector of the equations."},
            {"id": "backward", "title": "Backward pass", "columns": steps, "rows": backward,
             "text": "The gradient flows right to left: each step's hidden gradient is what comes from above "
                     "plus what the step after it sends back."},
            {"id": "gradients", "title": "Weight gradients", "columns": [*steps, "sum"], "rows": terms,
             "text": "Each weight's gradient is the sum of one term per step."},
            {"id": "update", "title": "Update", "columns": ["w", "dw", f"w - {record['lr']} dw"],
             "rows": updates,
             "text": f"One SGD step with learning rate {record['lr']} (reported, not applied)."},
        ],
        "nodes": b.nodes,
    }


def _title(record: dict) -> str:
    cell = record["cell"]
    what = {"rnn": f"RNN ({record['nonlinearity']})", "lstm": "LSTM", "gru": "GRU"}[cell]
    layers = record["num_layers"]
    chars = [f["input"] for f in record["forward"]]
    text = "".join(c for c in chars if isinstance(c, str) and len(c) == 1)
    seq = f" on {text + record['forward'][-1]['target']!r}" if len(text) == len(record["forward"]) else ""
    return f"One training step of a {layers}-layer {what}{seq}"


def _pick(values, pick: str, offset: int, index: tuple[int, ...]):
    a = np.asarray(values, dtype=np.float64)
    if pick == "all":
        return a
    if pick == "same":
        return a[(index[0] + offset,) + tuple(index[1:])] if a.ndim == 1 else a[index]
    if pick == "row":
        return a[offset + index[0]]
    if pick == "col":
        return a[:, index[0]]
    if pick == "i":
        return a[index[0] + offset]
    if pick == "k":
        return a[index[1]]
    raise ValueError(f"unknown pick {pick!r}; expected all, same, row, col, i or k")


def explain(model: dict, node_id: str, index: tuple[int, ...]) -> dict:
    """What the page shows for one element of a node: its value, formula and each input's values
    (a number or an array), as the page's script computes them from the same picks."""
    if node_id not in model["nodes"]:
        raise ValueError(f"no node {node_id!r} in this page; a node id names a section, a step and a "
                         "field, like 'f.0.0.hidden', 'b.2.dlogits', 'p.head.weight' or 'g.head.weight.1'")
    node = model["nodes"][node_id]
    value = np.asarray(node["value"], dtype=np.float64)
    index = tuple(int(i) for i in index)
    if len(index) != value.ndim or any(not 0 <= i < n for i, n in zip(index, value.shape, strict=True)):
        raise ValueError(f"node {node_id!r} has shape {value.shape}, got index {index}")
    inputs = []
    for ref in node["inputs"]:
        parts = [model["nodes"][i]["value"] for i in ref["ids"]]
        values = np.concatenate([np.ravel(p) for p in parts]) if len(parts) > 1 else parts[0]
        inputs.append((ref["label"], _pick(values, ref["pick"], ref["offset"], index)))
    return {"value": float(value[index]) if value.ndim else float(value), "formula": node["formula"],
            "inputs": inputs}


def _asset(name: str) -> str:
    return resources.files("scratchrnn").joinpath("assets", name).read_text(encoding="utf-8")


def trace_page(record: dict) -> str:
    """The page of ``record`` as one HTML string: styles, script and data inline, nothing fetched."""
    model = page_model(record)
    # no "<" in the data script, so no text of the record can end it or open a comment in it
    data = json.dumps(model, allow_nan=False, separators=(",", ":")).replace("<", "\\u003c")
    parts = {"{{TITLE}}": html.escape(model["title"]), "/*{{STYLE}}*/": _asset("trace.css"),
             "{{DATA}}": data, "/*{{SCRIPT}}*/": _asset("trace.js")}
    # one pass over the template: what is filled in is never searched for a placeholder again
    return PLACEHOLDER.sub(lambda m: parts[m.group(0)], _asset("trace.html"))


def write_trace_page(record: dict, path: str | Path) -> Path:
    """Write the page of ``record`` to ``path`` whole or not at all (an atomic replace); returns the path."""
    text = trace_page(record)  # built before anything is written: a bad record leaves no file
    path = Path(path)
    with atomic_path(path) as temp, open(temp, "w", encoding="utf-8") as f:
        f.write(text)
    return path
