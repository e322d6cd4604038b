"""What ``train`` takes from a file: the settings of a run it resumes, the model it fine-tunes.

``typed_options(parser, words)`` tells the options a command line typed from those it left at
their defaults: argparse parses the words again into a namespace that seems to hold every option
already, so it fills in no default and what it sets is what was typed.

``settle_resume(args, typed)`` (``--resume LAST_NPZ``) takes from the checkpoint every option that
shapes the run and was not typed: the architecture (level, cell, sizes, layers, embedding,
dropout, dtype, vocabulary limit), the run's settings (batch size, window, optimizer, clipping,
validation fraction and tokens, value clip, weight decay, seed, the text file and its encoding),
its training options (schedule and its settings, patience, samples) and its plan (steps or
epochs, the validation and checkpoint intervals). A typed option that contradicts the checkpoint is an error
naming both values (``--hidden-size 128 contradicts the checkpoint's hidden size 256``). The run
goes on in the checkpoint's folder; ``--steps`` is its total, counting the steps already run, and
``--more-steps N`` adds N to the checkpoint's step; a run already at its total with neither is
``complete`` (nothing to train: ``train`` only writes its ``model.npz``). The learning rate may be
changed (``--lr``): ``scratchrnn.lm`` uses the new rate and logs the change.

``settle_init_from(args, typed)`` (``--init-from MODEL``) loads the model to fine-tune and takes
its architecture the same way (``--level word contradicts the model's level char``); everything
else is a new run's.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ARCHITECTURE", "RUN_SETTINGS", "TRAINING", "Resumed", "check_resumed_text", "settle_init_from",
           "settle_resume", "typed_options"]

# option -> what messages call it, for the options read from the model's configuration
ARCHITECTURE = {"cell": "cell", "hidden_size": "hidden size", "num_layers": "number of layers",
                "embedding_dim": "embedding size", "dropout": "dropout", "dtype": "dtype",
                "tie_weights": "weight tying"}
# option -> what messages call it, for the settings a run records (config["lm"]["fit"]) and keeps
RUN_SETTINGS = {"batch_size": "batch size", "window": "window", "optimizer": "optimizer",
                "clip_norm": "gradient-norm clip", "val_fraction": "validation fraction", "seed": "seed",
                "clip_value": "value clip", "weight_decay": "weight decay", "val_tokens": "validation tokens"}
# option -> what messages call it, for the training options a run keeps in config["train"]
TRAINING = {"lr_schedule": "learning-rate schedule", "warmup": "warmup", "lr_step_size": "schedule step size",
            "lr_gamma": "schedule factor", "lr_patience": "schedule patience", "min_lr": "minimum rate",
            "patience": "patience", "sample_every": "sample interval", "sample_length": "sample length"}
OTHER_NAMES = {"level": "level", "max_vocab": "vocabulary limit", "encoding": "text encoding"}


class _OnlyTyped(argparse.Namespace):
    """A namespace that seems to hold every option, so that argparse fills in no default."""

    def __getattr__(self, name: str):
        if name.startswith("_"):  # argparse's own bookkeeping attributes are really absent
            raise AttributeError(name)
        return None


def typed_options(parser: argparse.ArgumentParser, words: Sequence[str]) -> set[str]:
    """The destinations of the options that ``words`` (a command's arguments) typed."""
    typed = _OnlyTyped()
    parser.parse_known_args(list(words), namespace=typed)
    return {name for name, value in vars(typed).items() if value is not None}


@dataclass
class Resumed:
    """The run that ``--resume`` continues.

    Attributes:
        path (Path): the checkpoint.
        folder (Path): the run's folder, where it goes on.
        step (int): the checkpoint's step.
        text_sha256 (str or None): the run's text, to tell it from another (None: not recorded).
        text_path (str or None): the file the run read (None: the shipped corpus, or not recorded).
        complete (bool, default False): already at its total, and no more steps asked for.
    """

    path: Path  # the checkpoint
    folder: Path  # the run's folder, where it goes on
    step: int  # the checkpoint's step
    text_sha256: str | None  # the run's text, to tell it from another (None: not recorded)
    text_path: str | None  # the file the run read (None: the shipped corpus, or not recorded)
    complete: bool = False  # already at its total, and no more steps asked for


def settle_resume(args: argparse.Namespace, typed: set[str]) -> Resumed:
    """Fill ``args`` from the checkpoint ``args.resume`` (see the module docstring)."""
    from .io import check_resumable, load_checkpoint

    path = Path(args.resume)
    ck = load_checkpoint(path)
    check_resumable(ck, path)
    config = _dict(ck.config)
    model, train, lm = _dict(config.get("model")), _dict(config.get("train")), _dict(config.get("lm"))
    fit = _dict(lm.get("fit"))
    source = _dict(fit.get("source"))
    stored = {k: model[k] for k in ARCHITECTURE if k in model}
    stored.update({k: fit[k] for k in RUN_SETTINGS if k in fit})
    stored.update({k: train[k] for k in TRAINING if k in train})
    if lm.get("level"):
        stored["level"] = lm["level"]
    if lm.get("level") == "word" and "max_vocab" in lm:
        stored["max_vocab"] = lm["max_vocab"]
    if "seed" in lm:
        stored["seed"] = lm["seed"]
    if "encoding" in source:
        stored["encoding"] = source["encoding"]
    _take(args, typed, stored, "the checkpoint's", "a resumed run takes them from its checkpoint")

    folder = path.parent
    if "out" in typed and Path(args.out).resolve() != folder.resolve():
        raise ValueError(f"--out {args.out} is not the folder of the run that --resume continues ({folder}): "
                         "a resumed run goes on in its own folder and log")
    args.out = str(folder)
    if "text" not in typed and "path" in source:
        args.text = source["path"]
    complete = _plan(args, typed, ck.step, train)
    return Resumed(path=path, folder=folder, step=ck.step, text_sha256=fit.get("text_sha256"),
                   text_path=source.get("path"), complete=complete)


def check_resumed_text(resumed: Resumed, text: str, where: str) -> None:
    """Refuse a text other than the one the resumed run was trained on."""
    from .resume import text_digest

    if resumed.text_sha256 is not None and text_digest(text) != resumed.text_sha256:
        theirs = resumed.text_path or "the shipped corpus"
        raise ValueError(f"{where} is not the text the run was trained on ({theirs}): a resumed run goes on "
                         f"with its own text; --init-from {resumed.path} trains its weights on a new one")


def settle_init_from(args: argparse.Namespace, typed: set[str]):
    """The language model in ``args.init_from``, with ``args`` given its architecture."""
    from .lm import load_language_model

    lm = load_language_model(args.init_from)
    cfg = lm.model.config
    stored = {"level": lm.level, **{k: getattr(cfg, k) for k in ARCHITECTURE}}
    _take(args, typed, stored, "the model's", "a fine-tuned model keeps its architecture")
    return lm


def _plan(args, typed: set[str], step: int, train: dict) -> bool:
    """The resumed run's total and intervals: typed, added to (--more-steps) or the checkpoint's;
    True when the run is at its own total already."""
    complete = False
    if args.more_steps is not None:
        args.steps, args.epochs = step + args.more_steps, None
    elif "steps" in typed:
        if args.steps <= step:
            raise ValueError(f"--steps {args.steps} is not beyond the checkpoint's step {step}: --steps is "
                             "the run's total, counting the steps already run; --more-steps N adds N")
    elif "epochs" not in typed:
        args.steps, args.epochs = train.get("steps"), train.get("epochs")
        if args.steps is None and args.epochs is None:
            raise ValueError(f"{args.resume} does not say how long the run is; give --steps (the total) "
                             "or --more-steps N")
        complete = args.steps is not None and args.steps <= step
    if "eval_every" not in typed:
        args.eval_every = train.get("eval_every")
    if "checkpoint_every" not in typed:
        args.checkpoint_every = train.get("checkpoint_every") or 0
    return complete


def _take(args, typed: set[str], stored: dict, whose: str, rule: str) -> None:
    """Set each untyped option to its stored value; typed ones that differ are one error."""
    clashes = []
    for key, value in stored.items():
        value = _as_option(key, value)
        if key not in typed:
            setattr(args, key, value)
        elif _as_option(key, getattr(args, key)) != value:
            name = {**ARCHITECTURE, **RUN_SETTINGS, **TRAINING, **OTHER_NAMES}[key]
            clashes.append(f"--{key.replace('_', '-')} {_shown(key, getattr(args, key))} contradicts "
                           f"{whose} {name} {_shown(key, value)}")
    if clashes:
        raise ValueError(f"{'; '.join(clashes)} ({rule}: leave {'it' if len(clashes) == 1 else 'them'} out)")


def _as_option(key: str, value):
    """A stored value as the option spells it (no clipping is --clip-norm 0; optimizer names folded)."""
    if key == "clip_norm" and value is None:
        return 0.0
    if key in ("val_tokens", "embedding_dim") and value is None:  # 0: all held-out tokens; one-hot input
        return 0
    if key == "optimizer" and isinstance(value, str):
        return value.strip().lower().replace("_", "-")
    return value


def _shown(key: str, value) -> str:
    if key == "embedding_dim" and not value:
        return "0 (one-hot input)"
    if value is None:
        return "none"
    if key == "clip_norm" and value == 0:
        return "0 (no clipping)"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}
