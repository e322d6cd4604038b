"""scratchrnn.io.atomic: a failed or killed write leaves the old file and no temporary file behind."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from io_helpers import assert_same_array
from scratchrnn.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from scratchrnn.io.checkpoint import load_checkpoint, save_checkpoint


def _fail_on_second_member(monkeypatch):
    real = np.lib.format.write_array
    calls = []

    def write_array(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            fp.write(b"\x00" * 1000)  # part of a member is already on disk when it fails
            raise OSError("disk full")
        return real(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_array)


def _fail_fsync(monkeypatch):
    def fsync(fd):
        raise OSError("I/O error")
    monkeypatch.setattr(os, "fsync", fsync)


def _fail_replace(monkeypatch):
    def replace(src, dst):
        raise OSError("cross-device link")
    monkeypatch.setattr(os, "replace", replace)


def _interrupt_write(monkeypatch):
    def write_array(fp, array, *args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(np.lib.format, "write_array", write_array)


@pytest.mark.parametrize("inject, error", [
    (_fail_on_second_member, OSError),
    (_fail_fsync, OSError),
    (_fail_replace, OSError),
    (_interrupt_write, KeyboardInterrupt),
], ids=["write", "fsync", "replace", "interrupt"])
@pytest.mark.parametrize("existing", [True, False], ids=["over-old", "new-file"])
def test_failed_save_leaves_old_checkpoint_and_no_temp_file(tmp_path, monkeypatch, inject, error, existing):
    path = tmp_path / "last.npz"
    if existing:
        save_checkpoint(path, params={"w": np.full(5, 1.0)}, step=1)
        before = path.read_bytes()
    with monkeypatch.context() as patch:
        inject(patch)
        with pytest.raises(error):
            save_checkpoint(path, params={"w": np.full(5, 2.0), "v": np.ones(3)}, step=2)
    if existing:
        assert [p.name for p in tmp_path.iterdir()] == ["last.npz"]
        assert path.read_bytes() == before
        assert load_checkpoint(path).step == 1
    else:
        assert list(tmp_path.iterdir()) == []


def test_atomic_path_success_and_failure(tmp_path):
    target = tmp_path / "history.json"
    with atomic_path(target) as temp:
        assert temp.parent == tmp_path and temp.exists() and temp.name.endswith(".tmp")
        assert not target.exists()  # nothing visible until the block ends
        temp.write_text("one")
    assert target.read_text() == "one" and not temp.exists()
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as temp:
            temp.write_text("two, half writ")
            raise RuntimeError("boom")
    assert target.read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]


def test_atomic_write_helpers_and_permissions(tmp_path):
    reference = tmp_path / "reference"
    reference.write_bytes(b"")  # created by open(): the umask decides its mode
    got = atomic_write_bytes(tmp_path / "b.bin", b"\x00\xffdata")
    assert got.read_bytes() == b"\x00\xffdata"
    assert atomic_write_text(tmp_path / "t.txt", "héllo\n").read_bytes() == "héllo\n".encode()
    assert got.stat().st_mode == reference.stat().st_mode


def test_atomic_path_refuses_missing_folder_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder does not exist"):
        atomic_write_bytes(tmp_path / "missing" / "x.bin", b"x")
    (tmp_path / "d").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        save_checkpoint(tmp_path / "d", params={})
    assert list((tmp_path / "d").iterdir()) == []


_REWRITER = r"""
import sys
import numpy as np
from scratchrnn.io import save_checkpoint

path, version, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
big = np.random.default_rng(seed).standard_normal(size, dtype=np.float32)  # (size,)
print("ready", flush=True)
while True:
    head = np.full(256, version, dtype=np.int64)  # (256,)
    save_checkpoint(path, params={"head": head, "big": big, "tail": head.copy()}, step=version)
    version += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_while_rewriting_leaves_a_complete_checkpoint(tmp_path):
    size, seed = 6_000_000, 11  # 24 MB of float32: a save takes long enough to be caught halfway
    big = np.random.default_rng(seed).standard_normal(size, dtype=np.float32)  # (size,)
    path = tmp_path / "last.npz"
    head = np.zeros(256, dtype=np.int64)  # (256,)
    save_checkpoint(path, params={"head": head, "big": big, "tail": head}, step=0)
    delays = np.random.default_rng(2024).uniform(0.05, 0.5, size=5)  # seconds after the writer is ready
    newest, caught_halfway = 0, 0
    for delay in delays:
        writer = subprocess.Popen(
            [sys.executable, "-c", _REWRITER, str(path), str(newest + 1), str(size), str(seed)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            ready = writer.stdout.readline()
            assert ready == "ready\n", writer.communicate()[1]
            time.sleep(float(delay))
            assert writer.poll() is None, writer.communicate()[1]
            os.kill(writer.pid, signal.SIGKILL)
            assert writer.wait() == -signal.SIGKILL
        finally:
            if writer.poll() is None:
                writer.kill()
            writer.communicate()
        leftovers = [p for p in tmp_path.iterdir() if p != path]
        caught_halfway += bool(leftovers)
        for p in leftovers:  # what a killed writer leaves: only ever a temporary file
            assert p.name.startswith(".last.npz.") and p.name.endswith(".tmp")
            p.unlink()
        ckpt = load_checkpoint(path)
        assert ckpt.step >= newest  # never an older version, never a mix
        np.testing.assert_array_equal(ckpt.params["head"], np.full(256, ckpt.step))
        np.testing.assert_array_equal(ckpt.params["tail"], np.full(256, ckpt.step))
        assert_same_array(ckpt.params["big"], big)
        newest = ckpt.step
    assert newest > 0  # the writers did replace the file
    assert caught_halfway > 0  # and at least one kill landed in the middle of a save
