"""The train, sample and eval commands in fresh processes: interrupts at random points leave a run
that resumes bit for bit (or nothing), runs started together get their own folders, and every
reproduction of a failure is one line with exit status 2."""

from __future__ import annotations

import json
import math
import re
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
    *log_lines, line = err.splitlines()
    assert log_lines[0] == f"training for 100000 steps, writing to {out}"
    assert all(ln.startswith("step ") for ln in log_lines[1:])  # stderr is no terminal: log lines
    step = load_checkpoint(out / "last.npz").step
    assert line.startswith(f"scratchrnn: SIGINT at step {step}: saved {out / 'last.npz'}") and step >= 1
    assert line.endswith(f"resume with: scratchrnn train {text} --resume {out / 'last.npz'}")
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
    msg = one_line_error(run_cli("train", text, "--resume", bad, "--more-steps", "10"))
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
    assert "counting those a resumed run has done" in flat and "--more-steps N" in flat
    assert "--time-limit MINUTES" in flat and "--log-every N" in flat and "--init-from MODEL" in flat


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
    ("--time-limit", "0", "argument --time-limit: must be > 0.0, got 0.0"),
    ("--time-limit", "inf", "argument --time-limit: must be finite, got inf"),
    ("--time-limit", "1e307", "argument --time-limit: must be at most 2.996e+306 minutes, got 1e307"),
    ("--log-every", "-1", "argument --log-every: must be an integer >= 0, got -1"),
    ("--more-steps", "0", "argument --more-steps: must be a positive integer, got 0"),
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


def test_beam_search_stops_at_the_end_token_given_by_eos(reference):
    from scratchrnn.cli import build_parser

    model = reference[0] / "reference" / "model.npz"
    res = run_cli("sample", model, "--beam", "2", "--length", "400", "--eos", "e", "--prime", "A")
    assert res.returncode == 0, res.stderr
    continuation = res.stdout[len("A"):-1]  # the prime, then the continuation and the command's line break
    assert res.stdout.startswith("A") and continuation.endswith("e") and continuation.count("e") == 1
    assert build_parser().parse_args(["sample", "m.npz", "--eos", "\\n"]).eos == "\n"  # cli_args.token_text
    for args, words in [(("--eos", "\\n"), "--eos needs --beam: only beam search stops at an end token"),
                        (("--beam", "2", "--eos", "\u00e9"),
                         "the end token '\u00e9' is not in the model's vocabulary")]:
        res = run_cli("sample", model, *args)
        assert words in one_line_error(res) and res.stdout == ""


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
    # not typed, the default recipe's dropout is dropped from a one-layer model without a warning
    res = run_cli("train", text, *TINY, "--steps", "2", "--out", tmp_path / "quiet")
    assert res.returncode == 0 and "warning" not in res.stderr, res.stderr
    assert load_checkpoint(tmp_path / "quiet" / "model.npz").config["model"]["dropout"] == 0.0
    assert "with --num-layers 1 it does nothing" in " ".join(run_cli("train", "--help").stdout.split())


# -- log lines, the time limit, the closing lines ----------------------------------------------------
LOG_LINE = re.compile(r"step (\d+)/(\d+)  loss \d+\.\d{4}  val (-|\d+\.\d{4}( \(best\))?)  [\d,]+ tokens/s  "
                      r"lr [\d.e+-]+  elapsed \d+:\d\d:\d\d")


def _records(log) -> list[dict]:
    return [json.loads(ln) for ln in log.read_text().splitlines()]


