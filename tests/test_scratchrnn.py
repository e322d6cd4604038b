"""The package itself: what ``import scratchrnn`` offers, that each name is the object of its home
module, that nothing heavy is imported before a name is asked for (the command line takes its
signals first), that importing it pulls in neither torch nor matplotlib (optional extras,
imported only where used), and that every field of every public dataclass is documented where
``help()`` shows it."""

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import pydoc
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
    "RNNCell": "scratchrnn.nn.cells",
    "LSTMCell": "scratchrnn.nn.cells",
    "GRUCell": "scratchrnn.nn.cells",
    "SequenceModel": "scratchrnn.nn.model",
    "ModelConfig": "scratchrnn.nn.model",
    "Trainer": "scratchrnn.train",
    "TrainConfig": "scratchrnn.trainconfig",
    "SequenceData": "scratchrnn.data.sequences",
    "TokenStream": "scratchrnn.data.sequences",
    "pad_sequences": "scratchrnn.data.sequences",
    "SequenceClassifier": "scratchrnn.estimators",
    "SequenceRegressor": "scratchrnn.estimators",
    "Forecaster": "scratchrnn.forecast.forecaster",
    "backtest": "scratchrnn.forecast.rolling",
    "CharLM": "scratchrnn.lm",
    "WordLM": "scratchrnn.lm",
    "load_language_model": "scratchrnn.lm",
}
SUBMODULES = {"data", "forecast", "functional", "gradcheck", "init", "io", "lm", "losses", "nn", "optim",
              "sample", "train"}


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


# ------------------------------------------------------------------------------------------------
# every field of a public dataclass in its class's docstring
# ------------------------------------------------------------------------------------------------
SECTION = "Attributes:"  # one line per field under it: ``name (type, default VALUE): meaning``
# a long entry goes on in lines indented further (the meaning may start on the next one)
ENTRY = re.compile(r"    (\w+) \((.+?)\):(?: (\S.*)|)")


def public_dataclasses() -> list[type]:
    """Every dataclass defined in a module of the package under a public name."""
    found = []
    for info in pkgutil.walk_packages(scratchrnn.__path__, "scratchrnn."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and dataclasses.is_dataclass(obj) and not name.startswith("_")
                    and obj.__module__ == module.__name__):
                found.append(obj)
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


DATACLASSES = public_dataclasses()


def documented_fields(doc: str | None) -> dict[str, tuple[str, str]]:
    """The entries of the ``Attributes:`` section of ``doc``: name -> (its type and default, its
    meaning). The section is the indented block under the heading; a line in it that is not an
    entry or the continuation of one is an AssertionError, so a typo cannot hide a field."""
    lines = inspect.cleandoc(doc or "").splitlines()
    if SECTION not in lines:
        return {}
    entries: dict[str, tuple[str, str]] = {}
    for line in lines[lines.index(SECTION) + 1:]:
        if not line.startswith("    "):
            break
        match = ENTRY.fullmatch(line)
        if match:
            entries[match[1]] = (match[2], match[3] or "")
        else:
            assert line.startswith("        ") and entries, f"not a field entry: {line!r}"
            name = next(reversed(entries))
            kind, meaning = entries[name]
            entries[name] = (kind, f"{meaning} {line.strip()}".strip())
    return entries


def stated_default(kind: str, module_name: str):
    """What ``TYPE, default VALUE`` states as the default (a literal or a constant of the class's
    module); ``dataclasses.MISSING`` when no default is stated."""
    match = re.search(r", default (.+)$", kind)
    if match is None:
        return dataclasses.MISSING
    text = match[1]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        module = sys.modules[module_name]
        assert text.isidentifier() and hasattr(module, text), f"default {text!r}: not a literal, not a name"
        return getattr(module, text)


