"""scratchrnn.train: determinism, exact resume after SIGKILL, overfitting in every mode, the divergence
guard, validation / early stopping / schedules / clipping / callbacks, silence, and bad input."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from scratchrnn.functional import log_softmax
from scratchrnn.io import load_checkpoint, save_checkpoint
from scratchrnn.losses import cross_entropy, pinball
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.optim import SGD, Adam, HalveOnIncrease, global_norm
from scratchrnn.train import (
    TIMING_KEYS,
    History,
    SequenceData,
    TokenStream,
    TrainConfig,
    Trainer,
    TrainingDiverged,
)
from train_worker import build

WORKER = Path(__file__).with_name("train_worker.py")
WORKER_TIMEOUT = 180.0  # seconds to reach the blocking point, generous for a loaded machine


# -- helpers -------------------------------------------------------------------------------------
def _same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _assert_same_arrays(got: dict, want: dict, what: str) -> None:
    assert list(got) == list(want), what
    for k in want:
        assert _same_bits(got[k], want[k]), f"{what}[{k!r}] differs"


def _assert_same_state(got, want, what: str) -> None:
    if want is None:
        assert got is None, what
    elif isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), what
        for g, w in zip(got, want, strict=True):
            assert _same_bits(g, w), what
    else:
        assert _same_bits(got, want), what


def _assert_same_run(got: Trainer, want: Trainer) -> None:
    """Bit-identical weights, optimizer, generator, schedule, carried state, best model and history."""
    _assert_same_arrays(got.model.params, want.model.params, "params")
    g_opt, w_opt = got.optimizer.state_dict(), want.optimizer.state_dict()
    scalars = ("type", "hyper", "step")
    assert {k: g_opt[k] for k in scalars} == {k: w_opt[k] for k in scalars}
    assert list(g_opt["buffers"]) == list(w_opt["buffers"])
    for b in w_opt["buffers"]:
        _assert_same_arrays(g_opt["buffers"][b], w_opt["buffers"][b], f"optimizer buffer {b}")
    assert got.rng.bit_generator.state == want.rng.bit_generator.state
    if want.scheduler is not None:
        assert got.scheduler.state_dict() == want.scheduler.state_dict()
    _assert_same_state(got.hidden, want.hidden, "hidden")
    assert got.best_val == want.best_val
    if want.best_params is not None:
        _assert_same_arrays(got.best_params, want.best_params, "best_params")
    assert (got.step, got.epoch, got.cursor) == (want.step, want.epoch, want.cursor)
    assert got.history.deterministic() == want.history.deterministic()


def _read_log(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def _strip(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


def _run_worker_until_blocked(spec: dict, tmp_path: Path) -> None:
    """Start the worker, wait for its signal file, SIGKILL it and check it died of the signal."""
    signal_path = tmp_path / "blocked"
    spec = {**spec, "workdir": str(tmp_path / "run"), "signal_path": str(signal_path)}
    proc = subprocess.Popen([sys.executable, str(WORKER), json.dumps(spec)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + WORKER_TIMEOUT
        while not signal_path.exists():
            if proc.poll() is not None:
                pytest.fail(f"worker exited with {proc.returncode} before blocking:\n{proc.communicate()[1]}")
            if time.monotonic() > deadline:
                pytest.fail("worker did not reach its blocking point in time")
            time.sleep(0.02)
        assert int(signal_path.read_text()) == proc.pid
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _char_words():
    """Four words with distinct first letters: next-character prediction is learnable exactly."""
    words = ["hello", "world", "candy", "piano"]
    chars = sorted(set("".join(words)))
    ids = np.array([[chars.index(c) for c in w] for w in words]).T  # (5, 4)
    return ids[:-1], ids[1:], len(chars)


def _dense_relu_problem(seed=0):
    """A relu RNN with an mse head on random data: lr 8 explodes, lr 1 stays finite."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((20, 8, 2)).astype(np.float32)  # (T, N, F)
    y = rng.standard_normal((20, 8, 1)).astype(np.float32)  # (T, N, 1)
    cfg = ModelConfig(input_size=2, output_size=1, hidden_size=16, nonlinearity="relu")
    model = SequenceModel(cfg, rng=0)
    return model, SequenceData(x, y)


