"""What the trainer checks before a fit: data that fits the model and the loss, and a model that
can be trained on it.

``check_data(model, loss, data, name, quantiles)`` raises a ValueError saying what does not fit: token ids
for a dense model, ids outside the vocabulary, the wrong head or loss for a token stream, targets
of another shape. A bidirectional model is refused for next-token training on a
:class:`~scratchrnn.data.sequences.TokenStream`: its reverse direction reads the inputs after step
t, and those are the targets of steps t and on, so its loss would fall without it learning to
predict anything.
"""

from __future__ import annotations

import numpy as np

from .data.sequences import TokenStream
from .nn.lengths import valid_steps

__all__ = ["check_data", "check_ids"]


def check_data(model, loss: str, data, name: str, quantiles: tuple | None = None) -> None:
    """Data that fits ``model`` and the loss called ``loss`` (pinball: with ``quantiles``, the
    levels each target's outputs estimate), or a ValueError saying what does not."""
    cfg = model.config
    kind = type(data).__name__
    if isinstance(data, TokenStream):
        if not model.token_input:
            raise ValueError(f"{name} is a TokenStream of token ids, the model takes dense inputs of "
                             f"{cfg.input_size} features (build it with vocab_size for token inputs)")
        if cfg.bidirectional:
            raise ValueError(f"{name} is a TokenStream for next-token training, and the model is "
                             "bidirectional: its reverse direction would read the targets (the tokens "
                             "after each step); train a model with bidirectional=False")
        check_ids(model, data.streams, name)
        if loss != "cross_entropy":
            raise ValueError(f"a TokenStream is trained on next-token cross_entropy, the loss is {loss!r}")
        if cfg.head != "all" or model.output_size != cfg.vocab_size:
            raise ValueError("a TokenStream needs a prediction over the vocabulary at every step "
                             f"(head 'all', output_size {cfg.vocab_size}), the model has head "
                             f"{cfg.head!r} and output_size {model.output_size}")
        return
    x, y = data.x, data.y
    if model.token_input:
        if x.ndim != 2:
            raise ValueError(f"the model expects (T, N) token ids, {name} ({kind}) has x of shape "
                             f"{x.shape} and dtype {x.dtype}")
        lengths = getattr(data, "lengths", None)
        check_ids(model, x if lengths is None else x[valid_steps(lengths, x.shape[0])], name)
    else:
        if x.ndim != 3 or x.shape[2] != cfg.input_size:
            raise ValueError(f"the model expects (T, N, {cfg.input_size}) features, {name} ({kind}) "
                             f"has x of shape {x.shape}")
        if x.dtype != model.dtype:
            raise ValueError(f"{name} x has dtype {x.dtype}, the model's weights are {model.dtype}")
    if (cfg.head != "all") == data.per_step:
        want = "one target per sequence" if cfg.head != "all" else "targets per step (T, N, ...)"
        raise ValueError(f"the model's head {cfg.head!r} needs {want}, {name} has y of shape {y.shape}")
    lead = y.shape[:2] if data.per_step else y.shape[:1]
    if loss == "cross_entropy":
        if not np.issubdtype(y.dtype, np.integer) or y.ndim != len(lead):
            raise ValueError(f"cross_entropy needs integer class ids of shape {lead} as {name} y, "
                             f"got shape {y.shape} and dtype {y.dtype}")
    elif quantiles is not None:
        Q = len(quantiles)
        if model.output_size % Q or y.shape != (*lead, model.output_size // Q):
            want = (*lead, model.output_size // Q) if model.output_size % Q == 0 else None
            raise ValueError(f"pinball with {Q} quantiles needs {name} y of shape "
                             f"{want or f'{lead} + (O,) with O * {Q} = {model.output_size}'} (the model's "
                             f"{model.output_size} outputs), got {y.shape}")
    else:
        want = (*lead, model.output_size)
        if y.shape != want:
            raise ValueError(f"{loss} needs {name} y of shape {want} (the model's output), got {y.shape}")


def check_ids(model, ids: np.ndarray, name: str) -> None:
    """Token ids inside the model's vocabulary, or a ValueError naming the range found."""
    V = model.config.vocab_size
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= V:
        raise ValueError(f"{name} holds token ids in [{lo}, {hi}], outside the model's vocabulary [0, {V})")
