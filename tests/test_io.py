"""scratchrnn.io: every name the package offered when it was one module still works at that path."""

import pickle
import subprocess
import sys

import pytest

import scratchrnn.io as sio
from io_helpers import SEQUENCE_CONFIGS, assert_same_params, sequence_model, torch_params
from scratchrnn.io import (
    archive,
    atomic,
    checkpoint,
    errors,
    interop,
    limits,
    onnx_export,
    optim_interop,
    schedule_interop,
    torch_run,
    weights,
)

# The names of scratchrnn.io.__all__ before the split, with the module that now owns each.
OLD_ALL = {
    "FORMAT_VERSION": checkpoint,
    "Checkpoint": checkpoint,
    "atomic_path": atomic,
    "atomic_write_bytes": atomic,
    "atomic_write_text": atomic,
    "load_checkpoint": checkpoint,
    "restore_generator": checkpoint,
    "save_checkpoint": checkpoint,
    "EXPORT_FORMATS": weights,
    "MissingDependencyError": errors,
    "WEIGHTS_FORMAT_VERSION": weights,
    "export": weights,
    "from_torch": interop,
    "load_module": weights,
    "load_npz_weights": weights,
    "load_safetensors": weights,
    "save_npz_weights": weights,
    "save_safetensors": weights,
    "to_torch": interop,
}
# Public names the one module had outside __all__ (the tests read METADATA_KEY through it).
OLD_OTHERS = {"FORMAT_NAME": checkpoint, "METADATA_KEY": checkpoint, "WEIGHTS_FORMAT_NAME": weights}


@pytest.mark.parametrize("name", list(OLD_ALL) + list(OLD_OTHERS))
def test_old_names_are_the_owning_modules_objects(name):
    owner = {**OLD_ALL, **OLD_OTHERS}[name]
    namespace = {}
    exec(f"from scratchrnn.io import {name}", namespace)
    assert namespace[name] is getattr(owner, name)


# Names added since the split, with the module that owns each.
NEW_ALL = {
    "read_npz": archive,
    "CheckpointInfo": checkpoint,
    "check_resumable": checkpoint,
    "peek_checkpoint": checkpoint,
    "check_weights": interop,
    "MAX_JSON_BYTES": limits,
    "MAX_JSON_DEPTH": limits,
    "MAX_MEMBER_BYTES": limits,
    "read_json": limits,
    "TORCH_OPTIMIZERS": optim_interop,
    "from_torch_optimizer": optim_interop,
    "to_torch_optimizer": optim_interop,
    "TORCH_SCHEDULES": schedule_interop,
    "from_torch_scheduler": schedule_interop,
    "to_torch_scheduler": schedule_interop,
    "save_continued_run": torch_run,
    "ONNX_EXPORTABLE": onnx_export,
    "SEQ2SEQ_PARTS": onnx_export,
    "export_onnx": onnx_export,
    "onnx_model": onnx_export,
    "to_onnx": onnx_export,
}


def test_all_keeps_every_old_name_and_adds_only_the_new_ones():
    assert set(sio.__all__) == set(OLD_ALL) | set(NEW_ALL)
    assert all(getattr(sio, name) is getattr(owner, name) for name, owner in NEW_ALL.items())
    assert not set(OLD_OTHERS) & set(sio.__all__)


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'TorchSequenceModule'"):
        sio.TorchSequenceModule  # noqa: B018  (the access is the test)


def test_importing_io_does_not_import_torch():
    code = "import sys, scratchrnn.io; from scratchrnn.io import *; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_torch_sequence_model_at_the_old_path_pickles_under_it():
    pytest.importorskip("torch")
    assert sio.TorchSequenceModel is interop.TorchSequenceModel
    assert sio.TorchSequenceModel.__module__ == "scratchrnn.io"
    t = sio.to_torch(sequence_model(SEQUENCE_CONFIGS[0]))
    data = pickle.dumps(t)
    assert b"scratchrnn.io" in data and b"scratchrnn.io.interop" not in data
    again = pickle.loads(data)
    assert type(again) is sio.TorchSequenceModel
    assert_same_params(torch_params(again), torch_params(t))
