"""ONNX export: a model as a file ONNX Runtime (or any ONNX runtime) runs without Python.

``to_onnx(model, path)`` writes one graph, whole or not at all (``scratchrnn.io.atomic``);
``onnx_model`` gives the ``onnx.ModelProto`` without writing. The recurrent layers become the
standard ``RNN``, ``LSTM`` and ``GRU`` operators, one per layer (``scratchrnn.io.onnx_graph``);
the time and batch axes are dynamic, so one file runs any number of steps and sequences. Weights
are stored as float32, the type ONNX Runtime runs these operators in; a float64 model is rounded.
Dropout is left out: the graph is the model in evaluation mode. Needs the ``onnx`` extra.

Inputs and outputs, by name (T steps, B sequences, L layers, D directions, H hidden units;
inputs marked optional may be left out of the feed):

``SequenceModel``
    ``input``: (T, B) int64 token ids, or (T, B, F) float32 for a dense model;
    ``h0`` (L*D, B, H), optional, zeros; ``c0`` (LSTM) likewise; ``lengths`` (B,) int64,
    optional, each sequence's steps (default: all T), read as ``SequenceModel.forward`` reads
    them. ``output``: (T, B, O) for head "all" (past a length, the head of zero outputs, as in
    scratchrnn) or (B, O) for a pooled head; ``h_n`` (L*D, B, H); ``c_n`` (LSTM).
``RNN``, ``LSTM``, ``GRU`` (a layer stack)
    ``input`` (T, B, F), or (B, T, F) with ``batch_first``; ``h0``, ``c0``, ``lengths`` as above.
    ``output`` (T, B, D*H) (batch first likewise), zero past a length; ``h_n``, ``c_n``.
``RNNCell``, ``LSTMCell``, ``GRUCell`` (one step)
    ``input`` (B, F); ``h0`` (B, H) optional, ``c0`` (LSTMCell). ``h_n`` (B, H), ``c_n``.
``Seq2Seq``, ``part="encoder"``
    ``source`` (S, B) int64; ``source_lengths`` (B,) optional. ``memory`` (S, B, D*H), the
    encoder's outputs; ``h0`` (L, B, Hd) and ``c0`` (an LSTM decoder): the decoder's first
    state, bridged as the model bridges it.
``Seq2Seq``, ``part="decoder_step"``
    ``token`` (B,) int64, the previous target token (BOS first); ``h0`` (L, B, Hd), ``c0`` (an
    LSTM decoder); with attention ``memory`` (S, B, D*H) and ``source_lengths`` (B,) optional.
    ``logits`` (B, V); ``h_n``, ``c_n``, fed back as the next step's ``h0``, ``c0``; with
    attention ``attention`` (B, S), the step's weights over the source.

Feeding ``h_n`` (and ``c_n``) back as ``h0`` (and ``c0``) continues a sequence where it
stopped, so an application can stream. An optional input fed with another batch size is an
error; token ids and lengths are not checked by the graph. The file's metadata records
``scratchrnn.module``, ``scratchrnn.config`` (JSON), ``scratchrnn.inputs`` and
``scratchrnn.outputs`` (the names, comma-separated) and for a Seq2Seq ``scratchrnn.part``;
callers add their own with ``metadata`` (``export_onnx`` adds a checkpoint's vocabulary).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .errors import MissingDependencyError
from .onnx_graph import Graph, Stack

__all__ = ["ONNX_EXPORTABLE", "SEQ2SEQ_PARTS", "export_onnx", "onnx_model", "to_onnx"]

ONNX_EXPORTABLE = ("SequenceModel", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "Seq2Seq")
SEQ2SEQ_PARTS = ("encoder", "decoder_step")
_PROTOBUF_LIMIT = 2 ** 31 - 2 ** 24  # one protobuf message holds < 2 GiB; keep room for the graph


def require_onnx():
    """The onnx package, or MissingDependencyError saying how to install it."""
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as exc:
        raise MissingDependencyError("onnx is not installed; install scratchrnn[onnx]") from exc
    return onnx


def _describe(model) -> tuple[str, dict]:
    """The model's description (``interop.describe``), refused unless ONNX export takes it."""
    from .interop import describe

    description = describe(model)
    kind = None if description is None else description[0]
    if kind not in ONNX_EXPORTABLE:
        what = type(model).__name__ if kind is None else f"a {kind}"
        raise ValueError(f"ONNX export takes a scratchrnn {', '.join(ONNX_EXPORTABLE)}, got {what}")
    return description


