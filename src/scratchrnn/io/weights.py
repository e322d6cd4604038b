"""Weight files: the state dict alone, as ``.safetensors`` or ``.npz``, and rebuilding a module from one.

Format (version 1)
------------------
Both formats hold exactly the state dict (PyTorch names, arrays in their own dtype), so a plain
reader (``safetensors.torch.load_file``, ``np.load``) gives a dict that a torch module accepts
with strict=True. The description that ``load_module`` needs is kept beside the arrays as str
-> str entries: ``scratchrnn.format`` (``"scratchrnn-weights"``), ``scratchrnn.format_version``,
and, when the source was a known module, ``scratchrnn.module`` (its class name) and
``scratchrnn.config`` (its constructor arguments as JSON, see ``scratchrnn.io.interop``). A
.safetensors file keeps them in its header metadata; an .npz archive keeps them, as JSON, in the
zip archive comment, which ``np.load`` ignores.

``export`` turns a training checkpoint (``scratchrnn.io.checkpoint``) into such a file.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .archive import read_npz, write_member, zip_members
from .atomic import atomic_path
from .checkpoint import METADATA_KEY, Checkpoint, load_checkpoint, peek_checkpoint
from .errors import MissingDependencyError, check_readable, one_line
from .interop import as_array, build_scratch, check_weights, describe, describe_torch, loaded_torch
from .limits import loads_json

__all__ = [
    "EXPORT_FORMATS",
    "WEIGHTS_FORMAT_VERSION",
    "export",
    "load_module",
    "load_npz_weights",
    "load_safetensors",
    "save_npz_weights",
    "save_safetensors",
]

WEIGHTS_FORMAT_NAME = "scratchrnn-weights"
WEIGHTS_FORMAT_VERSION = 1  # raise when the layout changes; readers refuse files newer than they know
EXPORT_FORMATS = ("safetensors", "npz")

_META_FORMAT = "scratchrnn.format"
_META_VERSION = "scratchrnn.format_version"
_META_MODULE = "scratchrnn.module"
_META_CONFIG = "scratchrnn.config"
_ZIP_COMMENT_MAX = 0xFFFF  # the zip format stores the archive comment length in 16 bits


def _require_safetensors():
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as exc:
        raise MissingDependencyError("safetensors is not installed; install it with "
                                     "`pip install safetensors` (torch is not needed)") from exc
    return safetensors


def _weights_and_metadata(source) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Arrays (C-contiguous) and str -> str metadata from a module or a state dict.

    A module that scratchrnn can rebuild (a known scratchrnn class, or a torch module that
    ``from_torch`` accepts) also records its description; anything else is saved as weights alone.
    """
    from ..nn.module import Module

    torch = loaded_torch()
    description = None
    if torch is not None and isinstance(source, torch.nn.Module):
        try:
            description = describe_torch(torch, source)
        except ValueError:
            description = None
        state = source.state_dict()
    elif isinstance(source, Module):
        description = describe(source)
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
        array = as_array(value, key)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"state dict key {key!r} has dtype {array.dtype}, expected a real numeric array")
        arrays[key] = np.ascontiguousarray(array)
    meta = {_META_FORMAT: WEIGHTS_FORMAT_NAME, _META_VERSION: str(WEIGHTS_FORMAT_VERSION)}
    if description is not None:
        meta[_META_MODULE] = description[0]
        meta[_META_CONFIG] = json.dumps(description[1], sort_keys=True, ensure_ascii=True)
    return arrays, meta


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
    check_readable(path, "safetensors file")
    try:
        with safetensors.safe_open(name, framework="numpy") as file:
            meta = file.metadata() or {}
            arrays = {key: file.get_tensor(key) for key in file.keys()}
    except (safetensors.SafetensorError, OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not a readable safetensors file ({one_line(exc)})") from exc
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
                write_member(archive, key, array, compress)
            archive.comment = comment
    return Path(path)


def _read_npz_weights(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays of an .npz weights file and the scratchrnn entries of its zip comment."""
    name = str(path)
    check_readable(path, "weights .npz file")
    listing = zip_members(path)
    if listing is None:
        raise ValueError(f"{name} is not an .npz weights file (not a zip archive)")
    members, comment = listing
    if METADATA_KEY + ".npy" in members:
        raise ValueError(f"{name} is a scratchrnn checkpoint, not a weights file; read it with "
                         "load_checkpoint or convert it with export")
    arrays = read_npz(path)
    try:
        meta = loads_json(comment, "zip comment") if comment else {}
    except ValueError:
        meta = {}  # some other program's comment: plain weights
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        meta = {}
    return arrays, _check_metadata(meta, name)


def load_npz_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an .npz weights file into name -> numpy array (``allow_pickle=False``).

    Missing file: ``FileNotFoundError``; anything else wrong, including passing a training
    checkpoint: ``ValueError`` naming the file.
    """
    return _read_npz_weights(Path(path))[0]


def _model_config(config: dict | None, name: str) -> Mapping:
    """The model configuration (config["model"]) a trainer checkpoint records."""
    model_cfg = (config or {}).get("model")
    if not isinstance(model_cfg, Mapping):
        raise ValueError(f"{name} has no model configuration (config['model']), so the module cannot be "
                         "rebuilt; it was not written by the trainer")
    return model_cfg


def _module_from_checkpoint(checkpoint: Checkpoint, rng=None):
    """The SequenceModel a trainer checkpoint describes (config["model"]), with its params.

    The params are compared with the shapes the configuration implies before the model is built.
    """
    name = str(checkpoint.path)
    model_cfg = _model_config(checkpoint.config, name)
    try:
        check_weights("SequenceModel", model_cfg, checkpoint.params)
        module = build_scratch("SequenceModel", model_cfg, rng=rng)
        module.load_state_dict(checkpoint.params, strict=True)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc
    return module


def _load_trainer_module(path: Path, rng=None):
    """The SequenceModel of a trainer checkpoint file, its parameter headers checked before any data."""
    info = peek_checkpoint(path)
    try:
        check_weights("SequenceModel", _model_config(info.config, str(path)), info.params)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return _module_from_checkpoint(load_checkpoint(path), rng=rng)


def load_module(path: str | os.PathLike, rng=None):
    """Rebuild the module saved in a weights file (.safetensors or .npz) or a trainer checkpoint.

    The file must carry a module description (it does when a module was saved, not a plain state
    dict). The weights are compared with the shapes the description implies before the module is
    built (for a checkpoint, from its members' headers before their data is read), so a damaged
    description cannot make it allocate. Returns the module in training mode, like a new one;
    ``rng`` seeds its dropout masks. Missing file: ``FileNotFoundError``; anything else wrong:
    ``ValueError`` naming the file (and, for a missing, unexpected or wrongly shaped weight, the key).
    """
    path = Path(path)
    name = str(path)
    check_readable(path, "weights file")
    listing = zip_members(path)
    if listing is not None:
        if METADATA_KEY + ".npy" in listing[0]:
            return _load_trainer_module(path, rng=rng)
        arrays, meta = _read_npz_weights(path)
    else:
        arrays, meta = _read_safetensors(path)
    if _META_MODULE not in meta:
        raise ValueError(f"{name} holds weights without a module description (it was saved from a state "
                         "dict); build the module yourself and call its load_state_dict")
    try:
        cfg = loads_json(meta.get(_META_CONFIG, ""), "module configuration")
    except ValueError as exc:
        raise ValueError(f"{name} is corrupt ({exc})") from None
    try:
        check_weights(meta[_META_MODULE], cfg, arrays)
        module = build_scratch(meta[_META_MODULE], cfg, rng=rng)
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
    if isinstance((peek_checkpoint(path_in).config or {}).get("model"), Mapping):
        source = _load_trainer_module(path_in)
    else:
        source = load_checkpoint(path_in).params
    if fmt == "safetensors":
        return save_safetensors(source, path_out)
    return save_npz_weights(source, path_out)
