"""Data: the shipped text corpus, tokenizer and vocabularies, stream helpers for language models,
generators for the tutorial tasks (binary numbers, binary addition, sine windows), and the two
containers the trainer reads (whole sequences, and a token stream read in windows)."""

from . import sequences, synthetic, text
from .sequences import SequenceData, TokenStream, pad_sequences
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
    Windows,
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
    "SequenceData",
    "TokenStream",
    "Vocab",
    "Windows",
    "WordVocab",
    "addition_pairs",
    "all_addition_pairs",
    "all_binary_numbers",
    "batchify",
    "binary_numbers",
    "bits_to_int",
    "pad_sequences",
    "load_corpus",
    "read_text",
    "sequences",
    "sine_train_val",
    "sine_windows",
    "split_sentences",
    "synthetic",
    "text",
    "tokenize_words",
    "windows",
]
