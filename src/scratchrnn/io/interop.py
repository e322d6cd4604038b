"""PyTorch interop: ``to_torch`` / ``from_torch`` and the module descriptions weight files record.

``to_torch`` builds the matching ``torch.nn`` module and loads the weights with strict=True;
``from_torch`` goes the other way. Parameter names, shapes and gate orders are already
PyTorch's, so converting a layer is a copy of its state dict. A ``SequenceModel`` becomes a
``TorchSequenceModel`` (built on first use, so torch stays optional) whose submodules
``embedding`` (absent for one-hot input), ``rnn`` and ``head`` give the same dotted names.

A module description is ``(class name, constructor arguments as a JSON-able dict)``: what the
weight files record (``scratchrnn.io.weights``) and what both sides are rebuilt from.
``describe`` and ``describe_torch`` make one, ``build_scratch`` rebuilds the scratchrnn module,
and ``check_weights`` compares the arrays a file holds with the parameters a description implies
before anything is built (a description read from a file may claim a hidden size of 10^6);
``loaded_torch`` and ``as_array`` let numpy-only callers accept tensors without importing torch.
Importing this module never imports torch.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import numpy as np

from .errors import MissingDependencyError, one_line

__all__ = ["check_weights", "from_torch", "to_torch"]

_TORCH_RNN_NONLINEARITIES = ("tanh", "relu")  # torch.nn.RNN has no sigmoid or identity variant
_SUPPORTED_TORCH = ("torch.nn.RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, Linear, Embedding or the "
                    "TorchSequenceModel made by to_torch")
_CELL_KINDS = ("RNNCell", "LSTMCell", "GRUCell")


def require_torch():
    """The torch module, or MissingDependencyError saying how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("PyTorch is not installed; install scratchrnn[torch]") from exc
    return torch


def loaded_torch():
    """The torch module if something already imported it, else None (then no object is a tensor)."""
    import sys

    return sys.modules.get("torch")


# -- module descriptions ------------------------------------------------------------------------
def _scratch_classes() -> dict[str, type]:
    from ..nn.cells import GRUCell, LSTMCell, RNNCell
    from ..nn.linear import Embedding, Linear
    from ..nn.model import CELLS, SequenceModel
    from ..seq2seq.model import Seq2Seq

    classes = {"Linear": Linear, "Embedding": Embedding, "SequenceModel": SequenceModel, "Seq2Seq": Seq2Seq,
               "RNNCell": RNNCell, "LSTMCell": LSTMCell, "GRUCell": GRUCell}
    for cell, name in (("rnn", "RNN"), ("lstm", "LSTM"), ("gru", "GRU")):
        if cell in CELLS:
            classes[name] = CELLS[cell]
    return classes


def _recurrent_config(module, dtype: str) -> dict:
    return {
        "input_size": int(module.input_size),
        "hidden_size": int(module.hidden_size),
        "num_layers": int(module.num_layers),
        "bias": bool(module.bias),
        "batch_first": bool(module.batch_first),
        "dropout": float(module.dropout),
        "bidirectional": bool(module.bidirectional),
        "dtype": dtype,
    }


def _cell_config(module, kind: str, dtype: str) -> dict:
    cfg = {"input_size": int(module.input_size), "hidden_size": int(module.hidden_size),
           "bias": bool(module.bias), "dtype": dtype}
    if kind == "RNNCell":
        cfg["nonlinearity"] = str(module.nonlinearity)
    return cfg


