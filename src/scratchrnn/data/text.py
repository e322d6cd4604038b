"""Text for language models: the shipped corpus, careful file reading, a tokenizer, vocabularies
and the stream helpers that cut a token stream into batches and truncated-BPTT windows.

Nothing here downloads anything: the corpus ships inside the package (see ``data/SOURCES.md``)
and the tokenizer is a handful of documented regular-expression rules.

Typical use for a character model::

    text = load_corpus()
    vocab = CharVocab.from_text(text)
    stream = batchify(vocab.encode(text), batch_size=32)  # (steps, 32)
    for x, y in windows(stream, 100):                      # (100, 32) inputs, next-token targets
        ...

and for a word model::

    sentences = [tokenize_words(s) for s in split_sentences(text)]
    vocab = WordVocab.from_sentences(sentences, max_size=8000)
    ids = vocab.encode_sentence(sentences[0])  # SENTENCE_START ... SENTENCE_END
"""

from __future__ import annotations

import codecs
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from ..checks import check_int, is_int

__all__ = [
    "ABBREVIATIONS",
    "CORPORA",
    "SENTENCE_END",
    "SENTENCE_START",
    "UNKNOWN_TOKEN",
    "CharVocab",
    "Vocab",
    "Windows",
    "WordVocab",
    "batchify",
    "load_corpus",
    "read_text",
    "split_sentences",
    "tokenize_words",
    "windows",
]

# Upper case on purpose: tokenize_words lower-cases every word, so these can never collide with one.
UNKNOWN_TOKEN = "UNKNOWN_TOKEN"
SENTENCE_START = "SENTENCE_START"
SENTENCE_END = "SENTENCE_END"

# name -> file under scratchrnn/data/files/
CORPORA: dict[str, str] = {"shakespeare": "shakespeare.txt"}


# -- reading text ------------------------------------------------------------------------------
def load_corpus(name: str = "shakespeare") -> str:
    """The text of a corpus shipped with the package (no download); ``CORPORA`` lists the names."""
    if name not in CORPORA:
        known = ", ".join(repr(k) for k in sorted(CORPORA))
        raise ValueError(f"unknown corpus {name!r}; the shipped corpora are {known}")
    data = resources.files("scratchrnn.data").joinpath("files", CORPORA[name]).read_bytes()
    return data.decode("utf-8")


