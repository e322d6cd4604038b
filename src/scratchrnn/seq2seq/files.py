"""A :class:`~scratchrnn.seq2seq.model.Seq2Seq` and its vocabularies in one checkpoint file.

The file is a scratchrnn checkpoint (``scratchrnn.io.checkpoint``: arrays and a JSON tree, read
without pickle, written atomically): the weights under the model's names, the configuration as
``config["seq2seq"]`` and the two sides' symbols as ``config["vocab"]`` (``{"source": [...],
"target": [...]}``). Loading checks every part against the others (the vocabularies against the
configuration's sizes, the weights' shapes against its ``param_shapes``) before a model is built.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..io.checkpoint import load_checkpoint, save_checkpoint
from ..io.interop import check_weights
from .data import SymbolVocab
from .model import Seq2Seq, Seq2SeqConfig

__all__ = ["load_seq2seq", "save_seq2seq"]


def save_seq2seq(model: Seq2Seq, path: str | os.PathLike, source: SymbolVocab,
                 target: SymbolVocab | None = None) -> Path:
    """Write ``model`` with its ``source`` and ``target`` vocabularies (None: the source's) to
    ``path``, whole or not at all; returns the path."""
    if not isinstance(model, Seq2Seq):
        raise ValueError(f"save_seq2seq expects a Seq2Seq model, got {type(model).__name__}")
    target = source if target is None else target
    cfg = model.config
    sides = (("source", source, cfg.src_vocab_size), ("target", target, cfg.target_vocab_size))
    for side, vocab, size in sides:
        if not isinstance(vocab, SymbolVocab) or len(vocab) != size:
            got = f"{len(vocab)} ids" if isinstance(vocab, SymbolVocab) else type(vocab).__name__
            raise ValueError(f"the {side} vocabulary must be a SymbolVocab of the model's {size} ids, "
                             f"got {got}")
    config = {"seq2seq": cfg.to_dict(), "vocab": {"source": source.to_list(), "target": target.to_list()}}
    return save_checkpoint(path, params=model.params, config=config)


def load_seq2seq(path: str | os.PathLike) -> tuple[Seq2Seq, SymbolVocab, SymbolVocab]:
    """(model, source vocabulary, target vocabulary) of a file written by :func:`save_seq2seq`;
    a file that holds no Seq2Seq is a ValueError naming it."""
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
        check_weights("Seq2Seq", cfg.to_dict(), checkpoint.params)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    model = Seq2Seq(cfg, rng=0)
    model.load_state_dict(checkpoint.params)
    return model.eval(), source, target
