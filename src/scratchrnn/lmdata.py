"""A language model's text as training data: the encoded stream split into the part it trains on
and the part it validates on, each a :class:`~scratchrnn.data.sequences.TokenStream`.

``split_stream(ids, batch_size, window, val_fraction, val_tokens, unit)``: the last
``floor(n * val_fraction)`` tokens of the stream (n,) are held out; validation reads the first
``val_tokens`` of them (None: all), so a short run's validations stay cheap while the held-out
text, and so the training text, stays the same whatever ``val_tokens`` is. The rest is cut into
``batch_size`` parallel streams read in windows of ``window`` steps. Too little text for that is
a ValueError saying how much there is and how much is needed, counted in ``unit`` ("character",
"token").
"""

from __future__ import annotations

import numpy as np

from .checks import check_optional_int
from .data.sequences import TokenStream

__all__ = ["split_stream"]


def split_stream(ids: np.ndarray, batch_size: int, window: int, val_fraction: float,
                 val_tokens: int | None = None, unit: str = "token"):
    """(training TokenStream, validation TokenStream or None) from the encoded text (n,)."""
    val_tokens = check_optional_int("val_tokens", val_tokens, low=2)
    n = ids.shape[0]
    n_val = int(n * val_fraction)
    if val_fraction > 0 and n_val < 2:
        raise ValueError(f"val_fraction={val_fraction} holds out {n_val} of the text's {n} "
                         f"{unit}s, too few to validate on (at least 2); use more text or val_fraction=0")
    train_ids = ids[: n - n_val]  # (n - n_val,)
    n_train = train_ids.shape[0]
    held = f" (after holding out the last {n_val} for validation)" if n_val else ""
    if n_train < window + 1:
        raise ValueError(f"the text is shorter than one window: {n_train} {unit}s for training{held}, "
                         f"and a window of {window} needs {window + 1} (its inputs and the next {unit}); "
                         "use a shorter window or more text")
    if n_train // batch_size < window + 1:
        fits = n_train // (window + 1)
        raise ValueError(f"the text is too short for {batch_size} parallel streams of one window each: "
                         f"{n_train} {unit}s for training{held}, and batch_size={batch_size} with "
                         f"window={window} needs {batch_size * (window + 1)}; use batch_size <= {fits}, "
                         "a shorter window or more text")
    train = TokenStream(train_ids, batch_size, window)
    if n_val == 0:
        return train, None
    val_ids = ids[n - n_val :][:val_tokens]  # (min(n_val, val_tokens),)
    n_val = val_ids.shape[0]
    # The state is carried across validation windows, so their length only decides how much of
    # the tail is scored; a short held-out part gets fewer streams and shorter windows.
    val_batch = max(1, min(batch_size, n_val // (window + 1)))
    val_window = min(window, n_val // val_batch - 1)
    return train, TokenStream(val_ids, val_batch, val_window)
