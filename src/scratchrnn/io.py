"""Files on disk: atomic writes and ``.npz`` checkpoints (JSON metadata, no pickle).

Atomic writes
-------------
``atomic_path(path)`` hands out a temporary path ``.<name>.<random>.tmp`` in the same folder as
``path``; when the ``with`` block ends without an exception the temporary file is fsynced, renamed
over ``path`` with ``os.replace`` and the folder is fsynced, so a reader (or a crash) sees either the
old file or the new one, never a mix. On any exception the temporary file is removed and ``path`` is
left untouched. The temporary name ends in ``.tmp`` so that globs such as ``*.npz`` never pick up a
half-written file; a tool that infers the format from the extension needs it given explicitly
(``fig.savefig(tmp, format="png")``).

Checkpoint format (version 1)
-----------------------------
One zip archive written like ``numpy.savez`` (one ``.npy`` member per array, loadable with
``np.load(path, allow_pickle=False)``):

* ``__scratchrnn__``: a 1-D uint8 array holding UTF-8 (in fact pure ASCII) JSON with the format
  marker, the format version, step, epoch and every field as a JSON tree;
* every array under a prefixed member name: ``params/<name>``, ``optimizer_state/<key>/<key>``,
  ``rng_state/...``, ``hidden/...``, ``config/...``, ``extra/...``. The names are for people
  reading the archive; the JSON tree refers to each array by its member name, so loading never
  parses a name and any string key is safe.

Inside the JSON trees, values that JSON cannot hold are written as one-key objects:
``{"__ndarray__": member}`` (an array, dtype, byte order and memory order kept),
``{"__npscalar__": {"dtype": "<f4", "value": 0.5}}`` (a numpy scalar, kept with its dtype),
``{"__tuple__": [...]}`` (a tuple, so ``(h, c)`` comes back as a tuple) and ``{"__dict__": {...}}``
(a user dict whose only key happens to be one of these tags). Python ints of any size (the
generator state) and floats (including nan and inf) round-trip exactly; dict keys must be strings.
Object arrays are never written, and the file is read with ``allow_pickle=False``.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import secrets
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .checks import check_int

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_checkpoint",
    "restore_generator",
    "save_checkpoint",
]

# ============================================================================================
# Atomic writes
# ============================================================================================

_TEMP_SUFFIX = ".tmp"
_TEMP_NAME_KEEP = 100  # characters of the target name kept in the temporary name (NAME_MAX is 255)


def _create_temp(folder: Path, name: str) -> Path:
    """Create a new, empty file next to the target; permissions follow the umask like ``open``."""
    while True:
        temp = folder / f".{name[:_TEMP_NAME_KEEP]}.{secrets.token_hex(4)}{_TEMP_SUFFIX}"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return temp


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable. Windows cannot open a folder; some filesystems refuse to sync one."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it atomically becomes ``path``.

    The temporary file already exists (empty) in the folder of ``path``. After the block: fsync
    the temporary file, ``os.replace`` it onto ``path``, fsync the folder. If the block (or any of
    those steps) raises, the temporary file is removed and an existing ``path`` is unchanged.
    The folder must exist (``FileNotFoundError``); ``path`` must not be a directory (``ValueError``).
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"cannot write {path}: folder does not exist", str(folder))
    if path.is_dir():
        raise ValueError(f"cannot write {path}: it is a directory, expected a file path")
    temp = _create_temp(folder, path.name)
    try:
        yield temp
        _fsync_file(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see ``atomic_path``); returns ``path`` as a Path."""
    with atomic_path(path) as temp:
        temp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see ``atomic_path``); returns ``path`` as a Path."""
    return atomic_write_bytes(path, text.encode(encoding))


# ============================================================================================
# Checkpoints
# ============================================================================================

FORMAT_NAME = "scratchrnn-checkpoint"
FORMAT_VERSION = 1  # raise when the layout changes; readers refuse files newer than they know
METADATA_KEY = "__scratchrnn__"

_ARRAY_TAG = "__ndarray__"
_SCALAR_TAG = "__npscalar__"
_TUPLE_TAG = "__tuple__"
_DICT_TAG = "__dict__"
_TAGS = frozenset({_ARRAY_TAG, _SCALAR_TAG, _TUPLE_TAG, _DICT_TAG})

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same content gives the same bytes
_MEMBER_PART_KEEP = 64  # characters of a key kept in a member name (names are only labels)
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._+-]")
_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
# What reading a damaged zip member can raise, from zipfile, zlib and numpy's .npy parser.
_READ_ERRORS = (
    zipfile.BadZipFile, zlib.error, struct.error, ValueError, OSError, EOFError, NotImplementedError,
)


@dataclass
class Checkpoint:
    """Everything a training run needs to resume; what ``load_checkpoint`` returns.

    ``params`` maps names to arrays (dtypes kept); ``rng_state`` is a ``bit_generator.state``
    dict (``generator()`` rebuilds the Generator); ``hidden`` is None, an array or a tuple of
    arrays; the other fields come back as they were given (see the module docstring).
    """

    params: dict[str, np.ndarray]
    optimizer_state: Any = None
    rng_state: dict | None = None
    step: int = 0
    epoch: int = 0
    hidden: Any = None
    config: dict | None = None
    vocab: list[str] | None = None
    history: list[dict] | None = None
    extra: Any = None
    format_version: int = FORMAT_VERSION
    path: Path | None = field(default=None, compare=False)

    def generator(self) -> np.random.Generator | None:
        """A new Generator whose draws continue exactly where the saved one stopped (None if unsaved)."""
        return None if self.rng_state is None else restore_generator(self.rng_state)


def restore_generator(state: Mapping) -> np.random.Generator:
    """Rebuild ``np.random.Generator`` from a ``bit_generator.state`` dict (any numpy bit generator).

    To continue an existing generator instead: ``gen.bit_generator.state = state``.
    """
    name = state.get("bit_generator") if isinstance(state, Mapping) else None
    if name not in _GENERATORS:
        raise ValueError(f"rng state must name one of the bit generators {list(_GENERATORS)}, got {name!r}")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = dict(state)
    return np.random.Generator(bit_generator)


# -- encoding -----------------------------------------------------------------------------------
def _is_writable_dtype(dtype: np.dtype) -> bool:
    """Dtypes the .npy format stores without pickle (no objects, no variable-width strings)."""
    return not dtype.hasobject and dtype.kind != "T"


def _escape(tree: dict) -> dict:
    """Wrap a dict whose only key is a tag, so it is not read back as that tag."""
    return {_DICT_TAG: tree} if len(tree) == 1 and next(iter(tree)) in _TAGS else tree


class _Encoder:
    """Turn values into JSON trees, collecting the arrays under unique prefixed member names."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def _member(self, parts: tuple[str, ...]) -> str:
        clean = []
        for part in parts:
            part = _UNSAFE_NAME_CHARS.sub("_", part)[:_MEMBER_PART_KEEP]
            clean.append("_" if part in ("", ".", "..") else part)
        base = "/".join(clean)
        name, n = base, 1
        while name in self.arrays:  # two keys that clean to the same label
            n += 1
            name = f"{base}~{n}"
        return name

    def array(self, value: np.ndarray, where: str, parts: tuple[str, ...]) -> dict:
        if not _is_writable_dtype(value.dtype):
            raise ValueError(f"{where} is an array of dtype {value.dtype}; only numeric, bool and "
                             "fixed-width string arrays can be saved (no object arrays)")
        name = self._member(parts)
        self.arrays[name] = value
        return {_ARRAY_TAG: name}

    def encode(self, value: Any, where: str, parts: tuple[str, ...], _active: frozenset = frozenset()):
        if value is None or isinstance(value, (bool, str)):
            return str(value) if isinstance(value, str) else value
        if isinstance(value, np.ndarray):
            return self.array(value, where, parts)
        if isinstance(value, np.generic):
            return self._scalar(value, where, parts)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, (Mapping, list, tuple)):
            if id(value) in _active:
                raise ValueError(f"{where} contains itself; a checkpoint must be a tree")
            active = _active | {id(value)}
            if isinstance(value, Mapping):
                out = {}
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise ValueError(f"{where} has the key {key!r} of type {type(key).__name__}; "
                                         "keys must be strings")
                    out[str(key)] = self.encode(item, f"{where}[{key!r}]", (*parts, key), active)
                return _escape(out)
            items = [
                self.encode(item, f"{where}[{i}]", (*parts, str(i)), active) for i, item in enumerate(value)
            ]
            return {_TUPLE_TAG: items} if isinstance(value, tuple) else items
        raise ValueError(f"{where} has a value of type {type(value).__name__}; expected None, bool, int, "
                         "float, str, numpy array or scalar, or a dict / list / tuple of those")

    def _scalar(self, value: np.generic, where: str, parts: tuple[str, ...]) -> dict:
        dtype = value.dtype
        # bool, integers and floats up to 64 bits are exact as JSON numbers; anything else
        # (complex, long double, bytes, datetimes) goes into a 0-d array member.
        if dtype.kind in "biuf" and dtype.itemsize <= 8:
            return {_SCALAR_TAG: {"dtype": dtype.str, "value": value.item()}}
        return {_SCALAR_TAG: self.array(np.asarray(value), where, parts)}  # ()


