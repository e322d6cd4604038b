"""The addition-as-text task: its questions, their encoding, its settings and a short run."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.tasks import addition_text as task


def test_questions_are_distinct_up_to_order_and_within_the_digits():
    cfg = task.Config(digits=2, n_train=900, n_test=100)
    pairs = task.make_questions(cfg, np.random.default_rng(0))
    assert len(pairs) == 1000
    assert len({(min(a, b), max(a, b)) for a, b in pairs}) == 1000
    assert all(0 <= a < 100 and 0 <= b < 100 for a, b in pairs)
    assert any(a < 10 for a, _ in pairs) and any(a >= 10 for a, _ in pairs)  # 1 and 2 digits


def test_questions_are_padded_and_reversed_and_answers_end_with_eos():
    cfg = task.Config(digits=3, n_train=10, n_test=10)
    (src,), (tgt,) = task.encode(cfg, [(535, 61)])
    assert task.VOCAB.decode(src) == " 16+535"  # "535+61 " read backwards
    assert task.VOCAB.decode(tgt) == "596" and tgt[-1] == 2
    cfg.reverse = False
    assert task.VOCAB.decode(task.encode(cfg, [(535, 61)])[0][0]) == "535+61 "


def test_asking_for_more_questions_than_exist_is_refused():
    with pytest.raises(ValueError, match="more than half of the 55 there are"):
        task.Config(digits=1, n_train=20, n_test=10)
    with pytest.raises(ValueError, match="attention must be None or one of"):
        task.Config(attention="luong")


def test_a_short_run_learns_one_digit_sums():
    cfg = task.Config(digits=1, n_train=20, n_test=7, hidden_size=32, epochs=60, batch_size=10, lr=0.01,
                      target_accuracy=0.0)
    result = task.run(cfg)
    assert result.name == "addition-text" and len(result.curves["loss"]) == 60
    assert result.curves["loss"][-1] < 0.2 * result.curves["loss"][0]
    assert 0.0 <= result.metrics["exact_match"] <= 1.0 and "->" in result.ours


def test_the_task_command_leaves_a_model_that_translate_answers_with(tmp_path, monkeypatch, capsys):
    from scratchrnn.cli import main
    from scratchrnn.seq2seq.data import batch
    from scratchrnn.seq2seq.decode import greedy
    from scratchrnn.seq2seq.files import load_seq2seq

    tiny = task.Config(digits=2, hidden_size=16, epochs=2, batch_size=64,
                       target_accuracy=0.0)
    monkeypatch.setattr(task.Config, "quick", classmethod(lambda cls: tiny))
    run = tmp_path / "run"
    assert main(["task", "addition-text", "--quick", "--digits", "1", "--attention", "general",
                 "--no-progress", "--out", str(run)]) == 0
    assert f"wrote {run / 'model.npz'}" in capsys.readouterr().out
    model, source, target, form = load_seq2seq(run / "model.npz")
    assert model.config.attention == "general" and source == task.VOCAB
    assert form == task.source_format(task.Config(digits=1, n_train=10, n_test=10))  # width 3, reversed
    (tmp_path / "q.txt").write_text("3+4\n9+9\n", encoding="utf-8")
    assert main(["translate", str(run / "model.npz"), str(tmp_path / "q.txt")]) == 0
    src, lengths = batch([task.VOCAB.encode(q[::-1]) for q in ["3+4", "9+9"]])
    want = "".join(target.decode(h.tokens) + "\n" for h in greedy(model, src, lengths, max_length=100))
    assert capsys.readouterr().out == want


def test_task_options_a_task_has_no_use_for_are_refused(capsys):
    from cli_helpers import main_error

    assert "task sine has no option --digits" in main_error(capsys, ["task", "sine", "--digits", "3"])
    assert "task sine has no option --attention" in main_error(capsys, ["task", "sine", "--attention", "dot"])
    msg = main_error(capsys, ["task", "addition-text", "--digits", "12"])
    assert "--digits must be an integer in [1, 9], got 12" in msg
