"""Sampling from a language model: temperature, top-k and nucleus (top-p) filtering over logits,
and the decoding loops (sampling with a carried hidden state, and beam search).

For logits ``z`` (B, V) the sampled distribution is, row by row::

    p = softmax(z / T)                               temperature T > 0 (T < 1 sharper, T > 1 flatter)
    top-k:  p_i = 0 unless i is among the k largest z_i (ties go to the lower id), then renormalise
    top-p:  keep the smallest set of most probable tokens whose probability sums to >= top_p,
            zero the rest, renormalise (applied after top-k, to the already filtered p)

and ``T = 0`` is greedy decoding: ``argmax z`` with ties going to the lowest id (no random draw).
A logit of -inf is a masked token, never drawn (its probability is 0 and the others renormalise);
``suppress_tokens`` masks given ids that way, e.g. an unknown-word token a sample must not contain
(``generate`` and ``beam_search`` take such ids as ``suppress``).
A draw is one ``rng.random()`` per row, mapped through the cumulative distribution, so the same
Generator state always gives the same tokens.

The decoding loops run the prime through the model in one forward pass and then feed one token
per step, carrying the hidden state (a tuple (h, c) for an LSTM). A model may offer a lighter
per-token path: if it has a ``stepper()`` method, ``stepper()`` must return a callable
``step(ids (B,), h) -> (logits (B, V), h_next)`` that uses the weights as they are at that call
(``SequenceModel.stepper()`` returns such a ``ModelStepper``, with the weights prepared once for
the whole loop); otherwise each step is ``model.forward`` on a (1, B) input. Both give the same
logits, so the same seed gives the same tokens either way. A subclass that overrides ``forward``
but inherits ``stepper`` is stepped with its ``forward``, which the inherited stepper would skip.
A stepper may also offer ``session(h) -> advance``, where ``advance(ids (B,)) -> logits (B, V)``
takes the same steps from state h on, carrying the state itself (``ModelStepper.session``, which
reuses its buffers); ``generate`` then uses it. Beam search reorders states, so it calls ``step``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .checks import (
    check_callable,
    check_int,
    check_memory,
    check_optional_size,
    check_random_state,
    check_size,
    is_real,
)
from .functional import log_softmax

__all__ = [
    "apply_temperature",
    "beam_search",
    "best_indices",
    "check_sampling_options",
    "generate",
    "sample_next",
    "suppress_tokens",
    "top_k_filter",
    "top_p_filter",
]


# -- validation ------------------------------------------------------------------------------------
def _check_temperature(temperature) -> float:
    if not is_real(temperature) or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0 (0 means greedy), got {temperature!r}")
    return float(temperature)


def _check_top_p(top_p) -> float | None:
    if top_p is None:
        return None
    if not is_real(top_p) or not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be None or a number in (0, 1], got {top_p!r}")
    return float(top_p)


def check_sampling_options(temperature=1.0, top_k=None, top_p=None) -> tuple[float, int | None, float | None]:
    """Validate the sampling options; returns (temperature, top_k, top_p) as float / int / float.

    temperature: a finite number >= 0; top_k: None or an integer >= 1; top_p: None or in (0, 1].
    Anything else raises ValueError naming the option and the value.
    """
    return _check_temperature(temperature), check_optional_size("top_k", top_k), _check_top_p(top_p)


def _check_logits(logits) -> np.ndarray:
    """Logits (B, V) as float64; every row needs a finite maximum (-inf entries are masked tokens)."""
    z = np.asarray(logits)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"logits must be a non-empty 2-D array (B, V), got shape {z.shape}")
    if z.dtype.kind not in "fiu":
        raise ValueError(f"logits must be real numbers, got dtype {z.dtype}")
    z = z.astype(np.float64, copy=False)  # (B, V)
    row_max = z.max(axis=1)  # (B,) NaN anywhere in a row makes its maximum NaN
    if not np.all(np.isfinite(row_max)):
        bad = int(np.flatnonzero(~np.isfinite(row_max))[0])
        raise _nonfinite_logits(bad, row_max[bad])
    return z


def _nonfinite_logits(row: int, maximum) -> ValueError:
    return ValueError(f"logits row {row} has maximum {maximum}; each row needs finite values "
                      "(-inf marks a masked token) and no NaN or +inf")


# -- filtering (on validated float64 arrays) --------------------------------------------------------
def _scaled(z: np.ndarray, temperature: float) -> np.ndarray:
    """(z - max z) / T, row by row; the shift makes each row's maximum exactly 0."""
    shifted = z - z.max(axis=1, keepdims=True)  # (B, V)
    if temperature >= 1.0:  # entries <= 0 divided by T >= 1 cannot overflow
        shifted /= temperature
    else:
        with np.errstate(over="ignore"):  # a tiny T sends the non-maximal entries to -inf, as intended
            shifted /= temperature
    return shifted