def _check_size(model) -> None:
    size = sum(4 * np.asarray(v).size for v in model.params.values())
    if size > _PROTOBUF_LIMIT:
        raise ValueError(f"the model's weights take {size / 2 ** 30:.2f} GiB as float32; an ONNX file "
                         f"holds at most {_PROTOBUF_LIMIT / 2 ** 30:.2f} GiB in one piece")


def onnx_model(model, part: str | None = None, metadata: dict[str, str] | None = None):
    """The checked ``onnx.ModelProto`` of ``model`` (module docstring); ``part`` for a Seq2Seq."""
    onnx = require_onnx()
    kind, cfg = _describe(model)
    if kind == "Seq2Seq":
        if part not in SEQ2SEQ_PARTS:
            parts = " or ".join(map(repr, SEQ2SEQ_PARTS))
            raise ValueError(f"a Seq2Seq is exported in parts: give part={parts}, got {part!r}")
    elif part is not None:
        raise ValueError(f"part is for a Seq2Seq's encoder or decoder step; a {kind} is one graph, "
                         f"got part={part!r}")
    extra = {} if metadata is None else dict(metadata)
    for key, value in extra.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(f"metadata maps strings to strings, got {key!r}: {type(value).__name__}")
    _check_size(model)
    graph = Graph(onnx, f"scratchrnn_{kind}" + ("" if part is None else f"_{part}"))
    if kind == "SequenceModel":
        _sequence_model(graph, model)
    elif kind in ("RNN", "LSTM", "GRU"):
        _layer(graph, model)
    elif kind.endswith("Cell"):
        _cell(graph, model)
    else:
        from ..seq2seq.onnx_parts import decoder_step_graph, encoder_graph

        (encoder_graph if part == "encoder" else decoder_step_graph)(graph, model)
    meta = {"scratchrnn.module": kind, "scratchrnn.config": json.dumps(cfg, sort_keys=True),
            "scratchrnn.inputs": ",".join(v.name for v in graph.inputs),
            "scratchrnn.outputs": ",".join(v.name for v in graph.outputs)}
    if part is not None:
        meta["scratchrnn.part"] = part
    doc = f"scratchrnn {kind}" + ("" if part is None else f" ({part})")
    return graph.model(doc, {**meta, **extra})


def to_onnx(model, path: str | os.PathLike, part: str | None = None,
            metadata: dict[str, str] | None = None) -> Path:
    """Write ``model`` (a SequenceModel, an RNN, LSTM or GRU layer, a step cell, or a Seq2Seq's
    ``part``: "encoder" or "decoder_step") to ``path`` as an ONNX file; returns the path.

    A model ONNX export does not take, or a wrong ``part``, is a ValueError naming it; a missing
    folder a FileNotFoundError naming it; either way nothing is written. ``metadata`` adds
    string entries to the file's metadata. See the module docstring for the graph's inputs and
    outputs.
    """
    path = Path(path)
    with atomic_path(path) as temp:  # a missing folder fails here, before the graph is built
        proto = onnx_model(model, part, metadata)
        temp.write_bytes(proto.SerializeToString())
    return path


