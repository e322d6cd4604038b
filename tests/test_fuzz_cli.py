"""Fuzzing the command line: random option values and file kinds, never a traceback.

Every case runs ``scratchrnn.cli.main`` in this process on an argument list drawn by hypothesis
(a command, a file of some kind, options with valid, edge or nonsense values) and asserts that it
either succeeds (status 0) or fails as the command line promises: status 2 and exactly one line on
stderr, ``scratchrnn: error: ...``, with no traceback. Runs are kept short by always passing a
small step count to ``train``; the sizes drawn include ones far too large to allocate, which must be
refused before anything is made. ``SCRATCHRNN_FUZZ=nightly`` runs many more cases (``fuzzing.py``).
"""

from __future__ import annotations

import contextlib
import io
import os
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli_helpers import without_log_lines
from fuzzing import fuzz_settings
from scratchrnn import cli
from scratchrnn.data.text import load_corpus

# each option's values: (ones a run should accept, ones it should refuse or may refuse)
INTS = (["1", "2", "3"], ["0", "-1", "x", "", "1.5", "nan", "10000000", "99999999999999999999"])
FLOATS = (["0.1", "1", "0.01"], ["0", "-1", "nan", "inf", "-inf", "1e308", "1e-300", "x", ""])
SIZES = (["1", "2", "8"], ["0", "-3", "x", "1000000", "100000000000"])
FILE_KINDS = ["text", "latin1", "empty", "binary", "directory", "missing", "model", "truncated_model",
              "not_a_zip_npz", "devnull"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One file of each kind the cases pick from, and a small trained model."""
    root = tmp_path_factory.mktemp("fuzz_cli")
    text = load_corpus()[:30_000]  # long enough for the default 32 streams of one window
    paths = {
        "text": root / "text.txt",
        "latin1": root / "latin1.txt",
        "empty": root / "empty.txt",
        "binary": root / "binary.bin",
        "directory": root / "folder",
        "missing": root / "missing.txt",
        "model": root / "run" / "model.npz",
        "truncated_model": root / "truncated.npz",
        "not_a_zip_npz": root / "fake.npz",
        "devnull": os.devnull,
    }
    paths["text"].write_text(text, encoding="utf-8")
    paths["latin1"].write_bytes(("caf\xe9 " * 200).encode("latin-1"))
    paths["empty"].write_bytes(b"")
    paths["binary"].write_bytes(bytes(range(256)) * 8)
    paths["directory"].mkdir()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = cli.main(["train", str(paths["text"]), *SMALL, "--steps", "2", "--out", str(root / "run")])
    assert status == 0 and paths["model"].exists()
    data = paths["model"].read_bytes()
    paths["truncated_model"].write_bytes(data[: len(data) // 2])
    with zipfile.ZipFile(paths["not_a_zip_npz"], "w") as archive:
        archive.writestr("weights.npy", b"not an array")
    return {kind: str(path) for kind, path in paths.items()}


def _options(table: dict[str, tuple[list[str], list[str]]], valid: bool):
    """A few of the options in ``table``, each with one of its values (only accepted ones when
    ``valid``), as a flat argument list."""
    def values(name):
        good, bad = table[name]
        return st.sampled_from(good if valid else good + bad).map(lambda v: [name, v])

    return st.lists(st.sampled_from(sorted(table)), max_size=4, unique=True).flatmap(
        lambda names: st.tuples(*map(values, names))
    ).map(lambda pairs: [part for pair in pairs for part in pair])


TRAIN = {
    "--cell": (["rnn", "lstm", "gru"], ["transformer"]),
    "--hidden-size": SIZES,
    "--num-layers": (["1", "2"], ["0", "-1", "100000000"]),
    "--embedding-dim": SIZES,
    "--dropout": (["0", "0.5"], ["1", "-0.1", "nan"]),
    "--optimizer": (["sgd", "adam", "rprop", "adagrad"], ["lbfgs"]),
    "--lr": FLOATS,
    "--clip-norm": (["0", "1", "0.5"], FLOATS[1]),
    "--window": INTS,
    "--batch-size": INTS,
    "--val-fraction": (["0.1", "0.5"], ["0", "1", "-1", "nan"]),
    "--eval-every": INTS,
    "--checkpoint-every": (["0", "1", "2"], INTS[1]),
    "--seed": (["0", "1", "12345"], ["-1", "x", ""]),
    "--dtype": (["float32", "float64"], ["float16", "int8"]),
    "--level": (["char", "word"], ["byte"]),
    "--encoding": (["utf-8", "latin-1"], ["rot13", "hex", "bogus-codec", ""]),
    "--max-vocab": INTS,
}
SAMPLE = {
    "--prime": (["", "the", "First"], ["\u2603", "zzzz"]),
    "--temperature": (["0", "0.5", "1"], FLOATS[1]),
    "--top-k": INTS,
    "--top-p": (["0.5", "1"], ["0", "-1", "nan", "2"]),
    "--seed": (["0", "1"], ["-1", "x"]),
}
TRACE = {
    "--text": (["hello", "hello world"], ["", "a"]),
    "--vocab": (["abcdefghijklmnopqrstuvwxyz "], ["", "helo", "xyz"]),
    "--hidden-size": SIZES,
    "--nonlinearity": (["tanh", "relu", "sigmoid", "identity"], ["gelu"]),
    "--lr": FLOATS,
    "--seed": (["0", "1"], ["-1", "x"]),
}
# a small, quick model unless the drawn options (which come later, and win) say otherwise
SMALL = ["--no-progress", "--cell", "rnn", "--hidden-size", "8", "--num-layers", "1", "--window", "16",
         "--batch-size", "4"]
# the kinds of file a command may be given, with the readable one first
GOOD_FILE = {"train": "text", "sample": "model", "eval": "model", "trace": "model", "export": "model"}


@st.composite
def argvs(draw, files):
    """An argument list for one command: half the time a file and options it should accept, else
    a file of any kind and options of any value."""
    command = draw(st.sampled_from(["train", "sample", "eval", "trace", "export"]))
    valid = draw(st.booleans())
    kinds = st.just(GOOD_FILE[command]) if valid else st.sampled_from(FILE_KINDS)
    source = files[draw(kinds)]
    if command == "train":
        steps = draw(st.sampled_from(["1", "2"]))
        return ["train", source, *SMALL, "--steps", steps, *draw(_options(TRAIN, valid))]
    if command == "sample":
        length = draw(st.sampled_from(["0", "1", "5"] if valid else ["0", "1", "5", "-2", "x"]))
        if draw(st.booleans()):  # beam search takes no sampling options
            return ["sample", source, "--beam", draw(st.sampled_from(INTS[0] if valid else sum(INTS, []))),
                    "--length", length]
        return ["sample", source, *draw(_options(SAMPLE, valid)), "--length", length]
    if command == "eval":
        return ["eval", source, files[draw(st.just("text") if valid else st.sampled_from(FILE_KINDS))]]
    if command == "trace":
        extra = [] if valid or not draw(st.booleans()) else ["--weights", source]
        return ["trace", *extra, *draw(_options(TRACE, valid))]
    formats = ["npz", "safetensors"] if valid else ["npz", "safetensors", "onnx"]
    return ["export", source, "--format", draw(st.sampled_from(formats))]


def _run(argv, folder) -> tuple[int, str]:
    """main(argv) with the working folder ``folder``: its status and what it wrote on stderr."""
    err = io.StringIO()
    here = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                status = cli.main(argv)
            except SystemExit as exc:  # argparse's own exit, should main let one through
                status = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(here)
    return status, err.getvalue()


@fuzz_settings(30)
@given(data=st.data())
def test_the_command_line_succeeds_or_fails_on_one_line(files, tmp_path_factory, data):
    argv = data.draw(argvs(files), label="argv")
    folder = tmp_path_factory.mktemp("case")
    if argv[0] == "train":
        argv += ["--out", str(folder / "out")]
    if argv[0] == "export":
        argv += ["-o", str(folder / "exported")]
    status, err = _run(argv, folder)
    lines = without_log_lines(err)  # a training run's log lines may come before its error
    assert "Traceback" not in err, (argv, err)
    assert status in (0, 2), (argv, status, err)
    if status == 2:
        assert len(lines) == 1 and lines[0].startswith("scratchrnn: error: "), (argv, err)
        leftovers = [p.name for p in folder.rglob("*.tmp*")]
        assert not leftovers, (argv, leftovers)