def _rng_state_dict(rng_state) -> dict | None:
    if rng_state is None:
        return None
    if isinstance(rng_state, np.random.Generator):
        return rng_state.bit_generator.state
    if isinstance(rng_state, np.random.BitGenerator):
        return rng_state.state
    if isinstance(rng_state, Mapping) and isinstance(rng_state.get("bit_generator"), str):
        return dict(rng_state)
    raise ValueError("rng_state must be None, a numpy Generator or BitGenerator, or a bit_generator.state "
                     f"dict, got {type(rng_state).__name__}")


def _encode_checkpoint(params, optimizer_state, rng_state, step, epoch, hidden, config, vocab,
                       history, extra) -> tuple[dict, dict[str, np.ndarray]]:
    """Validate the fields and build (metadata, arrays); nothing touches the disk here."""
    enc = _Encoder()
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of name -> array, got {type(params).__name__}")
    param_tree = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise ValueError(f"params has the key {name!r} of type {type(name).__name__}; "
                             "keys must be strings")
        array = np.asarray(value)
        if array.dtype.kind not in "biufc":
            raise ValueError(f"params[{name!r}] has dtype {array.dtype}, expected a numeric array")
        param_tree[name] = enc.array(array, f"params[{name!r}]", ("params", name))

    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if config is not None and not isinstance(config, Mapping):
        raise ValueError(f"config must be a dict (or a dataclass instance), got {type(config).__name__}")
    if vocab is not None:
        if isinstance(vocab, str) or not isinstance(vocab, Sequence):
            raise ValueError(f"vocab must be a list of str, got {type(vocab).__name__}")
        bad = [i for i, token in enumerate(vocab) if not isinstance(token, str)]
        if bad:
            raise ValueError(f"vocab must hold only str, entry {bad[0]} is {type(vocab[bad[0]]).__name__}")
        vocab = [str(token) for token in vocab]
    if history is not None:
        if not isinstance(history, Sequence) or isinstance(history, str):
            raise ValueError(f"history must be a list of dicts, got {type(history).__name__}")
        bad = [i for i, entry in enumerate(history) if not isinstance(entry, Mapping)]
        if bad:
            raise ValueError(f"history must hold only dicts, entry {bad[0]} is "
                             f"{type(history[bad[0]]).__name__}")
        history = list(history)

    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "step": check_int("step", step, low=0),
        "epoch": check_int("epoch", epoch, low=0),
        "params": _escape(param_tree),
        "optimizer_state": enc.encode(optimizer_state, "optimizer_state", ("optimizer_state",)),
        "rng_state": enc.encode(_rng_state_dict(rng_state), "rng_state", ("rng_state",)),
        "hidden": enc.encode(hidden, "hidden", ("hidden",)),
        "config": enc.encode(config, "config", ("config",)),
        "vocab": vocab,
        "history": enc.encode(history, "history", ("history",)),
        "extra": enc.encode(extra, "extra", ("extra",)),
    }
    return meta, enc.arrays


