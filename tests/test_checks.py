"""The shared argument checks and the one rule for ``rng`` arguments (scratchrnn.checks)."""

import importlib
import inspect
import re

import numpy as np
import pytest

from argument_cases import CASES, KINDS, NOTHING_TO_SWEEP, SCANNED, Case
from scratchrnn import checks
from scratchrnn.checks import (
    check_callable,
    check_choice,
    check_dtype,
    check_flag,
    check_int,
    check_numeric_dtype,
    check_optional_flag,
    check_optional_int,
    check_optional_size,
    check_pair,
    check_probability,
    check_random_state,
    check_real,
    check_size,
    check_truncate,
    is_int,
    is_real,
)


@pytest.mark.parametrize("value", [0, 7, -3, np.int64(5), np.uint8(2)])
def test_is_int_accepts_python_and_numpy_integers(value):
    assert is_int(value)


@pytest.mark.parametrize("value", [True, np.bool_(False), 1.0, "1", None, np.float32(1)])
def test_is_int_rejects_bools_floats_and_others(value):
    assert not is_int(value)


def test_is_real():
    assert all(is_real(v) for v in (0, 1.5, np.float32(2), np.int16(3), float("inf")))
    assert not any(is_real(v) for v in (True, "2", None, 1j, [1.0]))


def test_check_int_returns_a_python_int():
    out = check_int("n", np.int32(4), low=1)
    assert out == 4 and type(out) is int


@pytest.mark.parametrize(
    ("low", "high", "bad", "message"),
    [
        (1, None, 0, "n must be a positive integer, got 0"),
        (0, None, -1, "n must be an integer >= 0, got -1"),
        (2, None, True, "n must be an integer >= 2, got True"),
        (1, 16, 17, r"n must be an integer in \[1, 16\], got 17"),
        (None, 5, 6, "n must be an integer <= 5, got 6"),
        (None, None, 2.0, "n must be an integer, got 2.0"),
    ],
)
def test_check_int_names_the_argument_the_expectation_and_the_value(low, high, bad, message):
    with pytest.raises(ValueError, match=message):
        check_int("n", bad, low=low, high=high)


def test_check_int_bounds_are_inclusive():
    assert check_int("n", 1, low=1, high=1) == 1


def test_check_optional_int():
    assert check_optional_int("k", None, low=1) is None
    assert check_optional_int("k", 3, low=1) == 3
    with pytest.raises(ValueError, match="k must be None or a positive integer, got 0"):
        check_optional_int("k", 0, low=1)


def test_check_real_bounds_and_finiteness():
    assert check_real("lr", 1) == 1.0 and type(check_real("lr", 1)) is float
    assert check_real("x", float("inf"), allow_inf=True) == float("inf")
    with pytest.raises(ValueError, match="lr must be a real number, got True"):
        check_real("lr", True)
    with pytest.raises(ValueError, match="lr must be finite, got nan"):
        check_real("lr", float("nan"))
    with pytest.raises(ValueError, match="lr must be finite, got inf"):
        check_real("lr", float("inf"))
    with pytest.raises(ValueError, match="lr must be >= 0.0, got -1.0"):
        check_real("lr", -1, low=0.0)
    with pytest.raises(ValueError, match="lr must be > 0.0, got 0.0"):
        check_real("lr", 0.0, low=0.0, low_open=True)
    with pytest.raises(ValueError, match="beta must be < 1.0, got 1.0"):
        check_real("beta", 1.0, high=1.0, high_open=True)
    assert check_real("beta", 1.0, high=1.0) == 1.0


def test_check_probability():
    assert check_probability("dropout", 0) == 0.0
    for bad in (1.0, -0.1, True, "0.5"):
        with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\)"):
            check_probability("dropout", bad)


def test_check_flag_and_pair():
    assert check_flag("nesterov", np.bool_(True)) is True
    with pytest.raises(ValueError, match="nesterov must be True or False, got 1"):
        check_flag("nesterov", 1)
    assert check_pair("betas", [0.9, 0.99]) == (0.9, 0.99)
    with pytest.raises(ValueError, match="betas must be a pair of numbers, got 0.9"):
        check_pair("betas", 0.9)


