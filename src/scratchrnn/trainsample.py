"""Samples while training: a short text from the model every ``sample_every`` steps.

``training_sample(model, prime, length, seed, step, decode)`` draws ``length`` tokens after the
ids ``prime`` with :func:`scratchrnn.sample.generate` (temperature 1, the model in evaluation
mode and put back) from a Generator of its own, seeded by ``(seed, step)``: the training's
Generator is never drawn from, so a run with samples trains bit for bit as one without, and a
resumed run draws the same samples at the same steps with no state to save. The record is
``{"step", "event": "sample", "ids", "text"}``; ``decode`` turns the ids into the text (None:
the ids as a space-separated string).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .sample import generate

__all__ = ["SAMPLE_STREAM", "training_sample"]

SAMPLE_STREAM = 7  # mixed into the samples' seed, so they never share the training seed's stream


def training_sample(model, prime, length: int, seed: int, step: int,
                    decode: Callable[[list[int]], str] | None = None) -> dict:
    """The record of one sample drawn at ``step`` (see the module docstring)."""
    rng = np.random.default_rng([SAMPLE_STREAM, seed, step])
    ids = [int(i) for i in generate(model, np.asarray(prime, dtype=np.int64), length, rng)]
    text = decode(ids) if decode is not None else " ".join(map(str, ids))
    return {"step": step, "event": "sample", "ids": ids, "text": text}
