"""``scratchrnn translate``: lines in, decoded lines out (greedy or beam), bad lines refused on one
line with exit status 2 and nothing written."""

from __future__ import annotations

import io

import numpy as np
import pytest

from cli_helpers import main_error
from scratchrnn.cli import main
from scratchrnn.seq2seq import Seq2Seq, Seq2SeqConfig, beam_search, greedy
from scratchrnn.seq2seq.data import SourceFormat, SymbolVocab, batch
from scratchrnn.seq2seq.files import save_seq2seq

VOCAB = SymbolVocab("abcd")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    config = Seq2SeqConfig(src_vocab_size=len(VOCAB), embedding_dim=4, hidden_size=8, attention="dot",
                           max_source_length=6)
    model = Seq2Seq(config, rng=3)
    path = tmp_path_factory.mktemp("m") / "model.npz"
    save_seq2seq(model, path, VOCAB)
    return path, model


def expected(model, lines, beam=None):
    src, lengths = batch([VOCAB.encode(line) for line in lines])
    hyps = greedy(model, src, lengths, max_length=100) if beam is None else \
        [b[0] for b in beam_search(model, src, beam, lengths, max_length=100)]
    return "".join(VOCAB.decode(h.tokens) + "\n" for h in hyps)


def test_lines_from_stdin_decode_greedily_or_with_a_beam(model_file, monkeypatch, capsys):
    path, model = model_file
    lines = ["abc", "dab", "d"]
    for beam in (None, 3):
        monkeypatch.setattr("sys.stdin", io.StringIO("".join(line + "\n" for line in lines)))
        assert main(["translate", str(path)] + ([] if beam is None else ["--beam", str(beam)])) == 0
        assert capsys.readouterr().out == expected(model, lines, beam)


def test_a_file_in_and_a_file_out(model_file, tmp_path, capsys):
    path, model = model_file
    (tmp_path / "in.txt").write_text("ab\r\ncd\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    assert main(["translate", str(path), str(tmp_path / "in.txt"), "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == expected(model, ["ab", "cd"]) and capsys.readouterr().out == ""


@pytest.mark.parametrize("text, words", [
    ("ab\n\ncd\n", "line 2 is empty: each line is one source to translate"),
    ("ab\naxz\n", "line 2: symbols ['x', 'z'] are not in the vocabulary SymbolVocab('abcd')"),
    ("", "expected a text file with some text, got an empty file"),
    ("abcdabc\n", "line 1 has 7 symbols, more than the model's maximum source length 6"),
])
def test_bad_lines_are_one_line_and_write_nothing(model_file, tmp_path, capsys, text, words):
    path, _ = model_file
    (tmp_path / "in.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "out.txt"
    msg = main_error(capsys, ["translate", str(path), str(tmp_path / "in.txt"), "--output", str(out)])
    assert words in msg
    assert not out.exists()


def test_an_empty_standard_input_is_refused(model_file, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    msg = main_error(capsys, ["translate", str(model_file[0])])
    assert "no lines to translate: the input is empty" in msg


def test_bad_options_and_files(model_file, tmp_path, capsys):
    path, _ = model_file
    msg = main_error(capsys, ["translate", str(path), "--beam", "0"])
    assert "--beam: must be a positive integer, got 0" in msg
    assert "none.npz: scratchrnn checkpoint not found" in main_error(capsys,
                                                                    ["translate", str(tmp_path / "none.npz")])
    np.savez(tmp_path / "w.npz", w=np.zeros(2))
    assert "not a scratchrnn checkpoint" in main_error(capsys, ["translate", str(tmp_path / "w.npz")])


def test_lines_are_padded_and_turned_as_the_model_reads_its_sources(model_file, tmp_path, capsys):
    _, model = model_file
    path = tmp_path / "formatted.npz"
    form = SourceFormat(width=5, fill="a", reverse=True)
    save_seq2seq(model, path, VOCAB, source_format=form)
    (tmp_path / "in.txt").write_text("bc\ndcbad\n", encoding="utf-8")
    assert main(["translate", str(path), str(tmp_path / "in.txt")]) == 0
    src, lengths = batch([VOCAB.encode(form.apply(line)) for line in ["bc", "dcbad"]])
    assert VOCAB.encode(form.apply("bc")).tolist() == VOCAB.encode("aaacb").tolist()
    want = "".join(VOCAB.decode(h.tokens) + "\n" for h in greedy(model, src, lengths, max_length=100))
    assert capsys.readouterr().out == want
    (tmp_path / "long.txt").write_text("ab\nabcdab\n", encoding="utf-8")
    msg = main_error(capsys, ["translate", str(path), str(tmp_path / "long.txt")])
    assert "line 2: 6 symbols, more than the 5 the model reads" in msg
