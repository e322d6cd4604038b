"""The task registry: every task is registered under its command-line name with a Config (and its
quick() demo settings) and a run function, and unknown names are refused naming the known ones."""

from __future__ import annotations

import pytest

from scratchrnn.tasks import TASKS, addition, binary_to_decimal, get_task, hello, sine, word_lm


def test_tutorial_tasks_are_registered_with_config_quick_and_run():
    for name, module in [("binary-to-decimal", binary_to_decimal), ("addition", addition), ("sine", sine),
                         ("hello", hello)]:
        assert name in TASKS and get_task(name) is module
        assert isinstance(module.Config.quick(), module.Config)
        assert callable(module.run)
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        get_task("nope")



def test_every_registered_name_gives_a_task_module_in_the_demo_order():
    assert list(TASKS) == ["binary-to-decimal", "addition", "sine", "hello", "word-lm", "vowels",
                           "first-token", "forecast", "addition-text", "reverse-text"]
    assert get_task("word-lm") is word_lm
    for name in TASKS:
        module = get_task(name)
        assert isinstance(module.Config.quick(), module.Config) and callable(module.run)
    with pytest.raises(ValueError, match="expected one of binary-to-decimal, addition, sine, hello, word-lm, "
                                         "vowels, first-token, forecast, addition-text, "
                                         "reverse-text"):
        get_task("Hello")