def _contrary_split(seed=1):
    """Training data and a validation set with other targets, so validation loss rises as it fits."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, size=(6, 8))  # (T, N)
    y = rng.integers(0, 5, size=(6, 8))  # (T, N)
    y_val = (y + 1 + rng.integers(0, 4, size=y.shape)) % 5  # (T, N) never the training target
    return SequenceData(x, y), SequenceData(x, y_val)


# -- determinism -----------------------------------------------------------------------------------
def _dropout_run(trainer_seed: int) -> Trainer:
    rng = np.random.default_rng(3)
    data = SequenceData(rng.integers(0, 6, size=(7, 12)), rng.integers(0, 6, size=(7, 12)))
    model = SequenceModel(ModelConfig(vocab_size=6, embedding_dim=5, hidden_size=10, num_layers=2,
                                      dropout=0.3), rng=11)
    trainer = Trainer(model, Adam(model.params, lr=0.01),
                      TrainConfig(steps=12, batch_size=5, truncate=3, seed=trainer_seed))
    trainer.fit(data, SequenceData(data.x[:, :4], data.y[:, :4]))
    return trainer


def test_same_seed_gives_bit_identical_weights_and_history_with_dropout():
    a, b = _dropout_run(4), _dropout_run(4)
    _assert_same_run(a, b)
    assert len(a.history.steps) == 12 and a.history.evals  # per-epoch validation happened
    assert all(k in a.history.steps[0] for k in ("seconds", "tokens_per_s"))
    assert not any(k in r for r in a.history.deterministic()["steps"] for k in TIMING_KEYS)
    # the trainer's seed drives batch order and dropout masks: another seed, another run
    c = _dropout_run(5)
    assert not all(_same_bits(c.model.params[k], a.model.params[k]) for k in a.model.params)


def test_dropout_masks_come_from_the_trainer_seed():
    # a single sequence, so the batch order cannot differ: only the masks can
    def run(seed, dropout):
        rng = np.random.default_rng(0)
        data = SequenceData(rng.integers(0, 4, size=(5, 1)), rng.integers(0, 4, size=(5, 1)))
        model = SequenceModel(ModelConfig(vocab_size=4, hidden_size=6, num_layers=2, dropout=dropout), rng=1)
        Trainer(model, SGD(model.params, lr=0.1), TrainConfig(steps=3, batch_size=1, seed=seed)).fit(data)
        return model.params["rnn.weight_ih_l0"]

    assert _same_bits(run(0, 0.0), run(1, 0.0))
    assert not _same_bits(run(0, 0.5), run(1, 0.5))


# -- exact resume after SIGKILL ------------------------------------------------------------------
RESUME_CASES = [  # scenario, checkpoint_every, block_at_step, the checkpoint the resume starts from
    ("sequence", 4, 10, 8),
    ("stream", 4, 11, 8),
    pytest.param("lstm", 4, 10, 8, marks=pytest.mark.skipif(
        not __import__("importlib").util.find_spec("scratchrnn.nn.lstm"), reason="no LSTM yet")),
]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize(("scenario", "every", "block_at", "resume_step"), RESUME_CASES)
def test_resume_after_sigkill_is_bit_identical(tmp_path, scenario, every, block_at, resume_step):
    straight, train, val = build(scenario, tmp_path / "straight", checkpoint_every=every)
    straight.fit(train, val)

    _run_worker_until_blocked({"scenario": scenario, "checkpoint_every": every, "block_at_step": block_at},
                              tmp_path)
    run = tmp_path / "run"
    last = run / "ckpt" / "last.npz"
    ck = load_checkpoint(last)
    assert ck.step == resume_step
    logged = [r["step"] for r in _read_log(run / "log.jsonl") if "loss" in r]
    assert logged == list(range(1, block_at + 1))  # the log ran ahead of the checkpoint
    steps_per_epoch = 3 if scenario == "sequence" else len(train)
    assert 0 < ck.extra["cursor"] < steps_per_epoch  # killed in the middle of an epoch
    if scenario == "sequence":
        assert ck.extra["perm"] is not None and ck.hidden is None
    else:
        assert ck.hidden is not None  # the carried state is part of the checkpoint
        assert isinstance(ck.hidden, tuple) == (scenario == "lstm")

    resumed, train2, val2 = build(scenario, run, checkpoint_every=every)
    history = resumed.fit(train2, val2, resume=last)
    _assert_same_run(resumed, straight)
    assert history.steps[:resume_step] == ck.history  # the restored records keep their timings
    assert [r["step"] for r in history.steps] == list(range(1, straight.config.steps + 1))

    # the JSON-lines log holds every step exactly once, and matches the straight run's log
    log = _read_log(run / "log.jsonl")
    assert [r["step"] for r in log if "loss" in r] == list(range(1, straight.config.steps + 1))
    assert _strip(log) == _strip(_read_log(tmp_path / "straight" / "log.jsonl"))
    assert [r for r in log if "val_loss" in r] == history.evals
    assert load_checkpoint(last).step == straight.config.steps


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_during_a_checkpoint_write_keeps_the_previous_one(tmp_path):
    straight, train, val = build("sequence", tmp_path / "straight", checkpoint_every=2)
    straight.fit(train, val)

    # the third save of last.npz (step 6) is interrupted after its first archive member
    _run_worker_until_blocked({"scenario": "sequence", "checkpoint_every": 2, "block_in_save": 3}, tmp_path)
    ckdir = tmp_path / "run" / "ckpt"
    leftovers = [p.name for p in ckdir.iterdir() if p.name not in ("last.npz", "best.npz")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".last.npz.") and leftovers[0].endswith(".tmp")
    assert (ckdir / leftovers[0]).stat().st_size > 0  # the kill really came in the middle of a write
    ck = load_checkpoint(ckdir / "last.npz")
    assert ck.step == 4
    best = load_checkpoint(ckdir / "best.npz")
    assert best.step <= 6 and best.extra["evals"][-1]["best"]

    # a crash can also cut the last line of the log: resuming drops it with the steps after step 4
    with open(tmp_path / "run" / "log.jsonl", "a") as f:
        f.write('{"step": 7, "epoch": 2, "lo')
    resumed, train2, val2 = build("sequence", tmp_path / "run", checkpoint_every=2)
    resumed.fit(train2, val2, resume=ckdir / "last.npz")
    _assert_same_run(resumed, straight)
    log = _read_log(tmp_path / "run" / "log.jsonl")
    assert _strip(log) == _strip(_read_log(tmp_path / "straight" / "log.jsonl"))


def test_in_process_resume_at_every_checkpoint_matches(tmp_path):
    """Resuming from a copy of every periodic checkpoint, also at epoch ends, gives the same run."""
    straight, train, val = build("sequence", tmp_path / "a", checkpoint_every=3)
    copies = []

    def keep(event, tr, record):
        if event == "checkpoint" and record["path"].endswith("last.npz"):
            target = tmp_path / f"at{record['step']}.npz"
            target.write_bytes(Path(record["path"]).read_bytes())
            copies.append(target)

    straight.callbacks.append(keep)
    straight.fit(train, val)
    assert len(copies) == 5  # steps 3, 6, 9, 12 (epoch ends) and the final one at 14
    for path in copies[:-1]:
        resumed, train2, val2 = build("sequence")
        resumed.fit(train2, val2, resume=path)
        _assert_same_run(resumed, straight)


# -- overfitting a tiny dataset --------------------------------------------------------------------
@pytest.mark.parametrize("truncate", [None, 1])
def test_tiny_rnn_overfits_whole_sequences(truncate):
    x, y, V = _char_words()
    data = SequenceData(x, y)
    model = SequenceModel(ModelConfig(vocab_size=V, hidden_size=16), rng=0)
    cfg = TrainConfig(steps=150, batch_size=4, truncate=truncate)
    trainer = Trainer(model, Adam(model.params, lr=0.05), cfg)
    history = trainer.fit(data)
    assert history.losses[0] > 1.0
    assert trainer.evaluate(data) < 0.01
    logits, _, _ = model.train(False).forward(x)
    assert np.array_equal(logits.argmax(-1), y)


def test_truncation_changes_the_gradient():
    x, y, V = _char_words()
    runs = []
    for truncate in (None, 1):
        model = SequenceModel(ModelConfig(vocab_size=V, hidden_size=16), rng=0)
        runs.append(Trainer(model, Adam(model.params, lr=0.05),
                            TrainConfig(steps=2, batch_size=4, truncate=truncate)).fit(SequenceData(x, y)))
    full, cut = runs
    assert full.losses[0] == cut.losses[0]  # same start
    assert full.steps[0]["grad_norm"] != cut.steps[0]["grad_norm"]


def test_tiny_rnn_overfits_a_stream_with_carried_state():
    # the pattern's next token is not fixed by the current token, and windows (5) are shorter than the
    # period (12): the start of every window needs the state carried over from the previous one
    pattern = np.array([0, 1, 2, 0, 2, 1, 1, 0, 3, 2, 3, 1])
    data = TokenStream(np.tile(pattern, 20), batch_size=4, window=5)
    model = SequenceModel(ModelConfig(vocab_size=4, hidden_size=24), rng=0)
    trainer = Trainer(model, Adam(model.params, lr=0.03), TrainConfig(epochs=25))
    history = trainer.fit(data)
    assert len(history.steps) == 25 * len(data)
    assert history.losses[0] > 1.0
    assert trainer.evaluate(data) < 0.01
    # the same model restarted from a zero state in every window is unsure at the window starts
    model.train(False)
    windows = [data.window_at(i) for i in range(len(data))]
    zero_state = np.mean([cross_entropy(model.forward(x)[0], y)[0] for x, y in windows])
    assert zero_state > 10 * trainer.evaluate(data)


def test_masks_and_many_to_one_targets_count_like_the_loss():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 6, 3)).astype(np.float32)  # (T, N, 3)
    y = rng.standard_normal((5, 6, 2)).astype(np.float32)  # (T, N, 2)
    mask = rng.random((5, 6)) < 0.6  # (T, N)
    model = SequenceModel(ModelConfig(input_size=3, output_size=2, hidden_size=5), rng=0)
    trainer = Trainer(model, SGD(model.params, lr=0.0), TrainConfig(steps=1, batch_size=6, loss="mse"))
    data = SequenceData(x, y, mask.astype(np.int64))  # 0/1 numbers are a mask too
    pred = model.forward(x)[0].astype(np.float64)  # (T, N, 2)
    want = float(np.mean(((pred - y) ** 2)[mask]))  # the masked steps' elements only
    assert trainer.evaluate(data) == pytest.approx(want, rel=1e-6)
    assert trainer.fit(data).losses[0] == pytest.approx(want, rel=1e-6)
    # many-to-one classification: one class id per sequence
    ids = rng.integers(0, 4, size=(5, 6))  # (T, N)
    labels = rng.integers(0, 3, size=6)  # (N,)
    clf = SequenceModel(ModelConfig(vocab_size=4, hidden_size=5, output_size=3, head="last"), rng=0)
    logits = clf.forward(ids)[0].astype(np.float64)  # (N, 3)
    want = float(-np.mean(log_softmax(logits)[np.arange(6), labels]))
    got = Trainer(clf, SGD(clf.params, lr=0.1)).evaluate(SequenceData(ids, labels))
    assert got == pytest.approx(want, rel=1e-6)


# -- divergence guard ----------------------------------------------------------------------------
def test_divergence_raises_naming_the_step_and_the_last_finite_loss(tmp_path):
    model, data = _dense_relu_problem()
    trainer = Trainer(model, SGD(model.params, lr=8.0), TrainConfig(steps=30, batch_size=8, loss="mse"))
    with pytest.raises(TrainingDiverged) as info:
        trainer.fit(data)
    err, losses = info.value, trainer.history.losses
    assert losses and all(math.isfinite(v) for v in losses)
    assert err.step == len(losses) + 1
    assert err.last_finite_loss == losses[-1]
    assert f"step {err.step}" in str(err) and f"{losses[-1]:.6g}" in str(err)


def test_rollback_halves_the_rate_until_training_is_finite(tmp_path):
    model, data = _dense_relu_problem()
    events = []
    log = tmp_path / "log.jsonl"
    cfg = TrainConfig(steps=30, batch_size=8, loss="mse", on_nonfinite="rollback", max_rollbacks=5,
                      snapshot_every=1000, log_path=str(log))
    trainer = Trainer(model, SGD(model.params, lr=8.0), cfg,
                      callbacks=[lambda e, tr, r: events.append(r) if e == "rollback" else None])
    history = trainer.fit(data)
    # each rollback lowers the rate that failed, not the snapshot's: 8 -> 4 -> 2 -> 1
    assert [r["lr"] for r in events] == [4.0, 2.0, 1.0]
    assert trainer.optimizer.lr == 1.0 and trainer.rollbacks == 3
    assert math.isfinite(history.losses[-1])
    assert [r["step"] for r in history.steps] == list(range(1, 31))
    assert [r["step"] for r in _read_log(log)] == list(range(1, 31))  # undone steps left the log
    # rolled back to the start, the run is exactly a run at lr 1 from the start
    ref_model, _ = _dense_relu_problem()
    ref = Trainer(ref_model, SGD(ref_model.params, lr=1.0), TrainConfig(steps=30, batch_size=8, loss="mse"))
    ref.fit(data)
    _assert_same_arrays(model.params, ref_model.params, "params")
    assert history.deterministic() == ref.history.deterministic()


def test_rollback_gives_up_after_max_rollbacks():
    model, data = _dense_relu_problem()
    events = []
    cfg = TrainConfig(steps=30, batch_size=8, loss="mse", on_nonfinite="rollback", max_rollbacks=2)
    trainer = Trainer(model, SGD(model.params, lr=8.0), cfg,
                      callbacks=[lambda e, tr, r: events.append(r) if e == "rollback" else None])
    with pytest.raises(TrainingDiverged, match=r"step \d+"):
        trainer.fit(data)
    assert [r["rollbacks"] for r in events] == [1, 2]
    assert trainer.optimizer.lr == 2.0


# -- validation, best model, early stopping, schedules -------------------------------------------
def _manual_val_loss(model, data: SequenceData) -> float:
    logits, _, _ = model.train(False).forward(data.x)  # (T, N, C)
    model.train(True)
    logp = log_softmax(logits.astype(np.float64))  # (T, N, C)
    picked = np.take_along_axis(logp, data.y[..., None], axis=-1)[..., 0]  # (T, N)
    return float(-picked.mean())


def test_eval_every_records_the_validation_loss_and_tracks_the_best(tmp_path):
    train, val = _contrary_split()
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=12), rng=0)
    seen = {}

    def watch(event, tr, record):
        if event == "eval":
            seen[record["step"]] = (tr.model.state_dict(), _manual_val_loss(tr.model, val))

    cfg = TrainConfig(steps=20, batch_size=4, eval_every=4, checkpoint_dir=str(tmp_path / "ck"))
    trainer = Trainer(model, Adam(model.params, lr=0.05), cfg, callbacks=[watch])
    history = trainer.fit(train, val)
    assert [r["step"] for r in history.evals] == [4, 8, 12, 16, 20]
    for r in history.evals:
        assert r["val_loss"] == pytest.approx(seen[r["step"]][1], rel=1e-5)
    losses = history.val_losses
    assert losses[-1] > losses[0]  # the validation set disagrees with the training targets
    flags = [v < min(losses[:i], default=math.inf) for i, v in enumerate(losses)]
    assert [r["best"] for r in history.evals] == flags
    best_step = history.evals[int(np.argmin(losses))]["step"]
    assert trainer.best_val == min(losses)
    _assert_same_arrays(trainer.best_params, seen[best_step][0], "best_params")
    best = load_checkpoint(tmp_path / "ck" / "best.npz")
    assert best.step == best_step
    _assert_same_arrays(best.params, seen[best_step][0], "best.npz")
    assert load_checkpoint(tmp_path / "ck" / "last.npz").step == 20


def test_per_epoch_validation():
    train, val = _contrary_split()
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=8), rng=0)
    trainer = Trainer(model, SGD(model.params, lr=0.1), TrainConfig(epochs=3, batch_size=3))
    history = trainer.fit(train, val)
    assert len(history.steps) == 9  # ceil(8 / 3) = 3 batches per epoch
    assert [(r["step"], r["epoch"]) for r in history.evals] == [(3, 0), (6, 1), (9, 2)]
    assert [r["epoch"] for r in history.steps] == [0] * 3 + [1] * 3 + [2] * 3
    assert history.val_losses[-1] == pytest.approx(_manual_val_loss(model, val), rel=1e-5)


def test_early_stopping_after_patience_validations_without_improvement():
    train, val = _contrary_split()
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=12), rng=0)
    cfg = TrainConfig(steps=200, batch_size=4, eval_every=2, patience=3)
    history = Trainer(model, Adam(model.params, lr=0.05), cfg).fit(train, val)
    losses = history.val_losses
    best, bad, stop = math.inf, 0, None
    for i, v in enumerate(losses):
        best, bad = (v, 0) if v < best else (best, bad + 1)
        if bad == 3:
            stop = i
            break
    assert stop is not None and stop == len(losses) - 1
    assert history.steps[-1]["step"] == history.evals[stop]["step"] < 200


def test_halve_on_increase_halves_the_rate_when_validation_rises():
    train, val = _contrary_split()
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=12), rng=0)
    opt = SGD(model.params, lr=0.5)
    history = Trainer(model, opt, TrainConfig(steps=24, batch_size=4, eval_every=3),
                      scheduler=HalveOnIncrease(opt)).fit(train, val)
    lr_at = {r["step"]: r["lr"] for r in history.steps}
    rises = 0
    for prev, cur in zip(history.evals, history.evals[1:], strict=False):
        if cur["step"] + 1 in lr_at:
            rose = cur["val_loss"] > prev["val_loss"]
            rises += rose
            assert lr_at[cur["step"] + 1] == lr_at[cur["step"]] * (0.5 if rose else 1.0)
    assert rises >= 2
    assert history.evals[0]["step"] == 3 and lr_at[4] == lr_at[1] == 0.5  # the first only sets the reference


# -- clipping and callbacks ---------------------------------------------------------------------
def test_clip_norm_records_the_norm_before_clipping_and_scales_the_update():
    x, y, V = _char_words()
    data = SequenceData(x, y)
    model = SequenceModel(ModelConfig(vocab_size=V, hidden_size=8), rng=0)
    start = model.state_dict()
    after_first = {}

    def grab(event, tr, record):
        if event == "step" and record["step"] == 1:
            after_first.update(tr.model.state_dict())

    lr, max_norm = 0.1, 0.5
    cfg = TrainConfig(steps=40, batch_size=2, clip_norm=max_norm, seed=9)
    history = Trainer(model, SGD(model.params, lr=lr), cfg, callbacks=[grab]).fit(data)
    # the first step redone by hand: the batch is the head of the seed's first permutation
    idx = np.random.default_rng(9).permutation(4)[:2]
    ref = SequenceModel(ModelConfig(vocab_size=V, hidden_size=8), rng=0)
    logits, _, cache = ref.forward(x[:, idx])
    _, dlogits = cross_entropy(logits, y[:, idx])
    _, _, grads = ref.backward(dlogits, None, cache)
    norm = global_norm(grads)
    assert history.steps[0]["grad_norm"] == norm
    scale = min(1.0, max_norm / (norm + 1e-6))
    for k in start:
        np.testing.assert_allclose(after_first[k], start[k] - lr * scale * grads[k], rtol=1e-5, atol=1e-7)
    flags = [r["clipped"] for r in history.steps]
    assert flags == [r["grad_norm"] > max_norm for r in history.steps]
    assert 0 < sum(flags) < len(flags)  # both cases occur
    assert history.clipped_fraction == pytest.approx(sum(flags) / len(flags))


def test_clip_value_bounds_every_gradient_entry():
    model, data = _dense_relu_problem()
    start = model.state_dict()
    after_first = {}

    def grab(event, tr, record):
        if event == "step" and record["step"] == 1:
            after_first.update(tr.model.state_dict())

    lr, v = 0.01, 0.05
    cfg = TrainConfig(steps=6, batch_size=8, loss="mse", clip_value=v)
    history = Trainer(model, SGD(model.params, lr=lr), cfg, callbacks=[grab]).fit(data)
    assert all(r["clipped"] for r in history.steps) and history.clipped_fraction == 1.0
    step = max(float(np.max(np.abs(after_first[k] - start[k]))) for k in start)
    assert step == pytest.approx(lr * v, rel=1e-4)  # the largest update is exactly lr * clip_value
    assert History().clipped_fraction == 0.0


def test_callbacks_see_every_event_and_can_stop_training(tmp_path):
    train, val = _contrary_split()
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=8), rng=0)
    events = []

    def cb(event, trainer, record):
        events.append((event, trainer.step))
        if event == "step" and record["step"] == 5:
            trainer.should_stop = True

    cfg = TrainConfig(steps=100, batch_size=4, eval_every=2, checkpoint_dir=str(tmp_path),
                      checkpoint_every=4)
    trainer = Trainer(model, SGD(model.params, lr=0.1), cfg, callbacks=[cb])
    history = trainer.fit(train, val)
    assert len(history.steps) == 5 and trainer.step == 5 and trainer.stop_reason == "requested"
    assert [s for e, s in events if e == "step"] == [1, 2, 3, 4, 5]
    assert [s for e, s in events if e == "eval"] == [2, 4]
    assert events[0] == ("start", 0) and events[-1] == ("end", 5)
    saves = [e for e in events if e[0] == "checkpoint"]
    assert ("checkpoint", 4) in saves and saves[-1] == ("checkpoint", 5)  # the last one at the stop
    assert load_checkpoint(tmp_path / "last.npz").step == 5
    # a second fit continues: should_stop is reset and the step count goes on
    trainer.callbacks.clear()
    trainer.config.steps = 8
    assert len(trainer.fit(train, val).steps) == 8


# -- the library is silent -----------------------------------------------------------------------
def test_no_output_unless_stderr_is_a_terminal(capsys, tmp_path):
    x, y, V = _char_words()
    model = SequenceModel(ModelConfig(vocab_size=V, hidden_size=8), rng=0)
    cfg = TrainConfig(steps=5, batch_size=2, eval_every=2, checkpoint_dir=str(tmp_path))
    Trainer(model, SGD(model.params, lr=0.1), cfg).fit(SequenceData(x, y), SequenceData(x, y))
    assert capsys.readouterr() == ("", "")  # stderr is captured, not a terminal: no bar
    Trainer(model, SGD(model.params, lr=0.1), TrainConfig(steps=5, batch_size=2, progress=True)).fit(
        SequenceData(x, y))
    out, err = capsys.readouterr()
    assert out == "" and "5/5" in err  # asked for, the bar goes to stderr
    history = Trainer(model, SGD(model.params, lr=0.1),
                      TrainConfig(steps=4, batch_size=2, eval_every=2, progress=True)).fit(
        SequenceData(x, y), SequenceData(x, y))
    err = capsys.readouterr().err
    assert f"val={history.evals[-1]['val_loss']:.4f}" in err  # the bar shows the latest validation loss


# -- bad input -----------------------------------------------------------------------------------
# (bad SequenceData and TokenStream arguments: tests/test_data_sequences.py)
@pytest.mark.parametrize(("make", "words"), [
    (lambda: TrainConfig(steps=5, checkpoint_every=2).validate(), "checkpoint_every=2 needs checkpoint_dir"),
    (lambda: TrainConfig(steps=5, epochs=2).validate(), "exactly one of steps and epochs"),
    (lambda: TrainConfig(steps=5, max_rollbacks=-1).validate(), "max_rollbacks must be an integer >= 0"),
])
def test_bad_config_is_rejected_with_a_clear_message(make, words):
    with pytest.raises(ValueError) as info:
        make()
    assert words in str(info.value)


def _token_model(**kw):
    return SequenceModel(ModelConfig(vocab_size=5, hidden_size=4, **kw), rng=0)


def _dense_model(**kw):
    return SequenceModel(ModelConfig(input_size=3, output_size=2, hidden_size=4, **kw), rng=0)


_ids = np.zeros((4, 6), dtype=np.int64)  # (T, N)
_feats = np.zeros((4, 6, 3), dtype=np.float32)  # (T, N, 3)


@pytest.mark.parametrize(("model", "loss", "train", "val", "words"), [
    (_dense_model, "mse", lambda: TokenStream(np.arange(40) % 5, 2, 4), None,
     "is a TokenStream of token ids"),
    (_token_model, "cross_entropy", lambda: TokenStream(np.arange(40) % 7, 2, 4), None,
     "token ids in [0, 6], outside the model's vocabulary [0, 5)"),
    (_token_model, "mse", lambda: TokenStream(np.arange(40) % 5, 2, 4), None, "next-token cross_entropy"),
    (_dense_model, "mse", lambda: SequenceData(_ids, np.zeros((4, 6, 2), np.float32)), None,
     "expects (T, N, 3) features"),
    (_token_model, "cross_entropy", lambda: SequenceData(_feats, _ids), None, "expects (T, N) token ids"),
    (_dense_model, "mse", lambda: SequenceData(np.zeros((4, 6, 4), np.float32), np.zeros((4, 6, 2))), None,
     "expects (T, N, 3) features"),
    (_dense_model, "mse", lambda: SequenceData(_feats.astype(np.float64), np.zeros((4, 6, 2))), None,
     "x has dtype float64, the model's weights are float32"),
    (lambda: _dense_model(head="last"), "mse", lambda: SequenceData(_feats, np.zeros((4, 6, 2))), None,
     "head 'last' needs one target per sequence"),
    (_dense_model, "mse", lambda: SequenceData(_feats, np.zeros((4, 6, 5))), None,
     "mse needs train y of shape (4, 6, 2)"),
    (_token_model, "cross_entropy", lambda: SequenceData(_ids, _ids.astype(np.float32)), None,
     "cross_entropy needs integer class ids"),
    (_token_model, "cross_entropy", lambda: SequenceData(_ids, _ids),
     lambda: SequenceData(_ids + 9, _ids), "val holds token ids in [9, 9]"),
    (_token_model, "cross_entropy", lambda: SequenceData(_ids, _ids),
     lambda: TokenStream(np.arange(40) % 5, 2, 4), "val must be the same kind of data as train"),
    (_token_model, "cross_entropy", lambda: _ids, None, "train must be SequenceData or TokenStream"),
])
def test_data_that_does_not_fit_the_model_is_rejected(model, loss, train, val, words):
    m = model()
    trainer = Trainer(m, SGD(m.params, lr=0.1), TrainConfig(steps=1, batch_size=2, loss=loss))
    before = m.state_dict()
    with pytest.raises(ValueError) as info:
        trainer.fit(train(), None if val is None else val())
    assert words in str(info.value)
    _assert_same_arrays(m.params, before, "params")  # nothing was trained


def test_resume_from_a_missing_or_unreadable_checkpoint(tmp_path):
    x, y, V = _char_words()
    model = SequenceModel(ModelConfig(vocab_size=V, hidden_size=4), rng=0)
    trainer = Trainer(model, SGD(model.params, lr=0.1), TrainConfig(steps=2, batch_size=2))
    missing = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError) as info:
        trainer.fit(SequenceData(x, y), resume=missing)
    assert str(missing) in str(info.value)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="garbage.npz is not a scratchrnn checkpoint"):
        trainer.fit(SequenceData(x, y), resume=garbage)
    cut = tmp_path / "cut.npz"
    other = SequenceModel(ModelConfig(vocab_size=V, hidden_size=4), rng=0)
    Trainer(other, SGD(other.params, lr=0.1), TrainConfig(steps=1, batch_size=2)).save(cut)
    cut.write_bytes(cut.read_bytes()[:-30])
    with pytest.raises(ValueError, match="cut.npz is truncated or corrupt"):
        trainer.fit(SequenceData(x, y), resume=cut)
    # a checkpoint of another model: named, with the differing setting
    wider = SequenceModel(ModelConfig(vocab_size=V, hidden_size=6), rng=0)
    path = tmp_path / "wider.npz"
    save_checkpoint(path, params=wider.params, config={"model": wider.config.to_dict()})
    with pytest.raises(ValueError, match=r"wider.npz was written for a different model: hidden_size=6 "
                                         r"\(this model: 4\)"):
        trainer.fit(SequenceData(x, y), resume=path)
    assert trainer.step == 0 and not trainer.history.steps


def test_the_data_containers_keep_their_trainer_import_path():
    import scratchrnn.data
    import scratchrnn.train

    assert scratchrnn.train.SequenceData is scratchrnn.data.SequenceData
    assert scratchrnn.train.TokenStream is scratchrnn.data.TokenStream
    assert {"SequenceData", "TokenStream"} <= set(scratchrnn.train.__all__)


# -- configuration checks ------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value", "words"), [
    ("clip_norm", "x", "clip_norm must be a real number, got 'x'"),
    ("clip_norm", -1.0, "clip_norm must be > 0.0"),
    ("clip_value", float("nan"), "clip_value must be finite"),
    ("seed", "x", "seed must be an integer >= 0, got 'x'"),
    ("seed", -1, "seed must be an integer >= 0"),
    ("progress", "yes", "progress must be True or False"),
    ("loss", ["mse"], "unknown loss"),
    ("on_nonfinite", ["raise"], "on_nonfinite must be"),
    ("log_path", 3, "log_path must be None or a path"),
])
def test_train_config_names_the_field_that_is_wrong(field, value, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        TrainConfig(steps=1, **{field: value}).validate()


def test_train_config_takes_numpy_scalars():
    cfg = TrainConfig(steps=np.int64(3), clip_norm=np.float32(1.0), seed=np.int64(2), batch_size=np.int32(2),
                      progress=np.bool_(False))
    cfg.validate()
    model = SequenceModel(ModelConfig(vocab_size=4, hidden_size=3), rng=0)
    ids = np.random.default_rng(0).integers(0, 4, 60)
    history = Trainer(model, SGD(model.params, lr=0.1), cfg).fit(TokenStream(ids, batch_size=2, window=5))
    assert len(history.steps) == 3


def test_log_and_checkpoint_write_errors_name_the_file(tmp_path, monkeypatch):
    import errno

    from scratchrnn import train as train_mod

    model = SequenceModel(ModelConfig(vocab_size=4, hidden_size=3), rng=0)
    ids = np.random.default_rng(0).integers(0, 4, 60)

    def full_disk(path, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(train_mod, "save_checkpoint", full_disk)
    trainer = Trainer(model, SGD(model.params, lr=0.1), TrainConfig(steps=2, checkpoint_dir=str(tmp_path)))
    with pytest.raises(OSError) as info:
        trainer.fit(TokenStream(ids, batch_size=2, window=5))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "last.npz")


def test_resume_refuses_a_file_without_optimizer_state(tmp_path):
    model = SequenceModel(ModelConfig(vocab_size=4, hidden_size=3), rng=0)
    weights_only = tmp_path / "model.npz"
    save_checkpoint(weights_only, params=model.params, config={"model": model.config.to_dict()})
    ids = np.random.default_rng(0).integers(0, 4, 60)
    trainer = Trainer(model, SGD(model.params, lr=0.1), TrainConfig(steps=2))
    with pytest.raises(ValueError, match="holds no optimizer or generator state .* resume from the last.npz"):
        trainer.fit(TokenStream(ids, batch_size=2, window=5), resume=weights_only)


# -- reports, the time limit, a rate changed on resume -----------------------------------------------
class _Clock:
    """A clock that moves only when told: each training step below takes exactly one second."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    def tick(self, event, trainer, record) -> None:
        if event == "step":
            self.now += 1.0