def _write_member(archive: zipfile.ZipFile, key: str, array: np.ndarray, compress: bool) -> None:
    info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    with archive.open(info, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, array, allow_pickle=False)


def save_checkpoint(
    path: str | os.PathLike,
    *,
    params: Mapping[str, np.ndarray],
    optimizer_state: Any = None,
    rng_state: Any = None,
    step: int = 0,
    epoch: int = 0,
    hidden: Any = None,
    config: Mapping | None = None,
    vocab: Sequence[str] | None = None,
    history: Sequence[Mapping] | None = None,
    extra: Any = None,
    compress: bool = False,
) -> Path:
    """Write a checkpoint to ``path`` atomically (exactly that name: no suffix is added).

    ``params``: name -> array. ``optimizer_state`` and ``extra``: trees of dicts / lists / tuples
    with arrays, numpy scalars or JSON scalars at the leaves. ``rng_state``: a Generator, a
    BitGenerator or a ``bit_generator.state`` dict. ``hidden``: None, an array or a tuple of arrays.
    ``config``: a JSON-able dict (or a dataclass instance, saved as a dict). ``vocab``: list of str.
    ``history``: list of dicts. ``compress=True`` deflates the members (smaller, slower).
    Invalid values raise ``ValueError`` before anything is written. Returns ``path`` as a Path.
    """
    meta, arrays = _encode_checkpoint(params, optimizer_state, rng_state, step, epoch, hidden, config,
                                      vocab, history, extra)
    # ensure_ascii keeps any str (even a lone surrogate) exact; allow_nan keeps nan / inf losses.
    text = json.dumps(meta, ensure_ascii=True, allow_nan=True, separators=(",", ":"))
    meta_array = np.frombuffer(text.encode("ascii"), dtype=np.uint8)  # (n_bytes,)
    with atomic_path(path) as temp:
        with open(temp, "wb") as file, zipfile.ZipFile(file, "w", allowZip64=True) as archive:
            _write_member(archive, METADATA_KEY, meta_array, compress)
            for key, array in arrays.items():
                _write_member(archive, key, array, compress)
    return Path(path)


# -- decoding -----------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class _Decoder:
    """Read arrays from an open archive and rebuild the JSON trees; errors name the file."""

    def __init__(self, archive, name: str):
        self.archive = archive
        self.name = name
        self.members = set(archive.files)

    def corrupt(self, problem: str) -> ValueError:
        return ValueError(f"{self.name} is corrupt ({problem})")

    def array(self, key) -> np.ndarray:
        if not isinstance(key, str) or key not in self.members:
            raise self.corrupt(f"the metadata refers to a missing array member {key!r}")
        try:
            value = self.archive[key]
        except _READ_ERRORS as exc:
            raise self.corrupt(f"member {key!r} cannot be read: {_one_line(exc)}") from exc
        if not isinstance(value, np.ndarray):
            raise self.corrupt(f"member {key!r} is not a .npy array")
        return value

    def decode(self, node: Any, where: str) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(item, f"{where}[{i}]") for i, item in enumerate(node)]
        if not isinstance(node, dict):
            raise self.corrupt(f"{where} holds a {type(node).__name__}")
        if len(node) == 1:
            (tag, body), = node.items()
            if tag == _ARRAY_TAG:
                return self.array(body)
            if tag == _TUPLE_TAG and isinstance(body, list):
                return tuple(self.decode(item, f"{where}[{i}]") for i, item in enumerate(body))
            if tag == _DICT_TAG and isinstance(body, dict):
                return {key: self.decode(item, f"{where}[{key!r}]") for key, item in body.items()}
            if tag == _SCALAR_TAG:
                return self._scalar(body, where)
            if tag in _TAGS:
                raise self.corrupt(f"{where} has a malformed {tag} entry")
        return {key: self.decode(item, f"{where}[{key!r}]") for key, item in node.items()}

    def _scalar(self, body: Any, where: str) -> np.generic:
        if isinstance(body, dict) and set(body) == {"dtype", "value"}:
            try:
                return np.dtype(body["dtype"]).type(body["value"])
            except (TypeError, ValueError, OverflowError) as exc:
                raise self.corrupt(f"{where} is a malformed numpy scalar: {_one_line(exc)}") from exc
        if isinstance(body, dict) and set(body) == {_ARRAY_TAG}:
            value = self.array(body[_ARRAY_TAG])
            if value.ndim == 0:
                return value[()]
        raise self.corrupt(f"{where} is a malformed numpy scalar")


def _read_metadata(decoder: _Decoder) -> dict:
    name = decoder.name
    if METADATA_KEY not in decoder.members:
        raise ValueError(f"{name} is not a scratchrnn checkpoint (no metadata member {METADATA_KEY!r})")
    raw = decoder.array(METADATA_KEY)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise decoder.corrupt(f"metadata member is {raw.dtype} with shape {raw.shape}, expected 1-D uint8")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise decoder.corrupt(f"metadata is not valid JSON: {_one_line(exc)}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ValueError(f"{name} is not a scratchrnn checkpoint "
                         f"(metadata has no format marker {FORMAT_NAME!r})")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise decoder.corrupt(f"format version is {version!r}, expected an integer >= 1")
    if version > FORMAT_VERSION:
        raise ValueError(f"{name} has checkpoint format version {version}, newer than the version "
                         f"{FORMAT_VERSION} this scratchrnn reads; upgrade scratchrnn to load it")
    return meta


