"""``scratchrnn trace``: every number of one training step of a small RNN, LSTM or GRU, over one-hot
characters (``--text``, ``--vocab``) or dense input vectors (``--inputs``).

It builds the model (random weights from ``--seed``, or ``--weights`` with PyTorch's names, or the
guided ``--example hello``), runs :func:`scratchrnn.trace.trace_step` on the sequence and prints the
record as text: the parameters, each step's forward numbers layer by layer, the backward pass from
the last step, every gradient (``--terms``: as its per-step terms too) and the update. ``--json``
writes the record, ``--html`` the page of :mod:`scratchrnn.trace_page`. Everything that can be
refused (a character outside ``--vocab``, weights of the wrong shape, a trace too large for a page,
an output file in a missing folder) is refused before anything is printed or written, and each
file is written whole or not at all.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re

import numpy as np

from .cli_args import non_negative_float, non_negative_int, positive_int, size
from .cli_io import output_file

__all__ = ["add_command"]

# the options that define the model; --example sets them all, so it takes none of them
MODEL_OPTIONS = {"text": "--text", "vocab": "--vocab", "inputs": "--inputs", "hidden_size": "--hidden-size",
                 "cell": "--cell",
                 "num_layers": "--num-layers", "nonlinearity": "--nonlinearity", "no_bias": "--no-bias",
                 "seed": "--seed", "weights": "--weights"}
DEFAULTS = {"hidden_size": 3, "cell": "rnn", "num_layers": 1, "nonlinearity": "sigmoid",
            "no_bias": False, "seed": 0}
TRACE_EQUATIONS = {  # cell -> (forward, backward), as the record names the numbers
    "rnn": ("z_t = W_ih x_t + b_ih + W_hh h_(t-1) + b_hh, h_t = f(z_t), y_t = W h_t + b",
            "dh_t = (from above) + W_hh^T dz_(t+1), dz_t = dh_t * f'(z_t)"),
    "lstm": ("pre = W_ih x_t + b_ih + W_hh h_(t-1) + b_hh split i f g o; c_t = f * c_(t-1) + i * g, "
             "h_t = o * tanh(c_t), y_t = W h_t + b",
             "dh_t = (from above) + (from step t+1); "
             "dc_t = dc_from_next_step + dh_t * o * (1 - tanh(c_t)^2)"),
    "gru": ("r, z = s(pre_r), s(pre_z); hn = W_hn h_(t-1) + b_hn; n = tanh(W_in x_t + b_in + r * hn); "
            "h_t = (1 - z) * n + z * h_(t-1), y_t = W h_t + b",
            "dh_t = (from above) + (from step t+1); dpre_n = dh_t * (1 - z) * (1 - n^2)"),
}
BIAS_TERM = re.compile(r" \+ b(_[a-z]{2})?\b")


def _settings(args: argparse.Namespace) -> None:
    """Fill in the model options: the example's, or each option's default where it was not given."""
    given = [flag for key, flag in MODEL_OPTIONS.items()
             if (getattr(args, key) is True if key == "no_bias" else getattr(args, key) is not None)]
    if args.example is not None:
        if given:
            raise ValueError(f"--example {args.example} sets the model and its text; it takes none of "
                             f"{', '.join(given)}")
        return
    for key, value in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def _model_and_sequence(args: argparse.Namespace):
    """(model, inputs, targets, names of the classes) of the request."""
    from .trace import (
        HELLO_TEXT,
        HELLO_VOCAB,
        build_char_model,
        build_dense_model,
        hello_model,
        load_weights,
        read_dense_sequence,
    )

    if args.example == "hello":
        ids = [HELLO_VOCAB.index(c) for c in HELLO_TEXT]
        return hello_model(), ids[:-1], ids[1:], list(HELLO_VOCAB)
    shape = dict(hidden_size=args.hidden_size, nonlinearity=args.nonlinearity, bias=not args.no_bias,
                 rng=args.seed, cell=args.cell, num_layers=args.num_layers)
    if args.inputs is not None:
        if args.text is not None or args.vocab is not None:
            raise ValueError("--inputs gives the sequence and its classes; "
                             "it takes neither --text nor --vocab")
        inputs, targets, names = read_dense_sequence(args.inputs)
        model = build_dense_model(inputs.shape[1], len(names), **shape)
    else:
        text = "hello" if args.text is None else args.text
        names = list(args.vocab) if args.vocab else sorted(set(text))
        if len(set(names)) != len(names):
            raise ValueError(f"--vocab has repeated characters: {args.vocab!r}")
        missing = sorted(set(text) - set(names))
        if missing:
            raise ValueError(f"characters {missing} of --text are not in the vocabulary {names}")
        if len(text) < 2:
            raise ValueError("--text needs at least two characters (an input and its next character), "
                             f"got {text!r}")
        ids = [names.index(c) for c in text]
        inputs, targets = ids[:-1], ids[1:]
        model = build_char_model(len(names), **shape)
    if args.weights:
        load_weights(model, args.weights)
    return model, inputs, targets, names


def _cmd_trace(args: argparse.Namespace) -> int:
    from .trace import HELLO_LR, trace_step

    _settings(args)
    model, inputs, targets, names = _model_and_sequence(args)
    lr = HELLO_LR if args.lr is None else args.lr
    record = trace_step(model, inputs, targets, lr=lr, vocab=names)
    files = []  # (path, text): every file is made before anything is printed or written
    if args.json not in (None, "-"):
        files.append((args.json, json.dumps(record, indent=2) + "\n"))
    if args.html:
        from .trace_page import trace_page

        files.append((args.html, trace_page(record)))  # refused here when it is too large
    with contextlib.ExitStack() as stack:
        # each output is opened (its folder checked) before any is written: a file that cannot be
        # made leaves none of the others
        outs = [(path, stack.enter_context(output_file(path))) for path, _ in files]
        for (_, f), (_, text) in zip(outs, files, strict=True):
            f.write(text)
    if args.json == "-":
        print(json.dumps(record, indent=2))
    else:
        _print_trace(record, terms=args.terms)
        for path, _ in files:
            print(f"wrote {path}")
    return 0


def _fmt(v, prefix: str = "") -> str:
    """``prefix`` and the array, a matrix's rows aligned under its first one."""
    text = np.array2string(np.asarray(v), precision=4, suppress_small=True, separator=", ",
                           max_line_width=120, prefix=prefix)
    return prefix + text  # array2string indents the rows after the first by len(prefix)


