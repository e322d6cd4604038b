"""scratchrnn.io.atomic: a failed or killed write leaves the old file and no temporary file behind."""

import os
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from io_helpers import assert_same_array
from scratchrnn.io.atomic import STALE_TEMP_SECONDS, atomic_path, atomic_write_bytes, atomic_write_text
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
    with pytest.raises(FileNotFoundError) as caught:
        atomic_write_bytes(tmp_path / "missing" / "x.bin", b"x")
    assert caught.value.filename == str(tmp_path / "missing" / "x.bin")  # the file, and the folder it lacks
    assert caught.value.strerror == f"cannot write it: its folder {tmp_path / 'missing'} does not exist"
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
            assert p.name.startswith(".last.npz.") and p.name.endswith(".scratchrnn.tmp")
            p.unlink()
        ckpt = load_checkpoint(path)
        assert ckpt.step >= newest  # never an older version, never a mix
        np.testing.assert_array_equal(ckpt.params["head"], np.full(256, ckpt.step))
        np.testing.assert_array_equal(ckpt.params["tail"], np.full(256, ckpt.step))
        assert_same_array(ckpt.params["big"], big)
        newest = ckpt.step
    assert newest > 0  # the writers did replace the file
    assert caught_halfway > 0  # and at least one kill landed in the middle of a save


# -- what is already at the path is respected ------------------------------------------------------
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755, 0o444])
def test_replacing_a_file_keeps_its_permission_bits(tmp_path, mode):
    path = tmp_path / "last.npz"
    save_checkpoint(path, params={"w": np.ones(2)}, step=1)
    os.chmod(path, mode)
    save_checkpoint(path, params={"w": np.ones(2)}, step=2)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert load_checkpoint(path).step == 2


def test_the_temporary_file_is_private_while_it_replaces_a_file(tmp_path):
    path = tmp_path / "secret.json"
    atomic_write_text(path, "old")
    os.chmod(path, 0o600)
    with atomic_path(path) as temp:
        assert stat.S_IMODE(temp.stat().st_mode) == 0o600
        temp.write_text("new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
@pytest.mark.parametrize("how", ["absolute", "relative", "chain", "dangling"])
def test_writing_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path, how):
    (tmp_path / "runs").mkdir()
    (tmp_path / "store").mkdir()
    target = tmp_path / "store" / "last.npz"
    if how != "dangling":
        save_checkpoint(target, params={"w": np.ones(2)}, step=1)
    link = tmp_path / "runs" / "last.npz"
    pointer = {"absolute": str(target), "relative": "../store/last.npz", "dangling": str(target)}.get(how)
    if how == "chain":
        (tmp_path / "runs" / "middle.npz").symlink_to(target)
        pointer = "middle.npz"
    link.symlink_to(pointer)
    save_checkpoint(link, params={"w": np.ones(2)}, step=2)
    assert link.is_symlink() and os.readlink(link) == pointer
    assert not target.is_symlink() and load_checkpoint(target).step == 2
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["last.npz"]  # no temporary file left
    assert all(p.is_symlink() for p in (tmp_path / "runs").iterdir())


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_a_symlink_loop_is_a_value_error(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(ValueError, match="is a symlink loop"):
        atomic_write_bytes(a, b"x")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_written_directly_not_replaced(tmp_path):
    fifo = tmp_path / "stream.npz"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    save_checkpoint(fifo, params={"w": np.arange(5.0)}, step=7, vocab=["a", "b"])
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still the FIFO its reader opened
    assert [p.name for p in tmp_path.iterdir()] == ["stream.npz"]
    copy = tmp_path / "copy.npz"
    copy.write_bytes(received[0])  # what went down the pipe is a whole checkpoint
    ckpt = load_checkpoint(copy)
    assert ckpt.step == 7 and ckpt.vocab == ["a", "b"]
    assert_same_array(ckpt.params["w"], np.arange(5.0))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_failed_write_to_a_fifo_leaves_the_fifo(tmp_path):
    fifo = tmp_path / "stream"
    os.mkfifo(fifo)
    reader = threading.Thread(target=fifo.read_bytes, daemon=True)
    reader.start()
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(fifo) as temp:
            assert temp == fifo
            with open(temp, "wb") as file:
                file.write(b"half")
            raise RuntimeError("boom")
    reader.join(timeout=10)
    assert stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_character_device_is_written_directly():
    atomic_write_text("/dev/null", "thrown away\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


# -- leftovers of killed writes ----------------------------------------------------------------------
def _age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_stale_temporary_files_of_this_pattern_are_removed_by_the_next_write(tmp_path):
    stale = tmp_path / ".last.npz.0123abcd.scratchrnn.tmp"
    fresh = tmp_path / ".last.npz.4567cdef.scratchrnn.tmp"
    others = [tmp_path / name for name in (
        ".last.npz.0123abcd.tmp",  # no scratchrnn marker
        "last.npz.0123abcd.scratchrnn.tmp",  # no leading dot
        ".last.npz.0123abcd.scratchrnn.tmp.bak",
        ".last.npz.0123ABCD.scratchrnn.tmp",  # not the lowercase hex written
        ".last.npz.0123abc.scratchrnn.tmp",  # seven digits
        "notes.txt",
    )]
    for path in [stale, fresh, *others]:
        path.write_bytes(b"half a checkpoint")
    folder_like = tmp_path / ".runs.89abcdef.scratchrnn.tmp"
    folder_like.mkdir()
    for path in [stale, *others, folder_like]:
        _age(path, STALE_TEMP_SECONDS + 60)
    fresh_age = STALE_TEMP_SECONDS - 60
    _age(fresh, fresh_age)
    atomic_write_text(tmp_path / "other.json", "{}")  # any write to the folder cleans it
    names = {p.name for p in tmp_path.iterdir()}
    assert stale.name not in names
    assert {fresh.name, folder_like.name, "other.json", *(p.name for p in others)} == names


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_the_temporary_file_of_a_killed_write_is_removed_once_stale(tmp_path):
    path = tmp_path / "last.npz"
    code = ("import sys, time\nfrom scratchrnn.io import atomic_path\n"
            "with atomic_path(sys.argv[1]) as temp:\n"
            "    temp.write_bytes(b'half')\n    print('ready', flush=True)\n    time.sleep(60)\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "ready\n"
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.communicate()
    (leftover,) = [p for p in tmp_path.iterdir()]
    assert leftover.name.startswith(".last.npz.") and leftover.name.endswith(".scratchrnn.tmp")
    save_checkpoint(path, params={}, step=1)
    assert leftover.exists()  # minutes old at most: it may belong to a write still going on
    _age(leftover, STALE_TEMP_SECONDS + 1)
    save_checkpoint(path, params={}, step=2)
    assert [p.name for p in tmp_path.iterdir()] == ["last.npz"]


def test_a_temporary_path_names_the_file_it_stands_for(tmp_path, monkeypatch):
    from scratchrnn.io.atomic import temp_target

    seen = []
    with atomic_path(tmp_path / "model.onnx") as temp:
        seen.append(temp_target(temp))
    assert seen == [tmp_path / "model.onnx"]
    assert temp_target(tmp_path / "model.onnx") is None  # not a temporary name
    with atomic_path(tmp_path / ("x" * 120)) as temp:  # a name cut to fit: not said whole
        assert temp_target(temp) is None