def describe(module) -> tuple[str, dict] | None:
    """The description (class name, constructor arguments) of a scratchrnn module.

    None for a class scratchrnn cannot rebuild (a subclass or any other object). The arguments are
    JSON-able, with the dtype as a name (``"float32"``).
    """
    kind = next((name for name, cls in _scratch_classes().items() if type(module) is cls), None)
    dtype = str(np.dtype(module.dtype)) if kind is not None else ""
    if kind in ("RNN", "LSTM", "GRU"):
        cfg = _recurrent_config(module, dtype)
        if kind == "RNN":
            cfg["nonlinearity"] = str(module.nonlinearity)
        return kind, cfg
    if kind in _CELL_KINDS:
        return kind, _cell_config(module, kind, dtype)
    if kind == "Linear":
        return kind, {"in_features": module.in_features, "out_features": module.out_features,
                      "bias": bool(module.bias), "dtype": dtype}
    if kind == "Embedding":
        return kind, {"num_embeddings": module.num_embeddings, "embedding_dim": module.embedding_dim,
                      "dtype": dtype}
    if kind in ("SequenceModel", "Seq2Seq"):
        return kind, {**module.config.to_dict(), "dtype": dtype}  # a name even if given as a type
    return None


def build_scratch(kind: str, cfg: Mapping, rng=None):
    """A new scratchrnn module from a description (freshly initialised: the caller loads the weights).

    An unknown class, or arguments that do not fit its constructor, are a ``ValueError``; ``rng``
    seeds the new module's initialisation and dropout masks.
    """
    classes = _scratch_classes()
    if kind not in classes:
        raise ValueError(f"unknown module class {kind!r}; expected one of {', '.join(sorted(classes))}")
    if not isinstance(cfg, Mapping):
        raise ValueError(f"the {kind} configuration must be a dict, got {type(cfg).__name__}")
    if kind == "SequenceModel":
        from ..nn.model import ModelConfig

        return classes[kind](ModelConfig.from_dict(dict(cfg)), rng=rng)
    if kind == "Seq2Seq":
        from ..seq2seq.model import Seq2SeqConfig

        return classes[kind](Seq2SeqConfig.from_dict(dict(cfg)), rng=rng)
    try:
        return classes[kind](**cfg, rng=rng)
    except TypeError as exc:  # an unknown or missing constructor argument
        raise ValueError(f"the {kind} configuration {dict(cfg)} does not fit its constructor: "
                         f"{one_line(exc)}") from exc


# -- the parameters a description implies, computed without building the module ---------------
def _implied_shapes(kind: str, cfg: Mapping) -> dict[str, tuple[int, ...]]:
    """name -> shape of each parameter of the module a description names, from the same shape
    functions the modules allocate from (``scratchrnn.nn``), so nothing is allocated; every size
    is checked (``checks.check_size``, ``MAX_LAYERS``) on the way."""
    from ..nn.cells import cell_param_shapes
    from ..nn.linear import embedding_param_shapes, linear_param_shapes
    from ..nn.model import ModelConfig
    from ..nn.recurrent import recurrent_param_shapes

    classes = _scratch_classes()
    if kind not in classes:
        raise ValueError(f"unknown module class {kind!r}; expected one of {', '.join(sorted(classes))}")
    if not isinstance(cfg, Mapping):
        raise ValueError(f"the {kind} configuration must be a dict, got {type(cfg).__name__}")
    for key, value in cfg.items():  # every constructor argument is one; and a scalar's repr is short
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise ValueError(f"the {kind} configuration's {_short(key)} is a {type(value).__name__}, "
                             "expected a number, a string, True, False or None")
    if kind == "SequenceModel":
        return ModelConfig.from_dict(dict(cfg)).param_shapes()  # every field checked on the way
    if kind == "Seq2Seq":
        from ..seq2seq.model import Seq2SeqConfig

        return Seq2SeqConfig.from_dict(dict(cfg)).param_shapes()
    try:  # the constructor's own defaults fill what the description leaves out
        bound = inspect.signature(classes[kind]).bind(**cfg)
    except TypeError as exc:
        raise ValueError(f"the {kind} configuration {dict(cfg)} does not fit its constructor: "
                         f"{one_line(exc)}") from exc
    bound.apply_defaults()
    args = bound.arguments
    if kind == "Linear":
        return linear_param_shapes(args["in_features"], args["out_features"], args["bias"])
    if kind == "Embedding":
        return embedding_param_shapes(args["num_embeddings"], args["embedding_dim"])
    if kind in _CELL_KINDS:
        return cell_param_shapes(classes[kind].GATES, args["input_size"], args["hidden_size"], args["bias"])
    return recurrent_param_shapes(classes[kind].GATES, args["input_size"], args["hidden_size"],
                                  args["num_layers"], args["bias"], args["bidirectional"])