def test_log_lines_come_every_n_steps_and_at_each_validation(tmp_path):
    text = small_text(tmp_path)
    res = run_cli("train", text, *TINY, "--steps", "20", "--eval-every", "8", "--log-every", "5",
                  "--out", tmp_path / "r")
    assert res.returncode == 0, res.stderr
    first, *lines = res.stderr.splitlines()
    assert first == f"training for 20 steps, writing to {tmp_path / 'r'}"
    matches = [LOG_LINE.fullmatch(ln) for ln in lines]
    assert all(matches), lines
    assert [int(m.group(1)) for m in matches] == [5, 8, 10, 15, 16, 20]
    assert {m.group(2) for m in matches} == {"20"}
    assert matches[0].group(3) == "-" and matches[1].group(3).endswith("(best)")  # none yet; the first
    evals = [r["val_loss"] for r in _records(tmp_path / "r" / "log.jsonl") if "val_loss" in r]
    assert matches[1].group(3).startswith(f"{evals[0]:.4f}") and matches[2].group(3) == f"{evals[0]:.4f}"
    quiet = run_cli("train", text, *TINY, "--steps", "20", "--log-every", "0", "--out", tmp_path / "q")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_the_time_limit_stops_within_one_step_and_the_run_resumes_bit_for_bit(tmp_path):
    text = small_text(tmp_path)
    plan = ["--steps", "3000", "--eval-every", "500"]  # a few seconds of training
    res = run_cli("train", text, *TINY, *plan, "--out", tmp_path / "straight")
    assert res.returncode == 0, res.stderr
    weights = load_checkpoint(tmp_path / "straight" / "model.npz").params
    out = tmp_path / "limited"
    res = run_cli("train", text, *TINY, *plan, "--time-limit", "0.01", "--out", out)
    assert res.returncode == 0, res.stderr
    steps = [r for r in _records(out / "log.jsonl") if "loss" in r]
    assert 2 <= len(steps) < 3000
    assert steps[-1]["elapsed"] >= 0.6 > steps[-2]["elapsed"]  # the step that passed the limit ended it
    assert load_checkpoint(out / "last.npz").step == len(steps)
    assert f"stopped at the time limit of 0.01 minutes after step {len(steps)}" in res.stdout
    assert (out / "model.npz").exists()
    assert f"wrote {out / 'last.npz'}: the run at step {len(steps)}" in res.stdout
    command_line = res.stdout.split("continue with: ", 1)[1].splitlines()[0]
    assert command_line == f"scratchrnn train {text} --resume {out / 'last.npz'} --time-limit 0.01"
    again = subprocess.run(command(*shlex.split(command_line)[1:]), capture_output=True, text=True,
                           check=False, env=ENV)  # the printed command: on, for the same time
    assert again.returncode == 0, again.stderr
    assert load_checkpoint(out / "last.npz").step > len(steps)
    if "continue with: " in again.stdout:  # the rest in one go
        rest = run_cli("train", text, "--resume", out / "last.npz")
        assert rest.returncode == 0, rest.stderr
    final = load_checkpoint(out / "model.npz").params
    assert all(final[k].tobytes() == v.tobytes() for k, v in weights.items())
    logged = [r["step"] for r in _records(out / "log.jsonl") if "loss" in r]
    assert logged == list(range(1, 3001))  # one log, each step once
    for minutes in ("0", "-1", "nan"):
        msg = one_line_error(run_cli("train", text, *TINY, "--time-limit", minutes, "--out", tmp_path / "x"))
        assert msg.startswith("scratchrnn: error: argument --time-limit: must be "), msg
    assert not (tmp_path / "x").exists()


def test_the_closing_lines_say_what_was_written_and_where(tmp_path):
    text = small_text(tmp_path)
    res = run_cli("train", text, *TINY, "--steps", "10", "--val-fraction", "0", "--out", tmp_path / "nv")
    assert res.returncode == 0, res.stderr
    assert "no validation ran (--val-fraction is 0), so no best.npz was written" in res.stdout
    assert not any(ln.startswith("wrote") and "best.npz" in ln for ln in res.stdout.splitlines())
    assert not (tmp_path / "nv" / "best.npz").exists()
    res = run_cli("train", text, *TINY, "--steps", "10", "--out", tmp_path / "v")
    out = tmp_path / "v"
    assert res.stdout.splitlines()[-4:] == [
        f"wrote {out / 'model.npz'}: the final weights (for sample, eval, export and --init-from)",
        f"wrote {out / 'last.npz'}: the run at step 10, for --resume",
        f"wrote {out / 'best.npz'}: the weights of the best validation, at step 10",
        f"wrote {out / 'log.jsonl'}: a record per step and validation",
    ]
    assert res.stdout.startswith(f"trained a char-level RNN on {text}: steps 1-10 of 10")