def _greedy(z: np.ndarray) -> np.ndarray:
    return np.argmax(z, axis=1)  # (B,) argmax returns the first (lowest) id among ties


def _top_k_mask(z: np.ndarray, k: int) -> np.ndarray:
    """Boolean (B, V): the k largest entries of each row, ties at the boundary going to lower ids."""
    V = z.shape[1]
    kth = np.partition(z, V - k, axis=1)[:, V - k : V - k + 1]  # (B, 1) the k-th largest value
    above = z > kth  # (B, V)
    ties = z == kth  # (B, V)
    room = k - above.sum(axis=1, keepdims=True)  # (B, 1) places left for entries equal to kth
    return above | (ties & (np.cumsum(ties, axis=1) <= room))


def _top_p_weights(w: np.ndarray, top_p: float) -> np.ndarray:
    """Zero all but the smallest most-probable set of each row of weights w (B, V) >= 0 whose
    normalised mass reaches top_p (ties in probability go to the lower id)."""
    probs = w / w.sum(axis=1, keepdims=True)  # (B, V)
    order = np.argsort(-probs, axis=1, kind="stable")  # (B, V) most probable first
    sorted_p = np.take_along_axis(probs, order, axis=1)  # (B, V)
    cum = np.cumsum(sorted_p, axis=1)  # (B, V)
    keep_sorted = np.empty(cum.shape, bool)  # (B, V) kept while the mass ahead is still below top_p
    keep_sorted[:, 0] = True
    np.less(cum[:, :-1], top_p, out=keep_sorted[:, 1:])
    keep = np.empty_like(keep_sorted)  # (B, V)
    np.put_along_axis(keep, order, keep_sorted, axis=1)
    return np.where(keep, w, 0.0)  # (B, V)


