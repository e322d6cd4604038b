"""A run continued in PyTorch comes back as a checkpoint the trainer resumes (scratchrnn.io.torch_run):
the resumed trainer holds torch's weights, moments, step count and the schedule's point, trains on,
and a file that does not fit the run is refused, naming what differs."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scratchrnn.data.sequences import TokenStream  # noqa: E402
from scratchrnn.io import load_checkpoint, load_module, save_checkpoint, to_torch  # noqa: E402
from scratchrnn.io.optim_interop import to_torch_optimizer  # noqa: E402
from scratchrnn.io.schedule_interop import to_torch_scheduler  # noqa: E402
from scratchrnn.io.torch_run import save_continued_run  # noqa: E402
from scratchrnn.nn.model import ModelConfig, SequenceModel  # noqa: E402
from scratchrnn.optim import SGD, Adam, make_optimizer, schedule_from_state  # noqa: E402
from scratchrnn.train import TrainConfig, Trainer  # noqa: E402

STREAM = np.tile(np.arange(5), 40)
CONFIG = ModelConfig(cell="lstm", vocab_size=5, embedding_dim=3, hidden_size=4, dtype="float64")


def train_config(folder, steps, **kwargs) -> TrainConfig:
    return TrainConfig(steps=steps, checkpoint_dir=str(folder), lr_schedule="step", warmup=2, lr_step_size=3,
                       **kwargs)


def run(folder, steps=8):
    model = SequenceModel(CONFIG, rng=0)
    trainer = Trainer(model, Adam(model.params, lr=0.01), train_config(folder, steps), vocab=list("abcde"))
    trainer.fit(TokenStream(STREAM, batch_size=2, window=4))
    return folder / "last.npz"


def continued_in_torch(path, steps=5):
    """The run of ``path`` as torch objects, trained ``steps`` steps on windows of the stream."""
    ck = load_checkpoint(path)
    model = load_module(path).eval()
    optimizer = make_optimizer(ck.optimizer_state["type"].lower(), model.params, lr=0.01)
    optimizer.load_state_dict(ck.optimizer_state)
    optimizer.lr = ck.extra["lr"]
    module = to_torch(model)
    torch_optimizer = to_torch_optimizer(optimizer, module)
    scheduler = to_torch_scheduler(schedule_from_state(optimizer, ck.extra["scheduler"]), torch_optimizer)
    ids = torch.from_numpy(STREAM[:21].reshape(-1, 1).copy())
    for _ in range(steps):
        logits, _ = module(ids[:-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 5), ids[1:].reshape(-1))
        torch_optimizer.zero_grad()
        loss.backward()
        torch_optimizer.step()
        scheduler.step()
    return module, torch_optimizer, scheduler


def test_the_trainer_resumes_where_torch_stopped(tmp_path):
    last = run(tmp_path / "run")
    module, torch_optimizer, scheduler = continued_in_torch(last)
    out = tmp_path / "continued" / "last.npz"
    out.parent.mkdir()
    assert save_continued_run(last, out, module, torch_optimizer, scheduler) == out
    ck = load_checkpoint(out)
    assert ck.step == 13 and ck.optimizer_state["step"] == 13 and ck.hidden is None
    assert ck.vocab == list("abcde") and ck.rng_state == load_checkpoint(last).rng_state
    assert ck.history == load_checkpoint(last).history  # torch's steps have no records

    model = SequenceModel(CONFIG, rng=1)
    trainer = Trainer(model, Adam(model.params, lr=0.01), train_config(out.parent, 13), vocab=list("abcde"))
    with pytest.raises(ValueError, match="is at step 13 .* nothing is left to train"):
        trainer.fit(TokenStream(STREAM, batch_size=2, window=4), resume=out)
    model = SequenceModel(CONFIG, rng=1)
    trainer = Trainer(model, Adam(model.params, lr=0.01), train_config(out.parent, 16), vocab=list("abcde"))
    seen = {}

    def at_start(event, run, record):
        if event == "start":  # the resumed run, before its first step
            seen.update(lr=run.optimizer.lr, step=run.step, count=run.optimizer.step_count)

    trainer.callbacks.append(at_start)
    trainer.fit(TokenStream(STREAM, batch_size=2, window=4), resume=out)
    assert seen == {"lr": torch_optimizer.param_groups[0]["lr"], "step": 13, "count": 13}
    assert trainer.step == 16 and trainer.optimizer.step_count == 16 and trainer.scheduler.last_step == 16


def test_the_resumed_trainer_holds_what_torch_left(tmp_path):
    from scratchrnn.resume import restore_run

    last = run(tmp_path)
    module, torch_optimizer, scheduler = continued_in_torch(last, steps=3)
    out = save_continued_run(last, tmp_path / "back.npz", module, torch_optimizer, scheduler)
    model = SequenceModel(CONFIG, rng=1)
    trainer = Trainer(model, Adam(model.params, lr=0.01), train_config(tmp_path, 20))
    trainer.scheduler = schedule_from_state(trainer.optimizer, load_checkpoint(last).extra["scheduler"])
    restore_run(trainer, out, TokenStream(STREAM, batch_size=2, window=4))
    for name, p in module.state_dict().items():
        np.testing.assert_array_equal(model.params[name], p.detach().numpy())
    for k, p in module.named_parameters():
        for buffer, torch_name in (("exp_avg", "exp_avg"), ("exp_avg_sq", "exp_avg_sq")):
            np.testing.assert_array_equal(trainer.optimizer.buffers[buffer][k],
                                          torch_optimizer.state[p][torch_name].numpy())
    assert trainer.step == 11 and trainer.optimizer.step_count == 11
    assert trainer.optimizer.lr == torch_optimizer.param_groups[0]["lr"]
    assert trainer.scheduler.last_step == 11 and trainer.hidden is None


def test_what_does_not_fit_the_run_is_named(tmp_path):
    last = run(tmp_path)
    module, torch_optimizer, scheduler = continued_in_torch(last, steps=1)
    with pytest.raises(ValueError, match="the run had a learning-rate schedule: give its torch scheduler"):
        save_continued_run(last, tmp_path / "x.npz", module, torch_optimizer)
    other = to_torch(SequenceModel(ModelConfig(cell="gru", vocab_size=5, hidden_size=4, dtype="float64")))
    with pytest.raises(ValueError, match=r"is a run of another model: the torch module has cell='gru' \(the "
                                         r"run's: 'lstm'\)"):
        save_continued_run(last, tmp_path / "x.npz", other, torch_optimizer, scheduler)
    sgd = torch.optim.SGD(module.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="was trained with Adam, the torch optimizer is SGD"):
        save_continued_run(last, tmp_path / "x.npz", module, sgd, steps=1)
    with pytest.raises(ValueError, match="schedules another optimizer than torch_optimizer"):
        save_continued_run(last, tmp_path / "x.npz", module, sgd, scheduler, steps=1)
    with pytest.raises(ValueError, match=r"has taken 9 steps in all, and 8 \+ steps=2 gives 10"):
        save_continued_run(last, tmp_path / "x.npz", module, torch_optimizer, scheduler, steps=2)
    other = torch.optim.Adam(module.parameters(), lr=torch_optimizer.param_groups[0]["lr"], betas=(0.5, 0.9))
    other.load_state_dict({"state": torch_optimizer.state_dict()["state"],
                           "param_groups": [{**other.state_dict()["param_groups"][0]}]})
    with pytest.raises(ValueError, match=r"other settings than the run of .*: beta1=0.5 \(the run's: 0.9\)"):
        save_continued_run(last, tmp_path / "x.npz", module, other, None)
    save_checkpoint(tmp_path / "model.npz", params=load_checkpoint(last).params)  # weights only
    with pytest.raises(ValueError, match="holds no optimizer or generator state"):
        save_continued_run(tmp_path / "model.npz", tmp_path / "x.npz", module, torch_optimizer, scheduler)
    assert not (tmp_path / "x.npz").exists()


def test_sgd_counts_no_steps_so_they_are_given(tmp_path):
    model = SequenceModel(CONFIG, rng=0)
    trainer = Trainer(model, SGD(model.params, lr=0.1, momentum=0.9), TrainConfig(steps=4,
                                                                                  checkpoint_dir=str(tmp_path)))
    trainer.fit(TokenStream(STREAM, batch_size=2, window=4))
    module = to_torch(model)
    torch_optimizer = to_torch_optimizer(trainer.optimizer, module)
    ids = torch.from_numpy(STREAM[:11].reshape(-1, 1).copy())
    for _ in range(6):
        torch_optimizer.zero_grad()
        logits, _ = module(ids[:-1])
        torch.nn.functional.cross_entropy(logits.reshape(-1, 5), ids[1:].reshape(-1)).backward()
        torch_optimizer.step()
    with pytest.raises(ValueError, match="torch's SGD counts no steps: give steps"):
        save_continued_run(tmp_path / "last.npz", tmp_path / "back.npz", module, torch_optimizer)
    out = save_continued_run(tmp_path / "last.npz", tmp_path / "back.npz", module, torch_optimizer, steps=6)
    ck = load_checkpoint(out)
    assert ck.step == 10 and ck.optimizer_state["step"] == 10
    for k, p in module.named_parameters():
        np.testing.assert_array_equal(ck.optimizer_state["buffers"]["momentum_buffer"][k],
                                      torch_optimizer.state[p]["momentum_buffer"].numpy())