# -- resume: the checkpoint's settings, its folder and log, a rate changed on purpose ---------------
@pytest.fixture(scope="module")
def halfway(tmp_path_factory):
    """(folder, text, weights of a straight 60-step run, the folder of the same run stopped at 40)."""
    folder = tmp_path_factory.mktemp("halfway")
    text = small_text(folder)
    plan = ["--eval-every", "20", "--lr", "0.003"]
    assert run_cli("train", text, *TINY, *plan, "--steps", "60", "--out", folder / "straight").returncode == 0
    assert run_cli("train", text, *TINY, *plan, "--steps", "40", "--out", folder / "run").returncode == 0
    return folder, text, load_checkpoint(folder / "straight" / "model.npz").params, folder / "run"


def _copy_run(run, to):
    import shutil

    shutil.copytree(run, to)
    return to


def test_resume_takes_its_architecture_text_and_folder_from_the_checkpoint(halfway, tmp_path):
    _, text, weights, run = halfway
    run = _copy_run(run, tmp_path / "run")
    res = run_cli("train", "--resume", run / "last.npz", "--more-steps", "20", cwd=tmp_path)  # nothing else
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"trained a char-level RNN on {text}: steps 41-60 of 60")
    assert res.stderr.splitlines()[0] == f"resuming {run} at step 40 of 60"
    assert not (tmp_path / "runs").exists()  # no new folder: the run goes on in its own
    final = load_checkpoint(run / "model.npz").params
    assert all(final[k].tobytes() == v.tobytes() for k, v in weights.items())  # as if it never stopped
    records = _records(run / "log.jsonl")
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 61))
    assert {r["lr"] for r in records if "loss" in r} == {0.003}  # the run's own rate, --lr not typed
    assert not any("event" in r for r in records)
    (run / "model.npz").unlink()  # as an interrupt after the last step leaves a run
    done = run_cli("train", "--resume", run / "last.npz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"the run in {run} is complete at step 60: nothing to train "
        "(--more-steps N trains it N steps further)",
        f"wrote {run / 'model.npz'}: the final weights (for sample, eval, export and --init-from)"]
    again = load_checkpoint(run / "model.npz").params
    assert all(again[k].tobytes() == v.tobytes() for k, v in weights.items())


