"""The package itself: what ``import scratchrnn`` offers, that each name is the object of its home
module, that nothing heavy is imported before a name is asked for (the command line takes its
signals first), and that importing it pulls in neither torch nor matplotlib (optional extras,
imported only where used)."""

import importlib
import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

import scratchrnn
from cli_helpers import ENV

ROOT = Path(__file__).resolve().parents[1]

# every top-level name and the module that defines it, written out here so a name that moves or
# that ``__init__`` maps to the wrong module fails
HOMES = {
    "RNN": "scratchrnn.nn.rnn",
    "LSTM": "scratchrnn.nn.lstm",
    "GRU": "scratchrnn.nn.gru",
    "Linear": "scratchrnn.nn.linear",
    "Embedding": "scratchrnn.nn.linear",
    "Module": "scratchrnn.nn.module",
    "SequenceModel": "scratchrnn.nn.model",
    "ModelConfig": "scratchrnn.nn.model",
    "Trainer": "scratchrnn.train",
    "TrainConfig": "scratchrnn.train",
    "SequenceData": "scratchrnn.data.sequences",
    "TokenStream": "scratchrnn.data.sequences",
    "CharLM": "scratchrnn.lm",
    "WordLM": "scratchrnn.lm",
    "load_language_model": "scratchrnn.lm",
}
SUBMODULES = {"data", "functional", "gradcheck", "init", "io", "lm", "losses", "nn", "optim", "sample",
              "train"}


def test_all_lists_the_entry_points_the_submodules_and_the_version():
    assert len(scratchrnn.__all__) == len(set(scratchrnn.__all__))
    assert set(scratchrnn.__all__) == set(HOMES) | SUBMODULES | {"__version__"}


@pytest.mark.parametrize("name", sorted(HOMES))
def test_each_name_is_the_object_of_its_home_module(name):
    obj = getattr(scratchrnn, name)
    home = importlib.import_module(HOMES[name])
    assert obj is getattr(home, name)
    assert obj.__module__ == HOMES[name]


@pytest.mark.parametrize("name", sorted(SUBMODULES))
def test_each_submodule_is_the_module_itself(name):
    module = getattr(scratchrnn, name)
    assert isinstance(module, types.ModuleType)
    assert module is sys.modules[f"scratchrnn.{name}"]


def test_dir_lists_every_public_name_before_it_is_imported():
    code = "import scratchrnn; print(sorted(set(scratchrnn.__all__) - set(dir(scratchrnn))))"
    assert _fresh(code) == "[]"
    assert set(scratchrnn.__all__) <= set(dir(scratchrnn))


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="module 'scratchrnn' has no attribute 'Bogus'"):
        scratchrnn.Bogus  # noqa: B018 - the lookup is the test
    assert not hasattr(scratchrnn, "bogus")
    with pytest.raises(ImportError, match="cannot import name 'Bogus'"):
        exec("from scratchrnn import Bogus", {})


def test_the_version_is_the_projects():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert scratchrnn.__version__ == project["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", scratchrnn.__version__)


def _fresh(code: str) -> str:
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_a_name_is_imported_only_when_asked_for():
    code = ("import sys, scratchrnn; before = 'numpy' in sys.modules; lm = scratchrnn.CharLM; "
            "print(before, 'numpy' in sys.modules, 'scratchrnn.lm' in sys.modules, "
            "'scratchrnn.train' in sys.modules, 'scratchrnn.tasks' in sys.modules)")
    # asking for CharLM imports its module (and what that needs, the trainer), nothing else
    assert _fresh(code) == "False True True True False"


def test_a_star_import_gives_every_public_name():
    code = ("ns = {}; exec('from scratchrnn import *', ns); import scratchrnn; "
            "print(all(ns[n] is getattr(scratchrnn, n) for n in scratchrnn.__all__), "
            "sorted(set(scratchrnn.__all__) - set(ns)))")
    assert _fresh(code) == "True []"


def test_importing_the_package_imports_no_optional_extra():
    extras = "('torch', 'matplotlib', 'safetensors')"
    code = f"import sys, scratchrnn, scratchrnn.cli; print(sorted(m for m in {extras} if m in sys.modules))"
    assert _fresh(code) == "[]"

