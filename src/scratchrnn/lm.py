"""Language models in a few lines: train on a text, sample, evaluate, save and load.

::

    lm = CharLM(cell="lstm", hidden_size=256, num_layers=2).fit(text, steps=2000)
    text = lm.sample(500, prime="ROMEO:", temperature=0.8, seed=1)  # a str
    lm.evaluate(held_out)          # {"loss": ..., "perplexity": ..., "bits_per_char": ..., "tokens": ...}
    lm.save("romeo.npz")
    lm = load_language_model("romeo.npz")   # a CharLM or a WordLM, whichever was saved

Two levels share one implementation (:class:`LanguageModel`):

* ``CharLM`` (level "char"): the vocabulary is every character of the training text sorted by
  code point (:class:`~scratchrnn.data.text.CharVocab`), so it never depends on the text's order.
  A prime with a character outside it raises ValueError naming the characters; so does an
  evaluated text, unless ``evaluate(..., unknown="skip")`` leaves them out and counts them.
* ``WordLM`` (level "word"): the text is cut into sentences (``split_sentences``) and lower-cased
  word and punctuation tokens (``tokenize_words``); the stream is every sentence as
  ``SENTENCE_START words SENTENCE_END``, the vocabulary a :class:`~scratchrnn.data.text.WordVocab`
  (``max_vocab`` keeps the most frequent). Words outside the vocabulary become ``UNKNOWN_TOKEN``
  (not an error; ``sample`` draws it only with ``allow_unknown``). Output joins words with single
  spaces, a ``SENTENCE_END`` becomes a line break and ``SENTENCE_START`` is not shown.

``sample`` returns only the continuation: ``prime + lm.sample(n, prime=prime)`` reads on (for the
word level, up to tokenization). An empty prime starts char models from a line break (the
vocabulary's first token if the text has none) and word models from ``SENTENCE_START``.

Files are scratchrnn checkpoints (``scratchrnn.io.save_checkpoint``): the weights, the vocabulary,
``config = {"model": ModelConfig, "train": TrainConfig or None, "lm": {"level", "seed", "max_vocab",
"fit"}}`` and the training history, where ``fit`` records how the model was trained (batch size,
window, optimizer, rate, clipping, validation share, seed, the text's SHA-256 and length, and the
caller's ``source``). The checkpoints that ``fit(checkpoint_dir=...)`` writes (``last.npz``,
``best.npz``) load too, and ``fit(resume=...)`` continues one exactly.
Fine-tuning is a fit of a loaded model (``load_language_model(path).fit(new_text, ...)``), which
may add the new text's tokens to the vocabulary (``extend_vocab``, :mod:`scratchrnn.extend`).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import ClassVar

import numpy as np

from .checks import check_dtype, check_flag, check_int, check_optional_int, check_probability, is_real
from .data.text import (
    SENTENCE_END,
    SENTENCE_START,
    CharVocab,
    Vocab,
    WordVocab,
    split_sentences,
    tokenize_words,
)
from .extend import extend_model, grow_vocab
from .io import check_weights, load_checkpoint, save_checkpoint
from .lmdata import split_stream
from .nn.model import ModelConfig, SequenceModel, check_cell
from .optim import OPTIMIZERS, make_optimizer
from .optim.base import check_lr
from .resume import resumed_fit, text_digest
from .sample import beam_search, check_sampling_options, generate
from .scoring import EVAL_CHUNK, score_ids
from .train import History, TrainConfig, Trainer
from .unknown import check_known, known_text

__all__ = ["DEFAULT_LR", "EVAL_CHUNK", "LEVELS", "CharLM", "LanguageModel", "WordLM", "load_language_model"]

LEVELS = ("char", "word")
DEFAULT_LR = 2e-3  # the learning rate of a new run when fit is given none
MAX_EXP = math.log(np.finfo(np.float64).max)  # exp of anything above overflows


def _check_text(text, what: str = "text") -> str:
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"{what} is empty (or only whitespace); a language model needs some text")
    return text


class LanguageModel:
    """A recurrent next-token model with its vocabulary; ``CharLM`` and ``WordLM`` set the level.

    Constructor arguments are the model's hyperparameters (see :class:`~scratchrnn.nn.model.ModelConfig`):
    ``embedding_dim=None`` feeds one-hot ids, ``dropout`` applies between recurrent layers, ``seed``
    fixes the initial weights, the batch order and the dropout masks, ``tie_weights`` shares the
    embedding's matrix with the output head (``embedding_dim`` must equal ``hidden_size``). The model
    and the vocabulary are made by the first ``fit`` (or come from ``load``); ``model``, ``vocab``
    and ``history`` are public attributes.
    """

    level: ClassVar[str] = ""
    _unit: ClassVar[str] = "token"  # what one token is called in messages

    def __init__(self, cell: str = "lstm", hidden_size: int = 256, num_layers: int = 2,
                 embedding_dim: int | None = None, dropout: float = 0.0, seed: int = 0,
                 dtype: str = "float32", tie_weights: bool = False):
        if type(self) is LanguageModel:
            raise ValueError("LanguageModel is the shared base; build a CharLM or a WordLM")
        check_cell(cell)
        self.dropout = check_probability("dropout", dropout)
        self.seed = check_int("seed", seed, low=0)
        self.cell = cell
        self.hidden_size = check_int("hidden_size", hidden_size, low=1)
        self.num_layers = check_int("num_layers", num_layers, low=1)
        self.embedding_dim = check_optional_int("embedding_dim", embedding_dim, low=1)
        self.dtype = str(check_dtype(dtype))
        self.tie_weights = check_flag("tie_weights", tie_weights)
        self.model: SequenceModel | None = None
        self.vocab: Vocab | None = None
        self.history: History | None = None
        self.train_config: TrainConfig | None = None
        self._fit_record: dict | None = None  # how the model was trained (config["lm"]["fit"])

    def __repr__(self) -> str:
        state = "untrained" if self.model is None else f"vocab={len(self.vocab)}"
        return (f"{type(self).__name__}(cell={self.cell!r}, hidden_size={self.hidden_size}, "
                f"num_layers={self.num_layers}, embedding_dim={self.embedding_dim}, dropout={self.dropout}, "
                f"seed={self.seed}, dtype={self.dtype!r}; {state})")

    # -- level-specific hooks ------------------------------------------------------------------
    def _build_vocab(self, text: str) -> Vocab:  # pragma: no cover - abstract
        raise NotImplementedError

    def _vocab_from_list(self, tokens: list[str]) -> Vocab:  # pragma: no cover - abstract
        raise NotImplementedError

    def _tokens(self, text: str) -> list[str]:  # pragma: no cover - abstract
        """The whole text as the token stream the model reads (with any markers)."""
        raise NotImplementedError

    def _prime_tokens(self, prime: str) -> list[str]:  # pragma: no cover - abstract
        """The prime as a token stream (never empty) that the continuation follows."""
        raise NotImplementedError

    def _encode(self, tokens: list[str], what: str, vocab: Vocab | None = None) -> np.ndarray:
        """Token ids (n,) int64 of ``tokens`` in ``vocab`` (default: the model's); tokens outside a
        vocabulary without an unknown token raise ValueError naming them."""
        vocab = self.vocab if vocab is None else vocab
        check_known(tokens, vocab, what, self._unit)
        return vocab.encode(tokens)

    def _renderer(self, at_line_start: bool) -> Callable[[int], str]:
        """A function id -> the text it adds to the output (stateful for words: spacing)."""
        tokens = self.vocab.to_list()
        return lambda i: tokens[i]

    # -- helpers -------------------------------------------------------------------------------
    def _require_model(self) -> SequenceModel:
        if self.model is None:
            raise ValueError(f"this {type(self).__name__} has no model yet; "
                             "call fit(text, ...) or load a file")
        return self.model

    def _model_config(self, vocab_size: int) -> ModelConfig:
        return ModelConfig(cell=self.cell, vocab_size=vocab_size, embedding_dim=self.embedding_dim,
                           hidden_size=self.hidden_size, num_layers=self.num_layers, dropout=self.dropout,
                           dtype=self.dtype, tie_weights=self.tie_weights)

    # -- training ------------------------------------------------------------------------------
    def fit(self, text: str, steps: int | None = None, epochs: int | None = None, batch_size: int = 32,
            window: int = 100, lr: float | None = None, optimizer: str = "adam",
            clip_norm: float | None = 5.0,
            val_fraction: float = 0.1, eval_every: int | None = None, checkpoint_dir: str | None = None,
            checkpoint_every: int | None = None, resume: str | os.PathLike | None = None,
            progress: bool | None = None, log_path: str | None = None,
            callbacks: list[Callable] | None = None, *, time_limit: float | None = None,
            report_every: int | None = None, extend_vocab: bool = False,
            source: dict | None = None, clip_value: float | None = None, weight_decay: float | None = None,
            lr_schedule: str | None = None, warmup: int = 0, lr_step_size: int | None = None,
            lr_gamma: float = 0.5, lr_patience: int = 2, min_lr: float = 0.0, patience: int | None = None,
            restore_best: bool = True, val_tokens: int | None = None, sample_every: int | None = None,
            sample_length: int = 100) -> LanguageModel:
        """Train on ``text`` for ``steps`` optimizer steps or ``epochs`` passes; returns ``self``.

        The token stream (n,) is split: the last ``floor(n * val_fraction)`` tokens are held out for
        validation (every ``eval_every`` steps, or at the end of each epoch when None). The rest is
        cut into ``batch_size`` parallel streams read in windows of ``window`` steps with the hidden
        state carried between windows (truncated BPTT, :class:`~scratchrnn.train.TokenStream`);
        loss = mean next-token cross-entropy, ``optimizer`` (one of ``scratchrnn.optim.OPTIMIZERS``)
        at rate ``lr`` (None: ``DEFAULT_LR``), gradients clipped to global norm ``clip_norm`` (None:
        no clipping). ``time_limit`` (seconds) stops training at the end of the step that passes it,
        and ``report_every`` sets the steps between "report" events (see
        :class:`~scratchrnn.train.TrainConfig`); ``callbacks`` receive every event of the trainer.
        ``clip_value``, ``lr_schedule`` (with ``warmup``, ``lr_step_size``, ``lr_gamma``,
        ``lr_patience``, ``min_lr``), ``patience``, ``restore_best``, ``sample_every`` and
        ``sample_length`` are TrainConfig's options of the same names (samples start where
        ``sample("")`` does); ``weight_decay`` goes to the optimizer (None: its own default; an
        optimizer without one refuses it); ``val_tokens`` validates on the first ``val_tokens``
        of the held-out tokens only (None: all of them; :mod:`scratchrnn.lmdata`).

        The first fit builds the vocabulary from the text and the model from the hyperparameters; a
        later fit (or one of a loaded model: fine-tuning) keeps both and trains on with a new
        optimizer from step 0; tokens of its text outside the vocabulary raise ValueError naming
        them (words read as ``UNKNOWN_TOKEN``) unless ``extend_vocab`` adds them (``unknown_tokens``).

        ``resume`` (a ``last.npz`` from ``checkpoint_dir``) continues that run exactly, with its
        vocabulary; its settings and text must be the ones given (ValueError naming what differs);
        ``lr=None`` keeps its rate, another is used and logged. ``source`` (JSON-able: where the text
        came from) is recorded with the run. ``self.history`` holds the History. Text too short for
        one window (or ``batch_size`` streams of one) raises ValueError saying so.
        """
        text = _check_text(text)
        if not is_real(val_fraction) or not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
        batch_size = check_int("batch_size", batch_size, low=1)
        window = check_int("window", window, low=1)
        name = optimizer.strip().lower().replace("_", "-") if isinstance(optimizer, str) else None
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
        if lr is not None:
            lr = check_lr(lr)
        check_flag("extend_vocab", extend_vocab)
        config = TrainConfig(steps=steps, epochs=epochs, clip_norm=clip_norm, eval_every=eval_every,
                             checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
                             checkpoint_every=checkpoint_every,
                             log_path=None if log_path is None else str(log_path),
                             progress=progress, seed=self.seed, time_limit=time_limit,
                             report_every=report_every, clip_value=clip_value, lr_schedule=lr_schedule,
                             warmup=warmup, lr_step_size=lr_step_size, lr_gamma=lr_gamma,
                             lr_patience=lr_patience, min_lr=min_lr, patience=patience,
                             restore_best=restore_best, sample_every=sample_every,
                             sample_length=sample_length)
        config.validate()
        record = {"batch_size": batch_size, "window": window, "optimizer": name, "clip_norm": clip_norm,
                  "val_fraction": float(val_fraction), "seed": self.seed,
                  "lr": DEFAULT_LR if lr is None else lr, "text_sha256": text_digest(text),
                  "text_chars": len(text), "source": source, "clip_value": clip_value,
                  "weight_decay": weight_decay, "val_tokens": val_tokens}

        vocab, model, change_lr = self.vocab, self.model, None
        if resume is not None:
            if extend_vocab:
                raise ValueError("extend_vocab cannot be used with resume: a run keeps its vocabulary")
            saved, run = resumed_fit(resume, self.level, record)
            saved_vocab = self._vocab_from_list(saved)
            if vocab is not None and saved_vocab != vocab:
                raise ValueError(f"{resume} was trained with a different vocabulary than this model's")
            vocab = saved_vocab
            if lr is not None and lr != run.get("lr"):
                change_lr = lr  # used from the next step on, and logged
            record["lr"] = lr if change_lr is not None else run.get("lr", record["lr"])
        elif extend_vocab and model is not None and (new := self.unknown_tokens(text)):
            grown = grow_vocab(vocab, new)
            model = extend_model(model, vocab.to_list(), grown.to_list(), self.seed)
            vocab = grown
        if vocab is None:
            vocab = self._build_vocab(text)
        ids = self._encode(self._tokens(text), "the training text", vocab)  # (n,)
        train_stream, val_stream = split_stream(ids, batch_size, window, val_fraction, val_tokens,
                                                self._unit)

        if model is None:
            model = SequenceModel(self._model_config(len(vocab)), rng=self.seed)
        decay = {} if weight_decay is None else {"weight_decay": weight_decay}
        opt = make_optimizer(optimizer, model.params, lr=record["lr"], **decay)
        self.model, self.vocab, self.train_config, self._fit_record = model, vocab, config, record
        prime = self._encode(self._prime_tokens(""), "the prime")  # where samples start, as sample("")
        trainer = Trainer(model, opt, config, vocab=vocab.to_list(), callbacks=callbacks,
                          meta={"lm": self._lm_info(record)}, sample_prime=prime,
                          decode=lambda ids: "".join(map(self._renderer(at_line_start=True), ids)))
        self.history = trainer.fit(train_stream, val_stream, resume=resume, lr=change_lr)
        return self

    def _lm_info(self, record: dict | None) -> dict:
        """What checkpoints keep about the language model (``config["lm"]``)."""
        return {"level": self.level, "seed": self.seed, "max_vocab": getattr(self, "max_vocab", None),
                "fit": record}

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, length: int, prime: str = "", temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, seed: int | None = None, beam: int | None = None,
               on_text: Callable[[str], object] | None = None, allow_unknown: bool = False,
               eos: str | None = None) -> str:
        """Generate ``length`` tokens after ``prime`` and return them as text (without the prime;
        for words, the sentence markers count as tokens).

        Sampling draws each token from softmax(logits / temperature) restricted by ``top_k`` and
        ``top_p`` (:func:`scratchrnn.sample.sample_next`; temperature 0 is greedy) with a Generator
        seeded by ``seed`` (None: fresh OS entropy), so the same seed gives the same text. ``beam``
        (an integer >= 1) instead returns the most likely continuation found by beam search, which
        is deterministic and takes no temperature, top_k or top_p. ``on_text`` is called with each
        token's text as soon as it is known (after the search, for beam search). ``UNKNOWN_TOKEN``
        is never drawn or searched for unless ``allow_unknown`` (``scratchrnn.sample.suppress_tokens``).
        ``eos`` (beam search only): a token of the vocabulary (a character, or a word such as
        ``SENTENCE_END``) that ends a continuation, which then stops there, ``eos`` included.
        """
        model = self._require_model()
        self._require_finite(model)
        check_int("length", length, low=0)
        temperature, top_k, top_p = check_sampling_options(temperature, top_k, top_p)
        if beam is not None:
            check_optional_int("beam", beam, low=1)
            if temperature != 1.0 or top_k is not None or top_p is not None:
                raise ValueError("beam search is deterministic: it takes no temperature, top_k or top_p "
                                 f"(got temperature={temperature}, top_k={top_k}, top_p={top_p})")
        eos_id = None
        if eos is not None:
            if beam is None:
                raise ValueError("eos needs beam: only beam search stops at an end token")
            if not isinstance(eos, str) or eos not in self.vocab:
                raise ValueError(f"the end token {eos!r} is not in the model's vocabulary of "
                                 f"{len(self.vocab):,} {self._unit}s")
            eos_id = int(self.vocab.encode([eos])[0])
        check_optional_int("seed", seed, low=0)
        unk = None if check_flag("allow_unknown", allow_unknown) else self.vocab.unk_id
        suppress = None if unk is None else [unk]
        if not isinstance(prime, str):
            raise ValueError(f"prime must be a str, got {type(prime).__name__}")
        prime_ids = self._encode(self._prime_tokens(prime), "the prime")  # (P,)
        render = self._renderer(at_line_start=not prime.strip())
        pieces: list[str] = []

        def emit(i: int) -> None:
            piece = render(int(i))
            pieces.append(piece)
            if on_text is not None and piece:
                on_text(piece)

        if beam is not None:
            for i in beam_search(model, prime_ids, length, int(beam), suppress=suppress, eos=eos_id).tolist():
                emit(i)
        else:
            generate(model, prime_ids, length, np.random.default_rng(seed), temperature, top_k, top_p,
                     on_token=emit, suppress=suppress)
        return "".join(pieces)

    # -- evaluation ----------------------------------------------------------------------------
    def _require_finite(self, model: SequenceModel) -> None:
        bad = [k for k, v in model.params.items() if not np.all(np.isfinite(v))]
        if bad:
            names = ", ".join(bad[:3]) + (f", ... ({len(bad)} in all)" if len(bad) > 3 else "")
            raise ValueError(f"the model's weights are not finite ({names} hold NaN or inf): "
                             "the run that wrote it diverged; use an earlier checkpoint such as best.npz")

    def _score(self, text: str, on_chunk: Callable | None = None) -> tuple[np.ndarray, int]:
        """Score the text once, chunk by chunk, with the state carried through it.

        Returns the log-probabilities (n-1,) of tokens 1..n-1 given the ones before, and n. With
        ``on_chunk``, each chunk is handed over as it is scored: ``on_chunk(start, tokens, ids, lp)``
        with the log-probabilities ``lp`` (c,) of the tokens ``start + 1 .. start + c``.
        """
        model = self._require_model()
        self._require_finite(model)
        tokens = self._tokens(_check_text(text))
        ids = self._encode(tokens, "the text")  # (n,)
        if ids.shape[0] < 2:
            raise ValueError(f"the text has {ids.shape[0]} {self._unit}; scoring needs at least 2 "
                             "(the first is only context)")
        report = None if on_chunk is None else (lambda start, lp: on_chunk(start, tokens, ids, lp))
        return score_ids(model, ids, report), ids.shape[0]

    def evaluate(self, text: str, on_token: Callable[[dict], object] | None = None,
                 unknown: str = "error") -> dict:
        """Score ``text`` token by token with the state carried through it.

        Returns ``loss`` (mean negative log-likelihood in nats per predicted token, every token after
        the first), ``perplexity = exp(loss)``, ``tokens`` (how many were predicted) and, for the
        char level, ``bits_per_char = loss / ln 2``. ``on_token`` is called with each predicted
        token's record (as in :meth:`token_logprobs`) as soon as it is scored, so a long text can
        be written out in the same single pass without keeping the records. A model whose weights
        are not finite raises ValueError. Characters outside a char model's vocabulary raise
        ValueError naming them, or with ``unknown="skip"`` are left out (their neighbours meet) and
        counted: ``skipped`` (how many) and ``skipped_tokens`` (which, sorted) join the result.
        Words outside a word model's vocabulary read as ``UNKNOWN_TOKEN``, so nothing is skipped.
        """
        vocab = self.vocab if self.level == "char" else None  # a word model reads every word
        text, positions, skipped, count = known_text(text, vocab, unknown)

        def per_token(start: int, tokens: list[str], ids: np.ndarray, lp: np.ndarray) -> None:
            for j, value in enumerate(lp.tolist()):
                i = start + 1 + j
                index = i if positions is None else int(positions[i])
                on_token({"index": index, "token": tokens[i], "id": int(ids[i]), "logprob": value})

        logp, _ = self._score(text, None if on_token is None else per_token)
        loss = float(-logp.mean())
        perplexity = math.exp(loss) if loss < MAX_EXP else math.inf
        result = {"loss": loss, "perplexity": perplexity, "tokens": int(logp.shape[0])}
        if self.level == "char":
            result["bits_per_char"] = loss / math.log(2.0)
        if unknown == "skip":
            result["skipped"], result["skipped_tokens"] = count, skipped
        return result

    def token_logprobs(self, text: str, unknown: str = "error") -> list[dict]:
        """Per predicted token of ``text``: {"index", "token", "id", "logprob"} (natural log).

        ``index`` is the token's position in the stream (0 is the first token, which is only
        context and not listed); ``token`` is the text's own token (for words, even when it maps to
        ``UNKNOWN_TOKEN``), ``id`` the id the model read; characters skipped (``unknown="skip"``,
        see :meth:`evaluate`) have no record, the others keep their index. One dict per line makes
        JSON lines; ``evaluate(text, on_token=...)`` streams the same records instead of listing them.
        """
        rows: list[dict] = []
        self.evaluate(text, on_token=rows.append, unknown=unknown)
        return rows

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the model, vocabulary, level and history as a scratchrnn checkpoint; returns ``path``.

        The file holds weights, not the optimizer: to continue a run exactly, train with
        ``checkpoint_dir`` and ``fit(resume=<dir>/last.npz)``.
        """
        model = self._require_model()
        history = self.history or History()
        config = {
            "model": model.config.to_dict(),
            "train": None if self.train_config is None else asdict(self.train_config),
            "lm": self._lm_info(self._fit_record),
        }
        return save_checkpoint(path, params=model.params, config=config, vocab=self.vocab.to_list(),
                               step=len(history.steps), history=history.steps,
                               extra={"evals": history.evals})

    @classmethod
    def load(cls, path: str | os.PathLike) -> LanguageModel:
        """Load a file written by ``save`` or by ``fit(checkpoint_dir=...)``.

        ``LanguageModel.load`` returns whichever level the file holds; ``CharLM.load`` and
        ``WordLM.load`` also check that it is theirs. A missing file raises FileNotFoundError;
        anything that is not a language-model checkpoint raises ValueError naming the file.
        """
        lm = load_language_model(path)
        if cls is not LanguageModel and not isinstance(lm, cls):
            raise ValueError(f"{path} holds a {lm.level}-level model, not a {cls.level}-level one; "
                             f"load it with {type(lm).__name__}.load or load_language_model")
        return lm