def test_check_truncate():
    assert check_truncate(None) is None and check_truncate(np.int8(3)) == 3
    for bad in (-1, True, 2.0):
        with pytest.raises(ValueError, match="truncate must be None or an integer >= 0"):
            check_truncate(bad)


def test_check_dtype():
    assert check_dtype("float32") == np.float32 and check_dtype(np.float64) == np.float64
    for bad in ("float16", np.int64, "no such type"):
        with pytest.raises(ValueError, match="dtype must be one of float32, float64, got"):
            check_dtype(bad)
    assert checks.FLOAT_DTYPES == (np.dtype(np.float32), np.dtype(np.float64))


def test_check_random_state_keeps_a_generator():
    gen = np.random.default_rng(3)
    assert check_random_state(gen) is gen


def test_check_random_state_seeds_from_an_int():
    a = check_random_state(7).random(4)
    b = check_random_state(np.int64(7)).random(4)
    assert np.array_equal(a, b)
    assert np.array_equal(a, np.random.default_rng(7).random(4))


def test_check_random_state_none_is_fresh_entropy():
    first, second = check_random_state(None), check_random_state(None)
    assert isinstance(first, np.random.Generator) and first is not second
    assert not np.array_equal(first.random(8), second.random(8))


@pytest.mark.parametrize("bad", [True, -1, 1.5, "0", np.random.RandomState(0)])
def test_check_random_state_rejects_everything_else(bad):
    with pytest.raises(ValueError, match="rng must be None, an integer seed >= 0 or a numpy Generator"):
        check_random_state(bad)


# -- sizes ------------------------------------------------------------------------------------------
def test_check_size_accepts_numpy_integers_up_to_the_limit():
    assert check_size("hidden_size", np.int64(3)) == 3 and type(check_size("h", np.uint16(3))) is int
    assert check_size("hidden_size", checks.MAX_SIZE) == checks.MAX_SIZE
    assert check_size("length", 0, low=0) == 0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (checks.MAX_SIZE + 1,
         r"hidden_size must be at most 1,048,576 \(scratchrnn.checks.MAX_SIZE\), got 1,048,577"),
        (np.int64(10**12), r"hidden_size must be at most 1,048,576 .*got 1,000,000,000,000"),
        (0, "hidden_size must be a positive integer, got 0"),
        (True, "hidden_size must be a positive integer, got True"),
        (3.0, "hidden_size must be a positive integer, got 3.0"),
        ("3", "hidden_size must be a positive integer, got '3'"),
        (None, "hidden_size must be a positive integer, got None"),
    ],
)
def test_check_size_names_the_argument_and_the_limit(bad, message):
    with pytest.raises(ValueError, match=message):
        check_size("hidden_size", bad)


def test_check_size_with_its_own_limit():
    with pytest.raises(ValueError, match=r"beam must be at most 8, got 9$"):
        check_size("beam", 9, limit=8)


def test_check_optional_size():
    assert check_optional_size("embedding_dim", None) is None
    assert check_optional_size("embedding_dim", np.int32(4)) == 4
    with pytest.raises(ValueError, match="embedding_dim must be None or a positive integer, got 0"):
        check_optional_size("embedding_dim", 0)
    with pytest.raises(ValueError, match="embedding_dim must be at most 1,048,576"):
        check_optional_size("embedding_dim", 2**21)


# -- flags, choices, callables ----------------------------------------------------------------------
def test_check_optional_flag():
    assert check_optional_flag("per_step", None) is None
    assert check_optional_flag("per_step", np.bool_(False)) is False
    with pytest.raises(ValueError, match="per_step must be None, True or False, got 'yes'"):
        check_optional_flag("per_step", "yes")


def test_check_choice():
    assert check_choice("head", "last", ("all", "last")) == "last"
    for bad in ("first", None, 3, ["all"]):
        with pytest.raises(ValueError, match="head must be one of all, last, got"):
            check_choice("head", bad, ("all", "last"))


