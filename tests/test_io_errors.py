"""scratchrnn.io.errors: the readers' first checks, one-line quoting, and MissingDependencyError."""

import os
import re
import sys
from pathlib import Path

import pytest

from io_helpers import same_module
from scratchrnn.io.errors import MissingDependencyError, check_readable, one_line
from scratchrnn.io.interop import from_torch, to_torch
from scratchrnn.io.weights import load_module, save_npz_weights, save_safetensors
from scratchrnn.nn import Linear


def test_check_readable_refuses_missing_directory_and_empty_paths(tmp_path):
    missing = tmp_path / "nowhere" / "w.bin"
    with pytest.raises(FileNotFoundError, match="weights file not found") as info:
        check_readable(missing, "weights file")
    assert info.value.filename == str(missing)
    with pytest.raises(ValueError, match=f"^{re.escape(str(tmp_path))} is a directory, not a weights file$"):
        check_readable(tmp_path, "weights file")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.bin is empty \(0 bytes\), not a weights file$"):
        check_readable(empty, "weights file")
    full = tmp_path / "full.bin"
    full.write_bytes(b"x")
    assert check_readable(full, "weights file") is None


def test_one_line_joins_a_message_and_falls_back_to_the_class_name():
    assert one_line(ValueError("bad\n  header:\tline two ")) == "bad header: line two"
    assert one_line(EOFError()) == "EOFError"


def test_missing_optional_packages_give_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(MissingDependencyError, match=r"safetensors is not installed"):
        save_safetensors(Linear(2, 2, rng=0), tmp_path / "w.safetensors")
    monkeypatch.setitem(sys.modules, "torch", None)
    expected = r"PyTorch is not installed; install scratchrnn\[torch\]"
    for call in (lambda: to_torch(Linear(2, 2, rng=0)), lambda: from_torch(object())):
        with pytest.raises(MissingDependencyError, match=expected):
            call()
    assert issubclass(MissingDependencyError, ImportError) and issubclass(MissingDependencyError, ValueError)
    # numpy-only paths keep working without torch
    m = Linear(2, 3, rng=1)
    same_module(load_module(save_npz_weights(m, tmp_path / "w.npz")), m)
    assert not list(tmp_path.glob("*.safetensors"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_check_readable_refuses_a_fifo_instead_of_waiting_on_it(tmp_path):
    from scratchrnn.io import load_checkpoint, read_npz

    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    for read in (load_checkpoint, read_npz, load_module):
        with pytest.raises(ValueError, match=r"pipe\.npz is not a regular file \(a FIFO, device or socket\)"):
            read(fifo)
    if os.path.exists("/dev/zero"):
        with pytest.raises(ValueError, match="/dev/zero is not a regular file"):
            check_readable(Path("/dev/zero"), "weights file")