class CharLM(LanguageModel):
    """Character-level language model (see the module docstring)."""

    level = "char"
    _unit = "character"

    def _build_vocab(self, text: str) -> Vocab:
        return CharVocab.from_text(text)

    def _vocab_from_list(self, tokens: list[str]) -> Vocab:
        return CharVocab.from_list(tokens)

    def _tokens(self, text: str) -> list[str]:
        return list(text)

    def _prime_tokens(self, prime: str) -> list[str]:
        if prime:
            return list(prime)
        return ["\n" if "\n" in self.vocab else self.vocab.to_list()[0]]

    def unknown_tokens(self, text: str) -> list[str]:
        """The characters of ``text`` that the model's vocabulary lacks, by code point."""
        self._require_model()
        return sorted({c for c in _check_text(text) if c not in self.vocab})


class WordLM(LanguageModel):
    """Word-level language model (see the module docstring); ``max_vocab`` caps the vocabulary
    (the three special tokens included), the rarer words becoming ``UNKNOWN_TOKEN``."""

    level = "word"
    _unit = "token"

    def __init__(self, cell: str = "lstm", hidden_size: int = 256, num_layers: int = 2,
                 embedding_dim: int | None = None, dropout: float = 0.0, seed: int = 0,
                 dtype: str = "float32", max_vocab: int | None = None, tie_weights: bool = False):
        super().__init__(cell, hidden_size, num_layers, embedding_dim, dropout, seed, dtype, tie_weights)
        self.max_vocab = check_optional_int("max_vocab", max_vocab, low=1)

    @staticmethod
    def _sentences(text: str) -> list[list[str]]:
        return [words for words in map(tokenize_words, split_sentences(text)) if words]

    def _build_vocab(self, text: str) -> Vocab:
        sentences = self._sentences(text)
        if not sentences:
            raise ValueError("the text has no words to build a vocabulary from")
        return WordVocab.from_sentences(sentences, max_size=self.max_vocab)

    def _vocab_from_list(self, tokens: list[str]) -> Vocab:
        return WordVocab.from_list(tokens)

    def _tokens(self, text: str) -> list[str]:
        stream: list[str] = []
        for words in self._sentences(text):
            stream += [SENTENCE_START, *words, SENTENCE_END]
        return stream

    def _prime_tokens(self, prime: str) -> list[str]:
        stream = self._tokens(prime)
        if stream:
            stream.pop()  # the last sentence stays open, for the model to continue
        return stream or [SENTENCE_START]

    def unknown_tokens(self, text: str) -> list[str]:
        """The words of ``text`` that the model's vocabulary lacks (that read as ``UNKNOWN_TOKEN``),
        most frequent first, as many as ``max_vocab`` leaves room for."""
        self._require_model()
        vocab = self.vocab
        counts = Counter(w for words in self._sentences(_check_text(text)) for w in words if w not in vocab)
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
        room = None if self.max_vocab is None else max(0, self.max_vocab - len(vocab))
        return ranked if room is None else ranked[:room]

    def _renderer(self, at_line_start: bool) -> Callable[[int], str]:
        tokens = self.vocab.to_list()
        state = {"start": at_line_start}

        def render(i: int) -> str:
            token = tokens[i]
            if token == SENTENCE_START:
                return ""
            if token == SENTENCE_END:
                state["start"] = True
                return "\n"
            piece = token if state["start"] else " " + token
            state["start"] = False
            return piece

        return render


