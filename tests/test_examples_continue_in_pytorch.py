"""examples/continue_in_pytorch.py: a scratchrnn run trained on in PyTorch with
DistributedDataParallel over 2 processes on the loopback address ends where one process on the
whole batch does, its learning-rate schedule going on, and writes a checkpoint that scratchrnn
sample and eval read and that scratchrnn train --resume continues."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import ENV, run_cli, small_text
from scratchrnn.io import load_checkpoint

pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "continue_in_pytorch.py"


def run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          check=False, env=ENV, timeout=120)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("continue")
    text = small_text(folder, 5000)
    options = ["--cell", "lstm", "--hidden-size", "16", "--window", "20", "--batch-size", "4", "--dropout",
               "0", "--steps", "20", "--optimizer", "adam", "--seed", "0", "--no-progress", "--lr-schedule",
               "step", "--warmup", "2", "--lr-step-size", "3"]
    res = run_cli("train", text, *options, "--out", folder / "run")
    assert res.returncode == 0, res.stderr
    return folder, text, folder / "run" / "last.npz"


def test_two_processes_end_where_one_does_and_sample_and_eval_read_the_result(trained):
    folder, text, start = trained
    outs = {}
    for n in (1, 2):
        outs[n] = folder / f"continued-{n}.npz"
        res = run_script(start, text, "--steps", 4, "--nprocs", n, "--batch-size", 4, "--window", 20,
                         "--out", outs[n])
        assert res.returncode == 0, (res.stdout, res.stderr)
        wrote = f"wrote {outs[n]} ({n} processes, 4 steps; resume it with scratchrnn train --resume)"
        assert wrote in res.stdout
    before, one, two = (load_checkpoint(p) for p in (start, outs[1], outs[2]))
    assert one.step == two.step == before.step + 4 and one.optimizer_state["step"] == before.step + 4
    assert one.config == before.config and one.vocab == before.vocab
    for k, p in one.params.items():
        np.testing.assert_allclose(two.params[k], p, rtol=0, atol=1e-5, err_msg=k)  # float32
        assert np.max(np.abs(p - before.params[k])) > 1e-4, k  # and they did train
    for k, m in one.optimizer_state["buffers"]["exp_avg"].items():
        np.testing.assert_allclose(two.optimizer_state["buffers"]["exp_avg"][k], m, rtol=0, atol=1e-6)
    rates = [c.extra["scheduler"] for c in (before, one, two)]
    assert rates[1] == rates[2] and rates[1]["last_step"] == rates[0]["last_step"] + 4 == 24
    assert rates[1]["lr"] == pytest.approx(rates[0]["base_lr"] * 0.5 ** (22 // 3), rel=1e-12)  # step 24
    assert run_cli("sample", outs[2], "--length", "20", "--seed", "0").returncode == 0
    res = run_cli("eval", outs[2], text)
    assert res.returncode == 0 and "perplexity" in res.stdout
    res = run_cli("train", "--resume", outs[2], "--more-steps", "2", "--no-progress")
    assert res.returncode == 0, res.stderr
    resumed = load_checkpoint(folder / "last.npz")
    assert resumed.step == 26 and resumed.extra["scheduler"]["last_step"] == 26


def test_bad_arguments_are_refused_before_anything_starts(trained, tmp_path):
    _, text, start = trained
    res = run_script(start, text, "--out", tmp_path / "none" / "x.npz")
    assert res.returncode == 2 and "the folder" in res.stderr and "does not exist" in res.stderr
    res = run_script(start, text, "--nprocs", 3, "--batch-size", 4, "--out", tmp_path / "x.npz")
    assert res.returncode != 0 and "--batch-size 4 is not a multiple of --nprocs 3" in res.stderr
    assert not (tmp_path / "x.npz").exists()
