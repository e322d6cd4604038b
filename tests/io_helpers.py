"""Test helpers shared by the scratchrnn.io test files: bit-exact comparisons, the modules saved,
hand-made zip archives (zip bombs included) and a reader measured in a fresh process.

Nothing here imports torch; the files that need it skip themselves when it is missing.
"""

from __future__ import annotations

import io
import json
import math
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from scratchrnn.nn.model import CELLS, ModelConfig, SequenceModel

CELL_CASES = [("rnn", {"nonlinearity": "tanh"}), ("rnn", {"nonlinearity": "relu"}), ("lstm", {}), ("gru", {})]
CELL_IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru"]
SEQUENCE_CONFIGS = [
    dict(cell="rnn", vocab_size=7, embedding_dim=5, hidden_size=6),
    dict(cell="lstm", vocab_size=7, hidden_size=5, num_layers=2, bidirectional=True, head="last"),
    dict(cell="gru", input_size=4, output_size=3, hidden_size=5, head="last", head_bias=False),
    dict(cell="rnn", vocab_size=6, hidden_size=4, nonlinearity="relu", bias=False, num_layers=2),
    dict(cell="gru", vocab_size=6, embedding_dim=3, hidden_size=4, bidirectional=True, dtype="float64"),
    dict(cell="lstm", input_size=3, output_size=2, hidden_size=4, dtype="float64"),
]
SEQUENCE_IDS = ["rnn-embed", "lstm-onehot-last-bidir", "gru-dense-last", "relu-onehot-nobias",
                "gru-embed-bidir-f64", "lstm-dense-f64"]


def assert_same_array(got, want):
    """Same type, dtype (byte order included), shape and bytes: bit-identical."""
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes()


def assert_same_params(got: dict, want: dict):
    """Same names in the same order, same dtypes and shapes, identical bits."""
    assert list(got) == list(want)
    for k in want:
        g, w = np.asarray(got[k]), np.asarray(want[k])
        assert g.dtype == w.dtype, (k, g.dtype, w.dtype)
        assert g.shape == w.shape, (k, g.shape, w.shape)
        assert g.tobytes() == w.tobytes(), k


def same_module(got, want):
    """Same class, dtype, constructor settings (and config) and bit-identical parameters."""
    assert type(got) is type(want)
    assert got.dtype == want.dtype
    assert repr(got) == repr(want)  # every constructor setting shows in the repr
    if isinstance(want, SequenceModel):
        assert got.config == want.config
    assert_same_params(got.params, want.params)


def torch_params(module) -> dict:
    """A torch module's state dict as numpy arrays."""
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def cell_class(cell: str):
    """The scratchrnn layer class of a cell ("rnn", "lstm", "gru"); skips the test if it is absent."""
    if cell not in CELLS:
        pytest.skip(f"scratchrnn.nn has no {cell.upper()} yet")
    return CELLS[cell]


def recurrent(cell, extra, case, dtype=np.float32, seed=0):
    """A recurrent layer of input size 3 and hidden size 4 with the given constructor keywords."""
    return cell_class(cell)(3, 4, **extra, **case, dtype=dtype, rng=seed)


def sequence_model(kwargs, seed=0) -> SequenceModel:
    """A SequenceModel from ModelConfig keywords; skips the test if its cell is absent."""
    cfg = ModelConfig(**kwargs)
    cell_class(cfg.cell)
    return SequenceModel(cfg, rng=seed)


def assert_tree_equal(got, want, where="root"):
    """Exact structural equality: container types, key order, scalar types and values, array bits."""
    if isinstance(want, np.ndarray):
        assert_same_array(got, want)
        return
    assert type(got) is type(want), f"{where}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, dict):
        assert list(got) == list(want), where
        for key in want:
            assert_tree_equal(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_tree_equal(g, w, f"{where}[{i}]")
    elif isinstance(want, np.generic):
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), where
    elif isinstance(want, float):
        assert (math.isnan(got) and math.isnan(want)) or (
            got == want and math.copysign(1.0, got) == math.copysign(1.0, want)
        ), where
    else:
        assert got == want, where


# -- hand-made zip archives ---------------------------------------------------------------------
@dataclass
class RawMember:
    """One zip member as bytes on disk: ``data`` is already compressed with ``method``.

    ``size`` and ``crc`` are what the zip headers declare, true or not (a zip bomb lies).
    """

    name: str
    data: bytes
    size: int
    crc: int
    method: int = 0  # 0 stored, 8 deflated, 12 bzip2, 14 lzma
    flags: int = 0


def stored(name: str, content: bytes) -> RawMember:
    return RawMember(name, content, len(content), zlib.crc32(content))


def deflated(name: str, content: bytes) -> RawMember:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return RawMember(name, packer.compress(content) + packer.flush(), len(content), zlib.crc32(content), 8)