def _print_fields(fields: dict, indent: str, width: int) -> None:
    for key, value in fields.items():
        print(_fmt(value, f"{indent}{key:<{width}} "))


def _print_layers(layers: list[dict], width: int) -> None:
    """Each layer's fields; under a "layer k" heading when there is more than one."""
    for k, fields in enumerate(layers):
        if len(layers) == 1:
            _print_fields(fields, "    ", width)
        else:
            print(f"    layer {k + 1}")
            _print_fields(fields, "      ", width)


def _print_trace(r: dict, terms: bool = False) -> None:
    cell, L = r["cell"], r["num_layers"]
    what = f"nonlinearity {r['nonlinearity']}" if cell == "rnn" else f"cell {cell}"
    layers = "" if L == 1 else f", {L} layers (layer 1 reads x_t, each other the layer below)"
    width = len(r["forward"][0]["x"])
    names = "vocabulary" if r["input"] == "one-hot" else f"dense input of {width} numbers, classes"
    print(f"{names} {r['vocab']}, {what}{layers}, hidden size {r['hidden_size']}, "
          f"learning rate {r['lr']}")
    print("\nparameters")
    for k, v in r["params"].items():
        print(_fmt(v, f"  {k} = "))
    forward_eq, backward_eq = TRACE_EQUATIONS[cell]
    if "head.bias" not in r["params"]:  # a model without biases: the equations drop them
        forward_eq = BIAS_TERM.sub("", forward_eq)
    print(f"\nforward pass: {forward_eq}")
    for s in r["forward"]:
        given = "" if s["input"] is None else f" input {s['input']!r}"  # dense input: x is the input
        print(f"  t={s['t']}{given} -> target {s['target']!r}")
        _print_fields({"x": s["x"]}, "    ", 15)
        _print_layers(s["layers"], 15)
        _print_fields({"logits": s["logits"], "softmax": s["softmax"]}, "    ", 15)
        print(f"    {'loss':<15} {s['loss']:.6f}")
    T = len(r["forward"])
    print(f"  mean loss {r['loss']:.6f}")
    print(f"\nbackward pass (from the last step): {backward_eq}")
    print(f"  dlogits = (softmax - onehot(target)) / {T}: the 1/T of the mean loss over {T} steps enters "
          "here")
    if L == 1:
        print("  dh_t = dh_from_output (W^T dy_t) + dh_from_next_step")
    else:
        print("  dh_t = dh_from_output (W^T dy_t, the top layer) or dh_from_layer_above (what the layer "
              "above's input received) + dh_from_next_step")
    for s in r["backward"]:
        print(f"  t={s['t']}")
        _print_fields({"dlogits": s["dlogits"]}, "    ", 19)
        _print_layers(s["layers"], 19)
    print("\ngradients" + (": each the sum of its per-step terms" if terms else ""))
    for k, v in r["grads"].items():
        print(_fmt(v, f"  d{k} = "))
        if terms:
            for t, term in enumerate(r["grad_terms"][k]):
                print(_fmt(term, f"    step {t}: "))
    print(f"\nupdate w <- w - {r['lr']} * grad")
    for k, v in r["update"].items():
        print(_fmt(v, f"  {k} = "))