def _decode_checkpoint(decoder: _Decoder, meta: dict, path: Path) -> Checkpoint:
    fields = {}
    for key in ("step", "epoch"):
        value = meta.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise decoder.corrupt(f"{key} is {value!r}, expected an integer >= 0")
        fields[key] = value
    for key in ("params", "optimizer_state", "rng_state", "hidden", "config", "vocab", "history", "extra"):
        if key not in meta:
            raise decoder.corrupt(f"the metadata has no {key!r} entry")
        fields[key] = decoder.decode(meta[key], key)
    params = fields["params"]
    if not isinstance(params, dict) or not all(isinstance(v, np.ndarray) for v in params.values()):
        raise decoder.corrupt("params is not a dict of arrays")
    checks = {
        "rng_state": lambda v: isinstance(v, dict),
        "config": lambda v: isinstance(v, dict),
        "vocab": lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v),
        "history": lambda v: isinstance(v, list) and all(isinstance(e, dict) for e in v),
    }
    for key, ok in checks.items():
        if fields[key] is not None and not ok(fields[key]):
            raise decoder.corrupt(f"{key} has the wrong type ({type(fields[key]).__name__})")
    return Checkpoint(**fields, format_version=meta["format_version"], path=path)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint`` (with ``allow_pickle=False``).

    Arrays come back with their dtypes, tuples as tuples, the generator state exactly.
    A missing file raises ``FileNotFoundError``; a directory, an empty, truncated or corrupt
    file, a file that is not an .npz archive, an .npz without scratchrnn metadata, or a newer
    format version raise ``ValueError`` with a one-line message that names the file.
    """
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "checkpoint file not found", name)
    if path.is_dir():
        raise ValueError(f"{name} is a directory, not a scratchrnn checkpoint file")
    with open(path, "rb") as file:
        head = file.read(4)
        if not head:
            raise ValueError(f"{name} is empty (0 bytes), not a scratchrnn checkpoint")
        if head not in (b"PK\x03\x04", b"PK\x05\x06"):
            raise ValueError(f"{name} is not a scratchrnn checkpoint (not an .npz/zip archive)")
        file.seek(0)
        try:
            archive = np.load(file, allow_pickle=False)
        except _READ_ERRORS as exc:
            raise ValueError(f"{name} is truncated or corrupt (its zip directory cannot be read: "
                             f"{_one_line(exc)})") from exc
        with archive:
            decoder = _Decoder(archive, name)
            meta = _read_metadata(decoder)
            return _decode_checkpoint(decoder, meta, path)


# ============================================================================================
# PyTorch interop
# ============================================================================================
#
# Modules and PyTorch
# -------------------
# ``to_torch`` builds the matching ``torch.nn`` module and loads the weights with strict=True;
# ``from_torch`` goes the other way. Parameter names, shapes and gate orders are already
# PyTorch's, so converting a layer is a copy of its state dict. A ``SequenceModel`` becomes a
# ``TorchSequenceModel`` (built on first use, so torch stays optional) whose submodules
# ``embedding`` (absent for one-hot input), ``rnn`` and ``head`` give the same dotted names.
#
# Weight files (format version 1)
# -------------------------------
# Both formats hold exactly the state dict (PyTorch names, arrays in their own dtype), so a plain
# reader (``safetensors.torch.load_file``, ``np.load``) gives a dict that a torch module accepts
# with strict=True. The description that ``load_module`` needs is kept beside the arrays as str
# -> str entries: ``scratchrnn.format`` (``"scratchrnn-weights"``), ``scratchrnn.format_version``,
# and, when the source was a known module, ``scratchrnn.module`` (its class name) and
# ``scratchrnn.config`` (its constructor arguments as JSON). A .safetensors file keeps them in its
# header metadata; an .npz archive keeps them, as JSON, in the zip archive comment, which
# ``np.load`` ignores.

WEIGHTS_FORMAT_NAME = "scratchrnn-weights"
WEIGHTS_FORMAT_VERSION = 1  # raise when the layout changes; readers refuse files newer than they know
EXPORT_FORMATS = ("safetensors", "npz")

_META_FORMAT = "scratchrnn.format"
_META_VERSION = "scratchrnn.format_version"
_META_MODULE = "scratchrnn.module"
_META_CONFIG = "scratchrnn.config"
_ZIP_COMMENT_MAX = 0xFFFF  # the zip format stores the archive comment length in 16 bits
_TORCH_RNN_NONLINEARITIES = ("tanh", "relu")  # torch.nn.RNN has no sigmoid or identity variant
_SUPPORTED_TORCH = "torch.nn.RNN, LSTM, GRU, Linear, Embedding or the TorchSequenceModel made by to_torch"

__all__ += [
    "EXPORT_FORMATS",
    "MissingDependencyError",
    "WEIGHTS_FORMAT_VERSION",
    "export",
    "from_torch",
    "load_module",
    "load_npz_weights",
    "load_safetensors",
    "save_npz_weights",
    "save_safetensors",
    "to_torch",
]


class MissingDependencyError(ImportError, ValueError):
    """An optional package (torch, safetensors) is needed for this call and is not installed."""


def _require_torch():
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("PyTorch is not installed; install scratchrnn[torch]") from exc
    return torch


def _require_safetensors():
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as exc:
        raise MissingDependencyError("safetensors is not installed; install it with "
                                     "`pip install safetensors` (torch is not needed)") from exc
    return safetensors


def _loaded_torch():
    """The torch module if something already imported it, else None (then no object is a tensor)."""
    import sys

    return sys.modules.get("torch")


# -- module descriptions ------------------------------------------------------------------------
# A description is (class name, constructor arguments as a JSON-able dict); it is what the weight
# files record and what both sides are rebuilt from.
def _scratch_classes() -> dict[str, type]:
    from .nn.linear import Embedding, Linear
    from .nn.model import CELLS, SequenceModel

    classes = {"Linear": Linear, "Embedding": Embedding, "SequenceModel": SequenceModel}
    for cell, name in (("rnn", "RNN"), ("lstm", "LSTM"), ("gru", "GRU")):
        if cell in CELLS:
            classes[name] = CELLS[cell]
    return classes


def _recurrent_config(module, dtype: str) -> dict:
    return {
        "input_size": int(module.input_size),
        "hidden_size": int(module.hidden_size),
        "num_layers": int(module.num_layers),
        "bias": bool(module.bias),
        "batch_first": bool(module.batch_first),
        "dropout": float(module.dropout),
        "bidirectional": bool(module.bidirectional),
        "dtype": dtype,
    }


def _describe(module) -> tuple[str, dict] | None:
    """(class name, constructor arguments) of a scratchrnn module, or None for other classes."""
    kind = next((name for name, cls in _scratch_classes().items() if type(module) is cls), None)
    dtype = str(np.dtype(module.dtype)) if kind is not None else ""
    if kind in ("RNN", "LSTM", "GRU"):
        cfg = _recurrent_config(module, dtype)
        if kind == "RNN":
            cfg["nonlinearity"] = str(module.nonlinearity)
        return kind, cfg
    if kind == "Linear":
        return kind, {"in_features": module.in_features, "out_features": module.out_features,
                      "bias": bool(module.bias), "dtype": dtype}
    if kind == "Embedding":
        return kind, {"num_embeddings": module.num_embeddings, "embedding_dim": module.embedding_dim,
                      "dtype": dtype}
    if kind == "SequenceModel":
        return kind, {**module.config.to_dict(), "dtype": dtype}  # a name even if given as a type
    return None


def _build_scratch(kind: str, cfg: Mapping, rng=None):
    """A new scratchrnn module from a description (its weights are then overwritten)."""
    classes = _scratch_classes()
    if kind not in classes:
        raise ValueError(f"unknown module class {kind!r}; expected one of {', '.join(sorted(classes))}")
    if not isinstance(cfg, Mapping):
        raise ValueError(f"the {kind} configuration must be a dict, got {type(cfg).__name__}")
    if kind == "SequenceModel":
        from .nn.model import ModelConfig

        return classes[kind](ModelConfig.from_dict(dict(cfg)), rng=rng)
    try:
        return classes[kind](**cfg, rng=rng)
    except TypeError as exc:  # an unknown or missing constructor argument
        raise ValueError(f"the {kind} configuration {dict(cfg)} does not fit its constructor: "
                         f"{_one_line(exc)}") from exc


def _weights_dtype(torch, module) -> str:
    """The one float dtype of a torch module's parameters, as a numpy dtype name."""
    names = {torch.float32: "float32", torch.float64: "float64"}
    dtypes = {p.dtype for p in module.parameters()}
    if len(dtypes) != 1:
        raise ValueError(f"the {type(module).__name__}'s parameters must share one dtype, got "
                         f"{sorted(str(d) for d in dtypes)}")
    (dtype,) = dtypes
    if dtype not in names:
        raise ValueError(f"the {type(module).__name__}'s weights are {dtype}; scratchrnn supports "
                         "torch.float32 and torch.float64 (convert with .float() or .double())")
    return names[dtype]