def _read_model(path: Path):
    """The module a file holds and the metadata to carry: a Seq2Seq checkpoint (with its
    vocabularies and source format), a trainer or language-model checkpoint (with its
    vocabulary), or a weights file with a module description."""
    from .archive import zip_members
    from .checkpoint import load_checkpoint, peek_checkpoint
    from .errors import check_readable
    from .weights import load_module

    check_readable(path, "model file")
    info = None
    try:
        info = peek_checkpoint(path)
    except ValueError:
        pass  # not a checkpoint: a weights file, which load_module reads (or names what is wrong)
    config = {} if info is None else (info.config or {})
    if "kind" in config:  # an estimator's or a forecaster's file
        what = config.get("estimator", str(config["kind"]).removeprefix("scratchrnn-"))
        raise ValueError(f"{path} is a {what} file: its predictions scale what goes into its model (and "
                         "what comes out), which a graph of the model alone would not; ONNX export takes "
                         "a language model, a Seq2Seq or a weights file")
    if "seq2seq" in config:
        from ..seq2seq.data import SPECIALS
        from ..seq2seq.files import load_seq2seq

        loaded = load_seq2seq(path)
        vocab = {side: [*SPECIALS, *v.symbols] for side, v in (("source", loaded.source),
                                                               ("target", loaded.target))}
        return loaded.model, {"scratchrnn.vocab": json.dumps(vocab, ensure_ascii=False),
                              "scratchrnn.source_format": json.dumps(loaded.source_format.to_dict())}
    try:
        model = load_module(path).eval()
    except ValueError:
        if info is None and zip_members(path) is None and path.suffix != ".safetensors":
            raise ValueError(f"{path} is neither a scratchrnn checkpoint nor a weights file (.npz or "
                             ".safetensors), which ONNX export reads") from None
        raise
    vocab = None if info is None else load_checkpoint(path).vocab
    return model, {} if vocab is None else {"scratchrnn.vocab": json.dumps(vocab, ensure_ascii=False)}


def export_onnx(path_in: str | os.PathLike, path_out: str | os.PathLike | None = None) -> list[Path]:
    """Write the model of the file ``path_in`` (a checkpoint or a weights file with a module
    description) as ONNX: to ``path_out`` (default: ``path_in`` with the suffix ``.onnx``), or,
    for a Seq2Seq, to two files, ``NAME.encoder.onnx`` and ``NAME.decoder_step.onnx`` (NAME:
    ``path_out``, or ``path_in``, less its suffix). The vocabulary a checkpoint holds goes into
    the metadata as ``scratchrnn.vocab`` (JSON: the tokens in id order; for a Seq2Seq
    ``{"source": [...], "target": [...]}``, the specials first), a Seq2Seq's source format as
    ``scratchrnn.source_format``. Returns the paths written; each is whole or not there.
    """
    path_in = Path(path_in)
    model, meta = _read_model(path_in)
    out = Path(path_out) if path_out is not None else path_in.with_suffix(".onnx")
    if type(model).__name__ != "Seq2Seq":
        if out.exists() and out.resolve() == path_in.resolve():
            raise ValueError(f"cannot export {path_in} onto itself; choose another output path")
        return [to_onnx(model, out, metadata=meta)]
    stem = out.with_suffix("").name if out.suffix else out.name
    paths = [out.with_name(f"{stem}.{part}.onnx") for part in SEQ2SEQ_PARTS]
    protos = [onnx_model(model, part, meta) for part in SEQ2SEQ_PARTS]  # both built before either is written
    for path, proto in zip(paths, protos, strict=True):
        with atomic_path(path) as temp:
            temp.write_bytes(proto.SerializeToString())
    return paths


# -- the graphs ------------------------------------------------------------------------------------
def _stack_shape(stack: Stack) -> list:
    """The states' shape of a layer stack: (L*D, batch, H)."""
    return [stack.num_layers * stack.num_directions, "batch", stack.hidden_size]


def _pool(graph: Graph, head: str, out: str, h_n: str, lengths: str, mask: str, D: int) -> str:
    """What the head reads of outputs (T, B, D*H), as ``scratchrnn.nn.heads`` says."""
    if head == "all":
        return graph.masked(out, mask)
    if head == "last":  # each sequence's output at its last step
        index = graph.op("Reshape", graph.op("Sub", lengths, graph.const(1)), graph.const([1, -1, 1]))
        index = graph.op("Expand", index, graph.op("Shape", graph.op("Slice", out, graph.const([0]),
                                                                     graph.const([1]), graph.const([0]))))
        return graph.op("Squeeze", graph.op("GatherElements", out, index, axis=0), graph.const([0]))
    if head == "final":  # the top layer's final state of each direction, concatenated
        top = graph.op("Slice", h_n, graph.const([-D]), graph.const([2 ** 62]), graph.const([0]))
        return graph.op("Reshape", graph.op("Transpose", top, perm=[1, 0, 2]), graph.const([0, -1]))
    if head == "mean":
        total = graph.op("ReduceSum", graph.masked(out, mask), graph.const([0]), keepdims=0)
        count = graph.op("Unsqueeze", graph.op("Cast", lengths, to=graph.FLOAT), graph.const([1]))
        return graph.op("Div", total, count)
    valid = graph.op("Unsqueeze", mask, graph.const([2]))  # (T, B, 1)
    masked = graph.op("Where", valid, out, graph.const(np.array(-np.inf, np.float32)))
    return graph.op("ReduceMax", masked, axes=[0], keepdims=0)  # "max"


