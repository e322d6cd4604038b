"""Shipped corpus, strict file reading, tokenizer, vocabularies and language-model stream helpers."""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchrnn.data import text as T
from scratchrnn.data.text import (
    SENTENCE_END,
    SENTENCE_START,
    UNKNOWN_TOKEN,
    CharVocab,
    Vocab,
    WordVocab,
    batchify,
    load_corpus,
    read_text,
    split_sentences,
    tokenize_words,
    windows,
)

SOURCES = Path(__file__).resolve().parents[1] / "src" / "scratchrnn" / "data" / "SOURCES.md"


@pytest.fixture(scope="module")
def corpus() -> str:
    return load_corpus()


@pytest.fixture(scope="module")
def corpus_sentences(corpus) -> list[list[str]]:
    return [tokenize_words(s) for s in split_sentences(corpus)]


# -- corpus ------------------------------------------------------------------------------------
def test_corpus_file_is_about_one_megabyte_of_valid_utf8():
    raw = resources.files("scratchrnn.data").joinpath("files", "shakespeare.txt").read_bytes()
    assert 900_000 <= len(raw) <= 1_100_000
    decoded = raw.decode("utf-8")  # strict: raises on any invalid byte
    assert decoded == load_corpus("shakespeare")
    assert "\r" not in decoded
    # Plain text: printable characters and newlines only.
    assert all(c == "\n" or c.isprintable() for c in set(decoded))


def test_corpus_matches_the_checksum_and_size_recorded_in_sources():
    raw = resources.files("scratchrnn.data").joinpath("files", "shakespeare.txt").read_bytes()
    notes = SOURCES.read_text(encoding="utf-8")
    recorded_hash = re.search(r"SHA-256 \| `([0-9a-f]{64})`", notes).group(1)
    recorded_size = int(re.search(r"Size \| ([\d,]+) bytes", notes).group(1).replace(",", ""))
    assert hashlib.sha256(raw).hexdigest() == recorded_hash
    assert len(raw) == recorded_size


def test_corpus_is_english_shakespeare(corpus):
    words = Counter(re.findall(r"[a-z]+", corpus.lower()))
    top = [w for w, _ in words.most_common(12)]
    for common in ("the", "and", "to", "of"):
        assert common in top
    for line in ("To be, or not to be", "When shall we three meet again?", "O Romeo, Romeo!"):
        assert line in corpus
    for title in ("MACBETH", "HAMLET", "OTHELLO", "THE TEMPEST"):
        assert re.search(rf"^{title}", corpus, flags=re.MULTILINE)


def test_unknown_corpus_names_the_shipped_ones():
    with pytest.raises(ValueError, match="'shakespeare'"):
        load_corpus("war_and_peace")


