"""Training checkpoints: one ``.npz`` archive with JSON metadata, read back without pickle.

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
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import check_int
from .archive import READ_ERRORS, ZIP_MAGIC, write_member
from .atomic import atomic_path
from .errors import one_line

__all__ = [
    "FORMAT_VERSION",
    "METADATA_KEY",
    "Checkpoint",
    "load_checkpoint",
    "restore_generator",
    "save_checkpoint",
]

FORMAT_NAME = "scratchrnn-checkpoint"
FORMAT_VERSION = 1  # raise when the layout changes; readers refuse files newer than they know
METADATA_KEY = "__scratchrnn__"  # the metadata member; weight readers look for it to refuse checkpoints

_ARRAY_TAG = "__ndarray__"
_SCALAR_TAG = "__npscalar__"
_TUPLE_TAG = "__tuple__"
_DICT_TAG = "__dict__"
_TAGS = frozenset({_ARRAY_TAG, _SCALAR_TAG, _TUPLE_TAG, _DICT_TAG})

_MEMBER_PART_KEEP = 64  # characters of a key kept in a member name (names are only labels)
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._+-]")
_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


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
            write_member(archive, METADATA_KEY, meta_array, compress)
            for key, array in arrays.items():
                write_member(archive, key, array, compress)
    return Path(path)


# -- decoding -----------------------------------------------------------------------------------
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
        except READ_ERRORS as exc:
            raise self.corrupt(f"member {key!r} cannot be read: {one_line(exc)}") from exc
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
                raise self.corrupt(f"{where} is a malformed numpy scalar: {one_line(exc)}") from exc
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
        raise decoder.corrupt(f"metadata is not valid JSON: {one_line(exc)}") from exc
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
        if head not in ZIP_MAGIC:
            raise ValueError(f"{name} is not a scratchrnn checkpoint (not an .npz/zip archive)")
        file.seek(0)
        try:
            archive = np.load(file, allow_pickle=False)
        except READ_ERRORS as exc:
            raise ValueError(f"{name} is truncated or corrupt (its zip directory cannot be read: "
                             f"{one_line(exc)})") from exc
        with archive:
            decoder = _Decoder(archive, name)
            meta = _read_metadata(decoder)
            return _decode_checkpoint(decoder, meta, path)