def _describe_torch(torch, module) -> tuple[str, dict]:
    """(class name, constructor arguments) of the scratchrnn module matching a torch module."""
    nn = torch.nn
    seq_cls = _TORCH_CLASSES.get("TorchSequenceModel")
    if seq_cls is not None and isinstance(module, seq_cls):
        return "SequenceModel", {**module.config, "dtype": _weights_dtype(torch, module)}
    kind = next((k for k in ("RNN", "LSTM", "GRU") if isinstance(module, getattr(nn, k))), None)
    if kind is not None:
        if getattr(module, "proj_size", 0):
            raise ValueError(f"the torch LSTM has proj_size={module.proj_size}; scratchrnn's LSTM has no "
                             "projection (expected proj_size=0)")
        cfg = _recurrent_config(module, _weights_dtype(torch, module))
        if kind == "RNN":
            cfg["nonlinearity"] = str(module.nonlinearity)
        return kind, cfg
    if isinstance(module, nn.Linear):
        return "Linear", {"in_features": module.in_features, "out_features": module.out_features,
                          "bias": module.bias is not None, "dtype": _weights_dtype(torch, module)}
    if isinstance(module, nn.Embedding):
        unsupported = {"padding_idx": module.padding_idx, "max_norm": module.max_norm,
                       "scale_grad_by_freq": module.scale_grad_by_freq or None}
        used = {k: v for k, v in unsupported.items() if v is not None}
        if used:
            raise ValueError(f"the torch Embedding uses {used}, which scratchrnn's Embedding does not "
                             "have (expected padding_idx=None, max_norm=None, scale_grad_by_freq=False)")
        return "Embedding", {"num_embeddings": module.num_embeddings,
                             "embedding_dim": module.embedding_dim, "dtype": _weights_dtype(torch, module)}
    raise ValueError(f"from_torch expects a {_SUPPORTED_TORCH}, got {type(module).__name__}")


# -- the torch side -----------------------------------------------------------------------------
_TORCH_CLASSES: dict[str, type] = {}  # classes that subclass torch.nn.Module, made on first use


def _torch_dtype(torch, dtype):
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(dtype)]