def _short(value, keep: int = 40) -> str:
    """``repr(value)`` cut to ``keep`` characters, for quoting what a file holds."""
    text = repr(value)
    return text if len(text) <= keep else text[:keep] + "..."


def check_weights(kind: str, cfg: Mapping, weights: Mapping) -> None:
    """Refuse weights that do not fit the module a description implies, before it is built.

    ``weights`` maps names to arrays or to ``(shape, dtype)`` pairs (``peek_checkpoint`` gives
    those). Every parameter the description implies must be there with its shape and a real
    numeric dtype, and nothing else; each field the shapes depend on must be of its type. A
    ``ValueError`` says which parameter differs and how, without the file name (the caller adds
    it). The sizes a description may claim are bounded (``checks.MAX_SIZE``, ``MAX_LAYERS``), so
    the list of implied shapes is short, and nothing is allocated before it matches.
    """
    specs = {key: (value.shape, value.dtype) if isinstance(value, np.ndarray) else value
             for key, value in weights.items()}
    implied = _implied_shapes(kind, cfg)
    for key, shape in implied.items():
        if key not in specs:
            raise ValueError(f"the {kind} configuration has a parameter {key!r} of shape {shape}, "
                             "which the file does not hold")
        got, dtype = specs[key]
        if tuple(got) != tuple(shape):
            raise ValueError(f"the {kind} configuration gives {key!r} the shape {tuple(shape)}, the "
                             f"file holds shape {tuple(got)}")
        if np.dtype(dtype).kind not in "biuf":
            raise ValueError(f"{key!r} has dtype {dtype}, expected a real numeric array")
    if len(implied) != len(specs):
        extra = [key for key in specs if key not in implied]
        raise ValueError(f"the file holds {extra[0]!r}, which the {kind} configuration does not have")


def _weights_dtype(torch, module) -> str:
    """The one float dtype of a torch module's parameters, as a numpy dtype name."""
    names = {torch.float32: "float32", torch.float64: "float64"}
    dtypes = {p.dtype for p in module.parameters()}
    if len(dtypes) != 1:
        raise ValueError(f"the {type(module).__name__}'s parameters must share one dtype, got "
                         f"{sorted(str(d) for d in dtypes)}")
    (dtype,) = dtypes
    if dtype not in names:
        raise ValueError(f"the {type(module).__name__}'s weights are {dtype}; scratchrnn supports "
                         "torch.float32 and torch.float64 (convert with .float() or .double())")
    return names[dtype]


def describe_torch(torch, module) -> tuple[str, dict]:
    """The description (class name, constructor arguments) of the scratchrnn module matching a
    torch module; ``torch`` is the imported torch package. A torch module scratchrnn has no
    match for (or a setting it lacks, such as ``proj_size``) is a ``ValueError``.
    """
    nn = torch.nn
    seq_cls = _TORCH_CLASSES.get("TorchSequenceModel")
    if seq_cls is not None and isinstance(module, seq_cls):
        return "SequenceModel", {**module.config, "dtype": _weights_dtype(torch, module)}
    from ..seq2seq.torch_twin import torch_seq2seq_class

    if isinstance(module, torch_seq2seq_class()):
        return "Seq2Seq", {**module.config, "dtype": _weights_dtype(torch, module)}
    kind = next((k for k in ("RNN", "LSTM", "GRU") if isinstance(module, getattr(nn, k))), None)
    if kind is not None:
        if getattr(module, "proj_size", 0):
            raise ValueError(f"the torch LSTM has proj_size={module.proj_size}; scratchrnn's LSTM has no "
                             "projection (expected proj_size=0)")
        cfg = _recurrent_config(module, _weights_dtype(torch, module))
        if kind == "RNN":
            cfg["nonlinearity"] = str(module.nonlinearity)
        return kind, cfg
    cell = next((k for k in _CELL_KINDS if isinstance(module, getattr(nn, k))), None)
    if cell is not None:
        return cell, _cell_config(module, cell, _weights_dtype(torch, module))
    if isinstance(module, nn.Linear):
        return "Linear", {"in_features": module.in_features, "out_features": module.out_features,
                          "bias": module.bias is not None, "dtype": _weights_dtype(torch, module)}
    if isinstance(module, nn.Embedding):
        unsupported = {"padding_idx": module.padding_idx, "max_norm": module.max_norm,
                       "scale_grad_by_freq": module.scale_grad_by_freq or None}
        used = {k: v for k, v in unsupported.items() if v is not None}
        if used:
            raise ValueError(f"the torch Embedding uses {used}, which scratchrnn's Embedding does not "
                             "have (expected padding_idx=None, max_norm=None, scale_grad_by_freq=False)")
        return "Embedding", {"num_embeddings": module.num_embeddings,
                             "embedding_dim": module.embedding_dim, "dtype": _weights_dtype(torch, module)}
    raise ValueError(f"from_torch expects a {_SUPPORTED_TORCH}, got {type(module).__name__}")


