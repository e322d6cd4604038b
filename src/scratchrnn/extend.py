"""A trained model given more tokens: the vocabulary grown, the token-indexed weights moved along.

Fine-tuning a language model on a text with tokens its vocabulary lacks needs a bigger model:
every weight indexed by token id (the embedding's rows, or the first layer's input columns when
tokens go in one-hot, and the head's output rows and biases) gets an entry per new token.
``extend_model(model, old, new, rng)`` builds that model over the vocabulary ``new``: each token
of ``old`` keeps its weights (moved to its id in ``new``), each new token's weights are drawn as a
newly made model's would be (``SequenceModel(config, rng)``), and every other weight is copied.
Which axes are token-indexed is read off the shapes: they are the axes whose size changes with
the vocabulary's, so the rule holds for any arrangement of the model's weights.

``grow_vocab(vocab, tokens)`` is the vocabulary with ``tokens`` added in the order a vocabulary of
its kind has: characters by code point, words after the ones it holds.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .data.text import CharVocab, Vocab
from .nn.model import SequenceModel

__all__ = ["extend_model", "grow_vocab"]


def grow_vocab(vocab: Vocab, tokens: list[str]) -> Vocab:
    """``vocab`` with ``tokens`` (none of which it holds) added; ValueError if it holds one."""
    held = [t for t in tokens if t in vocab]
    if held:
        raise ValueError(f"the vocabulary holds {held[:5]!r} already; only new tokens are added")
    old = vocab.to_list()
    if isinstance(vocab, CharVocab):
        rest = sorted([t for t in old if t != vocab.unk] + list(tokens))  # code-point order
        grown = ([vocab.unk] if vocab.unk is not None else []) + rest  # the unknown token stays first
    else:
        grown = old + list(tokens)
    return type(vocab).from_list(grown, unk=vocab.unk)


def extend_model(model: SequenceModel, old: list[str], new: list[str], rng=None) -> SequenceModel:
    """A model over vocabulary ``new`` (which holds every token of ``old``, ``model``'s vocabulary)
    with ``model``'s weights, the new tokens' weights drawn from ``rng`` (see the module docstring)."""
    cfg = model.config
    if cfg.vocab_size != len(old):
        raise ValueError(f"the model reads {cfg.vocab_size} token ids, the vocabulary given has {len(old)}")
    index = {t: i for i, t in enumerate(new)}
    lost = [t for t in old if t not in index]
    if lost:
        raise ValueError(f"the new vocabulary lacks {len(lost)} of the model's tokens: {lost[:5]!r}")
    grown = dataclasses.replace(
        cfg, vocab_size=len(new), output_size=None if cfg.output_size is None else len(new))
    if len(new) == len(old) and new != old:
        raise ValueError("the new vocabulary holds the model's tokens in another order and no more: "
                         "there is nothing to add")
    out = SequenceModel(grown, rng=rng)  # its weights are what new tokens get
    moved = np.array([index[t] for t in old], dtype=np.int64)  # (V_old,) each old token's new id
    state = {}
    for name, w in model.params.items():
        fresh = out.params[name].copy()
        axes = [a for a in range(w.ndim) if w.shape[a] != fresh.shape[a]]
        if not axes:
            fresh[...] = w
        else:
            (axis,) = axes  # one token-indexed axis per weight
            where = [slice(None)] * w.ndim
            where[axis] = moved
            fresh[tuple(where)] = w
        state[name] = fresh
    out.load_state_dict(state)
    return out