def field_default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def test_the_walk_finds_the_public_dataclasses():
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in DATACLASSES}
    assert {"scratchrnn.nn.model.ModelConfig", "scratchrnn.trainconfig.TrainConfig",
            "scratchrnn.train.History",
            "scratchrnn.optim.adaptive.AdamConfig", "scratchrnn.tasks.sine.Config",
            "scratchrnn.gradcheck.matrix.GradcheckConfig", "scratchrnn.io.checkpoint.Checkpoint"} <= names
    assert not any(cls.__name__.startswith("_") for cls in DATACLASSES)


def field_doc_problems(cls: type) -> list[str]:
    """What is wrong with the field documentation of the dataclass ``cls`` (empty when nothing)."""
    where = f"{cls.__module__}.{cls.__qualname__}"
    entries = documented_fields(cls.__doc__)
    if not entries:
        return [f"{where}: the docstring has no {SECTION!r} section listing the fields"]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    problems = [f"{where}.{name}: not in the docstring" for name in fields if name not in entries]
    problems += [f"{where}.{name}: documented, but not a field" for name in entries if name not in fields]
    if not problems and list(entries) != list(fields):
        problems.append(f"{where}: list the fields in the order they are declared, {list(fields)}")
    for name, (kind, meaning) in entries.items():
        if name not in fields:
            continue
        if not meaning:
            problems.append(f"{where}.{name}: says nothing after ({kind})")
        stated, actual = stated_default(kind, cls.__module__), field_default(fields[name])
        if actual is dataclasses.MISSING and stated is not dataclasses.MISSING:
            problems.append(f"{where}.{name}: has no default, the docstring states {stated!r}")
        elif actual is not dataclasses.MISSING and stated is dataclasses.MISSING:
            problems.append(f"{where}.{name}: say ({kind}, default {actual!r})")
        elif not (type(stated) is type(actual) and stated == actual):
            problems.append(f"{where}.{name}: the docstring says default {stated!r}, the field has "
                            f"{actual!r}")
    return problems


@pytest.mark.parametrize("cls", DATACLASSES, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_every_field_is_documented_with_its_default(cls):
    assert field_doc_problems(cls) == []


def test_help_shows_the_field_documentation():
    shown = pydoc.render_doc(scratchrnn.ModelConfig, renderer=pydoc.plaintext)
    assert "hidden_size (int, default 128): features of every layer's hidden state" in shown


def test_the_docstring_check_can_fail():
    @dataclasses.dataclass
    class Example:
        """Something.

        Attributes:
            size (int, default 3): how many.
            rate (float, default 0.5): how fast, said
                over two lines.
            later (int, default 0): documented, but not a field.

        Other:
            name (str): not in the section.
        """

        size: int = 3
        rate: float = 0.1
        name: str = ""

    where = f"{__name__}.{Example.__qualname__}"
    assert field_doc_problems(Example) == [
        f"{where}.name: not in the docstring",
        f"{where}.later: documented, but not a field",
        f"{where}.rate: the docstring says default 0.5, the field has 0.1",
    ]
    assert documented_fields(Example.__doc__)["rate"] == ("float, default 0.5",
                                                          "how fast, said over two lines.")

    @dataclasses.dataclass
    class Unordered:
        """Something.

        Attributes:
            b (int):
            a (str, default SECTION): a default named by a constant of the module.
        """

        a: str = SECTION
        b: int = 0

    where = f"{__name__}.{Unordered.__qualname__}"
    assert field_doc_problems(Unordered) == [
        f"{where}: list the fields in the order they are declared, ['a', 'b']",
        f"{where}.b: says nothing after (int)",
        f"{where}.b: say (int, default 0)",
    ]
    assert field_doc_problems(dataclasses.make_dataclass("Bare", ["x"])) == [
        "types.Bare: the docstring has no 'Attributes:' section listing the fields"]
    with pytest.raises(AssertionError, match="not a field entry"):
        documented_fields("Summary.\n\nAttributes:\n    size: int, default 3\n")
