"""Continue training a scratchrnn character model in PyTorch, on N processes with DistributedDataParallel.

The checkpoint (a model.npz, last.npz or best.npz of ``scratchrnn train``) becomes a torch module
(``scratchrnn.io.to_torch``) and, when it holds one, its optimizer becomes the ``torch.optim``
optimizer with the same moments and step count (``scratchrnn.io.to_torch_optimizer``; without one,
Adam at ``--lr``). Each step draws ``--batch-size`` windows of ``--window`` characters from TEXT
with a generator seeded by ``--seed`` and the step number, the same on every process; process r of
N takes windows r, r + N, ...; DDP averages the gradients, so every step is the step one process
would take on the whole batch (to float32 rounding; a model with dropout draws other masks on
each process, seeded by ``--seed`` and the rank, so there the runs differ by their masks). After
``--steps`` steps process 0 writes a scratchrnn checkpoint to OUT, atomically, which ``scratchrnn
sample`` and ``scratchrnn eval`` read. From a run's ``last.npz`` (or its ``best.npz``: both hold
optimizer, generator and schedule state) OUT is that run continued
(``scratchrnn.io.save_continued_run``): its learning-rate schedule goes on in torch
(``to_torch_scheduler``; a "plateau" schedule, which waits for validations this script does not
run, keeps its rate), and ``scratchrnn train --resume OUT`` goes
on from where torch stopped; a schedule made for fewer steps than the run now has is stretched to
them, as a resumed run's is. From a ``model.npz`` (weights only) OUT holds the
weights, the model configuration and vocabulary and the optimizer's state, but no run to resume.

On one machine (the processes meet on the loopback address)::

    python examples/continue_in_pytorch.py runs/train-char-TIME/model.npz corpus.txt \\
        --steps 200 --nprocs 2 --out continued.npz

Across machines, with torchrun setting RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT::

    torchrun --nnodes 2 --nproc-per-node 2 --rdzv-endpoint HOST:29500 \\
        examples/continue_in_pytorch.py model.npz corpus.txt --steps 200 --out continued.npz

Needs PyTorch (``pip install 'scratchrnn[torch]'``); the gloo backend runs on CPUs.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

import numpy as np


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="a scratchrnn checkpoint of a character language model")
    p.add_argument("text", help="the UTF-8 text to continue training on")
    p.add_argument("--out", required=True, help="the scratchrnn checkpoint to write")
    p.add_argument("--steps", type=int, default=100, help="optimizer steps (default: 100)")
    p.add_argument("--nprocs", type=int, default=1,
                   help="processes to start on this machine (default: 1; ignored under torchrun)")
    p.add_argument("--batch-size", type=int, default=32,
                   help="windows per step over all processes, a multiple of their number (default: 32)")
    p.add_argument("--window", type=int, default=64, help="characters per window (default: 64)")
    p.add_argument("--lr", type=float,
                   help="learning rate (default: the run's current one, else 1e-3; not with a schedule)")
    p.add_argument("--seed", type=int, default=0, help="seeds the windows drawn (default: 0)")
    args = p.parse_args(argv)
    for name in ("steps", "nprocs", "batch_size", "window"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    out = Path(args.out)
    if not out.parent.is_dir():
        p.error(f"--out {out}: the folder {out.parent} does not exist")
    return args


def windows(ids: np.ndarray, step: int, args, rank: int, world: int):
    """This process's share (T, b) of the step's inputs and targets: windows rank, rank + world, ..."""
    gen = np.random.default_rng([args.seed, step])
    starts = gen.integers(0, ids.size - args.window, size=args.batch_size)[rank::world]  # (b,)
    rows = starts[None, :] + np.arange(args.window + 1)[:, None]  # (T + 1, b)
    chunk = ids[rows]
    return chunk[:-1], chunk[1:]


def train(rank: int, world: int, args) -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from scratchrnn import optim
    from scratchrnn.io import (
        from_torch,
        from_torch_optimizer,
        load_checkpoint,
        save_checkpoint,
        save_continued_run,
        to_torch,
        to_torch_optimizer,
        to_torch_scheduler,
    )
    from scratchrnn.lm import CharLM, load_language_model

    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(args.seed * 1000 + rank)  # the dropout masks, where the model has dropout
    try:
        checkpoint = load_checkpoint(args.checkpoint)
        lm = load_language_model(args.checkpoint)
        if not isinstance(lm, CharLM):
            raise SystemExit(f"{args.checkpoint}: this script continues character models, got a word model")
        text = Path(args.text).read_text(encoding="utf-8")
        unknown = lm.unknown_tokens(text)
        if unknown:
            raise SystemExit(f"{args.text}: characters {unknown[:10]} are not in the model's vocabulary")
        ids = lm.vocab.encode(list(text)).astype(np.int64)
        if ids.size <= args.window:
            raise SystemExit(f"{args.text}: {ids.size} characters, fewer than a window of {args.window} + 1")

        model = lm.model
        state, extra = checkpoint.optimizer_state, checkpoint.extra or {}
        run = state is not None and checkpoint.rng_state is not None  # a last.npz: a run to continue
        if state is not None:
            optimizer = getattr(optim, state["type"])(model.params)
            optimizer.load_state_dict(state)
            optimizer.lr = extra.get("lr", 1e-3)  # the rate of the run's next step
        else:
            optimizer = optim.Adam(model.params, lr=1e-3)
        schedule = None
        if run and extra.get("scheduler") is not None:
            if args.lr is not None:
                raise SystemExit(f"{args.checkpoint}: the run has a learning-rate schedule, which sets the "
                                 "rate; leave out --lr")
            schedule = optim.schedule_from_state(optimizer, extra["scheduler"])
            total = checkpoint.step + args.steps
            if isinstance(schedule, optim.LRSchedule) and total > schedule.total_steps:
                schedule.retarget(total)  # a longer run, as a resumed one given more steps
        if args.lr is not None:
            optimizer.lr = args.lr
        module = to_torch(model).train()
        torch_optimizer = to_torch_optimizer(optimizer, module)
        scheduler = None if schedule is None else to_torch_scheduler(schedule, torch_optimizer)
        plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        ddp = DistributedDataParallel(module)
        for step in range(args.steps):
            x, y = windows(ids, step, args, rank, world)
            logits, _ = ddp(torch.from_numpy(x))  # (T, b, V)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                     torch.from_numpy(y).reshape(-1))
            torch_optimizer.zero_grad()
            loss.backward()  # DDP averages the gradients over the processes
            torch_optimizer.step()
            if scheduler is not None and not plateau:  # a plateau schedule waits for validations
                scheduler.step()
            if (step + 1) % max(1, args.steps // 10) == 0:  # every process, for the all_reduce
                total = loss.detach().clone()
                dist.all_reduce(total)  # the mean loss of the whole batch
                if rank == 0:
                    print(f"step {step + 1}/{args.steps}: loss {total.item() / world:.4f}", flush=True)
        if rank == 0 and run:
            save_continued_run(args.checkpoint, args.out, module, torch_optimizer, scheduler,
                               steps=args.steps)
            print(f"wrote {args.out} ({world} processes, {args.steps} steps; resume it with scratchrnn "
                  "train --resume)", flush=True)
        elif rank == 0:
            back = from_torch(module)
            optimizer = from_torch_optimizer(torch_optimizer, module, back.params,
                                             step_count=optimizer.step_count + args.steps)
            save_checkpoint(args.out, params=back.params, optimizer_state=optimizer.state_dict(),
                            step=checkpoint.step + args.steps, config=checkpoint.config,
                            vocab=checkpoint.vocab)
            print(f"wrote {args.out} ({world} processes, {args.steps} steps)", flush=True)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    args = parse_args(argv)
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # started by torchrun
        world = int(os.environ["WORLD_SIZE"])
        if args.batch_size % world:
            raise SystemExit(f"--batch-size {args.batch_size} is not a multiple of the {world} processes")
        train(int(os.environ["RANK"]), world, args)
        return 0
    if args.batch_size % args.nprocs:
        raise SystemExit(f"--batch-size {args.batch_size} is not a multiple of --nprocs {args.nprocs}")
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(_free_port())
    import torch.multiprocessing as mp

    mp.spawn(train, args=(args.nprocs, args), nprocs=args.nprocs, join=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
