"""scratchrnn.tasks.base: what a TaskResult holds by default and the JSON-able summary it gives."""

from __future__ import annotations

import json

import numpy as np

from scratchrnn.tasks import TaskResult


def make(**kw) -> TaskResult:
    return TaskResult(name="t", tutorial="tut", ours="ours", target="goal", passed=True, seconds=1.23456,
                      **kw)


def test_defaults_are_empty_and_not_shared():
    a, b = make(), make()
    assert a.metrics == a.curves == a.artifacts == {} and a.figures == ()
    a.metrics["x"] = 1
    assert b.metrics == {}  # each result has its own dicts


def test_summary_is_the_headline_as_json_without_curves_artifacts_or_figures():
    result = make(metrics={"loss": 0.5}, curves={"loss": [1.0, 0.5]}, artifacts={"x": np.zeros(3)},
                  figures=("sine",))
    summary = result.summary()
    assert summary == {"name": "t", "tutorial": "tut", "ours": "ours", "target": "goal", "passed": True,
                       "seconds": 1.235, "metrics": {"loss": 0.5}}
    assert json.loads(json.dumps(summary)) == summary
