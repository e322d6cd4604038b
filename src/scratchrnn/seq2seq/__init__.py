"""Sequence to sequence: an encoder-decoder over token ids with optional attention
(:mod:`.model`, :mod:`.attention`) and its decoders (:mod:`.decode`)."""

from .attention import ATTENTION_KINDS, Attention
from .decode import DecoderStepper, Hypothesis, beam_search, greedy, sample
from .model import Seq2Seq, Seq2SeqConfig

__all__ = ["ATTENTION_KINDS", "Attention", "DecoderStepper", "Hypothesis", "Seq2Seq", "Seq2SeqConfig",
           "beam_search", "greedy", "sample"]