# -- read_text ---------------------------------------------------------------------------------
def test_read_text_reads_utf8_and_normalises_line_endings(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes("\ufeffcaf\u00e9\r\nna\u00efve\rend\n".encode())
    assert read_text(p) == "caf\u00e9\nna\u00efve\nend\n"


def test_read_text_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_text(tmp_path / "nope.txt")


def test_read_text_directory(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        read_text(tmp_path)


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"])
def test_read_text_empty_file(tmp_path, content):
    p = tmp_path / "empty.txt"
    p.write_bytes(content)
    with pytest.raises(ValueError, match="empty|whitespace"):
        read_text(p)


def test_read_text_binary_file_names_the_nul_offset(tmp_path):
    p = tmp_path / "blob.bin"
    p.write_bytes(b"PK\x03\x04abc\x00def")
    with pytest.raises(ValueError, match=r"binary.*offset 7"):
        read_text(p)


def test_read_text_latin1_bytes_suggest_encoding(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes("caf\u00e9 au lait".encode("latin-1"))  # 0xE9 at byte 3 is not valid UTF-8 here
    with pytest.raises(ValueError, match=r"offset 3") as err:
        read_text(p)
    assert "--encoding" in str(err.value)
    assert read_text(p, encoding="latin-1") == "caf\u00e9 au lait"


def test_read_text_utf16_is_not_mistaken_for_binary(tmp_path):
    p = tmp_path / "wide.txt"
    p.write_bytes("hello there".encode("utf-16"))
    assert read_text(p, encoding="utf-16") == "hello there"


def test_read_text_unknown_encoding(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("abc", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        read_text(p, encoding="klingon")


# -- sentences ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('He said, "Go home." Then he left.', ['He said, "Go home."', "Then he left."]),
        (
            '"Give me," quoth I: "Aroint thee, witch!" the rump-fed ronyon cries.',
            ['"Give me," quoth I: "Aroint thee, witch!" the rump-fed ronyon cries.'],
        ),
        ('She asked, "Why?" Nobody knew.', ['She asked, "Why?"', "Nobody knew."]),
        (
            "Mr. Smith met Dr. Jones at St. Paul's. They talked.",
            ["Mr. Smith met Dr. Jones at St. Paul's.", "They talked."],
        ),
        ("Bring fruit, e.g. apples. Now!", ["Bring fruit, e.g. apples.", "Now!"]),
        ("J. R. Smith wrote it. Not I. Go.", ["J. R. Smith wrote it.", "Not I.", "Go."]),
        ("Wait... what? Yes!! Really?!", ["Wait... what?", "Yes!!", "Really?!"]),
        ("[Enter three Witches.] Thunder.", ["[Enter three Witches.]", "Thunder."]),
        ("no end mark\n\nA new paragraph", ["no end mark", "A new paragraph"]),
        ("", []),
        ("   \n\n  ", []),
    ],
)
def test_split_sentences_examples(text, expected):
    assert split_sentences(text) == expected


def test_split_sentences_joins_verse_lines_and_splits_speakers():
    verse = (
        "HAMLET.\n"
        "To be, or not to be,--that is the question:--\n"
        "Whether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune\n"
        "Or to take arms against a sea of troubles,\n"
        "And by opposing end them?\n"
        "\n"
        "FIRST WITCH.\n"
        "When shall we three meet again?\r\n"
        "In thunder, lightning, or in rain?\n"
    )
    assert split_sentences(verse) == [
        "HAMLET.",
        "To be, or not to be,--that is the question:-- Whether 'tis nobler in the mind to suffer "
        "The slings and arrows of outrageous fortune Or to take arms against a sea of troubles, "
        "And by opposing end them?",
        "FIRST WITCH.",
        "When shall we three meet again?",
        "In thunder, lightning, or in rain?",
    ]


def test_split_sentences_on_the_corpus(corpus):
    sentences = split_sentences(corpus)
    assert "When shall we three meet again?" in sentences
    assert "O Romeo, Romeo! wherefore art thou Romeo?" in sentences
    assert all(s == s.strip() and "\n" not in s and "  " not in s for s in sentences)
    # No text is lost: the sentences hold every non-space character of the corpus, in order.
    assert "".join("".join(sentences).split()) == "".join(corpus.split())


def test_split_sentences_rejects_non_strings():
    with pytest.raises(ValueError, match="expects a str"):
        split_sentences(["a list"])


# -- words -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Don't stop, Mr. O'Brien's mother-in-law!",
            ["don't", "stop", ",", "mr", ".", "o'brien's", "mother-in-law", "!"],
        ),
        ("'Tis true:--anon!", ["'", "tis", "true", ":", "--", "anon", "!"]),
        ("Wait... WHAT?!", ["wait", "...", "what", "?", "!"]),
        ("Show'd like a rebel's whore", ["show'd", "like", "a", "rebel's", "whore"]),
        ("Master o' the Tiger", ["master", "o", "'", "the", "tiger"]),
        ("We can\u2019t, in 1599.", ["we", "can\u2019t", ",", "in", "1599", "."]),
        ("A well- and ill-made thing", ["a", "well", "-", "and", "ill-made", "thing"]),
        ('He said "go" (twice)', ["he", "said", '"', "go", '"', "(", "twice", ")"]),
        ("", []),
    ],
)
def test_tokenize_words_examples(sentence, expected):
    assert tokenize_words(sentence) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_tokenize_words_keeps_every_non_space_character(sentence):
    tokens = tokenize_words(sentence)
    assert "".join(tokens) == "".join(sentence.lower().split())
    assert all(tok and not any(c.isspace() for c in tok) for tok in tokens)