def _draw(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One id per row of non-negative weights w (B, V), with P(i) = w_i / sum(w): inverse CDF."""
    cdf = np.cumsum(w, axis=1)  # (B, V)
    u = rng.random((w.shape[0], 1)) * cdf[:, -1:]  # (B, 1) uniform in [0, total)
    ids = (cdf <= u).sum(axis=1)  # (B,) the first index whose cdf exceeds u, which has w > 0
    V = w.shape[1]
    if ids.max() >= V:  # rounding put u on the total: take the last token with positive weight
        last = V - 1 - np.argmax(w[:, ::-1] > 0, axis=1)  # (B,)
        ids = np.minimum(ids, last)
    return ids.astype(np.int64, copy=False)


def _sample(z: np.ndarray, rng: np.random.Generator, temperature: float, top_k: int | None,
            top_p: float | None) -> np.ndarray:
    """sample_next without validation: z (B, V) float64 -> ids (B,) int64."""
    if temperature == 0.0:
        return _greedy(z).astype(np.int64)
    s = _scaled(z, temperature)  # (B, V) row maxima are 0
    if top_k is not None and top_k < s.shape[1]:
        s[~_top_k_mask(s, top_k)] = -np.inf
    w = np.exp(s)  # (B, V) unnormalised probabilities, the largest is 1
    if top_p is not None and top_p < 1.0:
        w = _top_p_weights(w, top_p)
    return _draw(w, rng)


def _row_sampler(V: int, rng: np.random.Generator, temperature: float) -> Callable[[np.ndarray], int]:
    """``draw(z) -> id``: ``_sample`` (no top-k / top-p) for one row of logits z (V,), as an int.

    The same arithmetic on the same values, so the same Generator state gives the same id: z in
    float64, shifted by its maximum, divided by T (skipped for T = 1, where it changes nothing),
    exp, cumulative sum (np.cumsum is add.accumulate), u = one ``rng.random()`` times the total,
    and the first index whose cumulative sum exceeds u, found by binary search, which is the
    count of entries <= u because the sums never decrease. The buffers are made once.
    A row whose maximum is not finite raises ValueError (as ``sample_next`` would).
    """
    if temperature == 0.0:

        def greedy(z):
            i = int(z.argmax())  # the first maximum, NaN included, as _greedy
            if not math.isfinite(z[i]):
                raise _nonfinite_logits(0, z[i])
            return i

        return greedy
    w = np.empty(V)  # (V,) float64: shifted logits, then their exp
    cdf = np.empty(V)  # (V,)
    accumulate = np.add.accumulate

    def draw(z):
        w[...] = z
        top = w[w.argmax()]  # the maximum (NaN if any), cheaper than w.max() (benchmarks/README.md)
        np.subtract(w, top, out=w)
        if temperature != 1.0:
            if temperature > 1.0:
                np.divide(w, temperature, out=w)
            else:
                with np.errstate(over="ignore"):  # see _scaled
                    np.divide(w, temperature, out=w)
        np.exp(w, out=w)
        accumulate(w, out=cdf)
        total = cdf[-1]
        if not total >= 1.0:  # the maximal entry alone gives exp(0) = 1: only NaN gets here
            raise _nonfinite_logits(0, top)
        i = int(cdf.searchsorted(rng.random() * total, "right"))
        if i == V:  # rounding put u on the total: the last token with positive weight, as _draw
            i = V - 1 - int(np.argmax(w[::-1] > 0))
        return i

    return draw


# -- public filters ----------------------------------------------------------------------------------
def apply_temperature(logits, temperature: float) -> np.ndarray:
    """Logits (B, V) -> (z - max z) / T (B, V) float64, so softmax of the result is softmax(z / T).

    Each row is shifted so its maximum is 0 (the softmax is unchanged, nothing overflows). T = 0 is
    the greedy limit: 0 at the first maximal entry of each row, -inf everywhere else.
    """
    z = _check_logits(logits)
    temperature = _check_temperature(temperature)
    if temperature == 0.0:
        out = np.full(z.shape, -np.inf)  # (B, V)
        out[np.arange(z.shape[0]), _greedy(z)] = 0.0
        return out
    return _scaled(z, temperature)


def top_k_filter(logits, k: int) -> np.ndarray:
    """Logits (B, V) -> (B, V) float64 with every entry outside each row's k largest set to -inf.

    Exactly min(k, V) entries per row survive; among equal values the lower ids are kept.
    """
    z = _check_logits(logits)
    k = check_size("k", k)
    out = z.copy()  # (B, V)
    if k < z.shape[1]:
        out[~_top_k_mask(z, k)] = -np.inf
    return out


def top_p_filter(logits, top_p: float) -> np.ndarray:
    """Logits (B, V) -> (B, V) float64 keeping, per row, the smallest set of most probable tokens
    (under softmax(z)) whose probabilities sum to >= top_p; the others become -inf."""
    z = _check_logits(logits)
    top_p = _check_top_p(top_p)
    if top_p is None or top_p >= 1.0:
        return z.copy()
    w = np.exp(z - z.max(axis=1, keepdims=True))  # (B, V)
    kept = _top_p_weights(w, top_p) > 0  # (B, V) tokens of probability 0 are never in the nucleus
    return np.where(kept, z, -np.inf)  # (B, V)


def suppress_tokens(logits, ids) -> np.ndarray:
    """Logits (B, V) -> (B, V) float64 with the tokens ``ids`` set to -inf in every row, the rest
    unchanged: the samplers never draw a suppressed token (greedy decoding included) and draw the
    others from their softmax renormalised.

    ``ids``: an integer or a 1-D sequence of integer token ids in [0, V) (repeats are harmless).
    Suppressing every token of the vocabulary leaves nothing to draw and raises ValueError.
    """
    z = _check_logits(logits)
    V = z.shape[1]
    banned = np.asarray(ids)
    if banned.size and (banned.ndim > 1 or banned.dtype.kind not in "iu"):
        raise ValueError(f"ids must be an integer token id or a 1-D sequence of them, got shape "
                         f"{banned.shape} dtype {banned.dtype}")
    banned = banned.reshape(-1).astype(np.int64)  # (n,)
    if banned.size and (banned.min() < 0 or banned.max() >= V):
        raise ValueError(f"suppressed ids must lie in [0, {V}) (the vocabulary), got values in "
                         f"[{banned.min()}, {banned.max()}]")
    if np.unique(banned).size == V:
        raise ValueError(f"suppressing all {V} tokens of the vocabulary leaves nothing to draw")
    out = z.copy()  # (B, V) never the caller's array
    out[:, banned] = -np.inf
    return out


def sample_next(logits, rng, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None) -> np.ndarray:
    """Draw one token id per row from logits (B, V): ids (B,) int64.

    p = softmax(z / T), restricted to the top_k largest logits and then to the top_p nucleus, and
    renormalised (see the module docstring). T = 0 is greedy (ties -> lowest id) and draws nothing
    from ``rng``; otherwise exactly one ``rng.random()`` is drawn per row.
    """
    temperature, top_k, top_p = check_sampling_options(temperature, top_k, top_p)
    return _sample(_check_logits(logits), check_random_state(rng), temperature, top_k, top_p)


# -- decoding loops ------------------------------------------------------------------------------------
def _check_model(model) -> None:
    cfg = getattr(model, "config", None)
    if cfg is None or not callable(getattr(model, "forward", None)):
        raise ValueError(f"expected a SequenceModel, got {type(model).__name__}")
    if cfg.vocab_size is None:
        raise ValueError(f"generation needs a model of token inputs (vocab_size set), "
                         f"this one takes {cfg.input_size} dense features")
    if cfg.head != "all" or model.output_size != cfg.vocab_size:
        raise ValueError(f"generation needs next-token logits over the vocabulary at every step (head 'all', "
                         f"output_size {cfg.vocab_size}), the model has head {cfg.head!r} and output_size "
                         f"{model.output_size}")
    if cfg.bidirectional:
        raise ValueError("a bidirectional model reads the future and cannot generate left to right")


def _check_prime(prime_ids, vocab_size: int, batched_ok: bool) -> np.ndarray:
    ids = np.asarray(prime_ids)
    shapes = "(P,) or (P, B)" if batched_ok else "(P,)"
    if ids.ndim not in ((1, 2) if batched_ok else (1,)) or ids.shape[0] == 0 or ids.size == 0:
        raise ValueError(f"prime_ids must be a non-empty array of token ids {shapes}, got shape {ids.shape}")
    if ids.dtype.kind not in "iu":
        raise ValueError(f"prime_ids must be integer token ids, got dtype {ids.dtype}")
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= vocab_size:
        raise ValueError(f"prime_ids must lie in [0, {vocab_size}) (the vocabulary), "
                         f"got values in [{lo}, {hi}]")
    return ids.astype(np.int64, copy=False)


def _defining_class(cls: type, name: str) -> type | None:
    return next((klass for klass in cls.__mro__ if name in vars(klass)), None)


def _stepper_follows_forward(model) -> bool:
    """Whether ``model.stepper`` was defined alongside or after ``model.forward``. A subclass (or an
    instance) that overrides forward but not stepper would be bypassed by the inherited stepper."""
    own = getattr(model, "__dict__", {})
    if "forward" in own:
        return "stepper" in own
    if "stepper" in own:
        return True
    fwd, stp = _defining_class(type(model), "forward"), _defining_class(type(model), "stepper")
    return fwd is None or stp is None or issubclass(stp, fwd)


def _stepper(model) -> Callable:
    """A callable ids (B,) int64, h -> (logits (B, V), h_next) for one step of ``model``: its own
    ``stepper()`` when it has one that no later ``forward`` overrides (made once per decoding
    loop), else ``forward`` on (1, B)."""
    make = getattr(model, "stepper", None)
    if callable(make) and _stepper_follows_forward(model):
        return make()

    def step(ids, h):
        y, h_next, _ = model.forward(ids[None, :], h)  # (1, B, V)
        return y[0], h_next

    return step


def _carried(step: Callable, h) -> Callable:
    """``advance(ids (B,)) -> logits (B, V)``: ``step`` with the state carried from call to call,
    starting at h. A stepper with a ``session(h)`` method carries it in its own buffers."""
    session = getattr(step, "session", None)
    if callable(session):
        return session(h)
    state = h

    def advance(ids):
        nonlocal state
        logits, state = step(ids, state)
        return logits

    return advance


def _prime(model, prime: np.ndarray):
    """Run the prime (P, B) in one forward pass: last-step logits (B, V) and the carried state."""
    y, h, _ = model.forward(prime)  # (P, B, V)
    return y[-1], h


def generate(model, prime_ids, length: int, rng, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, on_token: Callable | None = None, suppress=None) -> np.ndarray:
    """Sample ``length`` tokens after ``prime_ids`` with the hidden state carried from step to step.

    prime_ids: (P,) ids for one sequence, or (P, B) for B sequences sampled side by side. The prime
    runs in one forward pass; then each step samples ids (B,) from the last logits (sample_next) and
    feeds them back as a (1, B) input with the carried state. Returns (length,) ids, or (length, B)
    for a 2-D prime (the prime itself is not included). ``on_token`` is called as each step is drawn,
    with an int (1-D prime) or the ids (B,) (2-D prime). ``rng``: None, an int seed or a Generator. The
    model runs in evaluation mode (no dropout) and is put back in its previous mode afterwards.
    Logits with a NaN or no finite maximum (a diverged model) raise ValueError. ``suppress``: token
    ids never drawn (``suppress_tokens`` applied to the logits of every step), or None.
    """
    _check_model(model)
    temperature, top_k, top_p = check_sampling_options(temperature, top_k, top_p)
    rng = check_random_state(rng)
    length = check_int("length", length, low=0)
    on_token = check_callable("on_token", on_token)
    prime = _check_prime(prime_ids, model.config.vocab_size, batched_ok=True)
    single = prime.ndim == 1
    prime2 = prime[:, None] if single else prime  # (P, B)
    B = prime2.shape[1]
    check_memory(length * B * 8, f"generate of {length:,} tokens for a batch of {B:,}", "the ids it returns",
                 now=True)
    out = np.empty((length, prime2.shape[1]), np.int64)  # (length, B)
    was_training = model.training
    model.train(False)
    try:
        logits, h = _prime(model, prime2)  # (B, V)
        advance = _carried(_stepper(model), h)
        if suppress is not None:
            logits = suppress_tokens(logits, suppress)  # checks the ids once, before any draw
            advance = _suppressing(advance, suppress)
        V = logits.shape[1]
        if single and (top_k is None or top_k >= V) and (top_p is None or top_p >= 1.0):
            # one sequence, no filter: the same draws, without the (B, V) machinery
            draw = _row_sampler(V, rng, temperature)
            ids_out = out[:, 0]  # (length,)
            for t in range(length):
                i = draw(logits[0])
                ids_out[t] = i
                if on_token is not None:
                    on_token(i)
                if t + 1 < length:  # the last token needs no forward pass
                    logits = advance(ids_out[t : t + 1])  # (1, V)
        else:
            for t in range(length):
                ids = _sample(_check_logits(logits), rng, temperature, top_k, top_p)  # (B,)
                out[t] = ids
                if on_token is not None:
                    on_token(int(ids[0]) if single else ids.copy())
                if t + 1 < length:
                    logits = advance(ids)
    finally:
        model.train(was_training)
    return out[:, 0].copy() if single else out


def _suppressing(advance: Callable, ids) -> Callable:
    """``advance`` whose logits have the tokens ``ids`` masked (``suppress_tokens``)."""
    return lambda step_ids: suppress_tokens(advance(step_ids), ids)


def best_indices(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest scores (N,), best first; equal scores keep the lower index first."""
    N = scores.shape[0]
    if n < N:
        kth = np.partition(scores, N - n)[N - n]
        above = np.flatnonzero(scores > kth)  # (a,)
        ties = np.flatnonzero(scores == kth)[: n - above.size]  # the lowest indices among the ties
        cand = np.concatenate([above, ties])  # (n,)
    else:
        cand = np.arange(N)  # (N,)
    return cand[np.lexsort((cand, -scores[cand]))]  # by score descending, then index ascending


def _reorder(h, parents: np.ndarray):
    """Select beams ``parents`` (n,) from a state (L, B, H) or a tuple of such states."""
    if isinstance(h, tuple):
        return tuple(part[:, parents] for part in h)  # (L, n, H) each
    return h[:, parents]  # (L, n, H)


def beam_search(model, prime_ids, length: int, beam: int, suppress=None,
                eos: int | None = None) -> np.ndarray:
    """The continuation (at most length,) of ``prime_ids`` (P,) that beam search finds most likely.

    Keeps the ``beam`` best partial continuations by total log-probability sum_t log p(x_t | x_<t)
    (log-softmax of the logits in float64); all beams advance together as one batch of B = beam per
    forward step, their hidden states (tuples (h, c) for an LSTM) reordered by parent beam. Ties in
    score go to the earlier beam, then the lower token id, so ``beam=1`` is greedy decoding.
    Deterministic; runs the model in evaluation mode and restores its mode afterwards.
    ``suppress``: token ids no continuation contains (``suppress_tokens``), or None.

    ``eos``: an end token, or None. With it, each step ranks the 2 x beam best extensions; one by
    ``eos`` among the first ``beam`` is finished (its continuation ends with ``eos``) and the best
    others continue; the search stops once ``beam`` continuations have finished or at ``length``
    tokens, and returns the most likely of the finished ones and (at ``length``) the running ones.
    """
    _check_model(model)
    beam = check_size("beam", beam)
    length = check_int("length", length, low=0)
    prime = _check_prime(prime_ids, model.config.vocab_size, batched_ok=False)
    V = model.config.vocab_size
    if eos is not None:
        eos = check_int("eos", eos, 0, V - 1)
    # per step: scores (beam, V) in float64 and their log-softmax; the kept continuations (beam, length)
    check_memory(beam * (3 * V + length) * 8, f"beam_search with a beam of {beam:,} over {V:,} tokens",
                 "its scores", now=True)
    seqs = np.empty((1, 0), np.int64)  # (n, t) the kept continuations
    scores = np.zeros(1)  # (n,) their log-probabilities
    finished: list[tuple[float, np.ndarray]] = []  # (log-probability, continuation ending with eos)
    was_training = model.training
    model.train(False)
    try:
        step = _stepper(model)
        logits, h = _prime(model, prime[:, None])  # (1, V)
        for t in range(length):
            if suppress is not None:
                logits = suppress_tokens(logits, suppress)  # (n, V) masked: never a beam's next token
            total = scores[:, None] + log_softmax(logits.astype(np.float64))  # (n, V)
            flat = total.reshape(-1)  # (n*V,) beam-major, so lower flat index = earlier beam, lower id
            top = best_indices(flat, min(beam if eos is None else 2 * beam, flat.size))  # (n',)
            parents, tokens = np.divmod(top, V)  # (n',) each
            if eos is not None:
                ended = tokens == eos
                first = np.arange(top.size) < beam
                finished += [(float(flat[top[i]]), np.append(seqs[parents[i]], eos))
                             for i in np.flatnonzero(ended & first)]
                keep = np.flatnonzero(~ended)[:beam]
                if len(finished) >= beam or keep.size == 0:
                    break
                top, parents, tokens = top[keep], parents[keep], tokens[keep]
            scores = flat[top]
            seqs = np.concatenate([seqs[parents], tokens[:, None]], axis=1)  # (n', t+1)
            if t + 1 < length:
                logits, h = step(tokens, _reorder(h, parents))  # (n', V)
        else:
            finished += [(float(scores[i]), seqs[i]) for i in range(len(scores))]
    finally:
        model.train(was_training)
    if eos is None or not finished:  # no end token, or a length of 0
        return seqs[0].copy()
    best = max(range(len(finished)), key=lambda i: (finished[i][0], -i))
    return finished[best][1].copy()