def _sequence_model(graph: Graph, model) -> None:
    cfg = model.config
    stack = Stack.of(model.rnn)
    if model.token_input:
        x = graph.input("input", "int64", ["time", "batch"])
    else:
        x = graph.input("input", "float", ["time", "batch", cfg.input_size])
    steps, batch = graph.scalar_dim(x, 0), graph.dim(x, 1)
    states = graph.state_inputs(stack.arity, _stack_shape(stack), batch)
    lengths = graph.lengths_input("lengths", steps, batch)
    mask = graph.steps_mask(lengths, steps)  # (T, B)
    if model.token_input:
        ids = graph.op("Where", mask, x, graph.const(0))  # padding ids are never read
        if model.embedding is not None:
            emb = graph.const(model.embedding.params["weight"], "embedding.weight")
            xe = graph.op("Gather", emb, ids, axis=0)  # (T, B, E)
        else:
            xe = graph.op("OneHot", ids, graph.const(cfg.vocab_size),
                          graph.const(np.array([0.0, 1.0], np.float32)), axis=-1)  # (T, B, V)
    else:
        xe = x
    out, finals = graph.recurrent(stack, xe, states, graph.op("Cast", lengths, to=graph.INT32), "rnn")
    feats = _pool(graph, cfg.head, out, finals[0], lengths, mask, stack.num_directions)
    head_w = emb if model.tied_names else model.head.params["weight"]
    y = graph.linear(feats, head_w, model.head.params.get("bias"), "head")
    shape = ["time", "batch", model.output_size] if cfg.head == "all" else ["batch", model.output_size]
    graph.output("output", y, "float", shape)
    graph.state_outputs(finals, _stack_shape(stack))


def _layer(graph: Graph, rnn) -> None:
    stack = Stack.of(rnn)
    axes = ["batch", "time"] if rnn.batch_first else ["time", "batch"]
    x = graph.input("input", "float", [*axes, rnn.input_size])
    if rnn.batch_first:
        x = graph.op("Transpose", x, perm=[1, 0, 2])
    steps, batch = graph.scalar_dim(x, 0), graph.dim(x, 1)
    states = graph.state_inputs(stack.arity, _stack_shape(stack), batch)
    lengths = graph.lengths_input("lengths", steps, batch)
    out, finals = graph.recurrent(stack, x, states, graph.op("Cast", lengths, to=graph.INT32), "rnn")
    out = graph.masked(out, graph.steps_mask(lengths, steps))  # zero past each length
    if rnn.batch_first:
        out = graph.op("Transpose", out, perm=[1, 0, 2])
    graph.output("output", out, "float", [*axes, rnn.hidden_size * rnn.num_directions])
    graph.state_outputs(finals, _stack_shape(stack))


def _cell(graph: Graph, cell) -> None:
    stack = Stack.of(cell)
    x = graph.input("input", "float", ["batch", cell.input_size])
    batch = graph.dim(x, 0)
    shape = ["batch", cell.hidden_size]
    states = [graph.op("Unsqueeze", h, graph.const([0]))
              for h in graph.state_inputs(stack.arity, shape, batch)]
    x = graph.op("Unsqueeze", x, graph.const([0]))  # one step: (1, B, F)
    _, finals = graph.recurrent(stack, x, states, graph.ones(batch), "cell")
    graph.state_outputs(finals, shape, squeeze=True)