# -- vocabularies ------------------------------------------------------------------------------
def test_char_vocab_is_sorted_and_independent_of_text_order(corpus):
    sample = corpus[:50_000]
    vocab = CharVocab.from_text(sample)
    assert vocab.to_list() == sorted(set(sample))
    chars = list(sample)
    random.Random(3).shuffle(chars)
    assert CharVocab.from_text("".join(chars)) == vocab
    assert CharVocab.from_text(sample).to_list() == vocab.to_list()


def test_char_vocab_round_trip_on_the_corpus(corpus):
    vocab = CharVocab.from_text(corpus)
    ids = vocab.encode(corpus)
    assert ids.dtype == np.int64 and ids.shape == (len(corpus),)
    assert ids.min() >= 0 and ids.max() < len(vocab)
    assert vocab.decode_text(ids) == corpus
    # ids follow the sorted order, so they compare like the characters themselves
    assert vocab.token_to_id("a") < vocab.token_to_id("b") < vocab.token_to_id("z")


def test_char_vocab_unknown_character_without_unk_names_it():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match=r"no unknown token: 'y', 'z'"):
        vocab.encode("abzy")


def test_char_vocab_max_size_with_unk():
    vocab = CharVocab.from_text("aaabbbbc d", max_size=3, unk="\u2047")
    assert vocab.to_list() == ["\u2047", "a", "b"]  # the two most frequent characters, sorted
    assert vocab.unk_id == 0
    assert vocab.encode("abcd").tolist() == [1, 2, 0, 0]
    with pytest.raises(ValueError, match="occurs in the text"):
        CharVocab.from_text("a?b", unk="?")
    with pytest.raises(ValueError, match="max_size"):
        CharVocab.from_text("abc", max_size=1, unk="\u2047")


def test_word_vocab_order_frequency_then_alphabet():
    sentences = [["b", "a", "c", "a"], ["c", "b", "a"], ["d"]]
    # counts: a 3, b 2, c 2, d 1 -> a, then the tie b/c alphabetically, then d
    vocab = WordVocab.from_sentences(sentences)
    assert vocab.to_list() == [UNKNOWN_TOKEN, SENTENCE_START, SENTENCE_END, "a", "b", "c", "d"]
    shuffled = [list(reversed(s)) for s in reversed(sentences)]
    assert WordVocab.from_sentences(shuffled) == vocab


def test_word_vocab_is_deterministic_on_the_corpus(corpus_sentences):
    a = WordVocab.from_sentences(corpus_sentences, max_size=2000)
    b = WordVocab.from_sentences(corpus_sentences, max_size=2000)
    shuffled = list(corpus_sentences)
    random.Random(7).shuffle(shuffled)
    c = WordVocab.from_sentences(shuffled, max_size=2000)
    assert a.to_list() == b.to_list() == c.to_list()
    assert len(a) == 2000
    # independently: the 1997 most frequent words, ties alphabetically
    counts = Counter(w for s in corpus_sentences for w in s)
    expected = sorted(counts, key=lambda w: (-counts[w], w))[:1997]
    assert a.to_list()[3:] == expected


