"""The fuzzing profile switch: default and nightly case counts, and a refused value."""

import pytest

import fuzzing


def test_default_profile_uses_the_given_count(monkeypatch):
    monkeypatch.delenv(fuzzing.PROFILE_VARIABLE, raising=False)
    assert fuzzing.fuzz_settings(7).max_examples == 7


def test_nightly_profile_multiplies_the_count(monkeypatch):
    monkeypatch.setenv(fuzzing.PROFILE_VARIABLE, "nightly")
    assert fuzzing.fuzz_settings(7).max_examples == 7 * fuzzing.NIGHTLY_FACTOR


@pytest.mark.parametrize("value", ["long", "NIGHTLY", "1"])
def test_an_unknown_profile_is_refused(monkeypatch, value):
    monkeypatch.setenv(fuzzing.PROFILE_VARIABLE, value)
    with pytest.raises(ValueError, match="SCRATCHRNN_FUZZ"):
        fuzzing.fuzz_settings(7)


def test_a_count_below_one_is_refused():
    with pytest.raises(ValueError, match="examples"):
        fuzzing.fuzz_settings(0)
