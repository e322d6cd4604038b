"""scratchrnn.cli_resume: typed options are told from defaults however they were spelled; a resumed
run takes from its checkpoint what was not typed, and what was typed against it is one error
naming both values; a fine-tuned model lends its architecture the same way.
(The commands themselves, in fresh processes: tests/test_cli_lm.py.)"""

from __future__ import annotations

import pytest

from scratchrnn.cli import build_parser
from scratchrnn.cli_resume import check_resumed_text, settle_init_from, settle_resume, typed_options
from scratchrnn.lm import CharLM, WordLM

TEXT = "to be or not to be, that is the question.\n" * 20


def _parse(*words):
    args = build_parser().parse_args(["train", *map(str, words)])
    return args, typed_options(args.parser, [str(w) for w in words])


def test_typed_options_are_told_from_defaults_however_spelled():
    assert _parse()[1] == set()
    _, typed = _parse("t.txt", "--hidden", "128", "--lr=0.1", "--no-progress", "--steps", "1000")
    assert typed == {"text", "hidden_size", "lr", "no_progress", "steps"}  # 1000 is the default, but typed
    args, typed = _parse("--cell", "lstm")
    assert typed == {"cell"} and args.hidden_size == 384  # the real parse keeps its defaults


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    CharLM(cell="gru", hidden_size=12, num_layers=1, embedding_dim=5, seed=3).fit(
        TEXT, steps=6, batch_size=2, window=10, lr=0.01, optimizer="sgd", clip_norm=None, val_fraction=0.2,
        eval_every=3, checkpoint_dir=folder, checkpoint_every=2,
        source={"path": str(folder / "text.txt"), "encoding": "latin-1"})
    return folder


def test_a_resumed_run_takes_what_was_not_typed_from_its_checkpoint(run):
    args, typed = _parse("--resume", run / "last.npz", "--more-steps", 4)
    resumed = settle_resume(args, typed)
    assert (args.cell, args.hidden_size, args.num_layers, args.embedding_dim, args.dropout, args.dtype) == (
        "gru", 12, 1, 5, 0.0, "float32")
    assert (args.batch_size, args.window, args.optimizer, args.clip_norm, args.val_fraction, args.seed) == (
        2, 10, "sgd", 0.0, 0.2, 3)
    assert (args.level, args.encoding, args.text) == ("char", "latin-1", str(run / "text.txt"))
    assert (args.steps, args.epochs, args.eval_every, args.checkpoint_every) == (10, None, 3, 2)
    assert args.out == str(run) and resumed.folder == run and resumed.step == 6
    assert args.lr == 2e-3  # the rate is not taken: --lr untyped means "keep the run's" (scratchrnn.lm)


def test_typed_options_that_contradict_the_checkpoint_are_named_with_both_values(run):
    args, typed = _parse("--resume", run / "last.npz", "--hidden-size", 128, "--optimizer", "Adam",
                         "--clip-norm", 5, "--level", "word")
    with pytest.raises(ValueError) as info:
        settle_resume(args, typed)
    assert str(info.value) == (
        "--hidden-size 128 contradicts the checkpoint's hidden size 12; --optimizer adam contradicts the "
        "checkpoint's optimizer sgd; --clip-norm 5 contradicts the checkpoint's gradient-norm clip 0 (no "
        "clipping); --level word contradicts the checkpoint's level char (a resumed run takes them from its "
        "checkpoint: leave them out)")
    args, typed = _parse("--resume", run / "last.npz", "--embedding-dim", 8)
    with pytest.raises(ValueError, match=r"--embedding-dim 8 contradicts the checkpoint's embedding size 5 "
                                         r"\(a resumed run takes them from its checkpoint: leave it out\)"):
        settle_resume(args, typed)
    args, typed = _parse("--resume", run / "last.npz", "--hidden-size", 12, "--optimizer", "SGD",
                         "--steps", 9)
    settle_resume(args, typed)  # agreeing values may be typed
    assert args.steps == 9


@pytest.mark.parametrize(("words", "message"), [
    (["--steps", 6], "--steps 6 is not beyond the checkpoint's step 6: --steps is the run's total"),
    (["--out", "elsewhere"], "--out elsewhere is not the folder of the run that --resume continues"),
])
def test_what_a_resume_cannot_do(run, words, message):
    args, typed = _parse("--resume", run / "last.npz", *words)
    with pytest.raises(ValueError, match=message):
        settle_resume(args, typed)


def test_a_run_at_its_total_is_complete(run):
    args, typed = _parse("--resume", run / "last.npz")
    assert settle_resume(args, typed).complete
    args, typed = _parse("--resume", run / "last.npz", "--more-steps", 1)
    assert not settle_resume(args, typed).complete


def test_a_resumed_run_refuses_another_text(run):
    args, typed = _parse("--resume", run / "last.npz", "--more-steps", 1)
    resumed = settle_resume(args, typed)
    check_resumed_text(resumed, TEXT, "t.txt")
    with pytest.raises(ValueError, match=r"other.txt is not the text the run was trained on \(.*text.txt\): "
                                         r"a resumed run goes on with its own text; --init-from .*last.npz"):
        check_resumed_text(resumed, TEXT.upper(), "other.txt")


def test_a_fine_tuned_model_lends_its_architecture(run, tmp_path):
    args, typed = _parse("--init-from", run / "last.npz", "--lr", 0.5)
    lm = settle_init_from(args, typed)
    assert isinstance(lm, CharLM) and (args.cell, args.hidden_size, args.embedding_dim) == ("gru", 12, 5)
    assert (args.batch_size, args.lr) == (32, 0.5)  # the rest is a new run's
    WordLM(cell="rnn", hidden_size=4, num_layers=1).fit(TEXT, steps=1, batch_size=1, window=5,
                                                        val_fraction=0).save(tmp_path / "w.npz")
    args, typed = _parse("--init-from", tmp_path / "w.npz", "--level", "char", "--num-layers", 2)
    with pytest.raises(ValueError, match=r"--level char contradicts the model's level word; --num-layers 2 "
                                         r"contradicts the model's number of layers 1 \(a fine-tuned model "
                                         r"keeps its architecture: leave them out\)"):
        settle_init_from(args, typed)
