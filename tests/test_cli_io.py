"""How the command line words errors and writes its streams and files: a full disk, a file-size
limit, a name too long, a closed or full stdout and a broken pipe are one line (or quiet), never
a traceback; output paths that are devices are written, not replaced."""

from __future__ import annotations

import errno
import os
import resource
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from cli_helpers import ENV, TINY, command, one_line_error, run_cli, small_text
from scratchrnn.cli_io import error_line, os_error_line, output_file, writing
from scratchrnn.train import TrainingDiverged

FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not (FULL.exists() and FULL.is_char_device()), reason="no /dev/full")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    text = small_text(folder, 3000)
    res = run_cli("train", text, *TINY, "--steps", "5", "--out", folder / "run")
    assert res.returncode == 0, res.stderr
    return folder / "run" / "model.npz", text


@needs_dev_full
def test_a_full_disk_is_one_line_naming_the_file(model):
    path, text = model
    for args in (["eval", path, text, "--per-token", FULL], ["trace", "--json", FULL]):
        assert one_line_error(run_cli(*args)) == (
            "scratchrnn: error: cannot write /dev/full: No space left on device")
    assert FULL.is_char_device()  # written into, never renamed over
    assert "not a regular file" in one_line_error(run_cli("export", path, "-o", FULL))
    assert FULL.is_char_device()


@needs_dev_full
def test_a_full_stdout_is_one_line(model):
    path, text = model
    with open(FULL, "w") as full:
        for args in (["eval", path, text], ["sample", path, "--length", "5"]):
            res = subprocess.run(command(*args), stdout=full, stderr=subprocess.PIPE, text=True, env=ENV)
            assert one_line_error(res) == (
                "scratchrnn: error: cannot write standard output: No space left on device")


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))


def test_a_file_size_limit_is_one_line_and_leaves_nothing(tmp_path):
    text = small_text(tmp_path)
    out = tmp_path / "run"
    res = subprocess.run(command("train", text, "--hidden-size", "64", "--num-layers", "1", "--steps", "2",
                                 "--window", "10", "--no-progress", "--out", out),
                         capture_output=True, text=True, preexec_fn=_limit_file_size, env=ENV)
    msg = one_line_error(res)
    assert msg.startswith(f"scratchrnn: error: cannot write {out}/") and msg.endswith("File too large")
    assert not out.exists()  # the run had no checkpoint: what it made is gone


def test_a_name_too_long_is_one_line(tmp_path, model):
    path, text = model
    long = tmp_path / ("x" * 300)
    res = run_cli("train", text, *TINY, "--steps", "2", "--out", long)
    assert "File name too long" in one_line_error(res)
    assert "File name too long" in one_line_error(run_cli("eval", path, text, "--per-token", long))
    assert "File name too long" in one_line_error(run_cli("eval", path, long))


def test_a_closed_stdout_is_one_line(model, tmp_path):
    path, text = model
    closed = dict(stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    for args in (["sample", path, "--length", "5"], ["eval", path, text]):
        res = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *command(*args)], **closed)
        assert one_line_error(res) == ("scratchrnn: error: cannot write standard output: "
                                       "it was closed before the program started")
    out = tmp_path / "quiet"  # training's files are written before its report fails
    res = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh",
                          *command("train", text, *TINY, "--steps", "3", "--out", out)], **closed)
    assert "cannot write standard output" in one_line_error(res)
    assert (out / "model.npz").exists()


def test_a_broken_pipe_is_quiet(model):
    path, _ = model
    proc = subprocess.Popen(command("sample", path, "--length", "200000"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV)
    proc.stdout.read(10)
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and err == ""


def test_os_error_lines():
    assert os_error_line(OSError(errno.ENOSPC, "No space left on device", "runs/x/model.npz")) == (
        "cannot write runs/x/model.npz: No space left on device")
    assert os_error_line(OSError(errno.ENOENT, "No such file or directory", "a.txt")) == (
        "a.txt: No such file or directory")
    assert os_error_line(OSError(errno.EXDEV, "Invalid cross-device link", "/a/.t.tmp", None, "/b/t")) == (
        "/b/t: Invalid cross-device link")  # a rename names its target
    assert os_error_line(OSError(errno.EFBIG, "File too large")) == "cannot write: File too large"
    assert os_error_line(FileNotFoundError("no such file: 'x'")) == "no such file: 'x'"


def test_error_lines_of_what_a_user_can_cause_and_none_for_bugs():
    assert error_line(ValueError("first\nsecond")) == "first"
    assert error_line(LookupError("unknown encoding: x")) == "unknown encoding: x"
    line = error_line(TrainingDiverged(7, 1.5), None)
    assert line.startswith("training diverged at step 7: non-finite loss (last finite loss: 1.5); lower")
    assert error_line(TypeError("a bug")) is None and error_line(KeyError("k")) is None


def test_writing_names_the_file_in_an_error_that_names_none(tmp_path):
    with pytest.raises(OSError, match="No space") as info, writing(tmp_path / "f.npz"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.filename == str(tmp_path / "f.npz") and info.value.errno == errno.ENOSPC
    with pytest.raises(FileNotFoundError) as info, writing(tmp_path / "f.npz"):
        raise FileNotFoundError(errno.ENOENT, "gone", "other")
    assert info.value.filename == "other"  # an error that names its own file keeps it


def test_output_file_is_atomic_for_regular_files(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), output_file(path) as f:
        f.write("new")
        raise RuntimeError("stopped half way")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
    with output_file(path) as f:
        f.write("new")
    assert path.read_text() == "new"


def test_output_file_writes_into_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    with output_file(fifo) as f:
        f.write("through the pipe\n")
    assert reader.communicate(timeout=10)[0] == "through the pipe\n"
    assert stat.S_ISFIFO(fifo.stat().st_mode)
