"""Tokens outside a model's vocabulary, in a text to score (``LanguageModel.evaluate(..., unknown=)``).

A character model has no unknown token, so a text it scores may hold characters it cannot read.
:func:`known_text` finds them, and either refuses the text naming them (``unknown="error"``) or
returns it without them (``"skip"``) together with the position in the original text of every
character kept, so that per-token records still point into the text the caller gave. A word model
reads the words outside its vocabulary as ``UNKNOWN_TOKEN``, so nothing is ever left out of its
texts. :func:`check_known` refuses tokens a vocabulary cannot read, naming them (a prime, a
training text); :func:`preview` shows a few of many items in a message.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .checks import check_choice

__all__ = ["UNKNOWN", "check_known", "known_text", "preview"]

UNKNOWN = ("error", "skip")  # what evaluate does with characters outside the vocabulary


def preview(items: Iterable, limit: int = 10) -> str:
    """The first ``limit`` items as reprs, and how many there are in all when that is more."""
    items = list(items)
    shown = ", ".join(map(repr, items[:limit]))
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def check_known(tokens: Iterable[str], vocab, what: str, unit: str = "token") -> None:
    """Raise ValueError naming the ``tokens`` outside ``vocab`` (``what`` has them, each a
    ``unit``), unless the vocabulary has an unknown token to read them as."""
    if vocab.unk is None:
        missing = sorted({t for t in tokens if t not in vocab})
        if missing:
            raise ValueError(f"{what} has {len(missing)} {unit}(s) that are not in the model's "
                             f"vocabulary of {len(vocab)}: {preview(missing)}")


def known_text(text, vocab, unknown: str = "error") -> tuple[object, np.ndarray | None, list[str], int]:
    """``text`` without the characters that ``vocab`` (a char model's vocabulary) lacks.

    Returns (the text kept, the positions (k,) in ``text`` of the characters kept or None when
    none was left out, the characters left out sorted by code point, how many times they occur).
    ``unknown="error"`` raises ValueError naming them instead. ``vocab`` None or with an unknown
    token of its own (it reads every token), or a ``text`` that is not a str (for the scorer to
    refuse), come back as they are.
    """
    unknown = check_choice("unknown", unknown, UNKNOWN)
    if vocab is None or vocab.unk is not None or not isinstance(text, str):
        return text, None, [], 0
    missing = sorted(c for c in set(text) if c not in vocab)
    if not missing:
        return text, None, [], 0
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # (n,)
    left_out = np.isin(codes, np.array([ord(c) for c in missing], np.uint32))  # (n,)
    count = int(left_out.sum())
    found = (f"{len(missing)} character(s) that are not in the model's vocabulary of {len(vocab)} "
             f"({count} in all): {preview(missing)}")
    if unknown == "error":
        raise ValueError(f"the text has {found}; unknown='skip' scores the text without them")
    positions = np.flatnonzero(~left_out)  # (k,)
    kept = codes[positions].tobytes().decode("utf-32-le", "surrogatepass")
    if not kept.strip():
        raise ValueError(f"nothing is left to score: the text has only whitespace besides {found}")
    return kept, positions, missing, count