def test_check_callable():
    assert check_callable("on_token", None) is None and check_callable("on_token", print) is print
    with pytest.raises(ValueError, match="on_token must be None or a callable, got str"):
        check_callable("on_token", "print")
    with pytest.raises(ValueError, match="fn must be a callable, got NoneType"):
        check_callable("fn", None, optional=False)


# -- dtypes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("bad", "got"), [("bogus", "'bogus'"), (None, "None"), (3.5, "3.5"),
                                          (np.int64, "int64"), ("float16", "float16")])
def test_check_dtype_names_the_float_dtypes(bad, got):
    with pytest.raises(ValueError, match=f"^dtype must be one of float32, float64, got {got}$"):
        check_dtype(bad)


def test_check_dtype_accepts_names_types_and_dtypes():
    assert check_dtype(np.dtype("float64")) == np.float64 and check_dtype(np.float32) == np.float32


def test_check_numeric_dtype():
    assert check_numeric_dtype(np.int8) == np.int8 and check_numeric_dtype("bool") == np.bool_
    for bad, got in ((None, "None"), ("bogus", "'bogus'"), (np.str_, "<U0"), (object, "object")):
        with pytest.raises(ValueError, match=f"dtype must be a numeric dtype, got {got}"):
            check_numeric_dtype(bad)


# -- memory -----------------------------------------------------------------------------------------
def test_machine_memory_is_read_from_the_system():
    total = checks.machine_memory()
    assert isinstance(total, int) and total > 2**28  # any machine that runs the suite has 256 MB
    available = checks.available_memory()
    assert isinstance(available, int) and 0 < available <= total


@pytest.mark.parametrize(("n", "text"), [(0, "0 bytes"), (999, "999 bytes"), (1500, "1.5 kB"),
                                         (25_274_712_064, "25.3 GB"), (32 * 10**12, "32 TB"),
                                         (4 * 10**18, "4,000 PB")])
def test_format_bytes(n, text):
    assert checks.format_bytes(n) == text


@pytest.fixture
def machine(monkeypatch):
    """A machine of 16 GB with 4 GB available; reading the available memory is counted."""
    reads = []
    monkeypatch.setattr(checks, "machine_memory", lambda: 16 * 10**9)

    def available():
        reads.append(1)
        return 4 * 10**9

    monkeypatch.setattr(checks, "available_memory", available)
    return reads


def test_check_memory_refuses_more_than_the_machine_has(machine):
    assert checks.check_memory(15 * 10**9, "a model") == 15 * 10**9  # weights: the machine's memory
    with pytest.raises(ValueError, match="^a model needs about 17 GB for its weights; "
                                         "this machine has 16 GB of memory$"):
        checks.check_memory(17 * 10**9, "a model")


def test_check_memory_now_compares_with_the_memory_available(machine):
    assert checks.check_memory(3 * 10**9, "a forward pass", "its activations", now=True)
    with pytest.raises(ValueError, match="a forward pass needs about 5 GB for its activations; "
                                         "this machine has 4 GB available"):
        checks.check_memory(5 * 10**9, "a forward pass", "its activations", now=True)


def test_small_requests_cost_no_read_of_the_system(machine):
    checks.check_memory(10**9, "a batch", now=True)  # 1/16 of the machine: one comparison
    assert machine == []
    checks.check_memory(2 * 10**9, "a batch", now=True)
    assert machine == [1]


def test_check_memory_refuses_nothing_where_the_system_does_not_say(monkeypatch):
    monkeypatch.setattr(checks, "machine_memory", lambda: None)
    assert checks.check_memory(10**30, "anything") == 10**30


# -- the sweep: every public constructor and function of the numeric modules -----------------------
SWEEP = [(case, arg) for case in CASES for arg in case.args]
ACCEPTED = [(case, arg) for case, arg in SWEEP if case.good_values(arg)]


def _label(item) -> str:
    case, arg = item
    return f"{case.name}-{arg}"