def _stream_run(tmp_path=None, **cfg):
    ids = np.random.default_rng(0).integers(0, 5, 400)
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=6), rng=0)
    opt = SGD(model.params, lr=0.2)
    extra = {} if tmp_path is None else {"checkpoint_dir": str(tmp_path),
                                         "log_path": str(tmp_path / "log.jsonl")}
    trainer = Trainer(model, opt, TrainConfig(**{"steps": 20, "eval_every": 5, **extra, **cfg}))
    return (trainer, TokenStream(ids[:300], batch_size=2, window=6),
            TokenStream(ids[300:], batch_size=2, window=6))


def test_reports_come_every_n_steps_after_each_validation_and_at_the_end():
    trainer, train, val = _stream_run(steps=11, report_every=3)
    reports = []
    trainer.callbacks.append(lambda e, tr, r: reports.append(r) if e == "report" else None)
    history = trainer.fit(train, val)
    assert [r["step"] for r in reports] == [3, 5, 6, 9, 10, 11]
    assert [r["validated"] for r in reports] == [False, True, False, False, True, False]
    since = 0
    for r in reports:  # each report's loss is the mean over the steps since the one before
        losses = [s["loss"] for s in history.steps[since:r["step"]]]
        assert r["steps"] == len(losses) and r["loss"] == pytest.approx(np.mean(losses), rel=1e-12)
        tokens = sum(s["tokens_per_s"] * s["seconds"] for s in history.steps[since:r["step"]])
        seconds = sum(s["seconds"] for s in history.steps[since:r["step"]])
        assert r["tokens_per_s"] == pytest.approx(tokens / seconds)
        assert r["total"] == 11 and r["lr"] == history.steps[r["step"] - 1]["lr"]
        since = r["step"]
    assert reports[0]["val_loss"] is None and reports[1]["val_loss"] == history.evals[0]["val_loss"]
    assert reports[1]["improved"] and reports[2]["val_loss"] == history.evals[0]["val_loss"]
    assert reports[-1]["elapsed"] == history.steps[-1]["elapsed"] > 0


