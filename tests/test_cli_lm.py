"""The train, sample and eval commands in fresh processes: interrupts at random points leave a run
that resumes bit for bit (or nothing), runs started together get their own folders, and every
reproduction of a failure is one line with exit status 2."""

from __future__ import annotations

import json
import math
import shlex
import signal
import subprocess
import time

import numpy as np
import pytest

from cli_helpers import ENV, TINY, command, one_line_error, our_traceback, run_cli, small_text
from scratchrnn.io import load_checkpoint, save_checkpoint

# about as long in training as in start-up; last.npz is saved at each validation by default
STEPS = ["--steps", "800", "--eval-every", "200"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """(folder, text, seconds, weights) of one uninterrupted run."""
    folder = tmp_path_factory.mktemp("interrupts")
    text = small_text(folder)
    t0 = time.perf_counter()
    res = run_cli("train", text, *TINY, *STEPS, "--out", folder / "reference")
    seconds = time.perf_counter() - t0
    assert res.returncode == 0, res.stderr
    return folder, text, seconds, load_checkpoint(folder / "reference" / "model.npz").params


def _interrupt_and_check(reference, i: int, sig: int, delay: float) -> str:
    """Send ``sig`` after ``delay`` s; check what the run left; return what happened."""
    folder, text, _, weights = reference
    out = folder / f"run-{i}-{sig}"
    proc = subprocess.Popen(command("train", text, *TINY, *STEPS, "--out", out),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    time.sleep(delay)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 128 + sig, -sig), (proc.returncode, err)
    assert not our_traceback(err), err
    if not out.exists():
        assert proc.returncode != 0, err
        return "nothing left"
    last = load_checkpoint(out / "last.npz")  # loadable
    records = [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines()]  # every line JSON
    assert [r["step"] for r in records if "loss" in r] == list(range(1, last.step + 1))
    if "resume with: " in err:  # run the very command it printed
        words = shlex.split(err.split("resume with: ", 1)[1].strip())
        assert words[:2] == ["scratchrnn", "train"], err
        res = subprocess.run(command(*words[1:]), capture_output=True, text=True, check=False, env=ENV)
        assert res.returncode == 0, res.stderr
        outcome = f"resumed from step {last.step}"
    else:  # it finished training and wrote its model; the signal came while it was ending
        outcome = "finished"
    final = load_checkpoint(out / "model.npz").params
    assert final.keys() == weights.keys()
    for k, v in weights.items():
        assert final[k].tobytes() == v.tobytes(), (k, outcome)
    return outcome


def _interrupt_loop(reference, n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    outcomes = []
    for i in range(n):
        for sig in (signal.SIGINT, signal.SIGTERM):
            delay = float(rng.uniform(0.0, 1.1 * reference[2]))  # start-up, training and the end
            outcomes.append(_interrupt_and_check(reference, i, sig, delay))
    return outcomes


def test_interrupts_at_random_points_leave_nothing_or_a_run_that_resumes_exactly(reference):
    outcomes = _interrupt_loop(reference, 3, seed=1)
    assert len(outcomes) == 6


@pytest.mark.slow
def test_twenty_interrupts_of_each_kind(reference):
    outcomes = _interrupt_loop(reference, 20, seed=2)
    kinds = {o.split(" from")[0] for o in outcomes}
    assert "resumed" in kinds and "nothing left" in kinds, outcomes  # both ends were reached


def test_an_interrupt_during_training_saves_and_prints_the_resume_command(reference):
    folder, text, _, _ = reference
    out = folder / "sigint"
    proc = subprocess.Popen(command("train", text, *TINY, "--steps", "100000", "--out", out),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 30
    while not (out / "log.jsonl").exists() or not (out / "log.jsonl").stat().st_size:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    line, = err.splitlines()
    step = load_checkpoint(out / "last.npz").step
    assert line.startswith(f"scratchrnn: SIGINT at step {step}: saved {out / 'last.npz'}") and step >= 1
    assert line.endswith(f"--out {out} --resume {out / 'last.npz'}")
    assert not (out / "model.npz").exists()  # an unfinished run writes no final model


def test_runs_started_together_get_their_own_folders(tmp_path):
    text = small_text(tmp_path)
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    procs = [subprocess.Popen(command("train", text, *TINY, "--hidden-size", 8 * s, "--steps", 30),
                              cwd=tmp_path, **pipes)
             for s in (1, 2, 3)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 3
    sizes = sorted(load_checkpoint(f / "model.npz").params["rnn.weight_hh_l0"].shape[0] for f in folders)
    assert sizes == [8, 16, 24]  # each run's own model survived


def test_a_failing_run_removes_only_what_it_made(tmp_path):
    text = small_text(tmp_path)
    other = tmp_path / "runs" / "someone-else"
    other.mkdir(parents=True)
    res = run_cli("train", text, *TINY, "--window", "100000", cwd=tmp_path)
    assert "shorter than one window" in one_line_error(res)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["someone-else"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    res = run_cli("train", text, *TINY, "--steps", "5", "--eval-every", "5", "--optimizer", "sgd",
                  "--lr", "1e38", "--out", mine, cwd=tmp_path)  # diverges at step 3, before any checkpoint
    assert "diverged" in one_line_error(res)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]  # its log went, the folder and notes stayed


def test_divergence_is_one_line_with_advice(tmp_path):
    text = small_text(tmp_path)
    msg = one_line_error(run_cli("train", text, *TINY, "--steps", "5", "--optimizer", "sgd", "--lr", "1e38",
                                 "--out", tmp_path / "d"))
    assert "training diverged at step" in msg and "last finite loss" in msg
    assert "--lr (this run used 1e+38)" in msg and "--clip-norm" in msg
    msg = one_line_error(run_cli("task", "sine", "--lr", "1e300", "--no-progress", "--out", tmp_path / "s"))
    assert "training diverged" in msg and "--lr" in msg
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("encoding", ["rot13", "hex", "base64", "zlib"])
def test_encodings_that_do_not_make_text_are_one_line(tmp_path, encoding):
    text = small_text(tmp_path, 200)
    msg = one_line_error(run_cli("train", text, "--encoding", encoding, "--out", tmp_path / "e"))
    assert f"not a text encoding {encoding!r}" in msg
    assert not (tmp_path / "e").exists()


def test_resume_refuses_a_weights_only_file(reference, tmp_path):
    folder, text, _, _ = reference
    msg = one_line_error(run_cli("train", text, *TINY, *STEPS, "--out", tmp_path / "r",
                                 "--resume", folder / "reference" / "model.npz"))
    assert "holds no optimizer or generator state" in msg and "last.npz" in msg
    assert not (tmp_path / "r").exists()


def test_resume_with_a_bad_entry_names_the_file_and_the_entry(reference, tmp_path):
    folder, text, _, _ = reference
    ck = load_checkpoint(folder / "reference" / "last.npz")
    bad = tmp_path / "last.npz"
    fields = dict(params=ck.params, optimizer_state=ck.optimizer_state, rng_state=ck.rng_state, step=ck.step,
                  epoch=ck.epoch, hidden=ck.hidden, config=ck.config, vocab=ck.vocab, history=ck.history,
                  extra=ck.extra)
    fields["hidden"] = np.full_like(ck.hidden, np.nan)
    save_checkpoint(bad, **fields)
    msg = one_line_error(run_cli("train", text, *TINY, *STEPS, "--out", tmp_path / "r", "--resume", bad))
    assert f"{bad}: checkpoint entry 'hidden'" in msg and "non-finite" in msg


def test_eval_refuses_a_model_with_weights_that_are_not_finite(reference, tmp_path):
    folder, text, _, _ = reference
    ck = load_checkpoint(folder / "reference" / "model.npz")
    params = {k: v.copy() for k, v in ck.params.items()}
    params["rnn.weight_hh_l0"][0, 0] = np.nan
    broken = tmp_path / "nan.npz"
    save_checkpoint(broken, params=params, config=ck.config, vocab=ck.vocab, step=ck.step)
    for args in (["eval", broken, text], ["sample", broken, "--length", "5"]):
        msg = one_line_error(run_cli(*args))
        assert "weights are not finite (rnn.weight_hh_l0" in msg and "diverged" in msg


def test_eval_per_token_streams_the_same_rows_and_summary(reference, tmp_path):
    folder, text, _, _ = reference
    model = folder / "reference" / "model.npz"
    res = run_cli("eval", model, text, "--per-token", "-")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(ln) for ln in res.stdout.splitlines()]  # stdout holds only the JSON lines
    assert [r["index"] for r in rows] == list(range(1, len(text.read_text())))
    loss = -sum(r["logprob"] for r in rows) / len(rows)
    summary = run_cli("eval", model, text).stdout
    assert f"loss {loss:.4f} nats/token" in summary and summary.strip() in res.stderr
    assert math.isfinite(loss)


def test_argparse_errors_are_one_line_with_a_hint():
    msg = one_line_error(run_cli("eval"))
    assert "required: MODEL, TEXT_FILE" in msg and msg.endswith("(see 'scratchrnn eval --help')")
    assert one_line_error(run_cli("train", "--bogus")).endswith(
        "unrecognized arguments: --bogus (see 'scratchrnn train --help')")
    assert one_line_error(run_cli("train", "--steps", "x")).endswith("(see 'scratchrnn train --help')")
    assert one_line_error(run_cli()).endswith("(see 'scratchrnn --help')")


def test_help_documents_interrupts_and_resume():
    out = run_cli("train", "--help").stdout
    flat = " ".join(out.split())
    assert "SIGTERM" in flat and "resumes the run" in flat and "model.npz holds no optimizer state" in flat



# -- option values, and what only the library can find, worded with the flags ------------------------
@pytest.mark.parametrize("option, value, message", [
    ("--hidden-size", "0", "argument --hidden-size: must be a positive integer, got 0"),
    ("--num-layers", "2000", "argument --num-layers: must be at most 1,024"),
    ("--steps", "0", "argument --steps: must be a positive integer, got 0"),
    ("--checkpoint-every", "-1", "argument --checkpoint-every: must be an integer >= 0, got -1"),
    ("--seed", "x", "argument --seed: expected an integer, got 'x'"),
    ("--lr", "0", "argument --lr: must be > 0.0, got 0.0"),
    ("--clip-norm", "-1", "argument --clip-norm: must be >= 0.0, got -1.0"),
    ("--val-fraction", "1", "argument --val-fraction: must be in [0, 1), got 1"),
    ("--dropout", "1", "argument --dropout: must be a probability in [0, 1), got 1.0"),
    ("--optimizer", "lbfgs", "argument --optimizer: invalid choice: 'lbfgs'"),
])
def test_train_option_values_are_checked_naming_the_flag(tmp_path, option, value, message):
    out = tmp_path / "run"
    msg = one_line_error(run_cli("train", small_text(tmp_path, 3000), option, value, "--out", out))
    assert msg.startswith(f"scratchrnn: error: {message}") and msg.endswith("(see 'scratchrnn train --help')")
    assert not out.exists()


def test_what_only_the_library_finds_is_worded_with_the_flags(tmp_path):
    text = tmp_path / "short.txt"
    text.write_text("to be or not to be\n" * 150, encoding="utf-8")  # 2850 characters
    out = tmp_path / "run"
    msg = one_line_error(run_cli("train", text, *TINY, "--val-fraction", "0.0001", "--out", out))
    assert msg == ("scratchrnn: error: --val-fraction 0.0001 holds out 0 of the text's 2850 characters, too "
                   "few to validate on (at least 2); use more text or --val-fraction 0 "
                   "(see 'scratchrnn train --help')")
    msg = one_line_error(run_cli("train", text, *TINY, "--batch-size", "1000", "--out", out))
    assert "and --batch-size 1000 with --window 20 needs 21000; use --batch-size <= 122, a shorter" in msg
    msg = one_line_error(run_cli("train", text, *TINY, "--hidden-size", "1000000", "--out", out))
    assert "--hidden-size 1,000,000 needs about" in msg and "hidden_size" not in msg
    assert not out.exists()


def test_beam_search_refuses_the_sampling_options_by_their_flags(reference):
    model = reference[0] / "reference" / "model.npz"
    res = run_cli("sample", model, "--beam", "2", "--temperature", "0.5", "--top-p", "0.9")
    assert one_line_error(res) == ("scratchrnn: error: --beam takes no --temperature or --top-p: beam search "
                                   "is deterministic (see 'scratchrnn sample --help')")
    assert res.stdout == ""


# -- eval --unknown, and --per-token - ---------------------------------------------------------------
def _text_with_accents(model, folder):
    """A text of the model's characters with 'é' three times and 'ï' once, which it has never seen."""
    known = [c for c in load_checkpoint(model).vocab if c.isalpha()][:12]
    path = folder / "accents.txt"
    path.write_text(("".join(known) + " caf\u00e9 na\u00efve\n") * 2 + "caf\u00e9 " + "".join(known) + "\n",
                    encoding="utf-8")
    return path


def test_eval_names_characters_outside_the_vocabulary_and_writes_nothing(reference, tmp_path):
    model = reference[0] / "reference" / "model.npz"
    text = _text_with_accents(model, tmp_path)
    per_token = tmp_path / "tokens.jsonl"
    res = run_cli("eval", model, text, "--per-token", per_token)
    assert one_line_error(res) == (
        "scratchrnn: error: the text has 2 character(s) that are not in the model's vocabulary of "
        f"{len(load_checkpoint(model).vocab)} (5 in all): '\u00e9', '\u00ef'; --unknown skip scores the text "
        "without them (see 'scratchrnn eval --help')")
    assert res.stdout == "" and not per_token.exists()


def test_eval_skips_and_counts_characters_outside_the_vocabulary(reference, tmp_path):
    model = reference[0] / "reference" / "model.npz"
    text = _text_with_accents(model, tmp_path)
    notice = "skipped 5 characters not in the vocabulary: '\u00e9', '\u00ef'"
    res = run_cli("eval", model, text, "--unknown", "skip")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == notice and lines[1].startswith(f"{text}: {len(text.read_text()) - 5 - 1} tokens")
    res = run_cli("eval", model, text, "--unknown", "skip", "--per-token", "-")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]  # every line of stdout is JSON
    content = text.read_text()
    assert len(rows) == len(content) - 5 - 1 and all(content[r["index"]] == r["token"] for r in rows)
    assert notice in res.stderr.splitlines() and lines[1] in res.stderr.splitlines()


def test_eval_per_token_to_stdout_keeps_every_other_line_on_stderr(reference, tmp_path):
    model = reference[0] / "reference" / "model.npz"
    text = _text_with_accents(model, tmp_path)
    for extra in ([], ["--unknown", "skip"], ["--unknown", "error"]):
        res = run_cli("eval", model, text, "--per-token", "-", *extra)
        for line in res.stdout.splitlines():
            assert set(json.loads(line)) == {"index", "token", "id", "logprob"}, (extra, line)
        assert res.stderr.strip(), extra  # the summary, the notice or the error went there


# -- word-level sampling and the unknown token; dropout with one layer -----------------------------------
def test_word_samples_hold_the_unknown_token_only_when_allowed(tmp_path):
    out = tmp_path / "words"
    res = run_cli("train", small_text(tmp_path), "--level", "word", "--max-vocab", "30", *TINY,
                  "--steps", "30", "--out", out)
    assert res.returncode == 0, res.stderr
    sample = ["sample", out / "model.npz", "--length", "300", "--seed", "0"]
    res = run_cli(*sample)
    assert res.returncode == 0 and len(res.stdout.split()) > 100, res.stderr
    assert "UNKNOWN_TOKEN" not in res.stdout
    res = run_cli(*sample, "--allow-unknown")
    assert res.returncode == 0 and "UNKNOWN_TOKEN" in res.stdout


def test_dropout_with_one_layer_warns_on_one_line(tmp_path):
    text = small_text(tmp_path, 3000)
    res = run_cli("train", text, *TINY, "--dropout", "0.3", "--steps", "2", "--out", tmp_path / "one")
    assert res.returncode == 0, res.stderr
    warnings = [line for line in res.stderr.splitlines() if "warning" in line]
    assert warnings == ["scratchrnn: warning: --dropout 0.3 does nothing with --num-layers 1: dropout "
                        "applies only between recurrent layers"]
    assert res.stderr.splitlines()[0] == warnings[0]  # before anything else
    res = run_cli("train", text, *TINY, "--dropout", "0.3", "--num-layers", "2", "--steps", "2",
                  "--out", tmp_path / "two")
    assert res.returncode == 0 and "warning" not in res.stderr, res.stderr
    assert "with --num-layers 1 it does nothing" in " ".join(run_cli("train", "--help").stdout.split())
