"""The command line: one-line errors with exit status 2, and what each command writes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cli_helpers import ENV, main_error, one_line_error, run_cli
from scratchrnn.cli import main


def test_unknown_task(capsys):
    msg = main_error(capsys, ["task", "nope"])
    assert "unknown task 'nope'" in msg and "binary-to-decimal" in msg


def test_negative_size(capsys):
    assert main_error(capsys, ["task", "hello", "--hidden-size", "-3"]) == (
        "scratchrnn: error: argument --hidden-size: must be a positive integer, got -3 "
        "(see 'scratchrnn task --help')")


def test_option_the_task_does_not_have(capsys):
    msg = main_error(capsys, ["task", "binary-to-decimal", "--hidden-size", "4"])
    assert msg.endswith("task binary-to-decimal has no option --hidden-size (see 'scratchrnn task --help')")


@pytest.mark.parametrize("argv, message", [
    (["task", "hello", "--epochs", "0"], "argument --epochs: must be a positive integer, got 0"),
    (["task", "hello", "--lr", "-1"], "argument --lr: must be > 0.0, got -1.0"),
    (["task", "hello", "--seed", "-2"], "argument --seed: must be an integer >= 0, got -2"),
    (["trace", "--hidden-size", "0"], "argument --hidden-size: must be a positive integer, got 0"),
    (["trace", "--lr", "nan"], "argument --lr: must be finite, got nan"),
])
def test_option_values_are_checked_in_a_fresh_process_naming_the_flag(tmp_path, argv, message):
    output = ["--out", "run"] if argv[0] == "task" else ["--json", "t.json"]
    res = run_cli(*argv, *output, cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == f"scratchrnn: error: {message} (see 'scratchrnn {argv[0]} --help')\n"
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_unwritable_output_folder(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    msg = main_error(capsys, ["task", "hello", "--out", str(blocker / "sub")])
    assert "cannot create output folder" in msg


def test_task_hello_writes_result(capsys, tmp_path):
    assert main(["task", "hello", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "hello" in out and "100%" in out
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["passed"] is True and result["metrics"]["accuracy"] == 1.0
    assert result["config"]["hidden_size"] == 3 and len(result["curves"]["loss"]) == result["config"]["steps"]


def test_export_round_trip(capsys, tmp_path):
    from scratchrnn.io import load_npz_weights
    from scratchrnn.nn.model import ModelConfig, SequenceModel
    from scratchrnn.optim import SGD
    from scratchrnn.train import TokenStream, TrainConfig, Trainer

    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=4), rng=0)
    ids = np.random.default_rng(0).integers(0, 5, 200)
    Trainer(model, SGD(model.params, lr=0.1), TrainConfig(steps=2, checkpoint_dir=str(tmp_path))).fit(
        TokenStream(ids, batch_size=2, window=10)
    )
    out = tmp_path / "w.npz"
    assert main(["export", str(tmp_path / "last.npz"), "--format", "npz", "-o", str(out)]) == 0
    weights = load_npz_weights(out)
    assert set(weights) == set(model.params)
    for k, v in model.params.items():
        np.testing.assert_array_equal(weights[k], v)
    capsys.readouterr()
    assert "not found" in main_error(capsys, ["export", str(tmp_path / "missing.npz")])


def test_export_onnx_writes_the_model_and_refuses_what_it_cannot(capsys, tmp_path):
    pytest.importorskip("onnx")
    from io_helpers import trainer_checkpoint
    from scratchrnn.io import save_npz_weights
    from scratchrnn.nn import Linear

    ckpt = trainer_checkpoint(tmp_path / "run", cell="lstm")
    assert main(["export", str(ckpt), "--format", "onnx"]) == 0
    assert capsys.readouterr().out == f"wrote {ckpt.with_suffix('.onnx')}\n"
    save_npz_weights(Linear(2, 3), tmp_path / "linear.npz")
    before = sorted(tmp_path.iterdir())
    msg = main_error(capsys, ["export", str(tmp_path / "linear.npz"), "--format", "onnx"])
    assert msg == ("scratchrnn: error: ONNX export takes a scratchrnn SequenceModel, RNN, LSTM, GRU, "
                   "RNNCell, LSTMCell, GRUCell, Seq2Seq, got a Linear")
    missing = tmp_path / "missing" / "m.onnx"
    msg = main_error(capsys, ["export", str(ckpt), "--format", "onnx", "-o", str(missing)])
    assert msg == f"scratchrnn: error: {missing}: cannot write it: its folder {missing.parent} does not exist"
    assert sorted(tmp_path.iterdir()) == before  # nothing written


def test_export_onnx_of_a_seq2seq_writes_its_two_parts(capsys, tmp_path):
    pytest.importorskip("onnx")
    from scratchrnn.seq2seq.data import SymbolVocab
    from scratchrnn.seq2seq.files import save_seq2seq
    from scratchrnn.seq2seq.model import Seq2Seq, Seq2SeqConfig

    vocab = SymbolVocab(list("abc"))
    save_seq2seq(Seq2Seq(Seq2SeqConfig(src_vocab_size=len(vocab), embedding_dim=2, hidden_size=3)),
                 tmp_path / "s2s.npz", vocab)
    assert main(["export", str(tmp_path / "s2s.npz"), "--format", "onnx"]) == 0
    assert capsys.readouterr().out == (f"wrote {tmp_path / 's2s.encoder.onnx'}\n"
                                       f"wrote {tmp_path / 's2s.decoder_step.onnx'}\n")
    import onnx

    for part in ("encoder", "decoder_step"):
        onnx.checker.check_model(onnx.load(str(tmp_path / f"s2s.{part}.onnx")), full_check=True)
    blocker = tmp_path / "blocker"
    blocker.write_text("x")  # a file where the folder should be: the temporary file cannot be made
    msg = main_error(capsys, ["export", str(tmp_path / "s2s.npz"), "--format", "onnx", "-o",
                              str(blocker / "x.onnx")])
    assert msg.startswith(f"scratchrnn: error: {blocker / 'x.encoder.onnx'}: ")  # the file, not a .tmp


def test_demo_writes_table_summary_and_plots(capsys, tmp_path, monkeypatch):
    import scratchrnn.tasks as tasks

    monkeypatch.setattr(tasks, "TASKS", {"hello": "hello"})
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "system  met  seconds" in out and "\nhello\n  tutorial  one worked step" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [s["name"] for s in summary["systems"]] == ["hello"] and summary["systems"][0]["passed"]
    pytest.importorskip("matplotlib")
    assert (tmp_path / "hello-loss.png").stat().st_size > 0


def test_console_script_runs_in_a_fresh_process():
    res = subprocess.run(
        [sys.executable, "-m", "scratchrnn.cli", "--version"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0 and res.stdout.startswith("scratchrnn ")
    res = subprocess.run(
        [sys.executable, "-m", "scratchrnn.cli", "task", "hello", "--epochs", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


# -- train / sample / eval --------------------------------------------------------------------------
TINY_TRAIN = [
    "--cell",
    "rnn",
    "--hidden-size",
    "16",
    "--num-layers",
    "1",
    "--steps",
    "12",
    "--window",
    "10",
    "--batch-size",
    "4",
    "--no-progress",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm")
    text = folder / "text.txt"
    text.write_text("to be or not to be, that is the question.\n" * 30, encoding="utf-8")
    out = folder / "run"
    assert main(["train", str(text), "--out", str(out), *TINY_TRAIN]) == 0
    return text, out


def test_train_writes_model_checkpoints_and_log(trained, capsys):
    _, out = trained
    for name in ("model.npz", "last.npz", "best.npz", "log.jsonl"):
        assert (out / name).stat().st_size > 0, name
    lines = (out / "log.jsonl").read_text().splitlines()
    assert sum('"loss"' in ln for ln in lines) == 12


def test_sample_same_seed_same_text_and_streams(trained, capsys):
    _, out = trained
    capsys.readouterr()
    assert main(["sample", str(out / "model.npz"), "--length", "40", "--prime", "to ", "--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert main(["sample", str(out / "model.npz"), "--length", "40", "--prime", "to ", "--seed", "3"]) == 0
    assert capsys.readouterr().out == first and first.startswith("to ") and len(first) == 3 + 40 + 1
    assert main(["sample", str(out / "model.npz"), "--length", "20", "--temperature", "0"]) == 0


def test_eval_reports_bits_per_char_and_per_token_lines(trained, capsys, tmp_path):
    text, out = trained
    per_token = tmp_path / "tok.jsonl"
    assert main(["eval", str(out / "model.npz"), str(text), "--per-token", str(per_token)]) == 0
    printed = capsys.readouterr().out
    assert "bits/char" in printed and "perplexity" in printed
    rows = [json.loads(ln) for ln in per_token.read_text().splitlines()]
    assert len(rows) == len(text.read_text()) - 1 and all(r["logprob"] <= 0 for r in rows)


def test_language_model_bad_input(trained, capsys, tmp_path):
    text, out = trained
    model = str(out / "model.npz")
    assert "--encoding" in main_error(
        capsys, ["train", str(_file(tmp_path, "lat.txt", b"caf\xe9 au lait"))]
    )
    assert "binary" in main_error(capsys, ["train", str(_file(tmp_path, "bin.txt", b"ab\x00cd"))])
    assert "empty" in main_error(capsys, ["train", str(_file(tmp_path, "empty.txt", b""))])
    assert "missing.txt" in main_error(capsys, ["train", str(tmp_path / "missing.txt")])
    short = _file(tmp_path, "short.txt", b"to be or not to be\n" * 3)
    run = tmp_path / "short-run"
    assert "window" in main_error(capsys, ["train", str(short), "--out", str(run), "--window", "50"])
    assert not run.exists()  # nothing half written
    assert "'\u20ac'" in main_error(capsys, ["sample", model, "--prime", "\u20acx"])
    assert capsys.readouterr().out == ""
    assert "not a scratchrnn checkpoint" in main_error(capsys, ["sample", str(text)])
    assert "argument --temperature: must be >= 0.0, got -1.0" in main_error(
        capsys, ["sample", model, "--temperature", "-1"])
    assert "argument --top-p: must be in (0, 1], got 1.5" in main_error(
        capsys, ["sample", model, "--top-p", "1.5"])
    assert "argument --top-p: must be in (0, 1], got 0" in main_error(
        capsys, ["sample", model, "--top-p", "0"])


def _file(folder, name, data: bytes):
    path = folder / name
    path.write_bytes(data)
    return path


def test_main_returns_argparse_statuses_and_words_its_complaints(capsys):
    assert main(["--version"]) == 0 and capsys.readouterr().out.startswith("scratchrnn ")
    msg = main_error(capsys, ["train", "--cell", "tcn"])
    assert "invalid choice: 'tcn'" in msg and msg.endswith("(see 'scratchrnn train --help')")


def test_main_gives_the_signal_handlers_back(capsys):
    import signal

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert main(["--version"]) == 0
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


# -- the results table -----------------------------------------------------------------------------
def _long_result(name: str, passed: bool = True):
    from scratchrnn.tasks import TaskResult

    words = " ".join(f"word{i}" for i in range(60))
    return TaskResult(name=name, tutorial="the tutorial says " + words, ours="we reach " + words,
                      target="a target of " + words + " " + "x" * 120, passed=passed, seconds=1234.5)


@pytest.mark.parametrize("columns", [80, 60])
def test_the_table_fits_the_terminal(capsys, monkeypatch, columns):
    from scratchrnn.cli import _print_table, _print_text_artifacts

    monkeypatch.setenv("COLUMNS", str(columns))
    results = [_long_result("binary-to-decimal"), _long_result("word-lm", passed=False)]
    results[1].artifacts = {"greedy": [{"prompt": "the king", "continuation": "and " * 40}],
                            "sentences": ["o " * 70]}
    _print_table(results)
    _print_text_artifacts(results[1])
    lines = capsys.readouterr().out.splitlines()
    assert max(len(ln) for ln in lines) <= columns
    assert lines[:4] == ["system             met  seconds", "-----------------  ---  -------",
                         "binary-to-decimal  yes   1234.5", "word-lm            NO    1234.5"]
    # every word of every sentence is printed, in order, under its label (a word longer than a
    # line is cut into pieces: compare without the spaces)
    text = " ".join(ln.strip() for ln in lines)
    for r in results:
        for key in ("tutorial", "ours", "target"):
            assert f"{key}{getattr(r, key)}".replace(" ", "") in text.replace(" ", "")
    assert "tutorial  the tutorial says word0 word1" in text  # the label padded to one column
    assert "'the king' -> and and" in text


def test_the_tasks_table_fits_80_columns_in_a_fresh_process(tmp_path):
    env = {**ENV, "COLUMNS": "80"}
    res = run_cli("task", "hello", "--out", tmp_path / "run", "--no-progress", env=env)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["system", "met", "seconds"] and lines[2].split()[:2] == ["hello", "yes"]
    assert max(len(ln) for ln in lines if not ln.startswith("wrote ")) <= 80


# -- plot ------------------------------------------------------------------------------------------
def _png_size(path) -> tuple[int, int]:
    """(width, height) from a PNG's header, checking its signature and IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def training_log(tmp_path_factory):
    from scratchrnn.nn.model import ModelConfig, SequenceModel
    from scratchrnn.optim import Adam
    from scratchrnn.train import TokenStream, TrainConfig, Trainer

    folder = tmp_path_factory.mktemp("plotted")
    ids = np.random.default_rng(0).integers(0, 9, 6000)
    model = SequenceModel(ModelConfig(vocab_size=9, hidden_size=8), rng=0)
    cfg = TrainConfig(steps=400, eval_every=50, log_path=str(folder / "log.jsonl"), progress=False)
    Trainer(model, Adam(model.params, lr=0.01), cfg).fit(TokenStream(ids[:5000], 4, 10),
                                                        TokenStream(ids[5000:], 2, 10))
    return folder / "log.jsonl"