def test_without_an_interval_reports_follow_the_clock(monkeypatch):
    from types import SimpleNamespace

    from scratchrnn import train as train_mod
    from scratchrnn import trainlog

    clock = _Clock()
    monkeypatch.setattr(train_mod, "time", SimpleNamespace(perf_counter=clock.perf_counter))
    monkeypatch.setattr(trainlog, "time", SimpleNamespace(perf_counter=clock.perf_counter))
    trainer, train, _ = _stream_run(steps=12, report_seconds=4.0)
    reports = []
    trainer.callbacks[:] = [clock.tick, lambda e, tr, r: reports.append(r["step"]) if e == "report" else None]
    history = trainer.fit(train)
    assert reports == [4, 8, 12]  # a report once four seconds have passed since the last
    assert [r["elapsed"] for r in history.steps] == [float(k) for k in range(12)]


def test_the_time_limit_stops_after_the_step_that_passes_it_and_resumes_exactly(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from scratchrnn import train as train_mod

    straight, train, val = _stream_run(tmp_path / "straight")
    straight.fit(train, val)
    clock = _Clock()
    monkeypatch.setattr(train_mod, "time", SimpleNamespace(perf_counter=clock.perf_counter))
    limited, train, val = _stream_run(tmp_path / "run", time_limit=6.5)
    ends = []
    limited.callbacks[:] = [clock.tick, lambda e, tr, r: ends.append(r) if e == "end" else None]
    history = limited.fit(train, val)
    elapsed = [r["elapsed"] for r in history.steps]
    assert elapsed[-1] >= 6.5 > elapsed[-2]  # the step that passed the limit was the last
    assert limited.step == 8 and limited.stop_reason == "time_limit"
    assert ends == [{"step": 8, "total": 20, "reason": "time_limit", "elapsed": 7.0}]
    last = tmp_path / "run" / "last.npz"
    assert load_checkpoint(last).step == 8 and load_checkpoint(last).extra["elapsed"] == 7.0
    monkeypatch.undo()
    resumed, train, val = _stream_run(tmp_path / "run")
    resumed.fit(train, val, resume=last)
    _assert_same_run(resumed, straight)
    assert resumed.history.steps[8]["elapsed"] > 7.0  # the run's time goes on from the checkpoint's
    assert resumed.stop_reason == "completed"
    log = _read_log(tmp_path / "run" / "log.jsonl")
    assert _strip(log) == _strip(_read_log(tmp_path / "straight" / "log.jsonl"))


def test_a_new_rate_on_resume_is_used_and_logged(tmp_path):
    first, train, val = _stream_run(tmp_path, steps=6)
    first.fit(train, val)
    events = []
    resumed, train, val = _stream_run(tmp_path, steps=10)
    resumed.callbacks.append(lambda e, tr, r: events.append(r) if e == "lr" else None)
    history = resumed.fit(train, val, resume=tmp_path / "last.npz", lr=0.05)
    assert events == [{"step": 6, "event": "lr", "from": 0.2, "to": 0.05}]
    assert [r["lr"] for r in history.steps] == [0.2] * 6 + [0.05] * 4
    log = _read_log(tmp_path / "log.jsonl")
    assert [r for r in log if "event" in r] == events
    before = log[log.index(events[0]) - 1]
    assert before["step"] == 6 and "loss" in before  # right after the step it follows
    assert load_checkpoint(tmp_path / "last.npz").extra["lr"] == 0.05
    # the same rate again is no change; the next resume keeps the record of the last one
    again, train, val = _stream_run(tmp_path, steps=12)
    again.fit(train, val, resume=tmp_path / "last.npz", lr=0.05)
    assert [r for r in _read_log(tmp_path / "log.jsonl") if "event" in r] == events


def test_a_new_rate_rescales_a_schedule():
    from scratchrnn.optim import StepLR

    ids = np.random.default_rng(0).integers(0, 5, 200)
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=4), rng=0)
    opt = SGD(model.params, lr=0.4)
    trainer = Trainer(model, opt, TrainConfig(steps=4), scheduler=StepLR(opt, step_size=2, gamma=0.5))
    trainer.fit(TokenStream(ids, batch_size=2, window=5))
    assert opt.lr == 0.1  # 0.4 halved twice
    trainer.config.steps = 6
    history = trainer.fit(TokenStream(ids, batch_size=2, window=5), lr=0.04)
    assert trainer.scheduler.base_lr == 0.04
    assert [r["lr"] for r in history.steps[4:]] == pytest.approx([0.01, 0.01])  # the schedule, at 1/10