@pytest.mark.parametrize("item", SWEEP, ids=_label)
def test_bad_values_raise_a_value_error_naming_the_argument(item):
    case, arg = item
    name = case.names.get(arg, arg)
    for bad in KINDS[case.args[arg]].bad:
        with pytest.raises(ValueError) as info:
            case.call(**{arg: bad})
        message = str(info.value)
        named = re.search(rf"\b{re.escape(name)}\b", message)
        assert named, f"{case.name}({arg}={bad!r}): the message does not name {name!r}: {message}"
        assert "got" in message or repr(bad) in message, f"{case.name}({arg}={bad!r}): what came? {message}"


@pytest.mark.parametrize("item", ACCEPTED, ids=_label)
def test_numpy_scalars_are_accepted_where_python_numbers_are(item):
    case, arg = item
    for good in case.good_values(arg):
        case.call(**{arg: good})


def test_the_sweep_covers_every_kind_and_can_fail():
    assert {kind for case in CASES for kind in case.args.values()} == set(KINDS)
    assert len(SWEEP) > 250 and len(ACCEPTED) > 200
    lenient = Case("lenient", lambda **kw: int(kw["n"]), {"n": "size"})  # int("3") is no check at all
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        test_bad_values_raise_a_value_error_naming_the_argument((lenient, "n"))
    silent = Case("silent", lambda **kw: check_size("size", kw["n"]), {"n": "size"})  # names another argument
    with pytest.raises(AssertionError, match="does not name 'n'"):
        test_bad_values_raise_a_value_error_naming_the_argument((silent, "n"))
    with pytest.raises(ValueError):
        test_numpy_scalars_are_accepted_where_python_numbers_are((Case("strict", lambda **kw: check_int(
            "n", kw["n"], high=2), {"n": "size"}), "n"))


def _swept() -> set[str]:
    """Names the cases call: "RNN.forward" sweeps RNN, "init.uniform" sweeps init's uniform."""
    heads = {case.name.split()[0] for case in CASES}
    return heads | {head.split(".")[0] for head in heads}


def test_every_public_function_and_class_is_swept_or_has_nothing_to_sweep():
    swept, missing = _swept(), []
    for rel in SCANNED:
        module = importlib.import_module(f"scratchrnn.{rel}")
        short = rel.split(".")[-1]
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue  # constants
            if not {name, f"{short}.{name}"} & (swept | set(NOTHING_TO_SWEEP)):
                missing.append(f"scratchrnn.{rel}.{name}")
    assert missing == [], f"add a case to tests/argument_cases.py, or a reason to NOTHING_TO_SWEEP: {missing}"


def test_layers_have_their_own_limit():
    import scratchrnn.nn
    from scratchrnn.checks import MAX_LAYERS
    from scratchrnn.nn.model import ModelConfig

    assert ModelConfig(cell="rnn", vocab_size=5, hidden_size=2, num_layers=3).num_layers == 3
    limit = r"num_layers must be at most 1,024 \(scratchrnn.checks.MAX_LAYERS\), got 1,000,000"
    with pytest.raises(ValueError, match=limit):
        ModelConfig(cell="rnn", vocab_size=5, hidden_size=2, num_layers=1_000_000)
    with pytest.raises(ValueError, match="MAX_LAYERS"):
        scratchrnn.nn.RNN(2, 2, num_layers=MAX_LAYERS + 1)


def test_check_config_dict_names_unknown_keys_and_the_known_ones():
    import dataclasses

    from scratchrnn.checks import check_config_dict

    @dataclasses.dataclass
    class Settings:
        a: int = 1
        b: int = 2

    assert check_config_dict(Settings, {"a": 3}, "test") == {"a": 3}
    with pytest.raises(ValueError,
                       match=r"^unknown test configuration key\(s\) \['c', 'd'\]; known: \['a', 'b'\]$"):
        check_config_dict(Settings, {"a": 3, "d": 1, "c": 2}, "test")
    with pytest.raises(ValueError, match="^a test configuration must be a dict, got list$"):
        check_config_dict(Settings, [("a", 3)], "test")
