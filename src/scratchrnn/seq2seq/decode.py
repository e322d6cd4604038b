"""Decoding a :class:`~scratchrnn.seq2seq.model.Seq2Seq`: greedy, sampling and beam search, each
stopping at the end-of-sequence token or a maximum length.

Every decoder starts from BOS and the encoded source, and feeds back the token it chose. A
hypothesis's ``log_prob`` is the sum over its tokens (EOS included when it ended) of
``log p(token | source, tokens before)``, the model's log-softmax in float64; its ``score`` is
``log_prob / length ** length_penalty`` (length counting EOS; 0 gives the sum itself).

* :func:`greedy` takes the most likely token each step (ties: the lowest id);
* :func:`sample` draws it from the model's distribution shaped by temperature, top-k and top-p
  (``scratchrnn.sample.sample_next``) with an explicit generator;
* both decode a batch at once, and a sequence that has emitted EOS leaves the batch: the steps
  after it cost it nothing (the batch, its states and its attention memory are cut to the
  sequences still running);
* :func:`beam_search` keeps the ``beam`` best partial hypotheses of each source by log-probability;
  each step the 2 x beam best extensions are ranked, an extension by EOS among the first ``beam``
  of them is finished, and the best others continue. The search of a source stops once ``beam``
  hypotheses have finished, or at ``max_length`` (the running ones then count, unfinished), and
  returns the ``n_best`` by score, best first. With ``beam=1`` it is greedy decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import check_int, check_real, check_size
from ..functional import log_softmax
from ..sample import best_indices, check_sampling_options, sample_next
from .model import Encoded, Seq2Seq

__all__ = ["DecoderStepper", "Hypothesis", "beam_search", "greedy", "sample"]


@dataclass
class Hypothesis:
    """One decoded target.

    Attributes:
        tokens (list[int]): the ids chosen, EOS left out.
        log_prob (float): the sum of their log-probabilities (EOS's included when ``ended``).
        score (float): ``log_prob / length ** length_penalty`` (module docstring).
        ended (bool): whether decoding chose EOS (False: it stopped at the maximum length).
        attention (np.ndarray or None, default None): (steps, S) the attention weights of each step over the
            source's S steps, for a model with attention when asked for; else None.
    """

    tokens: list[int]
    log_prob: float
    score: float
    ended: bool
    attention: np.ndarray | None = None


def _take_state(state, rows: np.ndarray):
    """The decoder state of the sequences ``rows``: (L, n, H), or a tuple of them."""
    if isinstance(state, tuple):
        return tuple(part[:, rows] for part in state)
    return state[:, rows]


class DecoderStepper:
    """The decoder of a :class:`Seq2Seq` one token at a time, in evaluation mode (no dropout).

    ``step(ids (B,), state, memory) -> (logits (B, V), state, weights (B, S) or None)``. The
    recurrent weights are prepared once when it is made; make a new one after the weights change.
    """

    def __init__(self, model: Seq2Seq):
        if not isinstance(model, Seq2Seq):
            raise ValueError(f"DecoderStepper expects a Seq2Seq model, got {type(model).__name__}")
        self.model = model
        self.rnn = model.decoder.stepper()
        self.embedding = model.tgt_embedding.params["weight"]  # (V, E)

    def encode(self, src, src_lengths=None) -> Encoded:
        return self.model.encode(src, src_lengths)

    def step(self, ids: np.ndarray, state, memory):
        m = self.model
        h, state = self.rnn.step(self.embedding[ids], state)  # (B, Hd)
        weights = None
        feats = h
        if m.attention is not None:
            context, weights, _ = m.attention.forward(h[None], memory)  # (1, B, Hd), (1, B, S)
            cat = np.concatenate([context[0], h], axis=1)  # (B, 2 Hd)
            feats = np.tanh(cat @ m.combine.params["weight"].T + m.combine.params["bias"])  # (B, Hd)
            weights = weights[0]
        logits = feats @ m.out.params["weight"].T + m.out.params["bias"]  # (B, V)
        return logits, state, weights


def _check(model, max_length, length_penalty) -> tuple[int, float]:
    if not isinstance(model, Seq2Seq):
        raise ValueError(f"expected a Seq2Seq model, got {type(model).__name__}")
    return check_size("max_length", max_length), check_real("length_penalty", length_penalty, low=0.0)


def _hypothesis(tokens, log_prob: float, ended: bool, length_penalty: float, attention) -> Hypothesis:
    length = len(tokens) + (1 if ended else 0)
    score = log_prob / max(length, 1) ** length_penalty if length_penalty else log_prob
    return Hypothesis([int(t) for t in tokens], float(log_prob), float(score), ended, attention)


def _decode_batch(model: Seq2Seq, src, src_lengths, max_length: int, length_penalty: float,
                  return_attention: bool, choose) -> list[Hypothesis]:
    """Greedy or sampled decoding of a batch; ``choose(logits, logp) -> ids`` picks each step's tokens."""
    stepper = DecoderStepper(model)
    encoded = stepper.encode(src, src_lengths)
    B = np.shape(src)[1]
    eos = model.config.eos_id
    tokens = [[] for _ in range(B)]
    weights = [[] for _ in range(B)]
    log_probs = np.zeros(B)
    ended = np.zeros(B, bool)
    active = np.arange(B)  # the sequences still running, in the rows of state and memory
    state, memory = encoded.state, encoded.memory
    ids = np.full(B, model.config.bos_id, np.int64)
    for _ in range(max_length):
        logits, state, w = stepper.step(ids, state, memory)  # (n, V)
        logp = log_softmax(logits.astype(np.float64))  # (n, V)
        ids = np.asarray(choose(logits, logp), np.int64)  # (n,)
        log_probs[active] += logp[np.arange(active.size), ids]
        done = ids == eos
        for row, b in enumerate(active):
            if not done[row]:
                tokens[b].append(int(ids[row]))
            if return_attention and w is not None:
                weights[b].append(w[row])
        ended[active[done]] = True
        if done.all():
            break
        if done.any():  # the ended sequences leave the batch
            keep = np.flatnonzero(~done)
            active, ids, state = active[keep], ids[keep], _take_state(state, keep)
            memory = None if memory is None else memory.take(keep)
    return [_hypothesis(tokens[b], log_probs[b], bool(ended[b]), length_penalty,
                        np.array(weights[b]) if return_attention and model.attention is not None else None)
            for b in range(B)]


def greedy(model: Seq2Seq, src, src_lengths=None, max_length: int = 100, length_penalty: float = 0.0,
           return_attention: bool = False) -> list[Hypothesis]:
    """The most likely token at each step, for each source of ``src`` (S, B): one
    :class:`Hypothesis` per source (module docstring)."""
    max_length, length_penalty = _check(model, max_length, length_penalty)
    return _decode_batch(model, src, src_lengths, max_length, length_penalty, return_attention,
                         lambda logits, logp: logp.argmax(axis=1))


def sample(model: Seq2Seq, src, rng: np.random.Generator, src_lengths=None, max_length: int = 100,
           temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
           length_penalty: float = 0.0, return_attention: bool = False) -> list[Hypothesis]:
    """A token drawn at each step from ``rng`` (a Generator or a seed) through temperature, top-k
    and top-p (``scratchrnn.sample``); one :class:`Hypothesis` per source. ``log_prob`` is the
    model's own (temperature 1) log-probability of the tokens drawn."""
    from ..checks import check_random_state

    max_length, length_penalty = _check(model, max_length, length_penalty)
    temperature, top_k, top_p = check_sampling_options(temperature, top_k, top_p)
    gen = check_random_state(rng)
    return _decode_batch(model, src, src_lengths, max_length, length_penalty, return_attention,
                         lambda logits, logp: sample_next(logits, gen, temperature, top_k, top_p))


def beam_search(model: Seq2Seq, src, beam: int, src_lengths=None, max_length: int = 100,
                length_penalty: float = 1.0, n_best: int = 1,
                return_attention: bool = False) -> list[list[Hypothesis]]:
    """The ``n_best`` hypotheses (best score first) of each source of ``src`` (S, B) that beam
    search with ``beam`` hypotheses finds (module docstring)."""
    max_length, length_penalty = _check(model, max_length, length_penalty)
    beam = check_size("beam", beam)
    n_best = check_int("n_best", n_best, 1, beam)
    stepper = DecoderStepper(model)
    encoded = stepper.encode(src, src_lengths)
    eos, V = model.config.eos_id, model.config.target_vocab_size
    results = []
    for b in range(np.shape(src)[1]):
        row = np.array([b])
        state = _take_state(encoded.state, row)
        memory = None if encoded.memory is None else encoded.memory.take(row)
        seqs = np.empty((1, 0), np.int64)  # (n, t) the running hypotheses
        atts = None  # (n, t, S) their attention
        scores = np.zeros(1)  # (n,) their log-probabilities
        ids = np.array([model.config.bos_id], np.int64)
        finished: list[Hypothesis] = []
        t = -1
        for t in range(max_length):  # noqa: B007 - t says below whether the loop ran to max_length
            logits, state, w = stepper.step(ids, state, memory)  # (n, V)
            total = scores[:, None] + log_softmax(logits.astype(np.float64))  # (n, V)
            flat = total.reshape(-1)  # beam-major: a lower index is an earlier beam, then a lower id
            top = best_indices(flat, min(2 * beam, flat.size))
            parents, tokens = np.divmod(top, V)
            keep = []
            for rank, (parent, token) in enumerate(zip(parents, tokens, strict=True)):
                if token == eos:
                    if rank < beam:
                        att = None
                        if return_attention and w is not None:
                            prior = atts[parent] if atts is not None else np.empty((0, w.shape[1]))
                            att = np.concatenate([prior, w[parent][None]])
                        finished.append(_hypothesis(seqs[parent], flat[top[rank]], True, length_penalty, att))
                elif len(keep) < beam:
                    keep.append(rank)
                if len(keep) == beam:
                    break
            if len(finished) >= beam or not keep:
                break
            keep = np.array(keep)
            parents_kept = parents[keep]
            if return_attention and w is not None:
                prior = atts[parents_kept] if atts is not None else np.empty((keep.size, 0, w.shape[1]))
                atts = np.concatenate([prior, w[parents_kept][:, None]], axis=1)  # (n, t+1, S)
            seqs = np.concatenate([seqs[parents_kept], tokens[keep][:, None]], axis=1)  # (n, t+1)
            scores = flat[top[keep]]
            ids = tokens[keep]
            state = _take_state(state, parents_kept)
            if memory is not None and memory.keys.shape[0] != keep.size:
                memory = encoded.memory.take(np.full(keep.size, b))
        running = [_hypothesis(seqs[i], scores[i], False, length_penalty, None if atts is None else atts[i])
                   for i in range(len(scores))]
        if t == max_length - 1 and len(finished) < beam or len(finished) < n_best:
            finished += running  # the maximum length, or too few finished: the running ones count
        order = sorted(range(len(finished)), key=lambda i: (-finished[i].score, i))
        results.append([finished[i] for i in order[:n_best]])
    return results
