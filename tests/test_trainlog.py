"""scratchrnn.trainlog: the log keeps the records up to a step and drops a cut line, records are
whole lines, reports come when due and say what the steps since the last one did."""

from __future__ import annotations

import errno
import json

import pytest

from scratchrnn.trainlog import Reports, RunLog, bar_postfix, naming


def _lines(path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text().splitlines()]


def test_the_log_keeps_the_records_through_a_step_and_drops_a_cut_line(tmp_path):
    path = tmp_path / "sub" / "log.jsonl"
    log = RunLog(path)
    log.open(keep_through=0)  # a new run: the folder is made, the file starts empty
    for step in (1, 2, 3):
        log.write({"step": step, "loss": 1.0 / step})
    log.write({"step": 3, "val_loss": 0.5})
    log.close()
    assert [r["step"] for r in _lines(path)] == [1, 2, 3, 3]
    with open(path, "a") as f:
        f.write('{"step": 4, "lo')  # a crash in the middle of a line
    log.open(keep_through=2)
    assert log.is_open
    log.write({"step": 2, "event": "lr", "from": 0.1, "to": 0.01})
    log.close()
    assert _lines(path) == [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5},
                            {"step": 2, "event": "lr", "from": 0.1, "to": 0.01}]
    log.open(keep_through=0)
    log.close()
    assert path.read_text() == ""  # step 0: nothing is kept


def test_a_log_without_a_path_does_nothing(tmp_path):
    log = RunLog(None)
    log.open(keep_through=5)
    log.write({"step": 1})
    assert not log.is_open
    log.close()


def test_write_errors_name_the_log(tmp_path):
    with pytest.raises(OSError) as info, naming(tmp_path / "log.jsonl"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.filename == str(tmp_path / "log.jsonl") and info.value.errno == errno.ENOSPC
    with pytest.raises(OSError) as info, naming(tmp_path / "log.jsonl"):
        raise OSError(errno.EACCES, "Permission denied", "/elsewhere")
    assert info.value.filename == "/elsewhere"  # an error that names its own file keeps it


class _Trainer:
    """The public attributes a report reads."""

    def __init__(self, steps, evals, best_val=None):
        from types import SimpleNamespace

        self.history = SimpleNamespace(steps=steps, evals=evals)
        self.step = steps[-1]["step"] if steps else 0
        self.epoch, self.best_val, self.elapsed = 0, best_val, 12.5
        self.optimizer = SimpleNamespace(lr=0.25)


def _step(step, loss, seconds=0.5, tokens=100):
    return {"step": step, "loss": loss, "lr": 0.1, "seconds": seconds, "tokens_per_s": tokens / seconds}


def test_reports_are_due_every_n_steps_or_after_a_validation():
    reports = Reports(every=4, seconds=1e9)
    assert [s for s in range(1, 13) if reports.due(s, validated=False)] == [4, 8, 12]
    assert reports.due(5, validated=True)


def test_reports_without_an_interval_follow_the_clock():
    now = [0.0]
    reports = Reports(every=None, seconds=30.0, clock=lambda: now[0])
    now[0] = 29.9
    assert not reports.due(1, validated=False)
    now[0] = 30.0
    assert reports.due(2, validated=False)
    reports.take(_Trainer([_step(2, 1.0)], []), total=10, validated=False)
    now[0] = 59.0
    assert not reports.due(3, validated=False)  # the next is counted from the last report


def test_a_report_says_what_the_steps_since_the_last_one_did():
    steps = [_step(1, 3.0, seconds=1.0, tokens=100), _step(2, 2.0, seconds=3.0, tokens=500)]
    reports = Reports(every=2, seconds=30.0)
    for r in steps:
        reports.add(r)
    evals = [{"step": 2, "val_loss": 2.5, "best": True}]
    report = reports.take(_Trainer(steps, evals, best_val=2.5), total=10, validated=True)
    assert report == {"step": 2, "total": 10, "epoch": 0, "loss": 2.5, "val_loss": 2.5, "best_val_loss": 2.5,
                      "validated": True, "improved": True, "lr": 0.1, "tokens_per_s": 600 / 4.0,
                      "elapsed": 12.5, "steps": 2}
    empty = reports.take(_Trainer(steps, evals, best_val=2.5), total=10, validated=False)
    assert empty["loss"] is None and empty["tokens_per_s"] is None and empty["steps"] == 0
    assert not empty["improved"] and empty["val_loss"] == 2.5  # the latest validation, not a new one


def test_forget_drops_the_steps_a_rollback_undid_and_samples_count_for_dense_inputs():
    reports = Reports(every=1, seconds=30.0)
    reports.add(_step(1, 9.0))
    reports.forget()
    reports.add({"step": 1, "loss": 1.0, "lr": 0.1, "seconds": 2.0, "samples_per_s": 4.0})
    report = reports.take(_Trainer([], []), total=3, validated=False)
    assert report["loss"] == 1.0 and report["samples_per_s"] == 4.0 and "tokens_per_s" not in report
    assert report["lr"] == 0.25  # no step recorded yet: the optimizer's rate


def test_the_bar_shows_the_loss_and_the_latest_validation():
    assert bar_postfix({"loss": 1.23456}, []) == {"loss": "1.2346"}
    assert bar_postfix({"loss": 1.0}, [{"val_loss": 2.0}, {"val_loss": 1.5}]) == {"loss": "1.0000",
                                                                                  "val": "1.5000"}
