"""``scratchrnn classify`` and ``scratchrnn regress``: labelled sequence files in, a model, its
predictions and its score out.

Each takes ``train``, ``predict`` and ``eval``, on JSON lines files of one
``{"sequence": [[x, ...], ...], "label": ...}`` per line (``scratchrnn.data.labelled``; a label is a
class for ``classify``, a number or a list of numbers for ``regress``; ``predict`` needs no label):

* ``train FILE``: fits a :class:`~scratchrnn.estimators.SequenceClassifier` (or
  ``SequenceRegressor``) and writes ``model.npz`` and ``history.json`` into a new run folder;
* ``predict MODEL FILE``: one JSON line per sequence, ``{"label": ..., "probabilities": {...}}``
  (classify) or ``{"prediction": ...}`` (regress), to stdout or ``--output``;
* ``eval MODEL FILE``: the accuracy (classify) or R^2 and the mean squared error (regress).

Errors are one line and exit status 2 (``scratchrnn.cli``), and nothing half written stays: files
are written atomically and a failed ``train`` removes what it made.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from .cli_args import fraction, non_negative_int, positive_float, positive_int, size
from .cli_io import output_file, print_or_write, writing
from .runs import run_folder

__all__ = ["add_commands"]

KINDS = {"classify": "SequenceClassifier", "regress": "SequenceRegressor"}


def _estimator_class(kind: str):
    from . import estimators

    return getattr(estimators, KINDS[kind])


def _targets(kind: str, labels: list, name: str):
    """The labels of a file as the estimator takes them: any classes, or numbers (N,) / (N, k)."""
    kinds = {type(v) for v in labels}
    if kind == "classify":
        if list in kinds:
            raise ValueError(f"{name} has a list as a label; classify takes a number or a string per line "
                             "(lists of numbers are regress targets)")
        if len(kinds) > 1 and not kinds <= {int, float}:
            raise ValueError(f"{name} mixes labels of types {sorted(k.__name__ for k in kinds)}; give every "
                             "line a label of one type")
        return np.array(labels)
    widths = {len(v) if isinstance(v, list) else None for v in labels}
    if str in kinds or len(widths) > 1:
        raise ValueError(f"{name}: regress needs each label to be a number, or each a list of numbers of "
                         "one length")
    return np.array(labels, dtype=np.float64)


def _read(path: str, labels: bool):
    from .data.labelled import read_labelled

    return read_labelled(path, labels=labels)


def _cmd_train(args: argparse.Namespace) -> int:
    X, labels = _read(args.file, labels=True)
    y = _targets(args.kind, labels, args.file)
    cls = _estimator_class(args.kind)
    params = dict(cell=args.cell, hidden_size=args.hidden_size, num_layers=args.num_layers,
                  bidirectional=not args.unidirectional, head=args.head, epochs=args.epochs,
                  batch_size=args.batch_size, lr=args.lr, validation_fraction=args.validation_fraction,
                  patience=args.patience, random_state=args.seed, verbose=not args.no_progress)
    if X[0].ndim == 1:
        params["embedding_dim"] = args.embedding_dim
    with run_folder(args.out, args.kind) as folder:
        t0 = time.perf_counter()
        est = cls(**params).fit(X, y)
        seconds = time.perf_counter() - t0
        model_path = folder.claim("model.npz")
        with writing(model_path):
            est.save(model_path)
        hist = est.history_
        history = {"steps": hist.steps, "evals": hist.evals, "restored": hist.restored, "seconds": seconds}
        with output_file(folder.claim("history.json")) as f:
            json.dump(history, f, indent=1)
    evals = est.history_.evals
    best = min((r["val_loss"] for r in evals), default=None)
    what = (f"{len(est.classes_)} classes" if args.kind == "classify"
            else f"{est.n_outputs_} target{'s' if est.n_outputs_ != 1 else ''}")
    print(f"trained on {len(X)} sequences ({what}) in {seconds:.1f} s, "
          f"{est.history_.steps[-1]['epoch'] + 1} epochs"
          + ("" if best is None else f", best validation loss {best:.4f}"))
    print(f"wrote {model_path} and {folder.path / 'history.json'}")
    return 0


def _load(kind: str, path: str):
    from pathlib import Path

    if not Path(path).is_file():
        raise ValueError(f"no such model file: {path!r}" if not Path(path).exists() else
                         f"{path!r} is not a model file (a folder?)")
    return _estimator_class(kind).load(path)


def _cmd_predict(args: argparse.Namespace) -> int:
    est = _load(args.kind, args.model)
    X, _ = _read(args.file, labels=False)
    if args.kind == "classify":
        proba = est.predict_proba(X)  # (N, C)
        labels = est.classes_[proba.argmax(axis=1)]
        names = [str(c) for c in est.classes_.tolist()]
        rows = [{"label": lab, "probabilities": dict(zip(names, p.round(6).tolist(), strict=True))}
                for lab, p in zip(labels.tolist(), proba, strict=True)]
    else:
        rows = [{"prediction": p} for p in est.predict(X).tolist()]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    print_or_write(text, args.output)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    est = _load(args.kind, args.model)
    X, labels = _read(args.file, labels=True)
    y = _targets(args.kind, labels, args.file)
    if args.kind == "classify":
        print(f"accuracy {est.score(X, y):.4f} on {len(X)} sequences")
    else:
        from .estimators import r2_score

        pred = est.predict(X)
        if pred.shape != y.shape:
            raise ValueError(f"{args.file} has targets of shape {y.shape[1:] or '()'} per sequence, the "
                             f"model predicts {pred.shape[1:] or '()'}")
        print(f"R^2 {r2_score(y, pred):.4f}, mean squared error {float(np.mean((pred - y) ** 2)):.6g} on "
              f"{len(X)} sequences")
    return 0


def add_commands(sub) -> None:
    """The classify and regress commands (train, predict, eval), added to ``sub``."""
    for kind, noun in (("classify", "classifier"), ("regress", "regressor")):
        label = ("a class (any JSON number or string)" if kind == "classify"
                 else "a number or a list of numbers")
        p = sub.add_parser(
            kind, help=f"train a sequence {noun} on a JSON lines file, predict with it, score it",
            description=f"Train, use and score a recurrent {noun} of sequences of different lengths. "
            "Files are JSON lines, one {\"sequence\": [[x, ...], ...], \"label\": ...} per line: a sequence "
            f"of frames of numbers (or a list of integer token ids), its label {label}.",
            epilog=f"examples:\n  scratchrnn {kind} train data.jsonl --out runs/m\n"
                   f"  scratchrnn {kind} predict runs/m/model.npz new.jsonl -o predictions.jsonl\n"
                   f"  scratchrnn {kind} eval runs/m/model.npz test.jsonl",
        )
        actions = p.add_subparsers(dest="action", metavar="ACTION", help="train, predict or eval")
        actions.required = True
        t = actions.add_parser("train", help=f"fit a {noun}; writes model.npz and history.json",
                               description=f"Fit a {noun} on FILE and write model.npz and history.json into "
                               "a new run folder.")
        t.add_argument("file", metavar="FILE", help="labelled sequences, JSON lines (.gz read as gzip)")
        t.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="gru", help="recurrent cell")
        t.add_argument("--hidden-size", type=size, default=64, metavar="N",
                       help="hidden units per direction")
        t.add_argument("--num-layers", type=positive_int, default=1, metavar="N", help="stacked layers")
        t.add_argument("--unidirectional", action="store_true", help="one direction (default: both)")
        t.add_argument("--head", choices=("final", "last", "mean", "max"), default="final",
                       help="what the output layer reads: each direction's final state, the last step's "
                       "output, or the mean or maximum over the steps")
        t.add_argument("--embedding-dim", type=size, default=16, metavar="N",
                       help="token-id input: the embedding's size")
        t.add_argument("--epochs", type=positive_int, default=100, metavar="N",
                       help="at most this many epochs")
        t.add_argument("--batch-size", type=size, default=32, metavar="N", help="sequences per step")
        t.add_argument("--lr", type=positive_float, default=0.005, help="Adam's learning rate")
        t.add_argument("--validation-fraction", type=fraction, default=0.1, metavar="F",
                       help="share of the sequences held out for early stopping, in [0, 1)")
        t.add_argument("--patience", type=positive_int, default=20, metavar="N",
                       help="epochs without a better validation loss before stopping")
        t.add_argument("--seed", type=non_negative_int, default=0, metavar="N", help="random seed")
        t.add_argument("--out", metavar="FOLDER", help=f"output folder (default: a new runs/{kind}-TIME)")
        t.add_argument("--no-progress", action="store_true", help="no progress bar")
        t.set_defaults(func=_cmd_train, kind=kind)
        q = actions.add_parser("predict", help="predict every sequence of a file",
                               description="Write one JSON line per sequence of FILE: the prediction"
                               + (" and the class probabilities." if kind == "classify" else "."))
        q.add_argument("model", metavar="MODEL", help=f"a model.npz written by '{kind} train'")
        q.add_argument("file", metavar="FILE", help="sequences, JSON lines (labels not needed)")
        q.add_argument("-o", "--output", metavar="FILE", help="write there (atomically) instead of stdout")
        q.set_defaults(func=_cmd_predict, kind=kind)
        e = actions.add_parser("eval", help="score a model on a labelled file",
                               description="Print the model's " + ("accuracy" if kind == "classify" else
                                                                    "R^2 and mean squared error")
                               + " on the labelled sequences of FILE.")
        e.add_argument("model", metavar="MODEL", help=f"a model.npz written by '{kind} train'")
        e.add_argument("file", metavar="FILE", help="labelled sequences, JSON lines")
        e.set_defaults(func=_cmd_eval, kind=kind)