def _build_torch(torch, kind: str, cfg: Mapping):
    """A torch module (default initialisation) from a description."""
    import warnings

    if kind == "SequenceModel":
        return _torch_sequence_model_class()(cfg)
    dtype = _torch_dtype(torch, cfg["dtype"])
    if kind in ("RNN", "LSTM", "GRU"):
        extra = {}
        if kind == "RNN":
            if cfg["nonlinearity"] not in _TORCH_RNN_NONLINEARITIES:
                supported = list(_TORCH_RNN_NONLINEARITIES)
                raise ValueError(f"torch.nn.RNN supports the nonlinearities {supported}, this RNN uses "
                                 f"{cfg['nonlinearity']!r}: it has no PyTorch equivalent")
            extra["nonlinearity"] = cfg["nonlinearity"]
        with warnings.catch_warnings():
            # Dropout on a one-layer stack is a no-op on both sides; torch warns about it, we do not.
            warnings.filterwarnings("ignore", message="dropout option adds dropout", category=UserWarning)
            return getattr(torch.nn, kind)(
                cfg["input_size"], cfg["hidden_size"], num_layers=cfg["num_layers"], bias=cfg["bias"],
                batch_first=cfg["batch_first"], dropout=cfg["dropout"], bidirectional=cfg["bidirectional"],
                dtype=dtype, **extra,
            )
    if kind == "Linear":
        return torch.nn.Linear(cfg["in_features"], cfg["out_features"], bias=cfg["bias"], dtype=dtype)
    if kind == "Embedding":
        return torch.nn.Embedding(cfg["num_embeddings"], cfg["embedding_dim"], dtype=dtype)
    raise ValueError(f"no torch equivalent for module class {kind!r}")  # pragma: no cover - guarded above


def _torch_sequence_model_class() -> type:
    """``TorchSequenceModel``: defined on first use so importing scratchrnn never imports torch."""
    if "TorchSequenceModel" in _TORCH_CLASSES:
        return _TORCH_CLASSES["TorchSequenceModel"]
    torch = _require_torch()
    from .nn.model import ModelConfig

    class TorchSequenceModel(torch.nn.Module):
        """PyTorch twin of ``scratchrnn.nn.SequenceModel``: embedding (or one-hot) -> rnn -> head.

        ``forward(x, h0=None) -> (logits, h_n)``: x is (T, B) integer ids or (T, B, F) floats;
        logits are (T, B, O), or (B, O) from the last output step when ``head == "last"``.
        ``state_dict()`` keys equal the SequenceModel's ``params`` keys. ``config`` is the
        ModelConfig as a dict.
        """

        def __init__(self, config):
            super().__init__()
            cfg = config if isinstance(config, ModelConfig) else ModelConfig.from_dict(dict(config))
            if (cfg.vocab_size is None) == (cfg.input_size is None):
                raise ValueError("give exactly one of vocab_size (token inputs) and input_size "
                                 "(dense inputs)")
            if cfg.head not in ("all", "last"):
                raise ValueError(f"head must be 'all' or 'last', got {cfg.head!r}")
            out_size = cfg.output_size if cfg.output_size is not None else cfg.vocab_size
            if out_size is None:
                raise ValueError("output_size is required for dense inputs")
            kinds = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
            if cfg.cell not in kinds:
                raise ValueError(f"unknown cell {cfg.cell!r}; expected one of {', '.join(sorted(kinds))}")
            dtype = _torch_dtype(torch, cfg.dtype)
            self.config = {**cfg.to_dict(), "dtype": str(np.dtype(cfg.dtype))}
            self.embedding = None
            if cfg.vocab_size is not None and cfg.embedding_dim is not None:
                self.embedding = torch.nn.Embedding(cfg.vocab_size, cfg.embedding_dim, dtype=dtype)
                rnn_in = cfg.embedding_dim
            else:
                rnn_in = cfg.vocab_size if cfg.vocab_size is not None else cfg.input_size
            rnn_cfg = {
                "input_size": rnn_in, "hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers,
                "bias": cfg.bias, "batch_first": False, "dropout": cfg.dropout,
                "bidirectional": cfg.bidirectional, "dtype": cfg.dtype, "nonlinearity": cfg.nonlinearity,
            }
            self.rnn = _build_torch(torch, kinds[cfg.cell], rnn_cfg)
            width = cfg.hidden_size * (2 if cfg.bidirectional else 1)
            self.head = torch.nn.Linear(width, out_size, bias=cfg.head_bias, dtype=dtype)

        def forward(self, x, h0=None):
            cfg = self.config
            if self.embedding is not None:
                xe = self.embedding(x)  # (T, B, E)
            elif cfg["vocab_size"] is not None:
                onehot = torch.nn.functional.one_hot(x.long(), cfg["vocab_size"])  # (T, B, V)
                xe = onehot.to(self.head.weight.dtype)
            else:
                xe = x  # (T, B, F)
            out, h_n = self.rnn(xe, h0)  # (T, B, D*H)
            feats = out[-1] if cfg["head"] == "last" else out  # (B, D*H) or (T, B, D*H)
            return self.head(feats), h_n

        def extra_repr(self) -> str:
            return f"cell={self.config['cell']!r}, head={self.config['head']!r}"

    # Named as a module attribute (see ``__getattr__``) so pickle can find the class.
    TorchSequenceModel.__module__ = __name__
    TorchSequenceModel.__qualname__ = "TorchSequenceModel"
    _TORCH_CLASSES["TorchSequenceModel"] = TorchSequenceModel
    return TorchSequenceModel


