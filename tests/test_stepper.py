"""Steppers (RecurrentBase.stepper, SequenceModel.stepper): stepping a sequence one token at a time
gives the outputs and states of one forward pass over it, with or without a session carrying the
state, whatever a step returned stays as it was, a stepper is a snapshot of the weights,
generation and beam search give the same tokens through the stepper as through forward, and bad
input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from model_wrappers import ForwardOnly
from scratchrnn.nn import GRU, LSTM, RNN
from scratchrnn.nn.model import ModelConfig, ModelStepper, SequenceModel
from scratchrnn.nn.stepper import RecurrentStepper
from scratchrnn.optim import SGD
from scratchrnn.sample import beam_search, generate

ATOL = {np.float64: 1e-12, np.float32: 1e-6}
CELLS = [
    ("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"), ("rnn", "identity"), ("lstm", None), ("gru", None),
]
CLASSES = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
T, B, F, H = 7, 3, 5, 6


def make_layer(cell, nonlinearity, layers, bias, dtype, seed=0, **kw):
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    return CLASSES[cell](F, H, num_layers=layers, bias=bias, dtype=dtype, rng=seed, **extra, **kw)


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def random_state(layer, rng):
    shape = layer.state_shape(B)
    parts = tuple(rng.standard_normal(shape).astype(layer.dtype) for _ in range(layer.STATE_ARITY))
    return parts if layer.STATE_ARITY == 2 else parts[0]


def make_inputs(tokens, dtype, rng, steps=T, size=F):
    if tokens:
        return rng.integers(0, size, (steps, B))  # (T, B) int64 ids
    return rng.standard_normal((steps, B, size)).astype(dtype)  # (T, B, F)


# -- a layer stepped token by token equals one forward pass --------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("tokens", [True, False])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("cell,nonlinearity", CELLS)
def test_layer_steps_equal_forward(cell, nonlinearity, layers, tokens, bias, dtype):
    rng = np.random.default_rng(layers * 10 + tokens)
    layer = make_layer(cell, nonlinearity, layers, bias, dtype).eval()
    x = make_inputs(tokens, dtype, rng)
    h0 = random_state(layer, rng)
    out, h_n, cache = layer.forward(x, h0)
    every = layer.sequence_states(cache)  # tuple of (L, T, B, H): every layer's state at every step
    stepper = layer.stepper()
    state = h0
    for t in range(T):
        out_t, state = stepper.step(x[t], state)
        assert out_t.shape == (B, H) and out_t.dtype == dtype
        np.testing.assert_allclose(out_t, out[t], rtol=0, atol=ATOL[dtype], err_msg=f"output at step {t}")
        for part, seq in zip(as_tuple(state), every, strict=True):
            assert part.dtype == dtype
            np.testing.assert_allclose(part, seq[:, t], rtol=0, atol=ATOL[dtype], err_msg=f"state, step {t}")
    for part, ref in zip(as_tuple(state), as_tuple(h_n), strict=True):
        np.testing.assert_allclose(part, ref, rtol=0, atol=ATOL[dtype])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_no_state_means_zeros_and_the_input_state_is_left_alone(cell):
    rng = np.random.default_rng(1)
    layer = make_layer(cell, "tanh", 2, True, np.float64)
    stepper = layer.stepper()
    x = make_inputs(False, np.float64, rng, steps=1)[0]  # (B, F)
    out_none, st_none = stepper.step(x)
    zeros = stepper.initial_state(B)
    out_zero, st_zero = stepper.step(x, zeros)
    np.testing.assert_array_equal(out_none, out_zero)
    for a, b in zip(as_tuple(st_none), as_tuple(st_zero), strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(not z.any() for z in as_tuple(zeros))  # the state passed in was not written
    h0 = random_state(layer, rng)
    kept = tuple(p.copy() for p in as_tuple(h0))
    out, h1 = stepper.step(x, h0)
    for a, b in zip(as_tuple(h0), kept, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out, as_tuple(h1)[0][-1])  # the output is the top layer's new state
    assert not out.flags.writeable
    assert stepper(x, h0)[0].tolist() == out.tolist()  # calling the stepper is calling step


def test_a_stepper_continues_from_a_forward_state():
    rng = np.random.default_rng(2)
    layer = make_layer("lstm", None, 2, True, np.float64)
    x = make_inputs(True, np.float64, rng)
    out, _, _ = layer.forward(x)
    _, h_mid, _ = layer.forward(x[:4])
    stepper, state = layer.stepper(), h_mid
    for t in range(4, T):
        out_t, state = stepper.step(x[t], state)
        np.testing.assert_allclose(out_t, out[t], rtol=0, atol=1e-12)


def test_training_mode_dropout_is_not_applied():
    rng = np.random.default_rng(3)
    layer = make_layer("gru", None, 3, True, np.float64, dropout=0.5)
    x = make_inputs(False, np.float64, rng)
    layer.eval()
    out, _, _ = layer.forward(x)
    layer.train()
    train_out, _, _ = layer.forward(x)
    assert np.abs(train_out - out).max() > 1e-3  # dropout does change a training-mode forward
    stepper, state = layer.stepper(), None
    for t in range(T):
        out_t, state = stepper.step(x[t], state)
        np.testing.assert_allclose(out_t, out[t], rtol=0, atol=1e-12)


# -- a model stepped token by token equals one forward pass --------------------------------------------------
MODEL_INPUTS = ["one-hot", "embedding", "dense"]


def make_model(cell, inputs, layers=2, bias=True, head="all", dtype="float64", seed=0, **kw):
    V = 9
    if inputs == "dense":
        sizes = dict(input_size=F, output_size=4)
    else:
        sizes = dict(vocab_size=V, embedding_dim=5 if inputs == "embedding" else None)
    cfg = ModelConfig(cell=cell, hidden_size=H, num_layers=layers, bias=bias, head=head, dtype=dtype,
                      **sizes, **kw)
    return SequenceModel(cfg, rng=seed)


def model_inputs(model, rng, steps=T):
    if model.token_input:
        return rng.integers(0, model.config.vocab_size, (steps, B))  # (T, B)
    return rng.standard_normal((steps, B, F)).astype(model.dtype)  # (T, B, F)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("inputs", MODEL_INPUTS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_model_steps_equal_forward(cell, inputs, layers, bias, dtype):
    rng = np.random.default_rng(layers)
    model = make_model(cell, inputs, layers, bias, dtype=dtype, head_bias=bias).eval()
    atol = ATOL[np.dtype(dtype).type]
    x = model_inputs(model, rng)
    h0 = random_state(model.rnn, rng)
    y, h_n, _ = model.forward(x, h0)
    stepper = model.stepper()
    assert isinstance(stepper, ModelStepper)
    h = h0
    for t in range(T):
        logits, h = stepper.step(x[t], h)
        assert logits.shape == (B, model.output_size) and logits.dtype == model.dtype
        np.testing.assert_allclose(logits, y[t], rtol=0, atol=atol, err_msg=f"logits at step {t}")
    for part, ref in zip(as_tuple(h), as_tuple(h_n), strict=True):
        np.testing.assert_allclose(part, ref, rtol=0, atol=atol)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_model_with_last_head_steps_to_the_forward_prediction(cell):
    rng = np.random.default_rng(4)
    model = make_model(cell, "embedding", head="last")
    x = model_inputs(model, rng)
    y, _, _ = model.forward(x)  # (B, O) from the last step
    stepper, h = model.stepper(), None
    for t in range(T):
        logits, h = stepper(x[t], h)
    np.testing.assert_allclose(logits, y, rtol=0, atol=1e-12)


# -- bidirectional layers cannot be stepped ------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_bidirectional_raises(cell):
    with pytest.raises(ValueError, match="bidirectional"):
        make_layer(cell, "tanh", 2, True, np.float64, bidirectional=True).stepper()
    with pytest.raises(ValueError, match="bidirectional"):
        make_model(cell, "one-hot", bidirectional=True).stepper()


# -- a stepper is a snapshot of the weights ------------------------------------------------------------------
def one_step_logits(model, ids, h):
    y, h_next, _ = model.forward(ids[None], h)  # (1, B, O)
    return y[0], h_next


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_stepper_does_not_see_an_optimizer_step_and_a_new_one_does(cell):
    rng = np.random.default_rng(5)
    model = make_model(cell, "embedding").eval()
    x = model_inputs(model, rng)
    ids = x[0]
    h0 = model.init_state(B)
    before, _ = one_step_logits(model, ids, h0)
    old = model.stepper()
    model.train()
    y, _, cache = model.forward(x)
    _, _, grads = model.backward(rng.standard_normal(y.shape), None, cache)
    SGD(model.params, lr=0.5).step(grads)
    model.eval()
    after, _ = one_step_logits(model, ids, h0)
    assert np.abs(after - before).max() > 1e-3  # the update changed the model's predictions
    np.testing.assert_allclose(old.step(ids, h0)[0], before, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.stepper().step(ids, h0)[0], after, rtol=0, atol=1e-12)


@pytest.mark.parametrize("inputs", ["embedding", "one-hot"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_no_parameter_update_reaches_an_existing_stepper(cell, inputs):
    """Each parameter changed in place on its own: the old stepper keeps the old weights, a new one
    follows the change."""
    rng = np.random.default_rng(6)
    model = make_model(cell, inputs).eval()
    ids = model_inputs(model, rng, steps=1)[0]
    h0 = random_state(model.rnn, rng)
    before, _ = one_step_logits(model, ids, h0)
    for name, p in model.params.items():
        old = model.stepper()
        saved = p.copy()
        p += rng.standard_normal(p.shape)  # in place, as optimizers do
        after, h_after = one_step_logits(model, ids, h0)
        assert np.abs(after - before).max() > 1e-6, name
        np.testing.assert_allclose(old.step(ids, h0)[0], before, rtol=0, atol=1e-12, err_msg=name)
        logits, h_new = model.stepper().step(ids, h0)
        np.testing.assert_allclose(logits, after, rtol=0, atol=1e-12, err_msg=name)
        for a, b in zip(as_tuple(h_new), as_tuple(h_after), strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12, err_msg=name)
        np.copyto(p, saved)


def test_a_layer_stepper_is_a_snapshot_too():
    rng = np.random.default_rng(7)
    layer = make_layer("rnn", "tanh", 2, True, np.float64)  # the RNN steps with views of W_hh
    x = make_inputs(False, np.float64, rng, steps=1)
    old = layer.stepper()
    before = layer.forward(x)[0][0].copy()
    layer.load_state_dict({k: v * 0.5 for k, v in layer.params.items()})
    after = layer.forward(x)[0][0]
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(old.step(x[0])[0], before, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.stepper().step(x[0])[0], after, rtol=0, atol=1e-12)


# -- generation is unchanged by the stepper ------------------------------------------------------------------
def count_calls(model, monkeypatch):
    """Count forward calls and steps taken through ``model.stepper()`` (instance attributes)."""
    counts = {"forward": 0, "steppers": 0, "steps": 0}
    forward, make = model.forward, model.stepper

    def counted_forward(*args, **kw):
        counts["forward"] += 1
        return forward(*args, **kw)

    def counted_stepper():
        counts["steppers"] += 1
        inner = make()

        def step(ids, h):
            counts["steps"] += 1
            return inner(ids, h)

        return step

    monkeypatch.setattr(model, "forward", counted_forward, raising=False)
    monkeypatch.setattr(model, "stepper", counted_stepper, raising=False)
    return counts


@pytest.mark.parametrize("options", [dict(temperature=1.0), dict(temperature=0.7, top_k=4, top_p=0.9),
                                     dict(temperature=0)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_generate_gives_the_same_tokens_through_the_stepper(cell, dtype, options, monkeypatch):
    model = make_model(cell, "one-hot", layers=2, dtype=dtype, seed=8)
    expected = generate(ForwardOnly(model), [1, 4, 2], 30, 11, **options)
    expected_batch = generate(ForwardOnly(model), np.array([[1, 2], [3, 4]]), 12, 12, **options)
    counts = count_calls(model, monkeypatch)
    np.testing.assert_array_equal(generate(model, [1, 4, 2], 30, 11, **options), expected)
    batch = generate(model, np.array([[1, 2], [3, 4]]), 12, 12, **options)
    np.testing.assert_array_equal(batch, expected_batch)
    assert counts == {"forward": 2, "steppers": 2, "steps": 29 + 11}  # forward runs only the primes


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_beam_search_gives_the_same_continuation_through_the_stepper(cell, monkeypatch):
    model = make_model(cell, "embedding", layers=2, seed=9)
    expected = beam_search(ForwardOnly(model), [3, 1], 8, 4)
    counts = count_calls(model, monkeypatch)
    np.testing.assert_array_equal(beam_search(model, [3, 1], 8, 4), expected)
    assert counts == {"forward": 1, "steppers": 1, "steps": 7}


class NoisyForward(SequenceModel):
    """Overrides forward only: an inherited stepper would skip the override."""

    def forward(self, x, h0=None, rng=None):
        y, h, cache = super().forward(x, h0, rng)
        return y + np.arange(y.shape[-1]), h, cache  # favours the high ids


class NoisyBoth(NoisyForward):
    """Overrides forward and offers a stepper that agrees with it."""

    def stepper(self):
        inner = super().stepper()

        def step(ids, h):
            y, h_next = inner(ids, h)
            return y + np.arange(y.shape[-1]), h_next

        return step


@pytest.mark.parametrize("cls", [NoisyForward, NoisyBoth])
def test_an_overridden_forward_is_not_bypassed_by_an_inherited_stepper(cls):
    cfg = ModelConfig(cell="gru", vocab_size=9, hidden_size=H, num_layers=2, dtype="float64")
    model = cls(cfg, rng=3)
    expected = generate(ForwardOnly(model), [1, 2], 15, 4, temperature=0.8)
    assert expected.mean() > 5  # the override is visible in what is drawn
    np.testing.assert_array_equal(generate(model, [1, 2], 15, 4, temperature=0.8), expected)


# -- bad input -----------------------------------------------------------------------------------------------
def test_layer_stepper_refuses_bad_inputs_and_states():
    lstm = make_layer("lstm", None, 2, True, np.float64)
    gru = make_layer("gru", None, 2, True, np.float64)
    s_lstm, s_gru = lstm.stepper(), gru.stepper()
    x = np.zeros((B, F))
    h = np.zeros((2, B, H))
    with pytest.raises(ValueError, match=r"\(B, 5\) float64.*\(3, 4\)"):
        s_gru.step(np.zeros((B, 4)), h)
    with pytest.raises(ValueError, match=r"float64.*float32"):
        s_gru.step(x.astype(np.float32), h)
    with pytest.raises(ValueError, match=r"\(B,\) token ids, got shape \(1, 3\)"):
        s_gru.step(np.zeros((1, B), np.int64), h)
    with pytest.raises(ValueError, match="numpy array.*list"):
        s_gru.step([1, 2, 3], h)
    with pytest.raises(ValueError, match="at least one sequence"):
        s_gru.step(np.zeros((0, F)), None)
    with pytest.raises(ValueError, match=r"\(2, 3, 6\) float64.*\(2, 4, 6\)"):
        s_gru.step(x, np.zeros((2, B + 1, H)))
    with pytest.raises(ValueError, match="one array.*2 array"):
        s_gru.step(x, (h, h))
    with pytest.raises(ValueError, match=r"tuple \(h, c\).*1 array"):
        s_lstm.step(x, h)
    with pytest.raises(ValueError, match=r"\(2, 3, 6\) float64.*\(2, 3, 6\) float32"):
        s_lstm.step(x, (h, h.astype(np.float32)))
    with pytest.raises(ValueError, match="RNN, LSTM or GRU"):
        RecurrentStepper("not a layer")
    with pytest.raises(ValueError, match="batch_size"):
        s_lstm.initial_state(0)


def test_model_stepper_refuses_bad_inputs():
    tokens = make_model("gru", "one-hot").stepper()
    with pytest.raises(ValueError, match=r"\(B,\) integer token ids.*float64"):
        tokens.step(np.zeros(B), None)
    with pytest.raises(ValueError, match=r"\(B,\) integer token ids.*\(3, 1\)"):
        tokens.step(np.zeros((B, 1), np.int64), None)
    dense = make_model("gru", "dense").stepper()
    with pytest.raises(ValueError, match=r"\(B, 5\)"):
        dense.step(np.zeros((B, 4)), None)
    with pytest.raises(ValueError, match="SequenceModel"):
        ModelStepper(make_layer("gru", None, 1, True, np.float64))


# -- reused buffers: what a step returns stays the caller's ------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_later_steps_do_not_overwrite_what_earlier_steps_returned(cell):
    rng = np.random.default_rng(10)
    layer = make_layer(cell, "tanh", 2, True, np.float64)
    x = make_inputs(True, np.float64, rng)
    out, _, cache = layer.forward(x)
    every = layer.sequence_states(cache)  # (L, T, B, H) each
    stepper, state, kept = layer.stepper(), None, []
    for t in range(T):
        out_t, state = stepper.step(x[t], state)
        kept.append((out_t, state))
    for t, (out_t, st) in enumerate(kept):
        np.testing.assert_allclose(out_t, out[t], rtol=0, atol=1e-12)
        for part, seq in zip(as_tuple(st), every, strict=True):
            np.testing.assert_allclose(part, seq[:, t], rtol=0, atol=1e-12)


def test_a_stepper_switches_between_batch_sizes_and_input_kinds():
    rng = np.random.default_rng(11)
    layer = make_layer("gru", None, 2, True, np.float64)
    stepper = layer.stepper()
    for steps_as_tokens, batch in [(True, 1), (True, 3), (False, 3), (True, 1), (False, 1), (True, 3)]:
        x = rng.integers(0, F, (1, batch)) if steps_as_tokens else rng.standard_normal((1, batch, F))
        h0 = rng.standard_normal((2, batch, H))
        out, h_n, _ = layer.forward(x, h0)
        out_t, h1 = stepper.step(x[0], h0)
        np.testing.assert_allclose(out_t, out[0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(h1, h_n, rtol=0, atol=1e-12)


# -- sessions: the same steps with the state carried inside ------------------------------------------------
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("inputs", MODEL_INPUTS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_session_takes_the_steps_of_forward(cell, inputs, dtype, batch):
    rng = np.random.default_rng(12)
    model = make_model(cell, inputs, layers=2, dtype=dtype).eval()
    atol = ATOL[np.dtype(dtype).type]
    x = model_inputs(model, rng)[:, :batch]  # (T, batch) ids or (T, batch, F)
    y, _, _ = model.forward(x)  # (T, batch, O)
    _, h1, _ = model.forward(x[:1])  # the state after the first step
    kept = tuple(p.copy() for p in as_tuple(h1))
    advance = model.stepper().session(h1)
    for t in range(1, T):
        logits = advance(x[t])  # (batch, O)
        assert logits.shape == (batch, model.output_size) and logits.dtype == model.dtype
        assert not logits.flags.writeable
        np.testing.assert_allclose(logits, y[t], rtol=0, atol=atol, err_msg=f"logits at step {t}")
    for a, b in zip(as_tuple(h1), kept, strict=True):
        np.testing.assert_array_equal(a, b)  # the starting state was copied, not written


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_sessions_are_independent_of_each_other_and_of_step(cell):
    rng = np.random.default_rng(13)
    model = make_model(cell, "one-hot").eval()
    x = model_inputs(model, rng)  # (T, B)
    y, _, _ = model.forward(x)  # (T, B, O)
    h0 = random_state(model.rnn, rng)
    y0, _, _ = model.forward(x, h0)
    stepper = model.stepper()
    first, second = stepper.session(model.init_state(B)), stepper.session(h0)
    h = None
    for t in range(T):
        a = first(x[t]).copy()  # (B, O) copied: the next call of ``first`` overwrites it
        b = second(x[t])
        logits, h = stepper.step(x[t], h)
        np.testing.assert_allclose(a, y[t], rtol=0, atol=1e-12)
        np.testing.assert_allclose(b, y0[t], rtol=0, atol=1e-12)
        np.testing.assert_allclose(logits, y[t], rtol=0, atol=1e-12)


def test_session_refuses_bad_states():
    lstm, gru = make_model("lstm", "one-hot").stepper(), make_model("gru", "one-hot").stepper()
    h = np.zeros((2, B, H))
    with pytest.raises(ValueError, match=r"session expects a state of shape \(2, B, 6\).*NoneType"):
        gru.session(None)
    with pytest.raises(ValueError, match=r"B >= 1.*\(2, 0, 6\)"):
        gru.session(np.zeros((2, 0, H)))
    with pytest.raises(ValueError, match=r"\(2, 3, 6\) float64.*\(2, 3, 5\)"):
        gru.session(np.zeros((2, B, 5)))
    with pytest.raises(ValueError, match=r"tuple \(h, c\).*1 array"):
        lstm.session(h)
    with pytest.raises(ValueError, match=r"\(2, 3, 6\) float64.*\(2, 3, 6\) float32"):
        lstm.session((h, h.astype(np.float32)))


# -- chunk sessions: whole chunks of a sequence, the state carried ------------------------------------------
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("inputs", MODEL_INPUTS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_chunks_give_the_logits_of_one_forward_pass(cell, inputs, dtype, batch):
    rng = np.random.default_rng(21)
    model = make_model(cell, inputs, layers=2, dtype=dtype).eval()
    atol = ATOL[np.dtype(dtype).type]
    x = model_inputs(model, rng, steps=11)[:, :batch]  # (11, batch) ids or (11, batch, F)
    h0 = tuple(p[:, :batch].copy() for p in as_tuple(random_state(model.rnn, rng)))
    h0 = h0 if cell == "lstm" else h0[0]
    kept = tuple(p.copy() for p in as_tuple(h0))
    y, _, _ = model.forward(x, h0)  # (11, batch, O)
    advance = model.stepper().chunk_session(h0)
    parts = [advance(x[s:e]) for s, e in ((0, 4), (4, 5), (5, 11))]  # chunks of 4, 1 and 6 steps
    for logits in parts:
        assert logits.dtype == model.dtype and logits.shape[1:] == (batch, model.output_size)
    np.testing.assert_allclose(np.concatenate(parts), y, rtol=0, atol=atol)
    for a, b in zip(as_tuple(h0), kept, strict=True):
        np.testing.assert_array_equal(a, b)  # the starting state was copied, not written


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_rnn_and_gru_chunks_are_forward_bit_for_bit(cell):
    # the same products and steps as the sequence forward; only the LSTM splits its product in two
    model = make_model(cell, "one-hot", layers=2, dtype="float64").eval()
    x = model_inputs(model, np.random.default_rng(22), steps=9)
    y, _, _ = model.forward(x)
    np.testing.assert_array_equal(model.stepper().chunk_session(model.init_state(B))(x), y)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_chunk_sessions_are_independent_and_snapshots(cell):
    model = make_model(cell, "one-hot", layers=2, dtype="float64").eval()
    x = model_inputs(model, np.random.default_rng(23), steps=8)
    y, _, _ = model.forward(x)
    stepper = model.stepper()
    first, second = stepper.chunk_session(model.init_state(B)), stepper.chunk_session(model.init_state(B))
    np.testing.assert_allclose(first(x[:3]), y[:3], rtol=0, atol=1e-12)
    np.testing.assert_allclose(second(x[:5]), y[:5], rtol=0, atol=1e-12)  # not moved on by first
    for p in model.params.values():
        p += 1.0  # later updates do not reach the stepper's copy
    np.testing.assert_allclose(first(x[3:]), y[3:], rtol=0, atol=1e-12)


def test_a_layer_chunk_session_returns_the_top_layers_states():
    lstm = make_layer("lstm", None, 2, True, np.float64)
    rng = np.random.default_rng(24)
    x = rng.standard_normal((T, B, F))
    h0 = random_state(lstm, rng)
    out, _, _ = lstm.forward(x, h0)
    got = lstm.stepper().chunk_session(h0, tokens=False)(x)  # (T, B, H)
    assert got.shape == (T, B, H)
    np.testing.assert_allclose(got, out, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"session expects a state of shape \(2, B, 6\)"):
        lstm.stepper().chunk_session(None, tokens=False)