# -- the torch side -----------------------------------------------------------------------------
_TORCH_CLASSES: dict[str, type] = {}  # classes that subclass torch.nn.Module, made on first use


def _torch_dtype(torch, dtype):
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(dtype)]


def _build_torch(torch, kind: str, cfg: Mapping):
    """A torch module (default initialisation) from a description."""
    import warnings

    if kind == "SequenceModel":
        return _torch_sequence_model_class()(cfg)
    if kind == "Seq2Seq":
        from ..seq2seq.torch_twin import torch_seq2seq_class

        return torch_seq2seq_class()(cfg)
    dtype = _torch_dtype(torch, cfg["dtype"])
    if kind in ("RNN", "LSTM", "GRU"):
        extra = {}
        if kind == "RNN":
            if cfg["nonlinearity"] not in _TORCH_RNN_NONLINEARITIES:
                supported = list(_TORCH_RNN_NONLINEARITIES)
                raise ValueError(f"torch.nn.RNN supports the nonlinearities {supported}, this RNN uses "
                                 f"{cfg['nonlinearity']!r}: it has no PyTorch equivalent")
            extra["nonlinearity"] = cfg["nonlinearity"]
        with warnings.catch_warnings():
            # Dropout on a one-layer stack is a no-op on both sides; torch warns about it, we do not.
            warnings.filterwarnings("ignore", message="dropout option adds dropout", category=UserWarning)
            return getattr(torch.nn, kind)(
                cfg["input_size"], cfg["hidden_size"], num_layers=cfg["num_layers"], bias=cfg["bias"],
                batch_first=cfg["batch_first"], dropout=cfg["dropout"], bidirectional=cfg["bidirectional"],
                dtype=dtype, **extra,
            )
    if kind in _CELL_KINDS:
        extra = {"nonlinearity": cfg["nonlinearity"]} if kind == "RNNCell" else {}
        return getattr(torch.nn, kind)(cfg["input_size"], cfg["hidden_size"], bias=cfg["bias"], dtype=dtype,
                                       **extra)
    if kind == "Linear":
        return torch.nn.Linear(cfg["in_features"], cfg["out_features"], bias=cfg["bias"], dtype=dtype)
    if kind == "Embedding":
        return torch.nn.Embedding(cfg["num_embeddings"], cfg["embedding_dim"], dtype=dtype)
    raise ValueError(f"no torch equivalent for module class {kind!r}")  # pragma: no cover - guarded above