def __getattr__(name: str):
    """``scratchrnn.io.TorchSequenceModel`` is made (importing torch) on first access."""
    if name == "TorchSequenceModel":
        return _torch_sequence_model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _as_array(value, key: str) -> np.ndarray:
    """A numpy array from an array or a torch tensor (detached, moved to the CPU)."""
    torch = _loaded_torch()
    if torch is not None and isinstance(value, torch.Tensor):
        try:
            return value.detach().cpu().numpy()
        except TypeError as exc:  # bfloat16 and other dtypes numpy cannot hold
            raise ValueError(f"state dict key {key!r} is a tensor of dtype {value.dtype}, which numpy "
                             "cannot hold; convert it with .float() first") from exc
    return np.asarray(value)


def to_torch(module):
    """The ``torch.nn`` module matching a scratchrnn module, with the same weights (strict=True).

    RNN -> torch.nn.RNN (tanh or relu only), LSTM -> torch.nn.LSTM, GRU -> torch.nn.GRU (same
    num_layers, bias, batch_first, dropout, bidirectional, dtype), Linear -> torch.nn.Linear,
    Embedding -> torch.nn.Embedding, SequenceModel -> TorchSequenceModel. The weights are copied
    (the modules share no memory) and the training mode is carried over.
    """
    torch = _require_torch()
    description = _describe(module)
    if description is None:
        known = ", ".join(sorted(_scratch_classes()))
        raise ValueError(f"to_torch expects a scratchrnn {known}, got {type(module).__name__}")
    kind, cfg = description
    torch_module = _build_torch(torch, kind, cfg)
    state = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in module.params.items()}
    torch_module.load_state_dict(state, strict=True)
    torch_module.train(module.training)
    return torch_module


def from_torch(module, rng=None):
    """The scratchrnn module matching a torch module, with the same configuration and weights.

    Accepts torch.nn.RNN / LSTM (proj_size=0) / GRU / Linear / Embedding (no padding_idx or
    max_norm) and the TorchSequenceModel made by ``to_torch``; the dtype (float32 or float64)
    comes from the torch weights, the training mode is carried over. ``rng`` (Generator, seed or
    None) seeds the new module's dropout masks.
    """
    torch = _require_torch()
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"from_torch expects a {_SUPPORTED_TORCH}, got {type(module).__name__}")
    kind, cfg = _describe_torch(torch, module)
    scratch = _build_scratch(kind, cfg, rng=rng)
    state = {k: _as_array(v, k) for k, v in module.state_dict().items()}
    scratch.load_state_dict(state, strict=True)
    scratch.train(module.training)
    return scratch


# -- weight files -------------------------------------------------------------------------------
def _weights_and_metadata(source) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Arrays (C-contiguous) and str -> str metadata from a module or a state dict.

    A module that scratchrnn can rebuild (a known scratchrnn class, or a torch module that
    ``from_torch`` accepts) also records its description; anything else is saved as weights alone.
    """
    from .nn.module import Module

    torch = _loaded_torch()
    description = None
    if torch is not None and isinstance(source, torch.nn.Module):
        try:
            description = _describe_torch(torch, source)
        except ValueError:
            description = None
        state = source.state_dict()
    elif isinstance(source, Module):
        description = _describe(source)
        state = source.params
    elif isinstance(source, Mapping):
        state = source
    else:
        raise ValueError("expected a scratchrnn or torch module, or a state dict of name -> array, "
                         f"got {type(source).__name__}")
    arrays = {}
    for key, value in state.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"state dict keys must be non-empty strings, got {key!r}")
        array = _as_array(value, key)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"state dict key {key!r} has dtype {array.dtype}, expected a real numeric array")
        arrays[key] = np.ascontiguousarray(array)
    meta = {_META_FORMAT: WEIGHTS_FORMAT_NAME, _META_VERSION: str(WEIGHTS_FORMAT_VERSION)}
    if description is not None:
        meta[_META_MODULE] = description[0]
        meta[_META_CONFIG] = json.dumps(description[1], sort_keys=True, ensure_ascii=True)
    return arrays, meta


def _zip_members(path: Path) -> tuple[list[str], bytes] | None:
    """Member names and archive comment of a zip file, or None when the file is not a zip archive."""
    with open(path, "rb") as file:
        if file.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
            return None
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist(), archive.comment
    except _READ_ERRORS as exc:
        raise ValueError(f"{path} is truncated or corrupt (its zip directory cannot be read: "
                         f"{_one_line(exc)})") from exc


def _check_readable(path: Path, what: str) -> None:
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, f"{what} not found", str(path))
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a {what}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes), not a {what}")


def _check_metadata(meta: dict, name: str) -> dict:
    """Refuse files from a newer scratchrnn; files without our entries are plain weights."""
    if meta.get(_META_FORMAT) != WEIGHTS_FORMAT_NAME:
        return {}
    version = meta.get(_META_VERSION, "")
    if not version.isdigit():
        raise ValueError(f"{name} is corrupt (weights format version is {version!r}, expected an integer)")
    if int(version) > WEIGHTS_FORMAT_VERSION:
        raise ValueError(f"{name} has weights format version {version}, newer than the version "
                         f"{WEIGHTS_FORMAT_VERSION} this scratchrnn reads; upgrade scratchrnn to load it")
    return meta


def save_safetensors(module_or_state_dict, path: str | os.PathLike) -> Path:
    """Write the weights (PyTorch names) to a .safetensors file atomically; returns ``path``.

    Accepts a scratchrnn module, a torch module or a state dict (name -> array or tensor). A
    known module's class and configuration go into the header metadata so ``load_module`` can
    rebuild it. Needs the ``safetensors`` package (not torch).
    """
    safetensors = _require_safetensors()
    arrays, meta = _weights_and_metadata(module_or_state_dict)
    with atomic_path(path) as temp:
        safetensors.numpy.save_file(arrays, temp, metadata=meta)
    return Path(path)


def _read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    safetensors = _require_safetensors()
    name = str(path)
    _check_readable(path, "safetensors file")
    try:
        with safetensors.safe_open(name, framework="numpy") as file:
            meta = file.metadata() or {}
            arrays = {key: file.get_tensor(key) for key in file.keys()}
    except (safetensors.SafetensorError, OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not a readable safetensors file ({_one_line(exc)})") from exc
    return arrays, _check_metadata(meta, name)


def load_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a .safetensors file into name -> numpy array (no torch needed).

    ``torch_module.load_state_dict({k: torch.from_numpy(v) for k, v in ...items()}, strict=True)``
    accepts the result for the module it was saved from. Missing file: ``FileNotFoundError``;
    anything unreadable: ``ValueError`` naming the file.
    """
    return _read_safetensors(Path(path))[0]