def test_stop_reasons_and_a_run_that_has_nothing_left(tmp_path):
    trainer, train, val = _stream_run(tmp_path, steps=4)
    trainer.fit(train, val)
    assert trainer.stop_reason == "completed"
    again, train, val = _stream_run(tmp_path, steps=4)
    with pytest.raises(ValueError, match=r"last.npz is at step 4 and the run is to take 4 in all"):
        again.fit(train, val, resume=tmp_path / "last.npz")
    train_split, val_split = _contrary_split()
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=12), rng=0)
    patient = Trainer(model, Adam(model.params, lr=0.05),
                      TrainConfig(steps=200, batch_size=4, eval_every=2, patience=3))
    patient.fit(train_split, val_split)
    assert patient.stop_reason == "patience" and patient.step < 200


@pytest.mark.parametrize(("field", "value", "words"), [
    ("time_limit", 0, "time_limit must be > 0.0, got 0.0"),
    ("time_limit", -1.5, "time_limit must be > 0.0, got -1.5"),
    ("time_limit", math.inf, "time_limit must be finite"),
    ("report_every", 0, "report_every must be"),
    ("report_seconds", 0.0, "report_seconds must be > 0.0"),
])
def test_time_limit_and_reports_are_checked(field, value, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        TrainConfig(steps=1, **{field: value}).validate()


def test_meta_goes_into_every_checkpoint_and_may_not_replace_the_trainers_own(tmp_path):
    trainer, train, val = _stream_run(tmp_path, steps=2)
    trainer.meta = {"lm": {"level": "char"}}
    trainer.fit(train, val)
    config = load_checkpoint(tmp_path / "last.npz").config
    assert config["lm"] == {"level": "char"} and config["model"]["hidden_size"] == 6
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=4), rng=0)
    with pytest.raises(ValueError, match="meta must be a dict without the keys 'model' and 'train'"):
        Trainer(model, SGD(model.params, lr=0.1), TrainConfig(steps=1), meta={"model": {}})


