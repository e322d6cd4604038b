"""Files on disk: atomic writes, training checkpoints, weight files and PyTorch interop.

One module per job; every public name is also offered here, at ``scratchrnn.io``:

* ``atomic``: ``atomic_path`` and friends, which replace a file whole or not at all;
* ``archive``: zip archives of ``.npy`` members (the ``.npz`` layout) that the two formats share,
  and ``read_npz``, which reads any ``.npz`` file into name -> array;
* ``checkpoint``: the training checkpoint format (``save_checkpoint``, ``load_checkpoint``,
  ``peek_checkpoint``);
* ``weights``: state dicts as ``.safetensors`` or ``.npz`` files, ``load_module`` and ``export``;
* ``interop``: ``to_torch`` / ``from_torch``, the module descriptions weight files record, and
  ``check_weights``, which compares weights with a description before a module is built;
* ``optim_interop``, ``schedule_interop`` and ``torch_run``: an optimizer's and a schedule's state
  to ``torch.optim`` and back, and a run continued in torch written back as one the trainer resumes;
* ``onnx_export``: ``to_onnx`` and ``export_onnx``, a model as an ONNX graph (``onnx_graph``
  builds it from the layers);
* ``limits``: the resource limits every reader keeps (``MAX_MEMBER_BYTES``, ``MAX_JSON_BYTES``,
  ``MAX_JSON_DEPTH``, ...) and ``read_json``, a JSON file read within them;
* ``errors``: ``MissingDependencyError`` and the checks and wording the readers share.

Nothing here imports torch; ``scratchrnn.io.TorchSequenceModel`` is made on first access. The
format constants ``FORMAT_NAME``, ``METADATA_KEY`` and ``WEIGHTS_FORMAT_NAME`` are offered here too
(imported ``as`` themselves), outside ``__all__`` as when io was one module.
"""

from __future__ import annotations

from . import interop
from .archive import read_npz
from .atomic import atomic_path, atomic_write_bytes, atomic_write_text
from .checkpoint import FORMAT_NAME as FORMAT_NAME
from .checkpoint import (
    FORMAT_VERSION,
    Checkpoint,
    CheckpointInfo,
    check_resumable,
    load_checkpoint,
    peek_checkpoint,
    restore_generator,
    save_checkpoint,
)
from .checkpoint import METADATA_KEY as METADATA_KEY
from .errors import MissingDependencyError
from .interop import check_weights, from_torch, to_torch
from .limits import MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_MEMBER_BYTES, read_json
from .onnx_export import ONNX_EXPORTABLE, SEQ2SEQ_PARTS, export_onnx, onnx_model, to_onnx
from .optim_interop import TORCH_OPTIMIZERS, from_torch_optimizer, to_torch_optimizer
from .schedule_interop import TORCH_SCHEDULES, from_torch_scheduler, to_torch_scheduler
from .torch_run import save_continued_run
from .weights import (
    EXPORT_FORMATS,
    WEIGHTS_FORMAT_VERSION,
    export,
    load_module,
    load_npz_weights,
    load_safetensors,
    save_npz_weights,
    save_safetensors,
)
from .weights import WEIGHTS_FORMAT_NAME as WEIGHTS_FORMAT_NAME

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "CheckpointInfo",
    "check_resumable",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_MEMBER_BYTES",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_checkpoint",
    "peek_checkpoint",
    "read_json",
    "restore_generator",
    "save_checkpoint",
    "EXPORT_FORMATS",
    "MissingDependencyError",
    "WEIGHTS_FORMAT_VERSION",
    "check_weights",
    "export",
    "from_torch",
    "load_module",
    "load_npz_weights",
    "load_safetensors",
    "read_npz",
    "save_npz_weights",
    "save_safetensors",
    "to_torch",
    "TORCH_OPTIMIZERS",
    "from_torch_optimizer",
    "to_torch_optimizer",
    "TORCH_SCHEDULES",
    "from_torch_scheduler",
    "to_torch_scheduler",
    "save_continued_run",
    "ONNX_EXPORTABLE",
    "SEQ2SEQ_PARTS",
    "export_onnx",
    "onnx_model",
    "to_onnx",
]


def __getattr__(name: str):
    """``TorchSequenceModel`` is made (importing torch) on first access; see ``interop``."""
    if name == "TorchSequenceModel":
        return interop.TorchSequenceModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
