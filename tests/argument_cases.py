"""The table behind the argument sweep of test_checks.py: the public constructors and functions of
the numeric modules (nn, optim, losses, functional, data.sequences, data.synthetic, sample, trace,
gradcheck and the task configs), each argument with its kind, and for every kind the bad values that
must raise ValueError naming the argument and the numpy scalars that must be accepted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scratchrnn import functional, init, losses, sample, trace
from scratchrnn.checks import MAX_SIZE
from scratchrnn.data import sequences, synthetic
from scratchrnn.data.text import WordVocab
from scratchrnn.gradcheck import checker, matrix, truncated
from scratchrnn.nn import GRU, LSTM, RNN, Embedding, GRUCell, Linear, LSTMCell, RNNCell, reference, workspace
from scratchrnn.nn.linear import embedding_param_shapes, linear_param_shapes
from scratchrnn.nn.model import ModelConfig, SequenceModel, check_cell
from scratchrnn.nn.module import check_weights_fit
from scratchrnn.nn.recurrent import recurrent_param_shapes
from scratchrnn.optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    CosineLR,
    HalveOnIncrease,
    LRSchedule,
    PlainRprop,
    RMSprop,
    Rprop,
    StepLR,
    clip_by_value,
    clip_grad_norm,
    clip_per_param_norm,
    global_norm,
    make_optimizer,
    optimizer_options,
)
from scratchrnn.tasks import addition, binary_to_decimal, hello, sine, word_baselines, word_lm

NAN, INF = float("nan"), float("inf")


@dataclass(frozen=True)
class Kind:
    bad: tuple  # each must raise ValueError naming the argument
    good: tuple = ()  # numpy scalars standing for Python values: each must be accepted


COMMON = ("3", [3], {"a": 3})  # a string, a list and a dict are never a number
KINDS = {
    "size": Kind(
        COMMON + (None, 2.5, 0, -1, NAN, INF, True, MAX_SIZE + 1), (np.int64(3), np.int32(2), np.uint8(2))
    ),
    "count": Kind(COMMON + (None, 2.5, 1.0, 0, -1, NAN, True), (np.int64(3), np.uint16(2))),  # >= 1, no limit
    "count0": Kind(COMMON + (None, 2.5, -1, NAN, True), (np.int64(3), np.int8(0))),  # >= 0
    "optional_size": Kind(COMMON + (2.5, 0, -1, NAN, True, MAX_SIZE + 1), (np.int64(2),)),
    "optional_count0": Kind(COMMON + (2.5, -1, NAN, True), (np.int64(2), np.int32(0))),
    "integer": Kind(COMMON + (None, 1.5, True)),
    "optional_integer": Kind(COMMON + (1.5, True), (np.int64(1),)),
    "real": Kind(COMMON + (None, NAN, INF, True), (np.float32(0.5), np.float64(0.5), np.int64(1))),
    "real_or_inf": Kind(COMMON + (None, NAN, True), (np.float32(0.5), np.float64(-INF))),
    "nonnegative": Kind(
        COMMON + (None, NAN, INF, -1.0, True), (np.float32(0.5), np.float64(0.0), np.int64(1))
    ),
    "positive": Kind(COMMON + (None, NAN, INF, -1.0, 0.0, True), (np.float32(0.5), np.int64(1))),
    "probability": Kind(COMMON + (None, NAN, -0.1, 1.0, True), (np.float32(0.25), np.float64(0.0))),
    "unit": Kind(COMMON + (None, NAN, -0.1, 1.5, True), (np.float32(0.5), np.float64(1.0))),  # [0, 1]
    "open_unit": Kind(COMMON + (None, NAN, 0.0, 1.0, True), (np.float32(0.5),)),  # (0, 1)
    "above_one": Kind(COMMON + (None, NAN, INF, 1.0, 0.5, True), (np.float32(1.5),)),
    "top_p": Kind(COMMON + (NAN, 0.0, 1.5, True), (np.float32(0.5), np.float64(1.0))),  # None or (0, 1]
    "metric": Kind(COMMON + (None, True), (np.float32(1.5), np.float64(NAN))),  # any real, NaN too
    "optional_metric": Kind(COMMON + (True,), (np.float32(1.5), np.float64(NAN))),
    "flag": Kind(("yes", None, 1, 0, 1.0, [True]), (np.bool_(True), np.bool_(False))),
    "optional_flag": Kind(("yes", 1, 0, 1.0, [True]), (np.bool_(True), np.bool_(False))),
    "dtype": Kind(("bogus", None, 3, np.int64, "float16", [np.float32]), (np.float64, np.dtype("float32"))),
    "numeric_dtype": Kind(("bogus", None, 3.5, np.str_), (np.int8, np.dtype("float64"))),
    "choice": Kind(("bogus", None, 3, ["x"])),
    "name": Kind(("", None, 3, ["x"])),  # any non-empty string
    "rng": Kind(("0", -1, 2.5, True, [0], np.random.RandomState(0)), (np.int64(3), np.uint32(0))),
    "generator": Kind(("0", None, 3, np.random.RandomState(0))),  # a numpy Generator and nothing else
    "pair": Kind(("0.5", 0.5, None, (0.5,), (0.5, 1.2, 2.0), (0.5, "x"), (NAN, 0.5))),
    "callable": Kind(("print", 3, [print])),
    "text": Kind((None, 3, b"hello", ["h", "e"])),
    "token_ids": Kind(("3", 1.5, True, None, [[1]], 7, -1, [0.5]), (np.int64(1), np.uint8(0))),
}


@dataclass(frozen=True)
class Case:
    name: str
    call: Callable  # call(**{argument: value}) with every other argument valid
    args: dict[str, str]  # argument -> kind
    names: dict[str, str] = field(default_factory=dict)  # argument -> how the message names it
    good: dict[str, tuple] = field(default_factory=dict)  # argument -> numpy values instead of the kind's

    def good_values(self, arg: str) -> tuple:
        return self.good.get(arg, KINDS[self.args[arg]].good)


def with_defaults(fn: Callable, *args, **defaults) -> Callable:
    """``call(**kw)``: fn(*args, **defaults updated by kw)."""
    return lambda **kw: fn(*args, **{**defaults, **kw})


# -- what the calls need: small arrays and models, made afresh where a call changes them ----------
def params():
    return {"w": np.zeros(3), "b": np.ones(2)}


def grads():
    return {"w": np.ones(3), "b": np.ones(2)}


def token_model(**kw):
    return SequenceModel(ModelConfig(vocab_size=5, hidden_size=4, dtype="float64", **kw), rng=0)


LOGITS = np.array([[0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 0.0, 0.0, 0.0]])  # (2, 5)
X = np.random.default_rng(0).standard_normal((4, 2, 3))  # (T, B, F)


def rnn_forward(**kw):
    layer = RNN(3, 4, num_layers=2, dropout=0.5, dtype=np.float64, rng=0)
    return layer.forward(X, **kw)


def rnn_backward(**kw):
    layer = RNN(3, 4, dtype=np.float64, rng=0)
    out, _, cache = layer.forward(X)
    return layer.backward(np.ones_like(out), None, cache, **kw)


def reference_backward(**kw):
    p = RNN(3, 4, dtype=np.float64, rng=0).params
    out, _, cache = reference.forward("rnn", p, X)
    return reference.backward(cache, p, np.ones_like(out), **kw)


def word_task():
    """A model over a tiny word vocabulary, and the vocabulary, for the word-lm functions."""
    vocab = WordVocab.from_sentences([["the", "king", "."], ["my", "lord", "."]])
    cfg = word_lm.Config(hidden_size=3, vocab_size=len(vocab))
    return word_lm.build_model(cfg, len(vocab)), vocab


def check_gradients(**kw):
    p = {"w": np.array([1.0, 2.0])}
    return checker.check_gradients(lambda q: float(np.sum(q["w"] ** 2)), p, {"w": 2 * p["w"]}, **kw)


def numerical_gradient(**kw):
    return checker.numerical_gradient(lambda q: float(np.sum(q["w"] ** 2)), {"w": np.array([1.0])}, **kw)


def truncated_objective(**kw):
    layer = RNN(3, 4, dtype=np.float64, rng=0)
    return truncated.truncated_objective(layer, X, **{"loss": lambda out, h_n: float(out.sum()), **kw})


SHARED_RECURRENT = dict(
    input_size="size",
    hidden_size="size",
    num_layers="size",
    bias="flag",
    batch_first="flag",
    dropout="probability",
    bidirectional="flag",
    dtype="dtype",
    rng="rng",
)
MODEL_FIELDS = dict(
    cell="choice",
    vocab_size="optional_size",
    embedding_dim="optional_size",
    hidden_size="size",
    num_layers="size",
    nonlinearity="choice",
    bias="flag",
    dropout="probability",
    bidirectional="flag",
    output_size="optional_size",
    head="choice",
    head_bias="flag",
    dtype="dtype",
)
SAMPLING = dict(temperature="nonnegative", top_k="optional_size", top_p="top_p")
CHOICE_WORDS = {"nonlinearity": "nonlinearity", "cell": "cell"}

CASES = [
    # -- nn ------------------------------------------------------------------------------------------
    Case(
        "Linear",
        with_defaults(Linear, in_features=3, out_features=2),
        dict(in_features="size", out_features="size", bias="flag", dtype="dtype", rng="rng"),
    ),
    Case(
        "Embedding",
        with_defaults(Embedding, num_embeddings=5, embedding_dim=2),
        dict(num_embeddings="size", embedding_dim="size", dtype="dtype", rng="rng"),
    ),
    Case(
        "RNN",
        with_defaults(RNN, input_size=3, hidden_size=4),
        {**SHARED_RECURRENT, "nonlinearity": "choice"},
        names=CHOICE_WORDS,
    ),
    Case("LSTM", with_defaults(LSTM, input_size=3, hidden_size=4), SHARED_RECURRENT),
    Case("GRU", with_defaults(GRU, input_size=3, hidden_size=4), SHARED_RECURRENT),
    Case("RNNCell", with_defaults(RNNCell, input_size=3, hidden_size=4),
         dict(input_size="size", hidden_size="size", bias="flag", nonlinearity="choice", dtype="dtype",
              rng="rng"), names=CHOICE_WORDS),
    Case("LSTMCell", with_defaults(LSTMCell, input_size=3, hidden_size=4),
         dict(input_size="size", hidden_size="size", bias="flag", dtype="dtype", rng="rng")),
    Case("GRUCell", with_defaults(GRUCell, input_size=3, hidden_size=4),
         dict(input_size="size", hidden_size="size", bias="flag", dtype="dtype", rng="rng")),
    Case("RNN.forward", rnn_forward, dict(rng="rng")),
    Case("RNN.backward", rnn_backward, dict(truncate="optional_count0")),
    Case("RNN.initial_state", lambda **kw: RNN(3, 4).initial_state(**kw), dict(batch_size="size")),
    Case(
        "RecurrentStepper.initial_state",
        lambda **kw: LSTM(3, 4).stepper().initial_state(**kw),
        dict(batch_size="size"),
    ),
    Case(
        "RecurrentStepper.session",
        lambda **kw: GRU(3, 4).stepper().session(np.zeros((1, 2, 4), np.float32), **{"tokens": False, **kw}),
        dict(tokens="flag"),
    ),
    Case("Module.train", lambda **kw: Linear(3, 2).train(**kw), dict(mode="flag")),
    Case(
        "Module.load_state_dict",
        lambda **kw: Linear(3, 2, rng=0).load_state_dict(Linear(3, 2, rng=1).state_dict(), **kw),
        dict(strict="flag"),
    ),
    Case("ModelConfig", with_defaults(ModelConfig, vocab_size=5), MODEL_FIELDS, names=CHOICE_WORDS),
    Case(
        "ModelConfig dense",
        with_defaults(ModelConfig, vocab_size=None, input_size=3, output_size=2),
        dict(input_size="optional_size"),
    ),
    Case(
        "SequenceModel",
        lambda **kw: SequenceModel(ModelConfig(vocab_size=5, hidden_size=4), **kw),
        dict(rng="rng"),
    ),
    Case("SequenceModel.init_state", lambda **kw: token_model().init_state(**kw), dict(batch_size="size")),
    Case(
        "workspace.empty",
        with_defaults(workspace.empty, shape=(2, 3), dtype=np.float32),
        dict(dtype="numeric_dtype"),
    ),
    Case(
        "workspace.zeros",
        with_defaults(workspace.zeros, shape=(2, 3), dtype=np.float32),
        dict(dtype="numeric_dtype"),
    ),
    Case("reference.backward", reference_backward, dict(truncate="optional_count0")),
    Case(
        "recurrent_param_shapes",
        with_defaults(recurrent_param_shapes, gates=4, input_size=3, hidden_size=2),
        dict(
            gates="size",
            input_size="size",
            hidden_size="size",
            num_layers="size",
            bias="flag",
            bidirectional="flag",
        ),
    ),
    Case(
        "linear_param_shapes",
        with_defaults(linear_param_shapes, in_features=3, out_features=2),
        dict(in_features="size", out_features="size", bias="flag"),
    ),
    Case(
        "embedding_param_shapes",
        with_defaults(embedding_param_shapes, num_embeddings=3, embedding_dim=2),
        dict(num_embeddings="size", embedding_dim="size"),
    ),
    Case(
        "check_weights_fit",
        with_defaults(check_weights_fit, shapes={"w": (2, 3)}, dtype=np.float32, what="w"),
        dict(dtype="dtype"),
    ),
    Case(
        "reference.get_cell",
        with_defaults(reference.get_cell, name="rnn"),
        dict(name="choice", nonlinearity="choice"),
        names={"name": "cell", "nonlinearity": "nonlinearity"},
    ),
    Case(
        "init.uniform",
        with_defaults(init.uniform, shape=(2, 3), bound=0.5, rng=np.random.default_rng(0)),
        dict(bound="nonnegative", rng="generator", dtype="dtype"),
    ),
    Case(
        "init.normal",
        with_defaults(init.normal, shape=(2, 3), std=1.0, rng=np.random.default_rng(0)),
        dict(std="nonnegative", rng="generator", dtype="dtype"),
    ),
    # -- optim ---------------------------------------------------------------------------------------
    Case(
        "SGD",
        lambda **kw: SGD(params(), **{"momentum": 0.5, **kw}),
        dict(
            lr="nonnegative",
            momentum="nonnegative",
            dampening="unit",
            nesterov="flag",
            weight_decay="nonnegative",
        ),
        good={"nesterov": (np.bool_(False),), "dampening": (np.float32(0.5),)},
    ),
    Case(
        "Adagrad",
        lambda **kw: Adagrad(params(), **kw),
        dict(
            lr="nonnegative",
            lr_decay="nonnegative",
            weight_decay="nonnegative",
            initial_accumulator_value="nonnegative",
            eps="nonnegative",
        ),
    ),
    Case(
        "RMSprop",
        lambda **kw: RMSprop(params(), **kw),
        dict(
            lr="nonnegative",
            alpha="unit",
            eps="nonnegative",
            weight_decay="nonnegative",
            momentum="nonnegative",
            centered="flag",
        ),
    ),
    Case(
        "Adam",
        lambda **kw: Adam(params(), **kw),
        dict(
            lr="nonnegative",
            betas="pair",
            eps="nonnegative",
            weight_decay="nonnegative",
            amsgrad="flag",
            decoupled_weight_decay="flag",
        ),
        good={"betas": ((np.float32(0.9), np.float64(0.99)),)},
    ),
    Case(
        "AdamW",
        lambda **kw: AdamW(params(), **kw),
        dict(lr="nonnegative", betas="pair", eps="nonnegative", weight_decay="nonnegative", amsgrad="flag"),
        good={"betas": ((np.float32(0.9), np.float64(0.99)),)},
    ),
    Case(
        "Rprop",
        lambda **kw: Rprop(params(), **kw),
        dict(lr="nonnegative", etas="pair", step_sizes="pair"),
        good={
            "etas": ((np.float32(0.5), np.float64(1.2)),),
            "step_sizes": ((np.float32(1e-6), np.int64(50)),),
        },
    ),
    Case(
        "PlainRprop",
        lambda **kw: PlainRprop(params(), **kw),
        dict(init_step="positive", eta_plus="above_one", eta_minus="open_unit", sign_rule="choice"),
    ),
    Case(
        "make_optimizer",
        lambda **kw: make_optimizer(**{"name": "adam", "params": params(), **kw}),
        dict(name="choice"),
        names={"name": "optimizer"},
    ),
    Case(
        "optimizer_options",
        lambda **kw: optimizer_options(**{"name": "adam", **kw}),
        dict(name="choice"),
        names={"name": "optimizer"},
    ),
    Case(
        "LRSchedule",
        lambda **kw: LRSchedule(SGD(params(), lr=0.1), **{"kind": "cosine", "total_steps": 10, **kw}),
        dict(kind="choice", total_steps="count", warmup="count0", gamma="open_unit", patience="count0",
             min_lr="nonnegative"),
        names={"kind": "learning-rate schedule"},
        good={"min_lr": (np.float32(0.05),), "total_steps": (np.int64(10),)},
    ),
    Case(
        "StepLR",
        lambda **kw: StepLR(SGD(params(), lr=0.1), **{"step_size": 2, **kw}),
        dict(step_size="count", gamma="positive"),
    ),
    Case(
        "CosineLR",
        lambda **kw: CosineLR(SGD(params(), lr=0.1), **{"total_steps": 10, **kw}),
        dict(total_steps="count", min_lr="nonnegative", warmup="count0"),
        good={"min_lr": (np.float32(0.05),), "total_steps": (np.int64(10),)},
    ),
    Case(
        "HalveOnIncrease",
        lambda **kw: HalveOnIncrease(SGD(params(), lr=0.1), **kw),
        dict(factor="open_unit", min_lr="nonnegative"),
    ),
    Case(
        "HalveOnIncrease.step",
        lambda **kw: HalveOnIncrease(SGD(params(), lr=0.1)).step(**kw),
        dict(metric="metric"),
    ),
    Case(
        "clip_by_value",
        lambda **kw: clip_by_value(grads(), **{"min_value": -1.0, "max_value": 1.0, **kw}),
        dict(min_value="real_or_inf", max_value="real_or_inf"),
        good={
            "min_value": (np.float32(-0.5), np.float64(-INF)),
            "max_value": (np.float32(0.5), np.float64(INF)),
        },
    ),
    Case(
        "clip_grad_norm",
        lambda **kw: clip_grad_norm(grads(), **{"max_norm": 1.0, **kw}),
        dict(max_norm="nonnegative", eps="nonnegative", norm="optional_metric"),
    ),
    Case(
        "clip_per_param_norm",
        lambda **kw: clip_per_param_norm(grads(), **{"max_norm": 1.0, **kw}),
        dict(max_norm="nonnegative", eps="nonnegative"),
    ),
    Case("global_norm", lambda **kw: global_norm(**{"grads": grads(), **kw}), dict(grads="choice")),
    # -- losses and functional -----------------------------------------------------------------------
    Case("mse", lambda **kw: losses.mse(np.zeros(3), np.ones(3), **kw), dict(reduction="choice")),
    Case("pinball", lambda **kw: losses.pinball(np.zeros((2, 2)), np.ones((2, 1)), (0.1, 0.9), **kw),
         dict(reduction="choice")),
    Case(
        "bce_with_logits",
        lambda **kw: losses.bce_with_logits(np.zeros(3), np.ones(3), **kw),
        dict(reduction="choice"),
    ),
    Case(
        "cross_entropy",
        lambda **kw: losses.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), **kw),
        dict(reduction="choice", ignore_index="optional_integer"),
    ),
    Case("softmax", lambda **kw: functional.softmax(np.zeros((2, 3)), **kw), dict(axis="integer")),
    Case("log_softmax", lambda **kw: functional.log_softmax(np.zeros((2, 3)), **kw), dict(axis="integer")),
    Case(
        "one_hot",
        lambda **kw: functional.one_hot(np.array([0, 1]), **{"num_classes": 3, **kw}),
        dict(num_classes="size", dtype="numeric_dtype"),
    ),
    Case(
        "index_add_rows",
        lambda **kw: functional.index_add_rows(np.array([0, 1]), np.ones((2, 3)), **{"num": 2, **kw}),
        dict(num="size"),
    ),
    Case(
        "get_activation",
        lambda **kw: functional.get_activation(**kw),
        dict(name="choice"),
        names={"name": "nonlinearity"},
    ),
    # -- data ----------------------------------------------------------------------------------------
    Case(
        "SequenceData",
        lambda **kw: sequences.SequenceData(np.zeros((3, 2, 1)), np.zeros((3, 2, 1)), **kw),
        dict(per_step="optional_flag"),
        good={"per_step": (np.bool_(True),)},
    ),
    Case("check_cell", lambda **kw: check_cell(**kw), dict(cell="choice")),
    Case(
        "BucketedData",
        lambda **kw: sequences.BucketedData(np.zeros((3, 2, 1)), np.zeros(2, int), [1, 3],
                                            **{"batch_size": 2, **kw}),
        dict(batch_size="size", seed="count0"),
    ),
    Case(
        "pad_sequences",
        lambda **kw: sequences.pad_sequences([np.zeros((2, 1)), np.ones((1, 1))], **kw),
        dict(batch_first="flag"),
    ),
    Case(
        "TokenStream",
        lambda **kw: sequences.TokenStream(np.arange(100), **{"batch_size": 2, "window": 5, **kw}),
        dict(batch_size="size", window="size"),
    ),
    Case(
        "TokenStream.window_at",
        lambda **kw: sequences.TokenStream(np.arange(100), 2, 5).window_at(**kw),
        dict(i="integer"),
        names={"i": "window index"},
        good={"i": (np.int64(1), np.int8(-1))},
    ),
    Case(
        "int_to_bits",
        with_defaults(synthetic.int_to_bits, values=np.array([1, 2]), bits=4),
        dict(bits="size", lsb_first="flag", dtype="dtype"),
    ),
    Case(
        "bits_to_int",
        with_defaults(synthetic.bits_to_int, bits_array=np.array([[1], [0]])),
        dict(lsb_first="flag"),
    ),
    Case(
        "binary_numbers",
        with_defaults(synthetic.binary_numbers, n=3, bits=4, rng=0),
        dict(n="count", bits="size", rng="rng", dtype="dtype"),
    ),
    Case(
        "all_binary_numbers",
        with_defaults(synthetic.all_binary_numbers, bits=3),
        dict(bits="size", dtype="dtype"),
    ),
    Case(
        "addition_pairs",
        with_defaults(synthetic.addition_pairs, n=3, bits=4, rng=0),
        dict(n="count", bits="size", rng="rng", max_value="optional_count0", carry_out="flag", dtype="dtype"),
    ),
    Case(
        "all_addition_pairs",
        with_defaults(synthetic.all_addition_pairs, bits=3),
        dict(bits="size", carry_out="flag", dtype="dtype"),
    ),
    Case(
        "sine_windows",
        synthetic.sine_windows,
        dict(n_points="count", window="size", dtype="dtype"),
        good={"n_points": (np.int64(60),)},
    ),
    Case(
        "sine_train_val",
        synthetic.sine_train_val,
        dict(n_points="count", window="size", n_val="count", dtype="dtype"),
        good={"n_points": (np.int64(120),)},
    ),
    # -- sampling ------------------------------------------------------------------------------------
    Case(
        "apply_temperature",
        lambda **kw: sample.apply_temperature(LOGITS, **{"temperature": 1.0, **kw}),
        dict(temperature="nonnegative"),
    ),
    Case("top_k_filter", lambda **kw: sample.top_k_filter(LOGITS, **{"k": 2, **kw}), dict(k="size")),
    Case(
        "top_p_filter", lambda **kw: sample.top_p_filter(LOGITS, **{"top_p": 0.5, **kw}), dict(top_p="top_p")
    ),
    Case(
        "suppress_tokens",
        lambda **kw: sample.suppress_tokens(LOGITS, **{"ids": [1], **kw}),
        dict(ids="token_ids"),
    ),
    Case("check_sampling_options", sample.check_sampling_options, SAMPLING),
    Case(
        "sample_next", lambda **kw: sample.sample_next(LOGITS, **{"rng": 0, **kw}), {**SAMPLING, "rng": "rng"}
    ),
    Case(
        "generate",
        lambda **kw: sample.generate(token_model(), np.array([1, 2]), **{"length": 3, "rng": 0, **kw}),
        {**SAMPLING, "length": "count0", "rng": "rng", "on_token": "callable"},
    ),
    Case(
        "beam_search",
        lambda **kw: sample.beam_search(token_model(), np.array([1, 2]), **{"length": 3, "beam": 2, **kw}),
        dict(length="count0", beam="size"),
    ),
    # -- the tasks, trace and gradcheck ---------------------------------------------------------------
    Case("hello.Config", hello.Config, dict(hidden_size="size", steps="count", lr="positive", seed="count0")),
    Case("hello.encode", lambda **kw: hello.encode(**{"text": "hello", **kw}), dict(text="text")),
    Case(
        "sine.Config",
        sine.Config,
        dict(
            n_points="count",
            window="size",
            n_val="count",
            target_rmse="positive",
            hidden_size="size",
            cell="choice",
            truncate="optional_count0",
            clip_value="positive",
            epochs="count",
            batch_size="size",
            lr="positive",
            horizon="count0",
            seed="count0",
            dtype="dtype",
        ),
        good={"n_points": (np.int64(200),), "window": (np.int64(50),), "n_val": (np.int64(50),)},
    ),
    Case(
        "sine.forecast",
        lambda **kw: sine.forecast(
            sine.build_model(sine.Config(hidden_size=3)), np.zeros(5), **{"horizon": 2, **kw}
        ),
        dict(horizon="count0"),
    ),
    Case(
        "addition.Config",
        addition.Config,
        dict(
            hidden_size="size",
            cell="choice",
            bits="size",
            train_pairs="count",
            batch_size="size",
            steps="count",
            lr="positive",
            seed="count0",
            test_bits="size",
            test_pairs="count",
            dtype="dtype",
        ),
        good={"bits": (np.int64(8),), "test_bits": (np.int64(32),)},
    ),
    Case(
        "addition.add",
        lambda **kw: addition.add(
            addition.build_model(addition.Config(hidden_size=2)),
            np.array([1]),
            np.array([2]),
            **{"bits": 3, **kw},
        ),
        dict(bits="size"),
    ),
    Case(
        "binary_to_decimal.Config",
        binary_to_decimal.Config,
        dict(
            samples="count",
            bits="size",
            iterations="count",
            tolerance="nonnegative",
            init_step="positive",
            eta_plus="above_one",
            eta_minus="open_unit",
            test_bits="size",
            test_samples="count",
            seed="count0",
        ),
        good={"bits": (np.int64(8),), "test_bits": (np.int64(24),)},
    ),
    Case(
        "word_lm.Config",
        word_lm.Config,
        dict(
            vocab_size="size",
            min_words="count",
            max_tokens="count",
            max_sentences="optional_count0",
            val_fraction="open_unit",
            heldout_fraction="open_unit",
            cell="choice",
            hidden_size="size",
            truncate="optional_count0",
            optimizer="choice",
            lr="positive",
            sum_loss="optional_flag",
            halve_on_increase="flag",
            epochs="count",
            batch_tokens="size",
            top_k="size",
            greedy_tokens="count",
            num_sentences="count",
            min_sample_words="count",
            max_sample_tokens="count",
            max_sample_attempts="count",
            beat_bigram="flag",
            seed="count0",
            dtype="dtype",
        ),
        good={
            "vocab_size": (np.int64(100),),
            "min_words": (np.int64(3),),
            "max_tokens": (np.int64(40),),
            "max_sentences": (np.int64(50),),
            "sum_loss": (np.bool_(True),),
            "max_sample_attempts": (np.int64(20),),
            "max_sample_tokens": (np.int64(60),),
            "num_sentences": (np.int64(10),),
        },
    ),
    Case(
        "word_lm.SentenceBatches",
        lambda **kw: word_lm.SentenceBatches([np.array([0, 1, 2])] * 3, **{"batch_tokens": 4, **kw}),
        dict(batch_tokens="size", pad_id="count0"),
    ),
    Case(
        "word_baselines.unigram_probs",
        lambda **kw: word_baselines.unigram_probs(np.array([0, 1]), **{"vocab_size": 3, **kw}),
        dict(vocab_size="size"),
    ),
    Case(
        "word_baselines.bigram_probs",
        lambda **kw: word_baselines.bigram_probs(
            np.array([0]),
            np.array([1]),
            np.array([0]),
            np.array([1]),
            np.full(3, 1 / 3),
            **{"lam": 0.5, **kw},
        ),
        dict(lam="unit"),
    ),
    Case(
        "word_baselines.baseline_perplexities",
        lambda **kw: word_baselines.baseline_perplexities(
            [np.array([1, 3, 2])] * 4, [np.array([1, 3, 2])], **{"vocab_size": 4, "start_id": 1, **kw}
        ),
        dict(vocab_size="size", start_id="count0", heldout_fraction="open_unit"),
        good={"vocab_size": (np.int64(4),), "start_id": (np.int64(1),)},
    ),
    Case(
        "word_lm.greedy_examples",
        lambda **kw: word_lm.greedy_examples(*word_task(), ["the king"], **kw),
        dict(top_k="count", max_tokens="count"),
    ),
    Case(
        "word_lm.sample_sentences",
        lambda **kw: word_lm.sample_sentences(
            *word_task(), **{"n": 1, "rng": 0, "min_words": 1, "max_attempts": 5, **kw}
        ),
        dict(n="count", min_words="count", max_tokens="count", max_attempts="count", rng="rng"),
        good={"max_attempts": (np.int64(5),)},
    ),
    Case(
        "trace.char_model_config",
        with_defaults(trace.char_model_config, vocab_size=4, hidden_size=3),
        dict(vocab_size="size", hidden_size="size", nonlinearity="choice", bias="flag", cell="choice",
             num_layers="size"),
        names=CHOICE_WORDS,
    ),
    Case(
        "trace.build_char_model",
        with_defaults(trace.build_char_model, vocab_size=4, hidden_size=3),
        dict(vocab_size="size", hidden_size="size", nonlinearity="choice", bias="flag", cell="choice",
             num_layers="size", rng="rng"),
        names=CHOICE_WORDS,
    ),
    Case(
        "trace.build_dense_model",
        with_defaults(trace.build_dense_model, input_size=2, output_size=3, hidden_size=3),
        dict(input_size="size", output_size="size", hidden_size="size", nonlinearity="choice", bias="flag",
             cell="choice", num_layers="size", rng="rng"),
        names=CHOICE_WORDS,
    ),
    Case(
        "trace.trace_step",
        lambda **kw: trace.trace_step(trace.build_char_model(4, 3), [0, 1], [1, 2], **kw),
        dict(lr="real"),
    ),
    Case("numerical_gradient", numerical_gradient, dict(eps="positive")),
    Case(
        "check_gradients",
        check_gradients,
        dict(eps="positive", atol="nonnegative", rtol="nonnegative", max_entries="optional_size", rng="rng"),
        good={"atol": (np.float32(1e-5), np.int64(0))},
    ),
    Case(
        "GradcheckConfig",
        matrix.GradcheckConfig,
        dict(
            cell="name",
            nonlinearity="choice",
            bias="flag",
            num_layers="size",
            bidirectional="flag",
            loss="choice",
            truncate="optional_count0",
            seq_len="size",
            batch="size",
            input_size="size",
            hidden_size="size",
            out_size="size",
            check_inputs="flag",
        ),
        names=CHOICE_WORDS,
    ),
    Case(
        "check_config",
        lambda **kw: matrix.check_config(matrix.GradcheckConfig(seq_len=2, hidden_size=2), **kw),
        dict(eps="positive", atol="nonnegative", rtol="nonnegative", max_entries="optional_size"),
        good={"eps": (np.float64(1e-6),), "atol": (np.float32(1e-5),)},
    ),
    Case("matrix_configs", matrix.matrix_configs, dict(quick="flag")),
    Case(
        "run_matrix",
        matrix.run_matrix,
        dict(quick="flag", eps="positive", atol="nonnegative", rtol="nonnegative"),
        good={k: () for k in ("quick", "eps", "atol", "rtol")},
    ),  # a good value runs the whole matrix
    Case(
        "truncated_objective",
        truncated_objective,
        dict(truncate="optional_count0", loss="callable"),
        good={"loss": ()},
    ),
]


# -- what the sweep scans: every public function and class of these modules is a case above, or is
# named here with why it has no argument of its own to sweep
SCANNED = (
    "nn",
    "nn.model",
    "nn.workspace",
    "nn.reference",
    "nn.stepper",
    "nn.recurrent",
    "nn.linear",
    "nn.module",
    "optim",
    "optim.base",
    "losses",
    "functional",
    "data.sequences",
    "data.synthetic",
    "sample",
    "trace",
    "init",
    "gradcheck",
    "tasks.hello",
    "tasks.sine",
    "tasks.addition",
    "tasks.binary_to_decimal",
    "tasks.word_lm",
    "tasks.word_baselines",
)
RESULTS = "a named result or cache, made by the library"
ARRAYS = "arrays and objects only, checked where they are used"
TAKES_CONFIG = "takes a checked config or model, swept through its constructor"
NOTHING_TO_SWEEP = {
    **dict.fromkeys(
        (
            "ModelCache",
            "EmbeddingCache",
            "LinearCache",
            "ParamNames",
            "Cell",
            "GRUStep",
            "LSTMStep",
            "RNNStep",
            "StepGrads",
            "EachCache",
            "Weights",
            "Activation",
            "GradcheckReport",
            "ParamCheck",
            "WordData",
            "ParamVersion",
            "Parameters",
        ),
        RESULTS,
    ),
    **dict.fromkeys(
        (
            "tanh",
            "sigmoid",
            "relu",
            "identity",
            "input_gates",
            "input_grad",
            "input_weight_grad",
            "relayout_rows",
            "step_input_gates",
            "decayed_grad",
            "copy",
            "gru_step",
            "gru_step_backward",
            "lstm_step",
            "lstm_step_backward",
            "rnn_step",
            "rnn_step_backward",
            "best_lambda",
            "count_words",
            "perplexity",
            "target_pairs",
            "load_weights",
            "read_dense_sequence",
            "predict",
            "as_scalar",
            "sum_rows",
            "as_sequences",
            "check_quantiles",
            "best_indices",
        ),
        ARRAYS,
    ),
    **dict.fromkeys(
        (
            "make_recurrent",
            "ModelStepper",
            "RecurrentStepper",
            "run",
            "build_model",
            "model_config",
            "prepare_data",
            "reference.forward",
            "RecurrentBase",
            "Module",
        ),
        TAKES_CONFIG,
    ),
    **dict.fromkeys(
        (
            "SGDConfig",
            "AdagradConfig",
            "RMSpropConfig",
            "AdamConfig",
            "RpropConfig",
            "PlainRpropConfig",
            "Optimizer",
            "check_lr",
        ),
        "an optimizer's own fields, swept through it",
    ),
    "clear": "no arguments",
    "free_bytes": "no arguments",
    "recurrent_cells": "no arguments",
    "hello_model": "no arguments",
    "as_generator": "checks.check_random_state, tested in test_checks",
    "schedule_from_state": "a saved state, checked by the schedule's load_state_dict; tested in "
                           "test_io_schedule_interop",
}