# -- learning-rate schedules by name -------------------------------------------------------------
def _formula(kind, n, b, w, N, step_size=None, gamma=0.5, min_lr=0.0):
    """LRSchedule's documented rate after n steps, written out again from its docstring."""
    warm = (n + 1) / w if n < w else 1.0
    m = max(0, n - w)
    if kind == "step":
        size = step_size or math.ceil((N - w) / 4)
        return warm * b * gamma ** (m // size)
    if kind == "cosine":
        return warm * (min_lr + (b - min_lr) * (1 + math.cos(math.pi * min(m, N - w) / (N - w))) / 2)
    return warm * b


@pytest.mark.parametrize("kind", ["constant", "step", "cosine"])
def test_the_rate_in_the_log_is_the_schedules_formula_at_every_step(tmp_path, kind):
    trainer, train, val = _stream_run(tmp_path, steps=30, lr_schedule=kind, warmup=4, min_lr=0.01)
    trainer.fit(train, val)
    steps = [r for r in _read_log(tmp_path / "log.jsonl") if "loss" in r]
    assert [r["step"] for r in steps] == list(range(1, 31))
    for r in steps:
        want = _formula(kind, r["step"] - 1, 0.2, 4, 30, min_lr=0.01)
        assert r["lr"] == pytest.approx(want, rel=1e-12, abs=1e-15), r["step"]


def test_plateau_lowers_the_rate_after_validations_without_improvement():
    trainer, train, val = _stream_run(steps=60, eval_every=2, lr_schedule="plateau", lr_patience=1,
                                      lr_gamma=0.5)
    history = trainer.fit(train, val)
    best, bad, lr, want = math.inf, 0, 0.2, {}
    for r in history.evals:  # ReduceLROnPlateau's rule over the recorded validations
        if r["val_loss"] < best * (1 - 1e-4):
            best, bad = r["val_loss"], 0
        else:
            bad += 1
        if bad > 1:
            lr, bad = lr * 0.5, 0
        want[r["step"] + 1] = lr
    rates = {r["step"]: r["lr"] for r in history.steps}
    assert all(rates[s] == pytest.approx(v, rel=1e-12) for s, v in want.items() if s in rates)
    assert min(rates.values()) < 0.2


def test_a_schedule_resumes_exactly_from_its_checkpoint(tmp_path):
    straight, train, val = _stream_run(steps=20, lr_schedule="cosine", warmup=3)
    straight.fit(train, val)
    first, train, val = _stream_run(tmp_path, steps=20, lr_schedule="cosine", warmup=3)
    def stop(event, tr, record):
        if event == "step" and record["step"] == 11:
            tr.should_stop = True

    first.callbacks.append(stop)
    first.fit(train, val)  # stopped at step 11 of 20, as an interrupt would
    assert first.step == 11
    assert load_checkpoint(tmp_path / "last.npz").extra["scheduler"]["kind"] == "cosine"
    again, train, val = _stream_run(tmp_path / "again", steps=20, lr_schedule="cosine", warmup=3)
    again.fit(train, val, resume=tmp_path / "last.npz")
    assert [r["lr"] for r in again.history.steps] == [r["lr"] for r in straight.history.steps]
    _assert_same_run(again, straight)


@pytest.mark.parametrize("kind", ["step", "cosine"])
def test_a_second_fit_takes_the_schedule_on_to_its_own_total_as_a_resume_does(tmp_path, kind):
    first, train, val = _stream_run(tmp_path, steps=10, lr_schedule=kind, warmup=3)
    first.fit(train, val)
    os.replace(tmp_path / "last.npz", tmp_path / "at10.npz")
    first.config.steps = 24
    first.fit(train, val)  # the same trainer, fitted on
    resumed, train, val = _stream_run(tmp_path / "r", steps=24, lr_schedule=kind, warmup=3)
    resumed.fit(train, val, resume=tmp_path / "at10.npz")
    assert first.scheduler.total_steps == 24
    assert [r["lr"] for r in first.history.steps] == [r["lr"] for r in resumed.history.steps]
    if kind == "cosine":  # the new total's curve from step 11 on, down to min_lr at its end
        for r in first.history.steps[10:]:
            assert r["lr"] == pytest.approx(_formula(kind, r["step"] - 1, 0.2, 3, 24), rel=1e-12)
    with pytest.raises(ValueError, match="^the warmup of 3 steps"):
        first.scheduler.retarget(3)


def test_a_run_resumes_only_with_the_schedule_it_had(tmp_path):
    first, train, val = _stream_run(tmp_path, steps=8, lr_schedule="cosine", warmup=3)
    first.fit(train, val)
    plain, train, val = _stream_run(tmp_path / "a", steps=12)
    refused = r"lr_schedule=None \(the run's: 'cosine'\), warmup=0 \(the run's: 3\)"
    with pytest.raises(ValueError, match=refused):
        plain.fit(train, val, resume=tmp_path / "last.npz")
    other, train, val = _stream_run(tmp_path / "b", steps=12, lr_schedule="step", warmup=3)
    with pytest.raises(ValueError, match=r"lr_schedule='step' \(the run's: 'cosine'\) differ"):
        other.fit(train, val, resume=tmp_path / "last.npz")
    unscheduled, train, val = _stream_run(tmp_path / "c", steps=8)
    unscheduled.fit(train, val)
    late, train, val = _stream_run(tmp_path / "d", steps=12, lr_schedule="cosine")
    with pytest.raises(ValueError, match="lr_schedule='cosine' \\(the run's: None\\)"):
        late.fit(train, val, resume=tmp_path / "c" / "last.npz")

def test_schedule_errors_name_both_numbers():
    trainer, train, val = _stream_run(steps=10, lr_schedule="cosine", warmup=10)
    with pytest.raises(ValueError, match="^the warmup of 10 steps must be shorter than the run of 10 steps$"):
        trainer.fit(train, val)
    model = SequenceModel(ModelConfig(vocab_size=5, hidden_size=6), rng=0)
    opt = SGD(model.params, lr=0.1)
    with pytest.raises(ValueError, match=r"^give a scheduler or config.lr_schedule \('step'\), not both$"):
        Trainer(model, opt, TrainConfig(steps=5, lr_schedule="step"), scheduler=HalveOnIncrease(opt))


# -- lengths and class weights ------------------------------------------------------------------
def test_a_training_step_with_lengths_is_the_padded_batch_with_lengths():
    """One SGD step of the trainer on SequenceData with lengths moves every weight as the model's
    own forward and backward on the batch (cut to its longest sequence, with its lengths) say."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 3, 2))
    lens = np.array([3, 5, 2])
    y = rng.integers(0, 3, size=3)
    cfg = ModelConfig(cell="gru", input_size=2, hidden_size=4, bidirectional=True, output_size=3,
                      head="final", dtype="float64")
    model, twin = SequenceModel(cfg, rng=4), SequenceModel(cfg, rng=4)
    config = TrainConfig(steps=1, batch_size=3, seed=0, progress=False)
    trainer = Trainer(model, SGD(model.params, lr=1.0), config)
    trainer.fit(SequenceData(x, y, lengths=lens))
    logits, _, cache = twin.forward(x[:5], lengths=lens)
    _, dlogits = cross_entropy(logits, y)
    _, _, grads = twin.backward(dlogits, None, cache)
    for k, g in grads.items():
        np.testing.assert_allclose(model.params[k], twin.params[k] - g, rtol=1e-12, atol=1e-14, err_msg=k)


def test_per_step_targets_past_the_lengths_do_not_count():
    """Changing the targets past each length changes neither the validation loss nor training."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4, size=(6, 5))
    lens = np.array([6, 2, 4, 1, 3])
    y = rng.integers(0, 4, size=(6, 5))
    other = y.copy()
    other[np.arange(6)[:, None] >= lens] = (other[np.arange(6)[:, None] >= lens] + 1) % 4
    losses = []
    for targets in (y, other):
        model = SequenceModel(ModelConfig(cell="lstm", vocab_size=4, hidden_size=5), rng=6)
        trainer = Trainer(model, SGD(model.params, lr=0.5), TrainConfig(steps=3, batch_size=2, seed=1,
                                                                       progress=False))
        data = SequenceData(x, targets, lengths=lens)
        trainer.fit(data)
        losses.append((trainer.evaluate(data), [r["loss"] for r in trainer.history.steps]))
    assert losses[0] == losses[1]


def test_the_trainer_checks_token_ids_inside_the_lengths_only():
    x = np.array([[1, 2], [3, -1], [-1, -1]])
    model = SequenceModel(ModelConfig(cell="rnn", vocab_size=4, hidden_size=3, head="last", output_size=2),
                          rng=0)
    trainer = Trainer(model, SGD(model.params, lr=0.1), TrainConfig(steps=1, batch_size=2, progress=False))
    trainer.fit(SequenceData(x, np.array([0, 1]), lengths=[2, 1]))
    with pytest.raises(ValueError, match=r"holds token ids in \[-1, 3\]"):
        trainer.fit(SequenceData(x, np.array([0, 1]), lengths=[3, 1]))


def test_class_weights_reach_the_trainer_and_its_validation_loss():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 6, 2))
    y = np.array([0, 0, 0, 1, 1, 2])
    cfg = ModelConfig(cell="rnn", input_size=2, hidden_size=3, output_size=3, head="last", dtype="float64")
    model = SequenceModel(cfg, rng=0)
    w = (1.0, 3.0, 0.5)
    trainer = Trainer(model, SGD(model.params, lr=0.0), TrainConfig(steps=1, class_weights=w, progress=False))
    logits, _, _ = model.forward(x)
    expect, _ = cross_entropy(logits, y, weight=np.array(w))
    assert trainer.evaluate(SequenceData(x, y)) == pytest.approx(expect, rel=1e-12)
    with pytest.raises(ValueError, match="class_weights has 2 weights, the model predicts 3 classes"):
        Trainer(model, SGD(model.params, lr=0.0), TrainConfig(steps=1, class_weights=(1.0, 2.0)))
    with pytest.raises(ValueError, match="class_weights weigh the classes of cross_entropy, the loss is"):
        TrainConfig(steps=1, loss="mse", class_weights=(1.0,)).validate()