def _is_wide_unicode(encoding: str) -> bool:
    # UTF-16 and UTF-32 text legitimately contains NUL bytes, so the binary sniff must skip them.
    return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def _check_text_encoding(encoding, path: Path) -> bool:
    """Whether ``encoding`` is UTF-16 or UTF-32; ValueError unless it names a text encoding."""
    if not isinstance(encoding, str):
        raise ValueError(f"encoding must be a str naming a text encoding such as 'utf-8', got "
                         f"{type(encoding).__name__} {encoding!r}")
    try:
        wide = _is_wide_unicode(encoding)
        try:  # bytes-to-bytes and str-to-str codecs (hex, base64, zlib, rot13) refuse any decode to str
            b"a".decode(encoding)
        except UnicodeError:
            pass  # a text encoding that cannot decode this one byte (utf-16): the file decides
    except LookupError as err:
        what = "unknown encoding" if "unknown encoding" in str(err) else "not a text encoding"
        raise ValueError(f"{what} {encoding!r} for {str(path)!r}: pass a text encoding such as utf-8 or "
                         "latin-1 with --encoding") from None
    return wide


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """Read a text file strictly and return its contents with ``\\n`` line endings.

    Raises FileNotFoundError for a missing path and ValueError for a path that is not a str or
    PathLike, a directory, an empty (or whitespace-only) file, a binary file (NUL bytes), an
    encoding that is not a str, is unknown or is not a text encoding (``rot13``, ``hex``, ...), or
    bytes that do not decode; the last names the byte offset and suggests ``--encoding``. A UTF-8
    byte-order mark is dropped; ``\\r\\n`` and lone ``\\r`` become ``\\n``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a str or a path, got {type(path).__name__} {path!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"expected a text file, got a directory: {str(path)!r}")
    wide = _check_text_encoding(encoding, path)
    data = path.read_bytes()
    if not data:
        raise ValueError(f"expected a text file with some text, got an empty file: {str(path)!r}")
    if not wide and b"\x00" in data:
        raise ValueError(
            f"expected a text file, got binary data: {str(path)!r} has a NUL byte at offset {data.index(0)}"
        )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        bad = data[err.start : err.start + 4].hex(" ")
        raise ValueError(
            f"{str(path)!r} is not valid {encoding}: cannot decode the byte(s) {bad} at byte offset "
            f"{err.start} ({err.reason}); if the file uses another encoding, pass it with --encoding "
            f"(for example --encoding latin-1)"
        ) from None
    except UnicodeError as err:  # codecs such as idna and punycode raise the base class
        raise ValueError(f"{str(path)!r} is not valid {encoding}: {err}; if the file uses another "
                         "encoding, pass it with --encoding (for example --encoding latin-1)") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        raise ValueError(f"expected a text file, got binary data: {str(path)!r} decodes to NUL characters")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValueError(f"expected a text file with some text, got only whitespace: {str(path)!r}")
    return text


# -- tokenizer ---------------------------------------------------------------------------------
# Words (lower-cased) that end in a period without ending the sentence.
ABBREVIATIONS = frozenset(
    """mr mrs ms messrs dr prof rev hon st mt ft jr sr sen gen col capt lt sgt gov
    co corp inc ltd vs etc cf viz approx e.g i.e a.m p.m vol pp""".split()
)

_PARAGRAPH = re.compile(r"\n[ \t]*\n")
# One or more terminators, then any closing quotes or brackets, then whitespace or the end.
_BOUNDARY = re.compile(r"[.!?]+[\"'\u2019\u201d)\]]*(?=\s|$)")
_TOKEN = re.compile(r"(?P<word>[^\W_]+(?:['\u2019-][^\W_]+)*)|(?P<punct>([^\w\s]|_)\3*)")
_OPENERS = "\"'([\u2018\u201c"


def _ends_sentence(paragraph: str, match: re.Match) -> bool:
    # The paragraph has single spaces only, so neighbours are found by index (no slicing: a long
    # paragraph must stay linear in its length).
    end = match.end()
    if end + 1 < len(paragraph) and paragraph[end + 1].islower():
        return False  # "...!" the rump-fed ronyon cries: the sentence goes on
    if match.group().rstrip("\"'\u2019\u201d)]") != ".":
        return True
    period = match.start()
    word = paragraph[paragraph.rfind(" ", 0, period) + 1 : period].lstrip(_OPENERS)
    if word.lower() in ABBREVIATIONS:
        return False
    # A single capital other than I (an initial, as in "J. Smith") does not end a sentence.
    return not (len(word) == 1 and word.isupper() and word != "I")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences, each with its whitespace collapsed to single spaces.

    Rules, applied in order:
    1. A blank line (paragraph break) always ends a sentence.
    2. Inside a paragraph, line breaks are spaces, so a verse sentence spanning lines stays whole.
    3. A sentence ends after a run of ``.``, ``!`` or ``?`` (with any closing quotes or brackets
       that follow it) when whitespace or the end of the text comes next, except that
       a. it does not end when the next word starts with a lower-case letter
          (``"Aroint thee!" the ronyon cries.`` is one sentence);
       b. a single ``.`` after an abbreviation in ``ABBREVIATIONS`` (Mr. Dr. St. e.g. ...) or
          after a single capital letter other than ``I`` (an initial) does not end it.
    Speaker names on a line of their own, such as ``HAMLET.``, come out as sentences of their own.
    """
    if not isinstance(text, str):
        raise ValueError(f"split_sentences expects a str, got {type(text).__name__}")
    sentences = []
    for block in _PARAGRAPH.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        paragraph = " ".join(block.split())
        start = 0
        for match in _BOUNDARY.finditer(paragraph):
            if _ends_sentence(paragraph, match):
                sentences.append(paragraph[start : match.end()].strip())
                start = match.end()
        tail = paragraph[start:].strip()
        if tail:
            sentences.append(tail)
    return [s for s in sentences if s]