def save_npz_weights(module_or_state_dict, path: str | os.PathLike, compress: bool = False) -> Path:
    """Write the weights (PyTorch names) to an .npz archive atomically; returns ``path``.

    Same inputs as ``save_safetensors``. ``np.load(path)`` gives exactly the state dict; the
    module description is JSON in the zip comment. ``compress=True`` deflates the members.
    """
    arrays, meta = _weights_and_metadata(module_or_state_dict)
    comment = json.dumps(meta, sort_keys=True, ensure_ascii=True).encode("ascii")
    if len(comment) > _ZIP_COMMENT_MAX:
        raise ValueError(f"the module description takes {len(comment)} bytes, more than the "
                         f"{_ZIP_COMMENT_MAX} an .npz (zip) comment holds")
    with atomic_path(path) as temp:
        with open(temp, "wb") as file, zipfile.ZipFile(file, "w", allowZip64=True) as archive:
            for key, array in arrays.items():
                _write_member(archive, key, array, compress)
            archive.comment = comment
    return Path(path)


def _read_npz(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    name = str(path)
    _check_readable(path, "weights .npz file")
    listing = _zip_members(path)
    if listing is None:
        raise ValueError(f"{name} is not an .npz weights file (not a zip archive)")
    members, comment = listing
    if METADATA_KEY + ".npy" in members:
        raise ValueError(f"{name} is a scratchrnn checkpoint, not a weights file; read it with "
                         "load_checkpoint or convert it with export")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except _READ_ERRORS as exc:
        raise ValueError(f"{name} is not a readable .npz weights file ({_one_line(exc)})") from exc
    bad = [key for key, value in arrays.items() if not isinstance(value, np.ndarray)]
    if bad:
        raise ValueError(f"{name} is not an .npz weights file (member {bad[0]!r} is not a .npy array)")
    try:
        meta = json.loads(comment.decode("ascii")) if comment else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        meta = {}  # some other program's comment: plain weights
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        meta = {}
    return arrays, _check_metadata(meta, name)


def load_npz_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an .npz weights file into name -> numpy array (``allow_pickle=False``).

    Missing file: ``FileNotFoundError``; anything else wrong, including passing a training
    checkpoint: ``ValueError`` naming the file.
    """
    return _read_npz(Path(path))[0]


def _module_from_checkpoint(checkpoint: Checkpoint, rng=None):
    """The SequenceModel a trainer checkpoint describes (config["model"]), with its params."""
    name = str(checkpoint.path)
    model_cfg = (checkpoint.config or {}).get("model")
    if not isinstance(model_cfg, Mapping):
        raise ValueError(f"{name} has no model configuration (config['model']), so the module cannot be "
                         "rebuilt; it was not written by the trainer")
    try:
        module = _build_scratch("SequenceModel", model_cfg, rng=rng)
        module.load_state_dict(checkpoint.params, strict=True)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc
    return module


def load_module(path: str | os.PathLike, rng=None):
    """Rebuild the module saved in a weights file (.safetensors or .npz) or a trainer checkpoint.

    The file must carry a module description (it does when a module was saved, not a plain state
    dict). Returns the module in training mode, like a new one; ``rng`` seeds its dropout masks.
    Missing file: ``FileNotFoundError``; anything else wrong: ``ValueError`` naming the file (and,
    for a missing, unexpected or wrongly shaped weight, the key).
    """
    path = Path(path)
    name = str(path)
    _check_readable(path, "weights file")
    listing = _zip_members(path)
    if listing is not None:
        if METADATA_KEY + ".npy" in listing[0]:
            return _module_from_checkpoint(load_checkpoint(path), rng=rng)
        arrays, meta = _read_npz(path)
    else:
        arrays, meta = _read_safetensors(path)
    if _META_MODULE not in meta:
        raise ValueError(f"{name} holds weights without a module description (it was saved from a state "
                         "dict); build the module yourself and call its load_state_dict")
    try:
        cfg = json.loads(meta.get(_META_CONFIG, ""))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name} is corrupt (module configuration is not JSON: {_one_line(exc)})") from exc
    try:
        module = _build_scratch(meta[_META_MODULE], cfg, rng=rng)
        module.load_state_dict(arrays, strict=True)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc
    return module


def export(path_in: str | os.PathLike, path_out: str | os.PathLike, fmt: str) -> Path:
    """Write the weights of the checkpoint ``path_in`` to ``path_out`` as ``fmt`` (safetensors | npz).

    A trainer checkpoint (config["model"] present) is rebuilt as a SequenceModel first, so its
    shapes are checked and the file records the model for ``load_module``; any other checkpoint
    exports its params as a plain state dict. Returns ``path_out`` as a Path.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    path_in, path_out = Path(path_in), Path(path_out)
    if path_out.exists() and path_out.resolve() == path_in.resolve():
        raise ValueError(f"cannot export {path_in} onto itself; choose another output path")
    checkpoint = load_checkpoint(path_in)
    if isinstance((checkpoint.config or {}).get("model"), Mapping):
        source = _module_from_checkpoint(checkpoint)
    else:
        source = checkpoint.params
    if fmt == "safetensors":
        return save_safetensors(source, path_out)
    return save_npz_weights(source, path_out)