def test_flags_that_contradict_the_checkpoint_name_both_values(halfway, tmp_path):
    _, text, _, run = halfway
    run = _copy_run(run, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    msg = one_line_error(run_cli("train", text, "--resume", run / "last.npz", "--hidden-size", "128",
                                 "--cell", "gru", "--batch-size", "8", "--more-steps", "5"))
    assert msg == ("scratchrnn: error: --cell gru contradicts the checkpoint's cell rnn; --hidden-size 128 "
                   "contradicts the checkpoint's hidden size 16; --batch-size 8 contradicts the checkpoint's "
                   "batch size 4 (a resumed run takes them from its checkpoint: leave them out) "
                   "(see 'scratchrnn train --help')")
    for words, words_in_msg in (
            (["--steps", "30"], "--steps 30 is not beyond the checkpoint's step 40: --steps is the run's"),
            (["--steps", "50", "--more-steps", "5"], "give --steps (the run's total) or --more-steps"),
            (["--more-steps", "0"], "argument --more-steps: must be a positive integer, got 0"),
            (["--more-steps", "5", "--out", tmp_path / "other"], "is not the folder of the run that"),
            (["--more-steps", "5", "--init-from", run / "model.npz"], "give --resume (continue a run) or"),
            (["--more-steps", "5", "--extend-vocab"], "a resumed run keeps its vocabulary")):
        assert words_in_msg in one_line_error(run_cli("train", text, "--resume", run / "last.npz", *words))
    other = tmp_path / "other.txt"
    other.write_text(text.read_text()[::-1], encoding="utf-8")
    msg = one_line_error(run_cli("train", other, "--resume", run / "last.npz", "--more-steps", "5"))
    assert f"{other} is not the text the run was trained on ({text})" in msg
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # nothing written
    assert not (tmp_path / "other").exists()
    msg = one_line_error(run_cli("train", text, *TINY, "--more-steps", "5", "--out", tmp_path / "new"))
    assert "--more-steps adds steps to a run that --resume continues" in msg
    assert not (tmp_path / "new").exists()


def test_a_rate_changed_on_resume_is_used_logged_and_kept(halfway, tmp_path):
    _, text, _, run = halfway
    run = _copy_run(run, tmp_path / "run")
    res = run_cli("train", text, "--resume", run / "last.npz", "--more-steps", "10", "--lr", "1e-4")
    assert res.returncode == 0, res.stderr
    assert (f"scratchrnn: the learning rate goes from 0.003 to 0.0001 at step 41 (--lr), as logged in "
            f"{run / 'log.jsonl'}") in res.stderr.splitlines()
    records = _records(run / "log.jsonl")
    assert [r for r in records if "event" in r] == [{"step": 40, "event": "lr", "from": 0.003, "to": 0.0001}]
    assert [r["lr"] for r in records if "loss" in r] == [0.003] * 40 + [0.0001] * 10
    again = run_cli("train", text, "--resume", run / "last.npz", "--more-steps", "5", "--lr", "1e-4")
    assert again.returncode == 0 and "learning rate goes" not in again.stderr  # the same rate: no change
    rest = run_cli("train", text, "--resume", run / "last.npz", "--more-steps", "5")
    assert rest.returncode == 0, rest.stderr
    records = _records(run / "log.jsonl")
    assert [r["lr"] for r in records if "loss" in r][-10:] == [0.0001] * 10  # the run keeps its new rate
    assert len([r for r in records if "event" in r]) == 1


# -- fine-tuning ------------------------------------------------------------------------------------
def test_init_from_fine_tunes_from_the_files_weights_in_a_new_folder(reference, tmp_path):
    from scratchrnn.lm import load_language_model
    from scratchrnn.losses import cross_entropy
    from scratchrnn.train import TokenStream

    folder, text, _, _ = reference
    model = folder / "reference" / "model.npz"
    new_text = "\n".join(reversed(text.read_text().splitlines())) + "\n"
    new = tmp_path / "new.txt"
    new.write_text(new_text, encoding="utf-8")
    out = tmp_path / "tuned"
    res = run_cli("train", new, "--init-from", model, "--steps", "5", "--batch-size", "4", "--window", "20",
                  "--no-progress", "--out", out)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"trained a char-level RNN on {new}: steps 1-5 of 5")
    tuned = load_checkpoint(out / "last.npz")
    assert tuned.config["model"] == load_checkpoint(model).config["model"]  # the model's architecture
    assert tuned.config["lm"]["fit"]["source"]["init_from"] == str(model)
    first = [r for r in _records(out / "log.jsonl") if "loss" in r][0]
    # the first step's loss is the file's model's loss on the first window: step 0 had its weights
    lm = load_language_model(model)
    ids = lm.vocab.encode(list(new_text))
    stream = TokenStream(ids[: len(ids) - int(len(ids) * 0.1)], batch_size=4, window=20)
    x, y = stream.window_at(0)
    logits, _, _ = lm.model.forward(x)
    assert first["step"] == 1 and first["loss"] == float(cross_entropy(logits, y)[0])
    assert sorted(p.name for p in (folder / "reference").iterdir()) == [
        "best.npz", "last.npz", "log.jsonl", "model.npz"]  # the model's own run is left alone