def _torch_sequence_model_class() -> type:
    """``TorchSequenceModel``: defined on first use so importing scratchrnn never imports torch."""
    if "TorchSequenceModel" in _TORCH_CLASSES:
        return _TORCH_CLASSES["TorchSequenceModel"]
    torch = require_torch()
    from ..nn.model import HEADS, ModelConfig

    class TorchSequenceModel(torch.nn.Module):
        """PyTorch twin of ``scratchrnn.nn.SequenceModel``: embedding (or one-hot) -> rnn -> head.

        ``forward(x, h0=None, lengths=None) -> (logits, h_n)``: x is (T, B) integer ids or
        (T, B, F) floats; logits are (T, B, O) for head "all", else (B, O) per sequence, read as
        ``scratchrnn.nn.heads`` says. ``lengths`` (B,) runs the batch as a packed sequence
        (``pack_padded_sequence(..., enforce_sorted=False)``).
        ``state_dict()`` keys equal the SequenceModel's ``params`` keys (with tied weights, plus
        ``head.weight``: the embedding's Parameter). ``config`` is the ModelConfig as a dict.
        """

        def __init__(self, config):
            super().__init__()
            cfg = config if isinstance(config, ModelConfig) else ModelConfig.from_dict(dict(config))
            if (cfg.vocab_size is None) == (cfg.input_size is None):
                raise ValueError("give exactly one of vocab_size (token inputs) and input_size "
                                 "(dense inputs)")
            if cfg.head not in HEADS:
                raise ValueError(f"head must be one of {', '.join(map(repr, HEADS))}, got {cfg.head!r}")
            out_size = cfg.output_size if cfg.output_size is not None else cfg.vocab_size
            if out_size is None:
                raise ValueError("output_size is required for dense inputs")
            kinds = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
            if cfg.cell not in kinds:
                raise ValueError(f"unknown cell {cfg.cell!r}; expected one of {', '.join(sorted(kinds))}")
            dtype = _torch_dtype(torch, cfg.dtype)
            self.config = {**cfg.to_dict(), "dtype": str(np.dtype(cfg.dtype))}
            self.embedding = None
            if cfg.vocab_size is not None and cfg.embedding_dim is not None:
                self.embedding = torch.nn.Embedding(cfg.vocab_size, cfg.embedding_dim, dtype=dtype)
                rnn_in = cfg.embedding_dim
            else:
                rnn_in = cfg.vocab_size if cfg.vocab_size is not None else cfg.input_size
            rnn_cfg = {
                "input_size": rnn_in, "hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers,
                "bias": cfg.bias, "batch_first": False, "dropout": cfg.dropout,
                "bidirectional": cfg.bidirectional, "dtype": cfg.dtype, "nonlinearity": cfg.nonlinearity,
            }
            self.rnn = _build_torch(torch, kinds[cfg.cell], rnn_cfg)
            width = cfg.hidden_size * (2 if cfg.bidirectional else 1)
            self.head = torch.nn.Linear(width, out_size, bias=cfg.head_bias, dtype=dtype)
            if cfg.tie_weights:  # one Parameter under both names, as SequenceModel holds one array
                self.head.weight = self.embedding.weight

        def forward(self, x, h0=None, lengths=None):
            cfg = self.config
            T, B = x.shape[:2]
            lengths = None if lengths is None else torch.as_tensor(lengths, dtype=torch.int64)
            if lengths is not None and cfg["vocab_size"] is not None:  # padding ids are never read
                x = torch.where(torch.arange(T)[:, None] < lengths, x, torch.zeros_like(x))
            if self.embedding is not None:
                xe = self.embedding(x)  # (T, B, E)
            elif cfg["vocab_size"] is not None:
                onehot = torch.nn.functional.one_hot(x.long(), cfg["vocab_size"])  # (T, B, V)
                xe = onehot.to(self.head.weight.dtype)
            else:
                xe = x  # (T, B, F)
            if lengths is None:
                out, h_n = self.rnn(xe, h0)  # (T, B, D*H)
                count, valid = torch.full((B,), T), torch.ones(T, B, dtype=torch.bool)
            else:
                packed = torch.nn.utils.rnn.pack_padded_sequence(xe, lengths, enforce_sorted=False)
                out, h_n = self.rnn(packed, h0)
                out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)  # (T, B, D*H)
                count, valid = lengths, torch.arange(T)[:, None] < lengths
            head, D = cfg["head"], 2 if cfg["bidirectional"] else 1
            if head == "all":
                feats = out  # (T, B, D*H)
            elif head == "last":
                feats = out[count - 1, torch.arange(B)]  # (B, D*H)
            elif head == "final":
                h = h_n[0] if isinstance(h_n, tuple) else h_n  # (L*D, B, H)
                feats = torch.cat(list(h[-D:]), dim=1)  # (B, D*H)
            elif head == "mean":
                feats = out.sum(dim=0) / count[:, None].to(out.dtype)
            else:  # "max"
                feats = out.masked_fill(~valid[..., None], float("-inf")).amax(dim=0)
            return self.head(feats), h_n

        def extra_repr(self) -> str:
            return f"cell={self.config['cell']!r}, head={self.config['head']!r}"

    # Named after the public path scratchrnn.io, whose ``__getattr__`` makes the class, so pickle
    # finds it there and a pickle names the path users import (the same bytes as before io was a package).
    TorchSequenceModel.__module__ = __package__
    TorchSequenceModel.__qualname__ = "TorchSequenceModel"
    _TORCH_CLASSES["TorchSequenceModel"] = TorchSequenceModel
    return TorchSequenceModel