def _infer_level(tokens: list[str]) -> str | None:
    if tuple(tokens[:3]) == WordVocab.SPECIALS:
        return "word"
    if all(len(t) == 1 for t in tokens):
        return "char"
    return None


def load_language_model(path: str | os.PathLike) -> LanguageModel:
    """The CharLM or WordLM saved in ``path`` (by ``save`` or by ``fit(checkpoint_dir=...)``).

    A missing file raises FileNotFoundError; a file that is not a scratchrnn checkpoint, or one
    that holds no language model (no model configuration, no vocabulary, a model that does not
    predict the next token over that vocabulary), raises ValueError naming the file.
    """
    checkpoint = load_checkpoint(path)
    name = str(path)
    config = checkpoint.config or {}
    model_cfg, tokens = config.get("model"), checkpoint.vocab
    if not isinstance(model_cfg, dict) or not tokens:
        raise ValueError(f"{name} is a scratchrnn checkpoint but not a language model "
                         "(it has no model configuration or no vocabulary)")
    lm_info = config.get("lm") if isinstance(config.get("lm"), dict) else {}
    level = lm_info.get("level") or _infer_level(tokens)
    if level not in LEVELS:
        raise ValueError(f"{name} holds a vocabulary that is neither characters nor words "
                         f"(level {level!r}); expected one of {', '.join(LEVELS)}")
    cls = CharLM if level == "char" else WordLM
    try:
        mc = ModelConfig.from_dict(model_cfg)
        if mc.vocab_size != len(tokens) or mc.head != "all" or mc.bidirectional \
                or mc.output_size not in (None, mc.vocab_size):
            raise ValueError(f"the model (vocab_size {mc.vocab_size}, head {mc.head!r}, output_size "
                             f"{mc.output_size}, bidirectional={mc.bidirectional}) is not a left-to-right "
                             f"next-token model over the vocabulary of {len(tokens)}")
        train_cfg = config.get("train") if isinstance(config.get("train"), dict) else {}
        seed = lm_info.get("seed", train_cfg.get("seed", 0))
        kwargs = {"max_vocab": lm_info.get("max_vocab")} if cls is WordLM else {}
        lm = cls(cell=mc.cell, hidden_size=mc.hidden_size, num_layers=mc.num_layers,
                 embedding_dim=mc.embedding_dim, dropout=mc.dropout, seed=seed, dtype=mc.dtype,
                 tie_weights=mc.tie_weights, **kwargs)
        lm.vocab = lm._vocab_from_list(tokens)
        lm._fit_record = lm_info.get("fit") if isinstance(lm_info.get("fit"), dict) else None
        check_weights("SequenceModel", model_cfg, checkpoint.params)  # before building allocates
        model = SequenceModel(mc, rng=seed)
        model.load_state_dict(checkpoint.params, strict=True)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc
    lm.model = model
    evals = (checkpoint.extra or {}).get("evals", []) if isinstance(checkpoint.extra, dict) else []
    lm.history = History(steps=list(checkpoint.history or []), evals=list(evals))
    if train_cfg:
        try:
            lm.train_config = TrainConfig(**train_cfg)
        except TypeError:  # a configuration from another version: the weights still load
            lm.train_config = None
    return lm
