"""A :class:`~scratchrnn.seq2seq.model.Seq2Seq` and its vocabularies in one checkpoint file.

The file is a scratchrnn checkpoint (``scratchrnn.io.checkpoint``: arrays and a JSON tree, read
without pickle, written atomically): the weights under the model's names, the configuration as
``config["seq2seq"]``, the two sides' symbols as ``config["vocab"]`` (``{"source": [...],
"target": [...]}``) and how it reads a source (a :class:`~scratchrnn.seq2seq.data.SourceFormat`)
as ``config["source_format"]``. Loading checks every part against the others (the vocabularies
against the configuration's sizes, the padding symbol against the source vocabulary, the weights'
shapes against its ``param_shapes``) before a model is built.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from ..io.checkpoint import load_checkpoint, save_checkpoint
from ..io.interop import check_weights
from .data import SourceFormat, SymbolVocab
from .model import Seq2Seq, Seq2SeqConfig

__all__ = ["Seq2SeqFile", "load_seq2seq", "save_seq2seq"]


class Seq2SeqFile(NamedTuple):
    """What :func:`load_seq2seq` reads: the model (in eval mode), its vocabularies and how it reads
    a source."""

    model: Seq2Seq
    source: SymbolVocab
    target: SymbolVocab
    source_format: SourceFormat


def save_seq2seq(model: Seq2Seq, path: str | os.PathLike, source: SymbolVocab,
                 target: SymbolVocab | None = None, source_format: SourceFormat | None = None) -> Path:
    """Write ``model`` with its ``source`` and ``target`` vocabularies (None: the source's) and
    ``source_format`` (None: sources as they are) to ``path``, whole or not at all; returns the path."""
    if not isinstance(model, Seq2Seq):
        raise ValueError(f"save_seq2seq expects a Seq2Seq model, got {type(model).__name__}")
    target = source if target is None else target
    source_format = SourceFormat() if source_format is None else source_format
    if not isinstance(source_format, SourceFormat):
        raise ValueError(f"source_format must be a SourceFormat or None, got {type(source_format).__name__}")
    cfg = model.config
    sides = (("source", source, cfg.src_vocab_size), ("target", target, cfg.target_vocab_size))
    for side, vocab, size in sides:
        if not isinstance(vocab, SymbolVocab) or len(vocab) != size:
            got = f"{len(vocab)} ids" if isinstance(vocab, SymbolVocab) else type(vocab).__name__
            raise ValueError(f"the {side} vocabulary must be a SymbolVocab of the model's {size} ids, "
                             f"got {got}")
    _check_fill(source_format, source)
    config = {"seq2seq": cfg.to_dict(), "vocab": {"source": source.to_list(), "target": target.to_list()},
              "source_format": source_format.to_dict()}
    return save_checkpoint(path, params=model.params, config=config)


def _check_fill(source_format: SourceFormat, source: SymbolVocab) -> None:
    if source_format.width is not None and source_format.fill not in source.ids:
        raise ValueError(f"the source format pads with {source_format.fill!r}, which is not in the source "
                         f"vocabulary {source!r}")


def load_seq2seq(path: str | os.PathLike) -> Seq2SeqFile:
    """The :class:`Seq2SeqFile` of a file written by :func:`save_seq2seq`; a file that holds no
    Seq2Seq, or whose parts disagree, is a ValueError naming it."""
    checkpoint = load_checkpoint(path)
    config = checkpoint.config or {}
    model_cfg, vocab = config.get("seq2seq"), config.get("vocab")
    if not isinstance(model_cfg, dict) or not isinstance(vocab, dict) or set(vocab) != {"source", "target"}:
        raise ValueError(f"{path} is a scratchrnn checkpoint but holds no sequence-to-sequence model "
                         "(expected config entries 'seq2seq' and 'vocab' with 'source' and 'target')")
    try:
        cfg = Seq2SeqConfig.from_dict(model_cfg)
        source, target = SymbolVocab(vocab["source"]), SymbolVocab(vocab["target"])
        sides = (("source", source, cfg.src_vocab_size), ("target", target, cfg.target_vocab_size))
        for side, v, size in sides:
            if len(v) != size:
                raise ValueError(f"its {side} vocabulary has {len(v)} ids, the model's {size}")
        source_format = SourceFormat.from_dict(config.get("source_format", {}))
        _check_fill(source_format, source)
        check_weights("Seq2Seq", cfg.to_dict(), checkpoint.params)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    model = Seq2Seq(cfg, rng=0)
    model.load_state_dict(checkpoint.params)
    return Seq2SeqFile(model.eval(), source, target, source_format)