def zeros_deflate(prefix: bytes, n_zeros: int) -> bytes:
    """A raw deflate stream of ``prefix`` then ``n_zeros`` zero bytes, made in milliseconds.

    Each 1 MiB block of zeros is compressed once and repeated: a full flush ends a block on a
    byte boundary with no reference to what came before, so the copies chain into one stream.
    """
    block_size = 1 << 20
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    n_blocks, rest = divmod(n_zeros, block_size)
    return (head.compress(prefix) + head.flush(zlib.Z_FULL_FLUSH)
            + (block.compress(bytes(block_size)) + block.flush(zlib.Z_FULL_FLUSH)) * n_blocks
            + tail.compress(bytes(rest)) + tail.flush(zlib.Z_FINISH))


def zip_bytes(members: list[RawMember], overlap: bool = False) -> bytes:
    """A zip archive of the members exactly as declared (zip64 fields where sizes need them).

    ``overlap=True`` writes the first member's data once and points every directory entry at it,
    the overlapping-entries zip bomb.
    """
    out, central = io.BytesIO(), []
    for i, m in enumerate(members):
        name = m.name.encode()
        big = m.size >= 0xFFFFFFFF or len(m.data) >= 0xFFFFFFFF
        sizes = (0xFFFFFFFF, 0xFFFFFFFF) if big else (len(m.data), m.size)
        extra = struct.pack("<2H2Q", 1, 16, m.size, len(m.data)) if big else b""
        if overlap and i > 0:
            offset = 0
        else:
            offset = out.tell()
            out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 45, m.flags, m.method, 0, 0x21, m.crc,
                                  *sizes, len(name), len(extra)) + name + extra + m.data)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 45, m.flags, m.method, 0, 0x21,
                                   m.crc, *sizes, len(name), len(extra), 0, 0, 0, 0, offset)
                       + name + extra)
    start, directory = out.tell(), b"".join(central)
    out.write(directory)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory),
                          start, 0))
    return out.getvalue()


def npy_header(shape, descr="<f8", fortran_order=False, version=(1, 0)) -> bytes:
    """The ``.npy`` magic string and header declaring an array, without its data."""
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran_order, "shape": tuple(shape)}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buffer, header)
    else:
        np.lib.format.write_array_header_2_0(buffer, header)
    return buffer.getvalue()


def npy_bytes(array, allow_pickle=False) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def members_of(path) -> list[RawMember]:
    """The members of a zip archive written by scratchrnn, as stored members."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return [stored(info.filename, archive.read(info.filename)) for info in archive.infolist()]


# -- a reader measured in a fresh process -------------------------------------------------------
_MEASURE = r"""
import json, resource, sys, time
import scratchrnn.io
from scratchrnn.io import *
from scratchrnn.lm import load_language_model
call, path = sys.argv[1], sys.argv[2]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    eval(call)(path)
    error, message = None, None
except BaseException as exc:
    kinds = (FileNotFoundError, ValueError)
    error = next((k.__name__ for k in kinds if isinstance(exc, k)), type(exc).__name__)
    message = str(exc)
seconds = time.perf_counter() - start
extra_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"seconds": seconds, "extra_mb": extra_kib / 1024, "error": error, "message": message}))
"""


def measure_read(call: str, path) -> dict:
    """Run ``call(path)`` (``"load_checkpoint"``, ``"load_module"``, ...) in a new interpreter.

    Returns seconds, the peak memory it added in MB (ru_maxrss after the imports, so nothing the
    test process did before can hide it), and the exception's class name and message (or None).
    """
    done = subprocess.run([sys.executable, "-c", _MEASURE, call, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- a real checkpoint ----------------------------------------------------------------------------
def trainer_checkpoint(folder, cell="lstm", steps=1, **model) -> Path:
    """``folder/last.npz`` written by the Trainer: a small token model trained ``steps`` steps with
    Adam and a schedule, validation, carried hidden state, a vocabulary and a history."""
    from scratchrnn.data.sequences import TokenStream
    from scratchrnn.optim import Adam, StepLR
    from scratchrnn.train import TrainConfig, Trainer

    config = ModelConfig(**{"cell": cell, "vocab_size": 5, "embedding_dim": 3, "hidden_size": 4, **model})
    net = SequenceModel(config, rng=0)
    stream = np.tile(np.arange(5), 20)  # (100,)
    optimizer = Adam(net.params, lr=0.01)
    trainer = Trainer(net, optimizer, TrainConfig(steps=steps, eval_every=1, checkpoint_dir=str(folder)),
                      scheduler=StepLR(optimizer, 1), vocab=list("abcde"))
    trainer.fit(TokenStream(stream, batch_size=2, window=4), TokenStream(stream, batch_size=2, window=4))
    return Path(folder) / "last.npz"
