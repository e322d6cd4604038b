"""Data: the shipped text corpus, tokenizer and vocabularies, stream helpers for language models,
generators for the tutorial tasks (binary numbers, binary addition, sine windows), the containers
the trainer reads (whole sequences, bucketed by length or not, and a token stream read in windows),
labelled sequences in JSON lines and the shipped Japanese Vowels set, and time series from CSV
files with the two shipped series (Mauna Loa CO2, sunspots)."""

from . import labelled, sequences, series, synthetic, text
from .labelled import load_japanese_vowels, read_labelled
from .sequences import BucketedData, SequenceData, TokenStream, as_sequences, pad_sequences
from .series import load_series, read_series
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
    "BucketedData",
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
    "as_sequences",
    "batchify",
    "binary_numbers",
    "bits_to_int",
    "pad_sequences",
    "load_corpus",
    "load_japanese_vowels",
    "load_series",
    "read_labelled",
    "read_series",
    "read_text",
    "labelled",
    "sequences",
    "series",
    "sine_train_val",
    "sine_windows",
    "split_sentences",
    "synthetic",
    "text",
    "tokenize_words",
    "windows",
]
