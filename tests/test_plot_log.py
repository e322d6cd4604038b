"""scratchrnn.plot_log: a trainer's log read back number for number, every malformed log refused
with a message naming the file and the line, and the figure's panels drawn from what was read."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from scratchrnn import plot_log
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.optim import SGD, CosineLR
from scratchrnn.train import TokenStream, TrainConfig, Trainer


def write_log(path, records, extra_lines=()) -> None:
    lines = [json.dumps(r) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")


def steps(n: int, start: int = 1) -> list[dict]:
    return [{"step": s, "epoch": 0, "loss": 3.0 / s, "grad_norm": 1.0 + s, "clipped": False, "lr": 0.1,
             "seconds": 0.01, "tokens_per_s": 1000.0} for s in range(start, start + n)]


@pytest.fixture(scope="module")
def trained_log(tmp_path_factory):
    """A real trainer's log: 60 steps of a small token model, a validation every 20, cosine rate."""
    folder = tmp_path_factory.mktemp("run")
    ids = np.random.default_rng(0).integers(0, 7, 3000)  # (3000,)
    model = SequenceModel(ModelConfig(vocab_size=7, hidden_size=8), rng=0)
    opt = SGD(model.params, lr=0.5)
    cfg = TrainConfig(steps=60, eval_every=20, log_path=str(folder / "log.jsonl"), progress=False)
    trainer = Trainer(model, opt, cfg, scheduler=CosineLR(opt, total_steps=60))
    history = trainer.fit(TokenStream(ids[:2400], batch_size=4, window=10),
                          TokenStream(ids[2400:], batch_size=2, window=10))
    return folder / "log.jsonl", history


# -- reading -----------------------------------------------------------------------------------
def test_a_trainers_log_is_read_back_exactly(trained_log):
    path, history = trained_log
    log = plot_log.read_training_log(path)
    assert log.path == path
    np.testing.assert_array_equal(log.step, [r["step"] for r in history.steps])
    np.testing.assert_array_equal(log.loss, history.losses)
    np.testing.assert_array_equal(log.lr, [r["lr"] for r in history.steps])
    np.testing.assert_array_equal(log.grad_norm, [r["grad_norm"] for r in history.steps])
    np.testing.assert_array_equal(log.val_step, [20, 40, 60])
    np.testing.assert_array_equal(log.val_loss, history.val_losses)
    assert log.step.dtype == np.int64 and log.lr[0] > log.lr[-1]  # the cosine schedule's rates


def test_other_records_blank_lines_and_missing_fields(tmp_path):
    path = tmp_path / "log.jsonl"
    records = [*steps(3), {"step": 3, "val_loss": 1.5}, {"event": "sample", "step": 3, "text": "ROMEO:"},
               {"step": 4, "loss": 0.5}]
    write_log(path, records, extra_lines=["", "   "])
    log = plot_log.read_training_log(path)
    np.testing.assert_array_equal(log.step, [1, 2, 3, 4])
    assert np.isnan(log.lr[-1]) and np.isnan(log.grad_norm[-1])  # a step without them
    np.testing.assert_array_equal(log.val_step, [3])


def test_events_are_not_validations(tmp_path):
    # the trainer's record of the best weights restored repeats the best validation loss at the
    # last step; it is an event, not a validation at that step
    path = tmp_path / "log.jsonl"
    records = [*steps(4), {"step": 2, "val_loss": 1.5}, {"step": 4, "val_loss": 1.7},
               {"step": 4, "event": "restore_best", "best_step": 2, "val_loss": 1.5},
               {"step": 4, "event": "lr", "from": 0.1, "to": 0.05}]
    write_log(path, records)
    log = plot_log.read_training_log(path)
    np.testing.assert_array_equal(log.val_step, [2, 4])
    np.testing.assert_array_equal(log.val_loss, [1.5, 1.7])
    np.testing.assert_array_equal(log.step, [1, 2, 3, 4])