def test_init_from_names_new_characters_or_adds_them(reference, tmp_path):
    folder, text, _, _ = reference
    model = folder / "reference" / "model.npz"
    new = tmp_path / "new.txt"
    new.write_text(text.read_text() + "\u00e9t\u00e9 \u20ac\n", encoding="utf-8")
    msg = one_line_error(run_cli("train", new, "--init-from", model, "--steps", "2", "--batch-size", "4",
                                 "--window", "20", "--out", tmp_path / "no"))
    assert f"{new} has 2 character(s) that the vocabulary of {model}" in msg
    assert "lacks: '\u00e9', '\u20ac'; --extend-vocab adds them" in msg and not (tmp_path / "no").exists()
    res = run_cli("train", new, "--init-from", model, "--extend-vocab", "--steps", "2", "--batch-size", "4",
                  "--window", "20", "--no-progress", "--out", tmp_path / "yes")
    assert res.returncode == 0, res.stderr
    old = load_checkpoint(model).vocab
    assert load_checkpoint(tmp_path / "yes" / "model.npz").vocab == sorted(old + ["\u00e9", "\u20ac"])


def test_init_from_refuses_another_level_and_unreadable_files(reference, tmp_path):
    folder, text, _, _ = reference
    model = folder / "reference" / "model.npz"
    cases = [
        (["--init-from", model, "--level", "word"], "--level word contradicts the model's level char"),
        (["--init-from", model, "--hidden-size", "64"], "--hidden-size 64 contradicts the model's hidden"),
        (["--init-from", text], "is not a scratchrnn checkpoint"),
        (["--init-from", tmp_path / "missing.npz"], "missing.npz: scratchrnn checkpoint not found"),
        (["--extend-vocab"], "--extend-vocab adds the text's new tokens to the model of --init-from"),
    ]
    for words, words_in_msg in cases:
        msg = one_line_error(run_cli("train", text, *words, "--out", tmp_path / "x"))
        assert words_in_msg in msg, msg
        assert not (tmp_path / "x").exists()



def test_a_signal_stops_a_run_after_a_step_never_before_the_first(monkeypatch, tmp_path):
    """A signal that comes while training is set up still lets the first step run, so a run that
    saves a checkpoint has trained (an interrupt in start-up leaves nothing, see the tests above)."""
    from types import SimpleNamespace

    from scratchrnn import cli_lm
    from scratchrnn.runs import SIGNAL_GUARD

    watch = cli_lm._Watch(lines=False, log_path=tmp_path / "log.jsonl")
    trainer = SimpleNamespace(should_stop=False)
    monkeypatch.setattr(SIGNAL_GUARD, "received", signal.SIGINT)
    watch("start", trainer, {"step": 0, "total": 10, "resumed": False})
    assert not trainer.should_stop
    watch("step", trainer, {"step": 1})
    assert trainer.should_stop