def test_word_vocab_special_tokens_and_unk(corpus_sentences):
    vocab = WordVocab.from_sentences(corpus_sentences, max_size=500)
    assert vocab.to_list()[:3] == [UNKNOWN_TOKEN, SENTENCE_START, SENTENCE_END]
    assert (vocab.unk_id, vocab.start_id, vocab.end_id) == (0, 1, 2)
    assert UNKNOWN_TOKEN in vocab and "the" in vocab and "graymalkin" not in vocab
    ids = vocab.encode_sentence(["i", "come", ",", "graymalkin", "!"])
    assert ids[0] == vocab.start_id and ids[-1] == vocab.end_id
    assert vocab.decode(ids) == [SENTENCE_START, "i", "come", ",", UNKNOWN_TOKEN, "!", SENTENCE_END]
    assert vocab.decode_text(ids[1:-1]) == "i come , UNKNOWN_TOKEN !"


def test_word_vocab_round_trip_for_known_words(corpus_sentences):
    vocab = WordVocab.from_sentences(corpus_sentences)
    for sentence in corpus_sentences[:300]:
        assert vocab.decode(vocab.encode(sentence)) == sentence


def test_word_vocab_rejects_bad_input():
    with pytest.raises(ValueError, match="reserved"):
        WordVocab.from_sentences([["hello", SENTENCE_END]])
    with pytest.raises(ValueError, match="tokenize it first"):
        WordVocab.from_sentences(["a raw string"])
    with pytest.raises(ValueError, match="max_size"):
        WordVocab.from_sentences([["a"]], max_size=3)
    with pytest.raises(ValueError, match="starts with"):
        WordVocab.from_list(["a", "b", "c"])


def test_vocab_checkpoint_round_trip(corpus_sentences):
    words = WordVocab.from_sentences(corpus_sentences, max_size=300)
    again = WordVocab.from_list(words.to_list())
    assert again == words and again.unk == UNKNOWN_TOKEN
    chars = CharVocab.from_text("hello world", max_size=5, unk="~")
    assert CharVocab.from_list(chars.to_list(), unk="~") == chars
    assert chars.to_list() is not chars.to_list()  # a copy: callers cannot mutate the vocabulary


def test_vocab_basic_errors():
    with pytest.raises(ValueError, match="duplicates 'a'"):
        Vocab(["a", "b", "a"])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        Vocab(["a", "b"], unk="?")
    vocab = Vocab(["x", "y"])
    assert len(vocab) == 2 and "x" in vocab and "z" not in vocab
    with pytest.raises(ValueError, match=r"\[0, 2\), got 2, 5"):
        vocab.decode([0, 5, 2])
    with pytest.raises(ValueError, match="integer ids"):
        vocab.decode(np.array([0.0, 1.0]))
    assert vocab.decode([]) == []


# -- streams -----------------------------------------------------------------------------------
def test_batchify_lays_contiguous_streams_side_by_side():
    ids = np.arange(23)
    out = batchify(ids, 4)
    steps = 23 // 4
    assert out.shape == (steps, 4)
    for b in range(4):
        assert out[:, b].tolist() == list(range(b * steps, (b + 1) * steps))
    assert out.flags.c_contiguous


def test_batchify_errors():
    with pytest.raises(ValueError, match="1-D"):
        batchify(np.zeros((3, 3), dtype=np.int64), 2)
    with pytest.raises(ValueError, match="batch_size"):
        batchify(np.arange(10), 0)
    with pytest.raises(ValueError, match="3 tokens, fewer than one per stream for batch_size=4"):
        batchify(np.arange(3), 4)