def test_the_pinball_loss_trains_quantiles_and_its_validation_loss_is_its_mean():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 40, 2))
    y = rng.standard_normal((40, 2))  # two targets, three quantiles each
    cfg = ModelConfig(cell="gru", input_size=2, hidden_size=4, output_size=6, head="last", dtype="float64")
    model = SequenceModel(cfg, rng=0)
    levels = (0.1, 0.5, 0.9)
    tc = TrainConfig(steps=1, batch_size=7, loss="pinball", quantiles=levels, progress=False)
    trainer = Trainer(model, SGD(model.params, lr=0.0), tc)
    out, _, _ = model.forward(x)
    expect, _ = pinball(out, y, levels)
    assert trainer.evaluate(SequenceData(x, y)) == pytest.approx(expect, rel=1e-12)
    with pytest.raises(ValueError, match=r"pinball with 3 quantiles needs train y of shape"):
        trainer.fit(SequenceData(x, np.zeros((40, 6))))
    with pytest.raises(ValueError, match="the pinball loss needs quantiles, got None"):
        TrainConfig(steps=1, loss="pinball").validate()
    with pytest.raises(ValueError, match="quantiles are the levels of the pinball loss, the loss is 'mse'"):
        TrainConfig(steps=1, loss="mse", quantiles=(0.5,)).validate()


def test_weighted_validation_loss_with_padded_per_step_targets():
    """Per-step targets past the lengths may hold anything (here -100) with class weights too; the
    validation loss is the weighted mean over the steps that count, over several batches."""
    rng = np.random.default_rng(10)
    x = rng.integers(0, 4, size=(6, 5))
    lens = np.array([6, 2, 4, 1, 3])
    y = rng.integers(0, 3, size=(6, 5))
    y[np.arange(6)[:, None] >= lens] = -100
    cfg = ModelConfig(cell="gru", vocab_size=4, hidden_size=3, output_size=3, dtype="float64")
    model = SequenceModel(cfg, rng=0)
    w = (0.5, 2.0, 1.0)
    cfg = TrainConfig(steps=1, batch_size=2, class_weights=w, progress=False)
    got = Trainer(model, SGD(model.params, lr=0.0), cfg).evaluate(SequenceData(x, y, lengths=lens))
    logits, _, _ = model.forward(x, lengths=lens)
    expect, _ = cross_entropy(logits, y, weight=np.array(w), lengths=lens)
    assert got == pytest.approx(expect, rel=1e-12)
