"""``scratchrnn translate MODEL [INPUT]``: each line of INPUT (or standard input) decoded by a
sequence-to-sequence model saved with ``scratchrnn.seq2seq.files.save_seq2seq``.

A line is one source: its characters when the source vocabulary's symbols are single characters,
else its words (split on white space), then padded and turned as the model reads a source (the
file's ``SourceFormat``: an addition model trained on reversed, padded questions takes ``535+61``
as it is written). Every line is checked before any is decoded (an empty line, one too long, or a
symbol outside the vocabulary is refused naming the line), and the output is written once, whole:
one decoded line per input line, greedy or with ``--beam N``.
"""

from __future__ import annotations

import argparse
import sys

from .cli_args import non_negative_float, positive_int
from .cli_io import print_or_write

__all__ = ["add_command"]

BATCH = 64  # sources decoded together


def _read_lines(path: str | None) -> list[str]:
    if path is None or path == "-":
        text = sys.stdin.read()
    else:
        from .data.text import read_text

        text = read_text(path)
    return text.splitlines()


def _symbols(line: str, vocab) -> list[str]:
    return list(line) if all(len(s) == 1 for s in vocab.symbols) else line.split()


def _cmd_translate(args: argparse.Namespace) -> int:
    import numpy as np

    from .seq2seq.data import batch
    from .seq2seq.decode import beam_search, greedy
    from .seq2seq.files import load_seq2seq

    model, source, target, source_format = load_seq2seq(args.model)
    lines = _read_lines(args.input)
    if not lines:
        raise ValueError("no lines to translate: the input is empty")
    sources = []
    for number, line in enumerate(lines, start=1):
        symbols = _symbols(line, source)
        if not symbols:
            raise ValueError(f"line {number} is empty: each line is one source to translate")
        try:
            symbols = source_format.apply(symbols)
            sources.append(source.encode(symbols))
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        if len(symbols) > model.config.max_source_length:
            raise ValueError(f"line {number} has {len(symbols)} symbols, more than the model's maximum "
                             f"source length {model.config.max_source_length}")
    join = "" if all(len(s) == 1 for s in target.symbols) else " "
    out = []
    for start in range(0, len(sources), BATCH):
        src, lengths = batch(sources[start:start + BATCH])
        if args.beam is None:
            hyps = greedy(model, src, lengths, max_length=args.max_length)
        else:
            found = beam_search(model, src, args.beam, lengths, max_length=args.max_length,
                                length_penalty=args.length_penalty)
            hyps = [best[0] for best in found]
        out += [target.decode(np.array(h.tokens, np.int64), join=join) for h in hyps]
    print_or_write("".join(line + "\n" for line in out), args.output)
    return 0


def add_command(sub) -> None:
    """Add ``translate`` to the subcommands ``sub``."""
    p = sub.add_parser(
        "translate", help="decode each input line with a sequence-to-sequence model",
        description="Decode each line of INPUT (default: standard input) with the sequence-to-sequence "
        "model in MODEL (a file written by scratchrnn.seq2seq.files.save_seq2seq): greedy decoding, or "
        "beam search with --beam N. One output line per input line; every line is checked first, and "
        "the output is written whole.",
        epilog="examples:\n  echo 535+61 | scratchrnn translate runs/addition-text/model.npz\n"
        "  scratchrnn translate model.npz questions.txt --beam 4 --output answers.txt",
    )
    p.add_argument("model", metavar="MODEL", help="the model file")
    p.add_argument("input", metavar="INPUT", nargs="?", help="the lines to decode (default or '-': stdin)")
    p.add_argument("--beam", type=positive_int, metavar="N",
                   help="beam search with N hypotheses (default: greedy)")
    p.add_argument("--max-length", type=positive_int, default=100, metavar="N",
                   help="the most tokens of an output line (default: 100)")
    p.add_argument("--length-penalty", type=non_negative_float, default=1.0, metavar="A",
                   help="beam search ranks by log-probability / length ** A (default: 1.0; 0: the sum)")
    p.add_argument("--output", metavar="FILE", help="write the lines to FILE (default: stdout)")
    p.set_defaults(func=_cmd_translate)