@pytest.mark.parametrize(("lines", "message"), [
    (['{"step": 1, "loss": 2.0}', "{not json"], r"log.jsonl line 2 is not valid JSON"),
    (['{"step": 1, "loss": 2.0', ""], r"line 1 is not valid JSON"),  # a line cut short
    (["[1, 2]"], r"line 1 is a JSON list, expected an object"),
    (['{"step": "1", "loss": 2.0}'], r"line 1: 'step' must be an integer >= 0, got '1'"),
    (['{"step": 1.5, "loss": 2.0}'], r"'step' must be an integer >= 0, got 1.5"),
    (['{"loss": 2.0}'], r"'step' must be an integer >= 0, got None"),
    (['{"step": -1, "loss": 2.0}'], r"got -1"),
    (['{"step": 1, "loss": "low"}'], r"line 1: 'loss' must be a number, got 'low'"),
    (['{"step": 1, "loss": true}'], r"'loss' must be a number, got True"),
    (['{"step": 1, "loss": 1.0, "lr": [0.1]}'], r"'lr' must be a number, got \[0.1\]"),
    (['{"step": 1, "val_loss": null}'], r"'val_loss' must be a number, got None"),
    (['{"step": 5, "loss": 2.0}', '{"step": 2, "loss": 1.0}'],
     r"line 2: step 2 comes after step 5; expected the log of one run, its steps increasing"),
    (['{"step": 5, "loss": 2.0}', '{"step": 5, "loss": 1.0}'], r"step 5 comes after step 5"),
    (['{"step": 4, "val_loss": 2.0}', '{"step": 3, "val_loss": 1.0}'], r"step 3 comes after step 4"),
    (['{"step": 4, "val_loss": 2.0}'], r"holds no training step \(a line with 'step' and 'loss'\)"),
    (["", "  "], r"holds no training step"),
])
def test_malformed_logs_name_the_file_and_the_line(tmp_path, lines, message):
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines))
    with pytest.raises(ValueError, match=message) as info:
        plot_log.read_training_log(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_validation_at_the_step_of_the_one_before_is_kept(tmp_path):
    path = tmp_path / "log.jsonl"
    write_log(path, [*steps(2), {"step": 2, "val_loss": 1.0}, {"step": 2, "val_loss": 0.9}])
    np.testing.assert_array_equal(plot_log.read_training_log(path).val_step, [2, 2])


def test_files_that_are_no_log(tmp_path):
    with pytest.raises(FileNotFoundError, match="training log not found"):
        plot_log.read_training_log(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="is a directory, not a training log"):
        plot_log.read_training_log(tmp_path)
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(ValueError, match=r"is empty \(0 bytes\), not a training log"):
        plot_log.read_training_log(tmp_path / "empty.jsonl")
    (tmp_path / "model.npz").write_bytes(b"PK\x03\x04\x00\xff\xfe binary")
    with pytest.raises(ValueError, match="model.npz line 1 is not valid JSON"):
        plot_log.read_training_log(tmp_path / "model.npz")


def test_a_line_longer_than_the_limit_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(plot_log, "MAX_LOG_LINE_BYTES", 300)  # a step record is ~130 bytes
    path = tmp_path / "log.jsonl"
    write_log(path, steps(2), extra_lines=['{"step": 3, "loss": 1.0, "text": "' + "x" * 500 + '"}'])
    with pytest.raises(ValueError, match=r"line 3 is longer than 300 bytes \(MAX_LOG_LINE_BYTES\)"):
        plot_log.read_training_log(path)


# -- the figure --------------------------------------------------------------------------------
matplotlib_needed = pytest.mark.skipif(
    __import__("importlib").util.find_spec("matplotlib") is None, reason="needs matplotlib")


@matplotlib_needed
def test_the_figure_has_the_loss_the_rate_and_the_norm(trained_log):
    path, history = trained_log
    log = plot_log.read_training_log(path)
    fig = plot_log._log_figure(log)
    ax_loss, ax_lr, ax_norm = fig.axes
    lines = {line.get_label(): line for line in ax_loss.get_lines()}
    val = next(line for label, line in lines.items() if label.startswith("validation"))
    np.testing.assert_array_equal(val.get_xdata(), [20, 40, 60])
    assert val.get_linestyle() == "None" and val.get_marker() == "o"  # markers, not a line
    best = int(np.argmin(history.val_losses))
    assert f"best {history.val_losses[best]:.4g} at step {20 * (best + 1)}" in val.get_label()
    assert any(label.startswith("training") for label in lines)
    (rate,) = ax_lr.get_lines()
    np.testing.assert_array_equal(rate.get_ydata(), log.lr)
    assert ax_lr.get_legend() is None  # a schedule's rates speak for themselves
    assert ax_norm.get_lines()[0].get_ydata().size == 60
    assert "60 training steps, 3 validations" in fig.get_suptitle()
    assert ax_norm.get_xlabel() == "training step"


@matplotlib_needed
def test_log_axes_and_notes_for_what_the_log_lacks(tmp_path):
    path = tmp_path / "log.jsonl"
    records = [{"step": s, "loss": 10.0 ** (-s / 100), "grad_norm": 10.0 ** (-s / 50)} for s in range(1, 501)]
    write_log(path, records)
    fig = plot_log._log_figure(plot_log.read_training_log(path))
    ax_loss, ax_lr, ax_norm = fig.axes
    assert ax_loss.get_yscale() == "log" and ax_norm.get_yscale() == "log"  # 5 and 10 decades
    assert ax_lr.get_yscale() == "linear"
    assert [t.get_text() for t in ax_lr.texts] == ["no learning rate in the log"]
    assert "no validation" in fig.get_suptitle()


@matplotlib_needed
def test_the_rate_stays_on_a_linear_axis(tmp_path):
    path = tmp_path / "log.jsonl"
    # a cosine schedule ends near 0: many decades below its peak
    records = [{"step": s, "loss": 1.0, "lr": 1e-3 * (1 + np.cos(np.pi * s / 101)) / 2}
               for s in range(1, 101)]
    write_log(path, records)
    (_, ax_lr, _) = plot_log._log_figure(plot_log.read_training_log(path)).axes
    assert ax_lr.get_yscale() == "linear" and ax_lr.get_ylabel() == "learning rate"


@matplotlib_needed
def test_a_constant_rate_is_named(tmp_path):
    path = tmp_path / "log.jsonl"
    write_log(path, steps(30))  # lr 0.1 at every step
    (_, ax_lr, _) = plot_log._log_figure(plot_log.read_training_log(path)).axes
    assert [t.get_text() for t in ax_lr.get_legend().get_texts()] == ["constant 0.1"]


@matplotlib_needed
def test_save_log_plot_writes_the_png_atomically(trained_log, tmp_path):
    from matplotlib.image import imread

    path, _ = trained_log
    out = tmp_path / "log.png"
    assert plot_log.save_log_plot(path, out) == out
    width, height = plot_log.LOG_FIGSIZE
    image = imread(out)
    assert image.shape[:2] == (round(height * 100), round(width * 100))
    assert float(np.ptp(image[..., :3])) > 0.5
    assert [p.name for p in tmp_path.iterdir()] == ["log.png"]
    with pytest.raises(ValueError, match=r"\.png"):
        plot_log.save_log_plot(path, tmp_path / "log.svg")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n")
    with pytest.raises(ValueError, match="holds no training step"):
        plot_log.save_log_plot(bad, tmp_path / "bad.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "log.png"]


def test_without_matplotlib_nothing_is_read_or_written(tmp_path, monkeypatch):
    from scratchrnn.figures import PlotUnavailable

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(PlotUnavailable):
        plot_log.save_log_plot(tmp_path / "missing.jsonl", tmp_path / "out.png")  # not FileNotFoundError
    assert list(tmp_path.iterdir()) == []