def test_plot_writes_a_png_of_the_log(training_log, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "figure.png"
    res = run_cli("plot", training_log, "-o", out)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert res.stdout == f"wrote {out} (400 training steps, 8 validations)\n"
    assert _png_size(out) == (900, 800)
    assert out.stat().st_size > 20_000  # four curves, axes and labels, not an empty canvas
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]  # no temporary file left
    # without -o the figure goes beside the log, named after it
    res = run_cli("plot", training_log)
    assert res.returncode == 0 and _png_size(training_log.with_suffix(".png")) == (900, 800)


def test_plot_bad_logs_are_one_line_and_write_nothing(tmp_path):
    pytest.importorskip("matplotlib")
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert "is empty (0 bytes), not a training log" in one_line_error(run_cli("plot", empty))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": \n')
    assert "broken.jsonl line 2 is not valid JSON" in one_line_error(run_cli("plot", broken))
    records = tmp_path / "evals.jsonl"
    records.write_text('{"step": 3, "val_loss": 1.0}\n')
    assert "holds no training step" in one_line_error(run_cli("plot", records))
    assert "training log not found" in one_line_error(run_cli("plot", tmp_path / "missing.jsonl"))
    good = tmp_path / "good.jsonl"
    good.write_text('{"step": 1, "loss": 2.0}\n')
    assert "must end in .png, got" in one_line_error(run_cli("plot", good, "-o", tmp_path / "a.pdf"))
    assert "cannot write" in one_line_error(run_cli("plot", good, "-o", tmp_path / "no" / "a.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "broken.jsonl", "empty.jsonl", "evals.jsonl", "good.jsonl"]


def test_plot_without_matplotlib_says_how_to_install_it(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1, "loss": 2.0}\n')
    code = ("import sys; sys.modules['matplotlib'] = None; from scratchrnn.cli import main; "
            f"sys.exit(main(['plot', {str(log)!r}]))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, check=False)
    line = one_line_error(res)
    assert "matplotlib" in line and "pip install 'scratchrnn[plot]'" in line
    assert list(tmp_path.iterdir()) == [log]
