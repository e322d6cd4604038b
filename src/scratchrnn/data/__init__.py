"""Data: the shipped text corpus, tokenizer and vocabularies, stream helpers for language models,
and generators for the tutorial tasks (binary numbers, binary addition, sine windows)."""

from . import synthetic, text
from .synthetic import (
    addition_pairs,
    all_addition_pairs,
    all_binary_numbers,
    binary_numbers,
    bits_to_int,
    sine_train_val,
    sine_windows,
)
from .text import (
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

__all__ = [
    "SENTENCE_END",
    "SENTENCE_START",
    "UNKNOWN_TOKEN",
    "CharVocab",
    "Vocab",
    "WordVocab",
    "addition_pairs",
    "all_addition_pairs",
    "all_binary_numbers",
    "batchify",
    "binary_numbers",
    "bits_to_int",
    "load_corpus",
    "read_text",
    "sine_train_val",
    "sine_windows",
    "split_sentences",
    "synthetic",
    "text",
    "tokenize_words",
    "windows",
]
