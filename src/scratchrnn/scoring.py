"""Scoring a token stream with a model: every token's log-probability given all the ones before.

One pass over the stream, in chunks of ``EVAL_CHUNK`` tokens with the recurrent state carried from
the first token to the last, so the scores are those of one forward pass over the whole stream (no
state is restarted). A unidirectional model runs its stepper's ``chunk_session``: inference only,
no cache kept for a backward pass, each chunk's input projections made in one product before the
recurrence steps through it (``scratchrnn.nn.stepper``; the measurements are in
benchmarks/README.md, "bench_eval"). The log-softmax is taken in float64 once per chunk.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .functional import log_softmax
from .nn.model import SequenceModel

__all__ = ["EVAL_CHUNK", "chunk_logits", "score_ids"]

EVAL_CHUNK = 512  # tokens per chunk when scoring a stream (the state is carried across chunks)


def chunk_logits(model: SequenceModel) -> Callable[[np.ndarray], np.ndarray]:
    """``advance(x) -> logits (c, 1, V)`` for consecutive chunks x (c, 1) of token ids of one
    sequence, the state carried from chunk to chunk, from zeros.

    A unidirectional model runs ``model.stepper().chunk_session`` (always evaluation mode). A
    bidirectional one runs ``model.forward`` per chunk, its reverse direction reading each chunk
    from its end: the caller puts the model in evaluation mode for it.
    """
    if not model.rnn.bidirectional:
        return model.stepper().chunk_session(model.init_state(1))
    h = None

    def advance(x):
        nonlocal h
        logits, h, _ = model.forward(x, h)  # (c, 1, V)
        return logits

    return advance


def score_ids(model: SequenceModel, ids: np.ndarray,
              on_chunk: Callable[[int, np.ndarray], object] | None = None) -> np.ndarray:
    """The log-probabilities (n-1,) float64 of ids[1:] given the ids before each, ids (n,) with
    n >= 2 valid token ids of the model, in evaluation mode (the model's mode is restored after).

    With ``on_chunk``, each chunk is handed over as soon as it is scored: ``on_chunk(start, lp)``
    with the log-probabilities ``lp`` (c,) of ids[start + 1 : start + 1 + c] (a view of the result).
    """
    n = ids.shape[0]
    if ids.ndim != 1 or n < 2:
        raise ValueError(f"score_ids expects a 1-D stream of at least 2 token ids, got shape {ids.shape}")
    logp = np.empty(n - 1)  # (n-1,)
    was_training = model.training
    model.train(False)
    try:
        advance = chunk_logits(model)
        for s in range(0, n - 1, EVAL_CHUNK):
            y = ids[s + 1 : s + EVAL_CHUNK + 1]  # (c,) next tokens
            c = y.shape[0]
            logits = advance(ids[s : s + c, None])  # (c, 1, V)
            lp = log_softmax(logits[:, 0].astype(np.float64))  # (c, V)
            logp[s : s + c] = lp[np.arange(c), y]
            if on_chunk is not None:
                on_chunk(s, logp[s : s + c])
    finally:
        model.train(was_training)
    return logp