# -- the training options ------------------------------------------------------------------------
def test_the_training_flags_reach_the_run(tmp_path):
    text, out = small_text(tmp_path), tmp_path / "run"
    res = run_cli("train", text, *TINY, "--steps", "30", "--eval-every", "10", "--lr", "0.01",
                  "--lr-schedule", "cosine", "--warmup", "5", "--min-lr", "0.001", "--clip-value", "0.5",
                  "--optimizer", "adamw", "--weight-decay", "0.02", "--embedding-dim", "16", "--tie-weights",
                  "--val-tokens", "300", "--sample-every", "15", "--sample-length", "12", "--out", out)
    assert res.returncode == 0, res.stderr
    log = _records(out / "log.jsonl")
    steps = [r for r in log if "loss" in r]
    for r in steps:  # the documented formula: warmup, then cosine from 0.01 to 0.001 over 25 steps
        n = r["step"] - 1
        want = 0.01 * (n + 1) / 5 if n < 5 else 0.001 + 0.009 * (1 + math.cos(math.pi * (n - 5) / 25)) / 2
        assert r["lr"] == pytest.approx(want, rel=1e-12), r["step"]
    samples = [r for r in log if r.get("event") == "sample"]
    assert [r["step"] for r in samples] == [15, 30] and all(len(r["text"]) == 12 for r in samples)
    assert [ln for ln in res.stderr.splitlines() if ln.startswith("sample at step ")] == [
        f"sample at step {r['step']}: {r['text']!r}" for r in samples]
    last = load_checkpoint(out / "last.npz")
    train, fit = last.config["train"], last.config["lm"]["fit"]
    assert (train["lr_schedule"], train["warmup"], train["clip_value"], train["sample_every"]) == (
        "cosine", 5, 0.5, 15)
    assert (fit["weight_decay"], fit["val_tokens"]) == (0.02, 300)
    assert last.config["model"]["tie_weights"] and "head.weight" not in last.params
    assert last.optimizer_state["hyper"]["weight_decay"] == 0.02


def test_bad_training_flags_are_one_line_naming_both_numbers_and_leave_nothing(tmp_path):
    text = small_text(tmp_path)
    cases = [
        (["--steps", "40", "--lr-schedule", "cosine", "--warmup", "40"],
         "--warmup 40 is not shorter than the run of 40 steps (--steps)"),
        (["--embedding-dim", "8", "--tie-weights"],
         "--tie-weights needs --embedding-dim equal to the head's input, the top layer's output "
         "(--hidden-size 16), got --embedding-dim 8 and --hidden-size 16"),
        (["--optimizer", "rprop", "--weight-decay", "0.1"],
         "the rprop optimizer has no option '--weight-decay'; the optimizers that have it: sgd, momentum"),
        (["--val-tokens", "1"], "argument --val-tokens: must be at least 2"),
        (["--lr-gamma", "1.5"], "argument --lr-gamma: must be in (0, 1), got 1.5"),
        (["--warmup", "-2"], "argument --warmup: must be an integer >= 0, got -2"),
        (["--patience", "0"], "argument --patience: must be a positive integer, got 0"),
        (["--sample-every", "x"], "argument --sample-every: expected an integer, got 'x'"),
        (["--clip-value", "0"], "argument --clip-value: must be > 0.0, got 0.0"),
        (["--min-lr=-1e-3"], "argument --min-lr: must be >= 0.0, got -0.001"),
    ]
    for i, (flags, words) in enumerate(cases):
        res = run_cli("train", text, *TINY, "--steps", "5", *flags, "--out", tmp_path / f"r{i}")
        assert words in one_line_error(res), flags
        assert not (tmp_path / f"r{i}").exists(), flags


def test_a_resumed_run_keeps_its_schedule_and_refuses_another(tmp_path):
    text, out = small_text(tmp_path), tmp_path / "run"
    plan = ["--eval-every", "10", "--lr-schedule", "step", "--lr-step-size", "7", "--lr-gamma", "0.5"]
    assert run_cli("train", text, *TINY, "--steps", "20", *plan, "--out", out).returncode == 0
    res = run_cli("train", "--resume", out / "last.npz", "--lr-schedule", "cosine")
    assert ("--lr-schedule cosine contradicts the checkpoint's learning-rate schedule step"
            in one_line_error(res))
    res = run_cli("train", "--resume", out / "last.npz", "--more-steps", "10", "--no-progress")
    assert res.returncode == 0, res.stderr
    steps = [r for r in _records(out / "log.jsonl") if "loss" in r]
    assert [r["step"] for r in steps] == list(range(1, 31))
    assert [r["lr"] for r in steps] == pytest.approx([0.002 * 0.5 ** ((s - 1) // 7) for s in range(1, 31)])