@pytest.mark.parametrize(
    ("steps", "length", "drop_last", "count"),
    [(21, 5, False, 4), (23, 5, False, 5), (23, 5, True, 4), (6, 5, False, 1)],
)
def test_windows_tile_the_stream(steps, length, drop_last, count):
    stream = np.arange(steps * 3).reshape(steps, 3)  # (steps, B)
    ws = windows(stream, length, drop_last=drop_last)
    pairs = list(ws)
    assert len(ws) == len(pairs) == count
    for x, y in pairs[:-1] if not drop_last else pairs:
        assert x.shape == y.shape == (length, 3)
    xs = np.concatenate([x for x, _ in pairs])
    ys = np.concatenate([y for _, y in pairs])
    used = count * length if drop_last else steps - 1
    assert np.array_equal(xs, stream[:used])
    assert np.array_equal(ys, stream[1 : used + 1])  # target = next token


@pytest.mark.parametrize("drop_last", [False, True])
def test_windows_by_index_are_the_windows_in_order(drop_last):
    stream = np.arange(23 * 2).reshape(23, 2)  # (steps, B): 22 usable steps, 4 whole windows of 5 and 2 left
    ws = windows(stream, 5, drop_last=drop_last)
    pairs = list(ws)
    for k, (x, y) in enumerate(pairs):
        got_x, got_y = ws[k]
        assert np.array_equal(got_x, x) and np.array_equal(got_y, y)
        assert np.shares_memory(got_x, stream) and np.shares_memory(got_y, stream)  # views, no copies
        neg_x, _ = ws[k - len(ws)]  # negative indices count from the end, as for a list
        assert np.array_equal(neg_x, x)
    assert ws[len(ws) - 1][0].shape[0] == (5 if drop_last else 2)  # the short tail only without drop_last
    assert ws[np.int64(1)][0][0].tolist() == stream[5].tolist()  # numpy integers index too


def test_window_index_errors():
    ws = windows(np.arange(11), 5)  # 2 windows
    with pytest.raises(IndexError, match=r"window index must be in \[-2, 2\) for 2 windows, got 2"):
        ws[2]
    with pytest.raises(IndexError, match="got -3"):
        ws[-3]
    with pytest.raises(TypeError, match="must be an integer, got float"):
        ws[1.0]
    with pytest.raises(TypeError, match="got bool"):
        ws[True]


def test_windows_on_a_batchified_corpus(corpus):
    vocab = CharVocab.from_text(corpus)
    stream = batchify(vocab.encode(corpus[:10_000]), 8)  # (1250, 8)
    x, y = next(iter(windows(stream, 100)))
    assert x.shape == y.shape == (100, 8)
    assert vocab.decode_text(x[:, 0]) == corpus[:100]
    assert vocab.decode_text(y[:, 0]) == corpus[1:101]


def test_windows_errors():
    with pytest.raises(ValueError, match=r"shorter than one window: 5 steps, and a window of 5 needs 6"):
        windows(np.arange(5), 5)
    with pytest.raises(ValueError, match="positive integer"):
        windows(np.arange(5), 0)
    with pytest.raises(ValueError, match="shape"):
        windows(np.zeros((4, 3, 2)), 2)


def test_module_exports_are_real():
    for name in T.__all__:
        assert hasattr(T, name)


# -- encodings and argument checks ---------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["rot13", "hex", "base64", "zlib", "bz2"])
def test_read_text_refuses_codecs_that_are_not_text_encodings(tmp_path, encoding):
    path = tmp_path / "t.txt"
    path.write_text("some text")
    with pytest.raises(ValueError, match=f"not a text encoding '{encoding}'"):
        T.read_text(path, encoding=encoding)


def test_read_text_checks_its_arguments_and_words_codec_errors(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"xn--" + b"\xff" * 3)
    with pytest.raises(ValueError, match="encoding must be a str naming a text encoding.*got NoneType None"):
        T.read_text(path, encoding=None)
    with pytest.raises(ValueError, match="path must be a str or a path, got int 3"):
        T.read_text(3)
    with pytest.raises(ValueError, match="is not valid punycode"):
        T.read_text(path, encoding="punycode")
    path.write_text("some text", encoding="utf-16")
    assert T.read_text(path, encoding="utf-16") == "some text"  # a text codec that b"a" alone cannot decode