def tokenize_words(sentence: str) -> list[str]:
    """Lower-cased word and punctuation tokens of one sentence.

    A word is a run of letters or digits; an apostrophe or hyphen *between* two such characters
    stays inside it (``can't``, ``o'er``, ``rump-fed``, ``self-comparisons``). Every other
    non-space character is punctuation and becomes a token of its own, with a run of the same
    character kept together (``--``, ``...``, ``!!``). A leading or trailing apostrophe is
    punctuation, since it cannot be told apart from a quotation mark (``'tis`` -> ``'``, ``tis``).
    """
    if not isinstance(sentence, str):
        raise ValueError(f"tokenize_words expects a str, got {type(sentence).__name__}")
    return [m.group() for m in _TOKEN.finditer(sentence.lower())]


# -- vocabularies ------------------------------------------------------------------------------
def _preview(items: Sequence, limit: int = 5) -> str:
    shown = ", ".join(repr(t) for t in items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


class Vocab:
    """A fixed, ordered list of tokens; a token's id is its position.

    ``unk`` (a token of the list, or None) stands in for tokens the vocabulary does not hold; with
    no ``unk``, encoding such a token raises ValueError naming it. The order is the whole state,
    so ``to_list()`` / ``from_list()`` are the checkpoint format.
    """

    join = ""  # what decode_text puts between tokens

    def __init__(self, tokens: Iterable[str], unk: str | None = None):
        tokens = list(tokens)
        for t in tokens:
            if not isinstance(t, str) or not t:
                raise ValueError(f"vocabulary tokens must be non-empty strings, got {t!r}")
        counts = Counter(tokens)
        dups = sorted(t for t, c in counts.items() if c > 1)
        if dups:
            raise ValueError(f"vocabulary tokens must be unique, got duplicates {_preview(dups)}")
        if not tokens:
            raise ValueError("a vocabulary needs at least one token, got none")
        self._tokens: list[str] = tokens
        self._index: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        if unk is not None and unk not in self._index:
            raise ValueError(f"the unknown token {unk!r} is not in the vocabulary")
        self.unk = unk

    # -- building ------------------------------------------------------------------------------
    @staticmethod
    def _select(counts: Counter, limit: int | None) -> list[str]:
        """Tokens by descending count, ties broken alphabetically, at most ``limit`` of them."""
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if limit is not None:
            ranked = ranked[:limit]
        return [t for t, _ in ranked]

    @staticmethod
    def _check_max_size(max_size, reserved: int) -> int | None:
        if max_size is None:
            return None
        if not is_int(max_size) or max_size <= reserved:
            raise ValueError(
                f"max_size must be an integer greater than the {reserved} reserved token(s), got {max_size!r}"
            )
        return int(max_size)

    # -- lookups -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token) -> bool:
        return token in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._tokens)

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._tokens == other._tokens and self.unk == other.unk

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(self._tokens), self.unk))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={len(self)}, unk={self.unk!r})"

    @property
    def unk_id(self) -> int | None:
        """Id of the unknown token, or None."""
        return None if self.unk is None else self._index[self.unk]

    def token_to_id(self, token: str) -> int:
        """Id of one token (the unknown token's id if it is missing and there is one)."""
        return int(self.encode([token])[0])

    def id_to_token(self, i: int) -> str:
        """The token with id ``i``."""
        return self.decode([i])[0]

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Ids (n,) int64 of a sequence of tokens; missing ones map to ``unk`` or raise ValueError."""
        tokens = list(tokens)
        index, unk_id = self._index, self.unk_id
        ids = np.fromiter((index.get(t, -1) for t in tokens), dtype=np.int64, count=len(tokens))  # (n,)
        missing = ids < 0  # (n,)
        if missing.any():
            if unk_id is None:
                unknown = sorted({tokens[i] for i in np.flatnonzero(missing)})
                raise ValueError(
                    f"{len(unknown)} token(s) are not in the vocabulary of {len(self)} and it has no "
                    f"unknown token: {_preview(unknown)}"
                )
            ids[missing] = unk_id
        return ids

    def decode(self, ids) -> list[str]:
        """Tokens of a 1-D sequence of integer ids; ids outside [0, len) raise ValueError."""
        arr = np.asarray(ids)
        if arr.size == 0:
            return []
        if arr.ndim != 1:
            raise ValueError(f"decode expects a 1-D sequence of ids, got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"decode expects integer ids, got dtype {arr.dtype}")
        bad = arr[(arr < 0) | (arr >= len(self))]
        if bad.size:
            raise ValueError(f"ids must be in [0, {len(self)}), got {_preview(sorted(set(bad.tolist())))}")
        return [self._tokens[i] for i in arr.tolist()]

    def decode_text(self, ids) -> str:
        """The decoded tokens joined into one string (no separator for characters, spaces for words)."""
        return self.join.join(self.decode(ids))

    # -- checkpoints ---------------------------------------------------------------------------
    def to_list(self) -> list[str]:
        """The tokens in id order, for saving."""
        return list(self._tokens)

    @classmethod
    def from_list(cls, tokens: Iterable[str], unk: str | None = None) -> Vocab:
        """Rebuild a vocabulary saved with ``to_list``."""
        return cls(tokens, unk=unk)


class CharVocab(Vocab):
    """Character vocabulary: the characters sorted by code point, so the order never depends on
    the text's order. ``max_size`` keeps the most frequent characters (ties by code point), then
    sorts those; with ``unk`` (a character not in the text, placed at id 0) the others map to it.
    """

    join = ""

    @classmethod
    def from_text(cls, text: str, max_size: int | None = None, unk: str | None = None) -> CharVocab:
        """Build from a string."""
        if not isinstance(text, str):
            raise ValueError(f"CharVocab.from_text expects a str, got {type(text).__name__}")
        if not text:
            raise ValueError("CharVocab.from_text needs some text, got an empty string")
        reserved = 0 if unk is None else 1
        limit = cls._check_max_size(max_size, reserved)
        counts = Counter(text)
        if unk is not None:
            if not isinstance(unk, str) or len(unk) != 1:
                raise ValueError(f"a character vocabulary's unknown token must be one character, got {unk!r}")
            if unk in counts:
                raise ValueError(f"the unknown character {unk!r} occurs in the text; choose another one")
        chars = sorted(cls._select(counts, None if limit is None else limit - reserved))
        return cls(([unk] if unk is not None else []) + chars, unk=unk)

    def encode(self, tokens) -> np.ndarray:
        """Ids (n,) int64 of a string (or any sequence of characters)."""
        if isinstance(tokens, str):
            tokens = list(tokens)
        return super().encode(tokens)


class WordVocab(Vocab):
    """Word vocabulary: ``UNKNOWN_TOKEN``, ``SENTENCE_START``, ``SENTENCE_END`` at ids 0, 1, 2,
    then words by descending frequency with ties in alphabetical order; ``max_size`` counts the
    three special tokens. Words left out map to ``UNKNOWN_TOKEN``.
    """

    join = " "
    SPECIALS = (UNKNOWN_TOKEN, SENTENCE_START, SENTENCE_END)

    def __init__(self, tokens: Iterable[str], unk: str | None = UNKNOWN_TOKEN):
        tokens = list(tokens)
        if tuple(tokens[:3]) != self.SPECIALS:
            raise ValueError(f"a word vocabulary starts with {list(self.SPECIALS)}, got {tokens[:3]}")
        if unk != UNKNOWN_TOKEN:
            raise ValueError(f"a word vocabulary's unknown token is {UNKNOWN_TOKEN!r}, got {unk!r}")
        super().__init__(tokens, unk=UNKNOWN_TOKEN)

    @classmethod
    def from_list(cls, tokens: Iterable[str], unk: str | None = UNKNOWN_TOKEN) -> WordVocab:
        """Rebuild a vocabulary saved with ``to_list``."""
        return cls(tokens, unk=unk)

    @classmethod
    def from_sentences(cls, sentences: Iterable[Sequence[str]], max_size: int | None = None) -> WordVocab:
        """Build from tokenized sentences (lists of words, e.g. from ``tokenize_words``)."""
        counts: Counter = Counter()
        for s in sentences:
            if isinstance(s, str):
                raise ValueError(
                    "WordVocab.from_sentences expects lists of tokens, got a str; tokenize it first"
                )
            counts.update(s)
        clash = sorted(set(cls.SPECIALS) & counts.keys())
        if clash:
            raise ValueError(f"the sentences contain the reserved token(s) {clash}")
        if not counts:
            raise ValueError("WordVocab.from_sentences needs at least one word, got none")
        limit = cls._check_max_size(max_size, len(cls.SPECIALS))
        words = cls._select(counts, None if limit is None else limit - len(cls.SPECIALS))
        return cls(list(cls.SPECIALS) + words)

    @property
    def start_id(self) -> int:
        """Id of ``SENTENCE_START``."""
        return self._index[SENTENCE_START]

    @property
    def end_id(self) -> int:
        """Id of ``SENTENCE_END``."""
        return self._index[SENTENCE_END]

    def encode_sentence(self, words: Sequence[str]) -> np.ndarray:
        """Ids (n + 2,) of ``SENTENCE_START, *words, SENTENCE_END``."""
        return self.encode([SENTENCE_START, *words, SENTENCE_END])


# -- streams for language models ---------------------------------------------------------------
def batchify(ids, batch_size: int) -> np.ndarray:
    """Cut a token stream (n,) into ``batch_size`` contiguous streams laid side by side: (steps, B).

    ``steps = n // B``; column b is ``ids[b*steps : (b+1)*steps]`` and the last ``n % B`` tokens
    are dropped, so reading down a column continues the text and a hidden state can be carried.
    """
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"batchify expects a 1-D token stream, got shape {arr.shape}")
    batch_size = check_int("batch_size", batch_size, low=1)
    steps = arr.shape[0] // batch_size
    if steps == 0:
        raise ValueError(
            f"the text has {arr.shape[0]} tokens, fewer than one per stream for batch_size={batch_size}"
        )
    return np.ascontiguousarray(arr[: steps * batch_size].reshape(batch_size, steps).T)  # (steps, B)


class Windows:
    """Consecutive (input, target) windows along axis 0 of a stream, for truncated BPTT.

    Window k is ``x = stream[k*L : k*L + L]`` and ``y = stream[k*L + 1 : k*L + L + 1]`` (the next
    token at every position), so windows tile the stream and the last state of one window is the
    right initial state for the next. The final window is shorter when the tokens run out, unless
    ``drop_last``. ``len()`` is the number of windows; ``windows[k]`` is window k (negative k counts
    from the end, as for a list) and iterating gives them in order. Windows are views of the stream.
    """

    def __init__(self, stream, length: int, drop_last: bool = False):
        arr = np.asarray(stream)
        if arr.ndim not in (1, 2):
            raise ValueError(f"windows expects a stream (steps,) or (steps, B), got shape {arr.shape}")
        length = check_int("window length", length, low=1)
        steps = arr.shape[0]
        if steps < length + 1:
            raise ValueError(
                f"the text is shorter than one window: {steps} steps, and a window of {length} needs "
                f"{length + 1} (its inputs and the next token); use a shorter window or more text"
            )
        self.stream, self.length, self.drop_last = arr, int(length), bool(drop_last)
        usable = steps - 1  # the last token is only ever a target
        self._count = usable // self.length if drop_last else -(-usable // self.length)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, k) -> tuple[np.ndarray, np.ndarray]:
        if not is_int(k):
            raise TypeError(f"a window index must be an integer, got {type(k).__name__}")
        n = self._count
        if not -n <= k < n:
            raise IndexError(f"window index must be in [{-n}, {n}) for {n} windows, got {k}")
        start = (int(k) % n) * self.length
        stop = min(start + self.length, self.stream.shape[0] - 1)
        return self.stream[start:stop], self.stream[start + 1 : stop + 1]  # (L, ...) each

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for k in range(self._count):
            yield self[k]


def windows(stream, length: int, drop_last: bool = False) -> Windows:
    """Iterate (x, y) windows of ``length`` steps over a stream (steps,) or (steps, B); see ``Windows``."""
    return Windows(stream, length, drop_last)