def __getattr__(name: str):
    """``TorchSequenceModel`` is made (importing torch) on first access."""
    if name == "TorchSequenceModel":
        return _torch_sequence_model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def as_array(value, key: str) -> np.ndarray:
    """A numpy array from an array or a torch tensor (detached, moved to the CPU).

    ``key`` is the state dict key, for the message when a tensor's dtype has no numpy equivalent.
    """
    torch = loaded_torch()
    if torch is not None and isinstance(value, torch.Tensor):
        try:
            return value.detach().cpu().numpy()
        except TypeError as exc:  # bfloat16 and other dtypes numpy cannot hold
            raise ValueError(f"state dict key {key!r} is a tensor of dtype {value.dtype}, which numpy "
                             "cannot hold; convert it with .float() first") from exc
    return np.asarray(value)


def to_torch(module):
    """The ``torch.nn`` module matching a scratchrnn module, with the same weights (strict=True).

    RNN -> torch.nn.RNN (tanh or relu only), LSTM -> torch.nn.LSTM, GRU -> torch.nn.GRU (same
    num_layers, bias, batch_first, dropout, bidirectional, dtype), RNNCell, LSTMCell and GRUCell
    -> the torch.nn cells of those names (same bias, dtype), Linear -> torch.nn.Linear,
    Embedding -> torch.nn.Embedding, SequenceModel -> TorchSequenceModel. The weights are copied
    (the modules share no memory) and the training mode is carried over.
    """
    torch = require_torch()
    description = describe(module)
    if description is None:
        known = ", ".join(sorted(_scratch_classes()))
        raise ValueError(f"to_torch expects a scratchrnn {known}, got {type(module).__name__}")
    kind, cfg = description
    torch_module = _build_torch(torch, kind, cfg)
    state = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in module.params.items()}
    for alias, name in getattr(module, "tied_names", {}).items():  # torch lists a tied weight twice
        state[alias] = state[name]
    torch_module.load_state_dict(state, strict=True)
    torch_module.train(module.training)
    return torch_module


def from_torch(module, rng=None):
    """The scratchrnn module matching a torch module, with the same configuration and weights.

    Accepts torch.nn.RNN / LSTM (proj_size=0) / GRU / RNNCell / LSTMCell / GRUCell / Linear /
    Embedding (no padding_idx or max_norm) and the TorchSequenceModel made by ``to_torch``; the
    dtype (float32 or float64) comes from the torch weights, the training mode is carried over.
    ``rng`` (Generator, seed or None) seeds the new module's dropout masks.
    """
    torch = require_torch()
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"from_torch expects a {_SUPPORTED_TORCH}, got {type(module).__name__}")
    kind, cfg = describe_torch(torch, module)
    scratch = build_scratch(kind, cfg, rng=rng)
    state = {k: as_array(v, k) for k, v in module.state_dict().items()}
    scratch.load_state_dict(state, strict=True)
    scratch.train(module.training)
    return scratch


