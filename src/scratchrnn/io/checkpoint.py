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
Object arrays are never written, and nothing is ever unpickled.

Reading checks the file before it builds anything: the archive and every member within the
limits of ``scratchrnn.io.limits`` (``scratchrnn.io.archive`` reads each ``.npy`` header first),
the metadata's size and nesting (``MAX_JSON_BYTES``, ``MAX_JSON_DEPTH``; saving refuses a tree
that readers would refuse), and the kind of every field: step and epoch integers >= 0, params
a dict of numeric arrays, rng_state a generator state that restores, hidden None, an array or
a tuple of arrays, config a dict, vocab a list of str, history a list of dicts, and every
tagged value well formed (a scalar's dtype a bool, integer or float name and its value of that
kind). Anything else is a one-line ``ValueError`` naming the file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import check_int
from .archive import ZIP_MAGIC, NpyArchive, write_member
from .atomic import atomic_path
from .errors import check_readable, one_line
from .limits import MAX_JSON_BYTES, MAX_JSON_DEPTH, json_depth, loads_json

__all__ = [
    "FORMAT_VERSION",
    "METADATA_KEY",
    "Checkpoint",
    "CheckpointInfo",
    "check_resumable",
    "load_checkpoint",
    "peek_checkpoint",
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

    The fields come back as ``save_checkpoint`` was given them (see the module docstring).

    Attributes:
        params (dict of str to ndarray): the parameters by name, dtypes kept.
        optimizer_state (any, default None): the optimizer's ``state_dict()``.
        rng_state (dict or None, default None): a ``bit_generator.state``; ``generator()`` rebuilds it.
        step (int, default 0): optimizer steps taken.
        epoch (int, default 0): epochs begun.
        hidden (any, default None): the carried state: None, an array or a tuple of arrays (LSTM).
        config (dict or None, default None): the configuration, e.g. ``{"model": ..., "train": ...}``.
        vocab (list of str or None, default None): the vocabulary, in id order.
        history (list of dict or None, default None): the per-step training records.
        extra (any, default None): anything else JSON and arrays can hold (the trainer's counters).
        format_version (int, default FORMAT_VERSION): the file format the checkpoint was read from.
        path (Path or None, default None): the file it was read from (not compared by ``==``).
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

    To continue an existing generator instead: ``gen.bit_generator.state = state``. A state that
    numpy refuses (a missing key, a value of the wrong type or size) is a ``ValueError``.
    """
    name = state.get("bit_generator") if isinstance(state, Mapping) else None
    if not isinstance(name, str) or name not in _GENERATORS:
        raise ValueError(f"rng state must name one of the bit generators {list(_GENERATORS)}, got "
                         f"{_quote(name)}")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = dict(state)
    except (TypeError, ValueError, KeyError, OverflowError, IndexError) as exc:
        raise ValueError(f"rng state is not a valid {name} state: {one_line(exc)}") from None
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
            if len(parts) > MAX_JSON_DEPTH:  # its JSON nests deeper still: readers would refuse it
                raise ValueError(f"{where} is nested more than {MAX_JSON_DEPTH} levels deep, deeper than a "
                                 "checkpoint reader accepts (MAX_JSON_DEPTH)")
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
    depth = json_depth(meta)
    if depth > MAX_JSON_DEPTH:  # tags add levels: {"__tuple__": [...]} is two
        raise ValueError(f"the checkpoint's fields nest {depth} levels deep as JSON, more than the "
                         f"{MAX_JSON_DEPTH} (MAX_JSON_DEPTH) a checkpoint reader accepts")
    if len(text) > MAX_JSON_BYTES:
        raise ValueError(f"the checkpoint's metadata takes {len(text)} bytes of JSON, more than the "
                         f"{MAX_JSON_BYTES} (MAX_JSON_BYTES) a checkpoint reader accepts")
    meta_array = np.frombuffer(text.encode("ascii"), dtype=np.uint8)  # (n_bytes,)
    with atomic_path(path) as temp:
        with open(temp, "wb") as file, zipfile.ZipFile(file, "w", allowZip64=True) as archive:
            write_member(archive, METADATA_KEY, meta_array, compress)
            for key, array in arrays.items():
                write_member(archive, key, array, compress)
    return Path(path)


# -- decoding -----------------------------------------------------------------------------------
def _scalar_dtype(name: Any) -> np.dtype | None:
    """The dtype a scalar entry names, if it is one ``save_checkpoint`` writes inline; else None."""
    if not isinstance(name, str):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a deprecated alias is refused, not warned about
        try:
            dtype = np.dtype(name)
        except (TypeError, ValueError, SyntaxError, Warning):
            return None
    return dtype if dtype.kind in "biuf" and dtype.itemsize <= 8 else None


def _scalar_value_fits(dtype: np.dtype, value: Any) -> bool:
    """Whether a JSON value is what ``np.generic.item()`` gives for that dtype (and so was written)."""
    if dtype.kind == "b":
        return isinstance(value, bool)
    if dtype.kind in "iu":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, float)


class _Decoder:
    """Read arrays from an open archive and rebuild the JSON trees; errors name the file."""

    def __init__(self, archive: NpyArchive, name: str):
        self.archive = archive
        self.name = name
        self.members = set(archive.keys)

    def corrupt(self, problem: str) -> ValueError:
        return ValueError(f"{self.name} is corrupt ({problem})")

    def known(self, key: Any) -> str:
        """``key`` if it names an array member of the archive."""
        if not isinstance(key, str) or key not in self.members:
            raise self.corrupt(f"the metadata refers to a missing array member {_quote(key)}")
        return key

    def member(self, node: Any, where: str) -> str:
        """The member an ``{"__ndarray__": member}`` node names, which must exist."""
        if not (isinstance(node, dict) and len(node) == 1 and _ARRAY_TAG in node):
            raise self.corrupt(f"{where} is not an array entry")
        return self.known(node[_ARRAY_TAG])

    def array(self, key: Any) -> np.ndarray:
        return self.archive.read(self.known(key))

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
            dtype = _scalar_dtype(body["dtype"])
            if dtype is None:
                raise self.corrupt(f"{where} is a numpy scalar of dtype {_quote(body['dtype'])}, "
                                   "expected a bool, integer or float dtype of up to 64 bits")
            if not _scalar_value_fits(dtype, body["value"]):
                raise self.corrupt(f"{where} is a numpy scalar of dtype {dtype} holding a "
                                   f"{type(body['value']).__name__}")
            try:
                return dtype.type(body["value"])
            except (TypeError, ValueError, OverflowError) as exc:
                raise self.corrupt(f"{where} is a malformed numpy scalar: {one_line(exc)}") from exc
        if isinstance(body, dict) and set(body) == {_ARRAY_TAG}:
            value = self.array(body[_ARRAY_TAG])
            if value.ndim == 0:
                return value[()]
        raise self.corrupt(f"{where} is a malformed numpy scalar")

    def param_members(self, meta: dict) -> dict[str, str]:
        """name -> member of the params entry, checked before any array is read."""
        tree = meta.get("params")
        if isinstance(tree, dict) and len(tree) == 1 and _DICT_TAG in tree:
            tree = tree[_DICT_TAG]
        if not isinstance(tree, dict):
            raise self.corrupt("params is not a dict of arrays")
        members = {name: self.member(node, f"params[{name!r}]") for name, node in tree.items()}
        for name, key in members.items():
            dtype = self.archive.header(key)[1]
            if dtype.kind not in "biufc":
                raise self.corrupt(f"params[{name!r}] has dtype {dtype}, expected a numeric array")
        return members


def _quote(value: Any, keep: int = 40) -> str:
    """``repr(value)`` cut to ``keep`` characters, for quoting a value read from a file."""
    text = repr(value)
    return text if len(text) <= keep else text[:keep] + "..."


_FIELDS = ("params", "optimizer_state", "rng_state", "hidden", "config", "vocab", "history", "extra")


def _read_metadata(decoder: _Decoder) -> dict:
    name = decoder.name
    if METADATA_KEY not in decoder.members:
        raise ValueError(f"{name} is not a scratchrnn checkpoint (no metadata member {METADATA_KEY!r})")
    shape, dtype = decoder.archive.header(METADATA_KEY)
    if dtype != np.uint8 or len(shape) != 1:
        raise decoder.corrupt(f"metadata member is {dtype} with shape {shape}, expected 1-D uint8")
    if shape[0] > MAX_JSON_BYTES:
        raise decoder.corrupt(f"metadata member holds {shape[0]} bytes, more than the {MAX_JSON_BYTES} "
                              "(MAX_JSON_BYTES) a reader parses")
    raw = decoder.array(METADATA_KEY).tobytes()
    try:
        meta = loads_json(raw, "metadata")
    except ValueError as exc:
        raise decoder.corrupt(str(exc)) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ValueError(f"{name} is not a scratchrnn checkpoint "
                         f"(metadata has no format marker {FORMAT_NAME!r})")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise decoder.corrupt(f"format version is {_quote(version)}, expected an integer >= 1")
    if version > FORMAT_VERSION:
        raise ValueError(f"{name} has checkpoint format version {version}, newer than the version "
                         f"{FORMAT_VERSION} this scratchrnn reads; upgrade scratchrnn to load it")
    for key in ("step", "epoch"):
        value = meta.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise decoder.corrupt(f"{key} is {_quote(value)}, expected an integer >= 0")
    missing = [key for key in _FIELDS if key not in meta]
    if missing:
        raise decoder.corrupt(f"the metadata has no {missing[0]!r} entry")
    return meta


def _check_field(decoder: _Decoder, key: str, value: Any) -> None:
    """The kind each decoded field must have (None is always allowed)."""
    if value is None:
        return
    if key == "rng_state":
        if not isinstance(value, dict):
            raise decoder.corrupt(f"rng_state has the wrong type ({type(value).__name__})")
        try:
            restore_generator(value)  # so that Checkpoint.generator() cannot fail later
        except ValueError as exc:
            raise decoder.corrupt(one_line(exc)) from None
    elif key == "hidden":
        parts = value if isinstance(value, tuple) else (value,)
        if not all(isinstance(part, np.ndarray) for part in parts):
            raise decoder.corrupt(f"hidden has the wrong type ({type(value).__name__}), expected an "
                                  "array or a tuple of arrays")
    elif key == "config" and not isinstance(value, dict):
        raise decoder.corrupt(f"config has the wrong type ({type(value).__name__})")
    elif key == "vocab" and not (isinstance(value, list) and all(isinstance(t, str) for t in value)):
        raise decoder.corrupt(f"vocab has the wrong type ({type(value).__name__})")
    elif key == "history" and not (isinstance(value, list) and all(isinstance(e, dict) for e in value)):
        raise decoder.corrupt(f"history has the wrong type ({type(value).__name__})")


def _decode_checkpoint(decoder: _Decoder, meta: dict, path: Path) -> Checkpoint:
    params = {name: decoder.array(key) for name, key in decoder.param_members(meta).items()}
    fields = {"params": params, "step": meta["step"], "epoch": meta["epoch"]}
    for key in _FIELDS[1:]:
        fields[key] = decoder.decode(meta[key], key)
        _check_field(decoder, key, fields[key])
    return Checkpoint(**fields, format_version=meta["format_version"], path=path)


def _open(path: Path) -> NpyArchive:
    """The archive of a checkpoint file, after the checks every checkpoint reader makes first."""
    check_readable(path, "scratchrnn checkpoint")
    with open(path, "rb") as file:
        if file.read(4) not in ZIP_MAGIC:
            raise ValueError(f"{path} is not a scratchrnn checkpoint (not an .npz/zip archive)")
    return NpyArchive(path, f"{path} is corrupt", f"{path} is truncated or corrupt")


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint`` (nothing is unpickled).

    Arrays come back with their dtypes, tuples as tuples, the generator state exactly.
    A missing file raises ``FileNotFoundError``; a directory, an empty, truncated or corrupt
    file, a file that is not an .npz archive, an .npz without scratchrnn metadata, a newer
    format version, or a file past the limits of ``scratchrnn.io.limits`` raise ``ValueError``
    with a one-line message that names the file.
    """
    path = Path(path)
    with _open(path) as archive:
        decoder = _Decoder(archive, str(path))
        return _decode_checkpoint(decoder, _read_metadata(decoder), path)


@dataclass
class CheckpointInfo:
    """What ``peek_checkpoint`` reads: the fields a caller checks before loading the whole file.

    Attributes:
        params (dict of str to (shape, dtype)): each parameter's shape and dtype, as its member declares.
        step (int): optimizer steps taken.
        epoch (int): epochs begun.
        config (dict or None): the stored configuration.
        format_version (int): the file's format version.
        path (Path): the file.
    """

    params: dict[str, tuple[tuple[int, ...], np.dtype]]
    step: int
    epoch: int
    config: dict | None
    format_version: int
    path: Path


def peek_checkpoint(path: str | os.PathLike) -> CheckpointInfo:
    """The metadata, config and parameter shapes of a checkpoint, reading no parameter data.

    Only the metadata and config members and the ``.npy`` headers of the parameters are read, so
    a caller can compare the shapes with what it expects (``scratchrnn.io.load_module`` does)
    before ``load_checkpoint`` reads the arrays. Errors as for ``load_checkpoint``.
    """
    path = Path(path)
    with _open(path) as archive:
        decoder = _Decoder(archive, str(path))
        meta = _read_metadata(decoder)
        params = {name: archive.header(key) for name, key in decoder.param_members(meta).items()}
        config = decoder.decode(meta["config"], "config")
        _check_field(decoder, "config", config)
    return CheckpointInfo(params=params, step=meta["step"], epoch=meta["epoch"], config=config,
                          format_version=meta["format_version"], path=path)


def check_resumable(ck, path) -> None:
    """Refuse a loaded checkpoint without optimizer or generator state (a weights-only file)."""
    if ck.optimizer_state is None or ck.rng_state is None:
        raise ValueError(f"{path} holds no optimizer or generator state (a model.npz holds only weights), "
                         "so the run cannot continue from it exactly; resume from the last.npz in that "
                         "run's folder")
