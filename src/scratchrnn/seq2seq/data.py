"""Text pairs as token ids for a :class:`~scratchrnn.seq2seq.model.Seq2Seq`.

A :class:`SymbolVocab` is the symbols of one side (characters, or any strings) behind three
special ids: ``PAD`` (0, what stands past a length), ``BOS`` (1, the decoder's first input) and
``EOS`` (2, the end of a target). ``encode`` refuses a symbol it does not know, naming it;
:func:`batch` pads a list of pairs into time-major id arrays with their lengths, each target
ending with EOS. A :class:`SourceFormat` is how a model reads a source (padded to a width, read
backwards), kept with the model so that ``scratchrnn translate`` reads a line as training did.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..checks import check_config_dict, check_flag, check_optional_int
from ..data.sequences import pad_sequences

__all__ = ["BOS", "EOS", "PAD", "SPECIALS", "SourceFormat", "SymbolVocab", "batch"]

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")


class SymbolVocab:
    """Symbols (characters by default) with ids from 3 on, after ``SPECIALS``.

    ``symbols`` keeps its order (no sorting, so ids are the same from run to run); a repeated
    symbol or one that spells a special is refused.
    """

    def __init__(self, symbols: Iterable[str]):
        symbols = list(symbols)
        if not symbols or not all(isinstance(s, str) and s for s in symbols):
            raise ValueError(f"a vocabulary needs non-empty string symbols, got {symbols[:5]!r}")
        repeated = sorted({s for s in symbols if symbols.count(s) > 1})
        if repeated:
            raise ValueError(f"the vocabulary's symbols must be distinct, got {repeated} more than once")
        special = [s for s in symbols if s in SPECIALS]
        if special:
            raise ValueError(f"the symbols {special} are the vocabulary's specials {SPECIALS}")
        self.symbols = symbols
        self.ids = {s: i + len(SPECIALS) for i, s in enumerate(symbols)}

    def __len__(self) -> int:
        return len(SPECIALS) + len(self.symbols)

    def __eq__(self, other) -> bool:
        return isinstance(other, SymbolVocab) and other.symbols == self.symbols

    def __hash__(self) -> int:
        return hash(tuple(self.symbols))

    def __repr__(self) -> str:
        return f"SymbolVocab({''.join(self.symbols)!r})" if all(len(s) == 1 for s in self.symbols) \
            else f"SymbolVocab({self.symbols!r})"

    def encode(self, text: Sequence[str], eos: bool = False) -> np.ndarray:
        """Ids (n,) of the symbols of ``text`` (a string's characters), then EOS if ``eos``."""
        unknown = sorted({s for s in text if s not in self.ids})
        if unknown:
            raise ValueError(f"symbols {unknown} are not in the vocabulary {self!r}")
        ids = [self.ids[s] for s in text] + ([EOS] if eos else [])
        return np.array(ids, dtype=np.int64)

    def decode(self, ids, join: str = "") -> str:
        """The symbols of ``ids``, up to the first EOS, PAD and BOS left out, joined by ``join``."""
        out = []
        for i in np.asarray(ids, dtype=np.int64).reshape(-1):
            if i == EOS:
                break
            if not 0 <= i < len(self):
                raise ValueError(f"id {int(i)} is not in the vocabulary of {len(self)} ids")
            if i >= len(SPECIALS):
                out.append(self.symbols[i - len(SPECIALS)])
        return join.join(out)

    def to_list(self) -> list[str]:
        return list(self.symbols)


def batch(sources: Sequence[np.ndarray], targets: Sequence[np.ndarray] | None = None):
    """``(src (S, B), src_lengths (B,))``, and with ``targets`` also ``(tgt (T, B), tgt_lengths)``:
    each list of id arrays padded with PAD (time-major, as the model takes them)."""
    src, src_lengths = pad_sequences(list(sources), padding_value=PAD)
    if targets is None:
        return src, src_lengths
    tgt, tgt_lengths = pad_sequences(list(targets), padding_value=PAD)
    return src, src_lengths, tgt, tgt_lengths


@dataclass(frozen=True)
class SourceFormat:
    """How a source's symbols become the model's input: padded with ``fill`` to ``width`` symbols,
    then read backwards when ``reverse`` (the Keras addition example's question, ``"535+61 "`` read
    as ``" 16+535"``). The default changes nothing.

    Attributes:
        width (int or None, default None): pad each source to this many symbols; a longer one is
            refused. None: no padding.
        fill (str, default " "): the symbol padded with.
        reverse (bool, default False): read the padded source backwards.
    """

    width: int | None = None
    fill: str = " "
    reverse: bool = False

    def __post_init__(self):
        object.__setattr__(self, "width", check_optional_int("width", self.width, low=1))
        if not isinstance(self.fill, str) or not self.fill:
            raise ValueError(f"fill must be a non-empty string, got {self.fill!r}")
        object.__setattr__(self, "reverse", check_flag("reverse", self.reverse))

    def apply(self, symbols: Sequence[str]) -> list[str]:
        """``symbols`` padded and turned as the model reads them; more than ``width`` is a ValueError."""
        symbols = list(symbols)
        if self.width is not None:
            if len(symbols) > self.width:
                raise ValueError(f"{len(symbols)} symbols, more than the {self.width} the model reads")
            symbols += [self.fill] * (self.width - len(symbols))
        return symbols[::-1] if self.reverse else symbols

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SourceFormat:
        """The format of ``to_dict``; a missing or unknown key is a ValueError naming it."""
        return cls(**check_config_dict(cls, d, "source format"))