def add_command(sub) -> None:
    """Add ``trace`` to the subcommands ``sub``."""
    p = sub.add_parser(
        "trace",
        help="every number of one training step of a small RNN, LSTM or GRU (one-hot or dense input)",
        description="Print every number of one training step of a small RNN, LSTM or GRU of one or more "
        "layers over one-hot characters or dense input vectors: the inputs, each gate's pre-activation "
        "and value, the hidden (and cell) states, logits, softmax and loss of each step; the backward "
        "pass from the last step with each gradient split where two paths meet; every weight gradient "
        "(and its per-step terms); and the weights after one SGD update. --html draws all of it as one "
        "page for the browser.",
        epilog="examples:\n  scratchrnn trace --example hello --html hello.html\n"
        "  scratchrnn trace --text hello --hidden-size 3 --terms\n"
        "  scratchrnn trace --cell lstm --num-layers 2 --html lstm.html\n"
        "  scratchrnn trace --inputs seq.json --cell gru\n"
        "  scratchrnn trace --vocab helo --json - > step.json",
    )
    p.add_argument("--example", choices=("hello",),
                   help="the guided example: 'hello' over h, e, l, o with 3 sigmoid units and hand-set "
                   "weights (scratchrnn.trace.HELLO_WEIGHTS); takes no other model option")
    p.add_argument("--text", help="training text; each character predicts the next (default: hello)")
    p.add_argument("--vocab", help="the alphabet in one-hot order (default: the text's characters, sorted)")
    p.add_argument("--inputs", metavar="FILE",
                   help='dense input instead of text: a JSON file {"inputs": [[x, ...], ...], "targets": '
                   '[class id, ...], "classes": [name, ...]} (classes optional)')
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"),
                   help="the recurrent cell (default: rnn); an LSTM's and a GRU's gates are shown by name")
    p.add_argument("--num-layers", type=positive_int, metavar="N", help="stacked layers (default: 1)")
    p.add_argument("--hidden-size", type=size, metavar="N", help="hidden units of each layer (default: 3)")
    p.add_argument("--nonlinearity", choices=("sigmoid", "tanh", "relu", "identity"),
                   help="the RNN hidden layer's activation (default: sigmoid)")
    p.add_argument("--no-bias", action="store_true", help="no biases")
    p.add_argument("--lr", type=non_negative_float,
                   help="learning rate of the update step (default: scratchrnn.trace.HELLO_LR, 0.1)")
    p.add_argument("--seed", type=non_negative_int, metavar="N",
                   help="seed of the random weights, when --weights is not given (default: 0)")
    p.add_argument("--weights", metavar="FILE",
                   help="an .npz or .json file of weights with PyTorch names (weight_ih_l0, ..., "
                   "head.weight)")
    p.add_argument("--terms", action="store_true", help="print each weight gradient's per-step terms too")
    p.add_argument(
        "--json", metavar="FILE", help="also write the record as JSON to FILE ('-': only JSON on stdout)"
    )
    p.add_argument("--html", metavar="FILE",
                   help="also write the page: one self-contained HTML file to open in a browser")
    p.set_defaults(func=_cmd_trace)
