"""scratchrnn.seq2seq.model: loss_and_grads against finite differences for every attention kind and
a range of cells (float64), padding past the lengths, scheduled sampling, stale caches, the
configuration's checks, param_shapes, and a tiny model overfitting a tiny copy task."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.gradcheck import check_gradients
from scratchrnn.losses import cross_entropy
from scratchrnn.optim import make_optimizer
from scratchrnn.seq2seq import greedy
from scratchrnn.seq2seq.model import Seq2Seq, Seq2SeqCache, Seq2SeqConfig

SRC_V, TGT_V = 5, 6
S, T, B = 5, 4, 3
SRC_LENGTHS, TGT_LENGTHS = np.array([5, 2, 3]), np.array([4, 1, 3])  # each side: a full one, a short one
ATTENTIONS = [None, "dot", "general", "additive"]
CELL_CASES = {
    "rnn": {"cell": "rnn"},
    "lstm": {"cell": "lstm"},
    "gru": {"cell": "gru"},
    "gru-to-lstm": {"cell": "gru", "decoder_cell": "lstm"},
    "lstm-bidirectional": {"cell": "lstm", "bidirectional": True},
    "gru-2-layers": {"cell": "gru", "num_layers": 2},
    "shared-embedding": {"cell": "lstm", "share_embedding": True},
    "zero-bridge": {"cell": "rnn", "bridge": "zero", "bidirectional": True},
}
EPS, ATOL, RTOL = 1e-5, 1e-9, 1e-8  # measured errors stay below 5% of this tolerance
ENTRIES = 3  # finite differences of 3 entries of each parameter keep 32 models quick


def make(attention=None, dtype="float64", rng=0, **kw) -> Seq2Seq:
    tgt_v = None if kw.get("share_embedding") else TGT_V
    cfg = Seq2SeqConfig(src_vocab_size=SRC_V, tgt_vocab_size=tgt_v, embedding_dim=3, hidden_size=3,
                        attention=attention, attention_size=2 if attention == "additive" else None,
                        dtype=dtype, **kw)
    return Seq2Seq(cfg, rng=rng)


def batch(model: Seq2Seq, seed: int = 1):
    """src (S, B) and tgt (T, B) of valid ids everywhere, padding included."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, SRC_V, (S, B)),
            rng.integers(0, model.config.target_vocab_size, (T, B)))


def assert_same_grads(a: dict, b: dict):
    assert list(a) == list(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


# -- finite differences ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", CELL_CASES)
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_loss_and_grads_match_finite_differences(attention, case):
    model = make(attention, **CELL_CASES[case])
    src, tgt = batch(model)
    loss, grads = model.loss_and_grads(src, tgt, SRC_LENGTHS, TGT_LENGTHS)
    assert list(grads) == list(model.params)
    assert all(grads[n].dtype == np.float64 and grads[n].shape == p.shape for n, p in model.params.items())

    def fn(_params):
        return model.loss_and_grads(src, tgt, SRC_LENGTHS, TGT_LENGTHS)[0]

    assert fn(model.params) == loss
    report = check_gradients(fn, model.params, grads, eps=EPS, atol=ATOL, rtol=RTOL, max_entries=ENTRIES,
                             rng=np.random.default_rng(2))
    assert report.ok, str(report)


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_the_loss_is_the_mean_cross_entropy_inside_the_target_lengths(attention):
    model = make(attention, cell="gru")
    src, tgt = batch(model)
    loss, _ = model.loss_and_grads(src, tgt, SRC_LENGTHS, TGT_LENGTHS)
    logits, weights, _ = model.forward(src, model.decoder_inputs(tgt), SRC_LENGTHS)  # (T, B, V)
    shifted = logits - logits.max(axis=2, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))  # (T, B, V)
    nll = -np.take_along_axis(logp, tgt[..., None], axis=2)[..., 0]  # (T, B)
    inside = np.arange(T)[:, None] < TGT_LENGTHS[None, :]  # (T, B)
    assert loss == pytest.approx(nll[inside].mean(), rel=1e-14)
    assert (weights is None) == (attention is None)


# -- padding ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["lstm-bidirectional", "gru-to-lstm", "shared-embedding"])
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_the_padding_past_the_lengths_may_hold_any_id(attention, case):
    model = make(attention, **CELL_CASES[case])
    src, tgt = batch(model)
    src_junk, tgt_junk = src.copy(), tgt.copy()
    src_junk[np.arange(S)[:, None] >= SRC_LENGTHS] = [-3, 99, 7, -1, 1000, 5][: B * S - SRC_LENGTHS.sum()]
    tgt_junk[np.arange(T)[:, None] >= TGT_LENGTHS] = [-8, 6, 2**40, 41][: B * T - TGT_LENGTHS.sum()]
    loss, grads = model.loss_and_grads(src, tgt, SRC_LENGTHS, TGT_LENGTHS)
    loss_junk, grads_junk = model.loss_and_grads(src_junk, tgt_junk, SRC_LENGTHS, TGT_LENGTHS)
    assert loss_junk == loss
    assert_same_grads(grads_junk, grads)
    tgt_in = model.decoder_inputs(model.targets(tgt, TGT_LENGTHS))
    logits, weights, _ = model.forward(src, tgt_in, SRC_LENGTHS)
    logits_junk, weights_junk, _ = model.forward(src_junk, tgt_in, SRC_LENGTHS)
    np.testing.assert_array_equal(logits_junk, logits)
    if attention is not None:
        np.testing.assert_array_equal(weights_junk, weights)
    # the same ids are refused where they count: the lengths are what makes them padding
    with pytest.raises(ValueError, match=r"src must be ids in \[0, 5\), got values in \[-3, 1000\]"):
        model.forward(src_junk, tgt_in)
    with pytest.raises(ValueError, match=rf"tgt must be ids in \[0, {model.config.target_vocab_size}\)"):
        model.loss_and_grads(src, tgt_junk, SRC_LENGTHS)


def test_targets_set_the_padding_to_zero_and_decoder_inputs_start_with_bos():
    model = make("dot", cell="gru", bos_id=4)
    tgt = np.array([[3, 5], [2, -1], [77, -1]])
    targets = model.targets(tgt, [2, 1])
    np.testing.assert_array_equal(targets, [[3, 5], [2, 0], [0, 0]])
    np.testing.assert_array_equal(model.decoder_inputs(targets), [[4, 4], [3, 5], [2, 0]])


# -- scheduled sampling ----------------------------------------------------------------------------
def scheduled_problem(attention="general"):
    model = make(attention, cell="lstm", bidirectional=True)
    src, tgt = batch(model)
    tgt_in = model.decoder_inputs(model.targets(tgt, TGT_LENGTHS))
    return model, src, tgt, tgt_in


def test_a_sampling_rate_of_zero_is_teacher_forcing():
    model, src, tgt, tgt_in = scheduled_problem()
    teacher = model.loss_and_grads(src, tgt, SRC_LENGTHS, TGT_LENGTHS)
    zero = model.loss_and_grads(src, tgt, SRC_LENGTHS, TGT_LENGTHS, sampling_rate=0.0,
                                rng=np.random.default_rng(5))
    assert zero[0] == teacher[0]
    assert_same_grads(zero[1], teacher[1])
    mixed = model.scheduled_inputs(src, tgt_in, SRC_LENGTHS, 0.0, np.random.default_rng(5))
    np.testing.assert_array_equal(mixed, tgt_in)


def test_a_sampling_rate_of_one_replaces_the_inputs_reproducibly():
    model, src, tgt, tgt_in = scheduled_problem()
    mixed = model.scheduled_inputs(src, tgt_in, SRC_LENGTHS, 1.0, np.random.default_rng(5))
    assert mixed.shape == tgt_in.shape and mixed.dtype == tgt_in.dtype
    assert np.all(mixed[0] == model.config.bos_id)
    assert np.any(mixed[1:] != tgt_in[1:])
    assert mixed.min() >= 0 and mixed.max() < TGT_V
    again = model.scheduled_inputs(src, tgt_in, SRC_LENGTHS, 1.0, np.random.default_rng(5))
    np.testing.assert_array_equal(again, mixed)
    other = model.scheduled_inputs(src, tgt_in, SRC_LENGTHS, 1.0, np.random.default_rng(6))
    assert np.any(other != mixed)


def sampled(model, src, tgt, rate, seed):
    return model.loss_and_grads(src, tgt, SRC_LENGTHS, TGT_LENGTHS, sampling_rate=rate,
                                rng=np.random.default_rng(seed))


def test_loss_and_grads_with_scheduled_sampling_is_reproducible():
    model, src, tgt, _ = scheduled_problem()
    first, second = sampled(model, src, tgt, 0.9, 5), sampled(model, src, tgt, 0.9, 5)
    assert first[0] == second[0]
    assert_same_grads(first[1], second[1])
    assert first[0] != model.loss_and_grads(src, tgt, SRC_LENGTHS, TGT_LENGTHS)[0]


def test_loss_and_grads_takes_a_sampling_rate_of_one():
    model, src, tgt, tgt_in = scheduled_problem()
    first, second = sampled(model, src, tgt, 1.0, 5), sampled(model, src, tgt, 1.0, 5)
    assert first[0] == second[0]
    assert_same_grads(first[1], second[1])
    mixed = model.scheduled_inputs(src, tgt_in, SRC_LENGTHS, 1.0, np.random.default_rng(5))
    logits, _, cache = model.forward(src, mixed, SRC_LENGTHS)
    loss, dlogits = cross_entropy(logits, model.targets(tgt, TGT_LENGTHS), lengths=TGT_LENGTHS)
    assert first[0] == loss
    assert_same_grads(first[1], model.backward(dlogits, cache))


@pytest.mark.parametrize("rate", [0.5, 0.9])
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_scheduled_sampling_is_teacher_forcing_on_the_inputs_it_chose(attention, rate):
    model, src, tgt, tgt_in = scheduled_problem(attention)
    mixed = model.scheduled_inputs(src, tgt_in, SRC_LENGTHS, rate, np.random.default_rng(11))
    assert np.any(mixed != tgt_in)
    logits, _, cache = model.forward(src, mixed, SRC_LENGTHS)
    targets = model.targets(tgt, TGT_LENGTHS)
    loss, dlogits = cross_entropy(logits, targets, lengths=TGT_LENGTHS)
    want = model.backward(dlogits, cache)
    got_loss, got = sampled(model, src, tgt, rate, 11)
    assert got_loss == loss
    assert_same_grads(got, want)


def fixed_output(model: Seq2Seq, bias: np.ndarray) -> None:
    """Make every prediction softmax(bias), whatever the input (out.weight zero)."""
    model.params["out.weight"][...] = 0.0
    model.params["out.bias"][...] = bias
    model.params.version.bump()  # written by hand


def test_sampled_inputs_follow_the_models_prediction():
    model = make(None, cell="gru")
    probs = np.array([0.05, 0.1, 0.15, 0.2, 0.2, 0.3])
    fixed_output(model, np.log(probs))
    n = 4000
    src = np.random.default_rng(0).integers(0, SRC_V, (2, n))
    tgt_in = np.full((2, n), model.config.bos_id)
    mixed = model.scheduled_inputs(src, tgt_in, None, 1.0, np.random.default_rng(3))
    freq = np.bincount(mixed[1], minlength=TGT_V) / n
    assert np.all(np.abs(freq - probs) < 5 * np.sqrt(probs * (1 - probs) / n)), freq


def test_each_input_is_replaced_with_probability_the_sampling_rate():
    model = make("additive", cell="lstm")
    fixed_output(model, np.where(np.arange(TGT_V) == 5, 40.0, 0.0))  # the model always says 5
    n, rate = 2000, 0.3
    src = np.random.default_rng(0).integers(0, SRC_V, (3, n))
    tgt_in = np.full((T, n), 3)
    tgt_in[0] = model.config.bos_id
    mixed = model.scheduled_inputs(src, tgt_in, np.full(n, 3), rate, np.random.default_rng(4))
    np.testing.assert_array_equal(mixed[0], tgt_in[0])
    assert set(np.unique(mixed[1:])) == {3, 5}
    share = np.mean(mixed[1:] == 5)
    assert abs(share - rate) < 5 * np.sqrt(rate * (1 - rate) / mixed[1:].size), share


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_at_rate_one_a_confident_model_reads_back_its_own_predictions(attention):
    """Each sampled input comes from the model's prediction at the step before, on the inputs chosen
    so far: where one token is all but certain (logits scaled up), it is that prediction's argmax."""
    model = make(attention, cell="lstm", bidirectional=True)
    for name in ("out.weight", "out.bias"):
        model.params[name] *= 1e5
    model.params.version.bump()  # written by hand
    n = 200
    rng = np.random.default_rng(0)
    src, src_lengths = rng.integers(0, SRC_V, (S, n)), rng.integers(1, S + 1, n)
    tgt_in = rng.integers(0, TGT_V, (6, n))
    tgt_in[0] = model.config.bos_id
    mixed = model.scheduled_inputs(src, tgt_in, src_lengths, 1.0, np.random.default_rng(1))
    logits, _, _ = model.forward(src, mixed, src_lengths)  # (6, n, V); step t reads mixed[: t + 1] only
    top2 = np.sort(logits[:-1], axis=2)[..., -2:]  # (5, n, 2)
    sure = top2[..., 1] - top2[..., 0] > 30.0  # the runner-up has probability below e^-30
    assert sure.mean() > 0.5
    np.testing.assert_array_equal(mixed[1:][sure], logits[:-1].argmax(axis=2)[sure])


def test_scheduled_sampling_needs_a_generator_and_a_probability():
    model, src, tgt, _ = scheduled_problem()
    with pytest.raises(ValueError, match=r"rng must be a numpy Generator \(np.random.default_rng\(seed\)\), "
                                         r"got NoneType"):
        model.loss_and_grads(src, tgt, SRC_LENGTHS, TGT_LENGTHS, sampling_rate=0.5)
    with pytest.raises(ValueError, match="rng must be a numpy Generator .*got int"):
        model.loss_and_grads(src, tgt, SRC_LENGTHS, TGT_LENGTHS, sampling_rate=0.5, rng=3)
    with pytest.raises(ValueError, match="sampling_rate"):
        model.loss_and_grads(src, tgt, SRC_LENGTHS, TGT_LENGTHS, sampling_rate=1.5,
                             rng=np.random.default_rng(0))


# -- caches ----------------------------------------------------------------------------------------
def test_a_cache_is_refused_after_load_state_dict():
    model = make("additive", cell="gru")
    src, tgt = batch(model)
    logits, _, cache = model.forward(src, model.decoder_inputs(tgt), SRC_LENGTHS)
    assert isinstance(cache, Seq2SeqCache)
    dlogits = np.ones_like(logits)
    model.load_state_dict(model.state_dict())
    with pytest.raises(ValueError, match=r"Seq2Seq\.backward: this cache was made with older weights "
                                         r"\(version 0, now 1\): run forward again"):
        model.backward(dlogits, cache)
    # the layers share the model's version, so their parts of the cache are stale too
    with pytest.raises(ValueError, match=r"Attention\.backward: this cache was made with older weights"):
        model.attention.backward(np.ones((T, B, 3)), cache.attention)
    _, _, fresh = model.forward(src, model.decoder_inputs(tgt), SRC_LENGTHS)
    assert list(model.backward(dlogits, fresh)) == list(model.params)


def test_a_cache_is_refused_after_an_optimizer_step():
    model = make("dot", cell="lstm")
    src, tgt = batch(model)
    _, grads = model.loss_and_grads(src, tgt)
    logits, _, cache = model.forward(src, model.decoder_inputs(tgt))
    make_optimizer("sgd", model.params, lr=0.1).step(grads)
    with pytest.raises(ValueError, match=r"\(version 0, now 1\)"):
        model.backward(np.ones_like(logits), cache)


def test_backward_refuses_something_that_is_not_its_cache():
    model = make(None, cell="rnn")
    with pytest.raises(ValueError, match="Seq2Seq.backward expects the cache returned by forward, got dict"):
        model.backward(np.zeros((T, B, TGT_V)), {})


# -- the configuration -----------------------------------------------------------------------------
@pytest.mark.parametrize(("kw", "message"), [
    ({"eos_id": 6}, r"eos_id must be an integer in \[0, 5\], got 6"),
    ({"eos_id": -1}, r"eos_id must be an integer in \[0, 5\], got -1"),
    ({"tgt_vocab_size": None, "eos_id": 5}, r"eos_id must be an integer in \[0, 4\], got 5"),
    ({"bos_id": 6}, r"bos_id must be an integer in \[0, 5\], got 6"),
    ({"share_embedding": True}, r"share_embedding needs one vocabulary for both sides, got src_vocab_size 5 "
                                r"and tgt_vocab_size 6"),
    ({"attention": "luong"}, r"attention must be one of dot, general, additive, got 'luong'"),
    ({"cell": "transformer"}, r"unknown cell 'transformer'; expected one of gru, lstm, rnn"),
    ({"decoder_cell": "tcn"}, r"unknown cell 'tcn'; expected one of gru, lstm, rnn"),
    ({"bridge": "mean"}, r"bridge must be one of final, zero, got 'mean'"),
    ({"max_source_length": 0}, r"max_source_length must be a positive integer, got 0"),
])
def test_a_bad_configuration_is_refused(kw, message):
    args = {"src_vocab_size": SRC_V, "tgt_vocab_size": TGT_V, "embedding_dim": 3, "hidden_size": 3, **kw}
    with pytest.raises(ValueError, match=message):
        Seq2SeqConfig(**args)


def test_share_embedding_with_one_vocabulary_is_accepted():
    cfg = Seq2SeqConfig(src_vocab_size=SRC_V, tgt_vocab_size=SRC_V, share_embedding=True)
    assert cfg.target_vocab_size == SRC_V
    model = Seq2Seq(Seq2SeqConfig(src_vocab_size=SRC_V, share_embedding=True, embedding_dim=3, hidden_size=3))
    assert model.src_embedding is model.tgt_embedding
    assert "embedding.weight" in model.params and "src_embedding.weight" not in model.params


def test_a_source_longer_than_max_source_length_is_refused():
    model = make("dot", cell="gru", max_source_length=4)
    src, tgt = batch(model)
    message = r"a source of 5 steps is longer than the model's maximum, max_source_length=4"
    with pytest.raises(ValueError, match=message):
        model.forward(src, model.decoder_inputs(tgt))
    with pytest.raises(ValueError, match=message):
        model.loss_and_grads(src, tgt)
    with pytest.raises(ValueError, match=message):
        model.encode(src)
    loss, _ = model.loss_and_grads(src[:4], tgt)  # exactly the maximum is fine
    assert np.isfinite(loss)


def test_a_batch_mismatch_between_src_and_tgt_in_is_refused():
    model = make(None, cell="gru")
    src, tgt = batch(model)
    with pytest.raises(ValueError, match="src and tgt_in must hold the same batch, got 3 and 2 sequences"):
        model.forward(src, tgt[:, :2])


def test_a_config_round_trips_through_a_dict():
    cfg = make("additive", cell="gru", decoder_cell="lstm", bidirectional=True).config
    assert Seq2SeqConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown seq2seq configuration key\(s\) \['heads'\]"):
        Seq2SeqConfig.from_dict({**cfg.to_dict(), "heads": 2})


# -- parameters ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CELL_CASES)
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_param_shapes_are_the_params_shapes_in_order(attention, case):
    model = make(attention, **CELL_CASES[case])
    shapes = model.config.param_shapes()
    assert list(shapes.items()) == [(n, p.shape) for n, p in model.params.items()]
    assert all(p.dtype == np.float64 for p in model.params.values())


def test_param_shapes_of_a_wide_model():
    cfg = Seq2SeqConfig(src_vocab_size=7, tgt_vocab_size=9, embedding_dim=4, hidden_size=5, num_layers=2,
                        bidirectional=True, cell="gru", decoder_cell="lstm", attention="additive",
                        attention_size=6)
    shapes = cfg.param_shapes()
    assert shapes["src_embedding.weight"] == (7, 4) and shapes["tgt_embedding.weight"] == (9, 4)
    assert shapes["encoder.weight_ih_l1_reverse"] == (15, 10)  # GRU: 3 gates, layer 1 reads both directions
    assert shapes["decoder.weight_hh_l1"] == (40, 10)  # LSTM of hidden 2 * 5: 4 gates
    assert shapes["attention.query.weight"] == (6, 10) and shapes["attention.v"] == (6,)
    assert shapes["combine.weight"] == (10, 20) and shapes["out.weight"] == (9, 10)


def test_the_same_seed_gives_bit_identical_weights_and_training():
    def trained(seed):
        model = make("general", cell="lstm", rng=seed)
        src, tgt = batch(model)
        opt = make_optimizer("adam", model.params, lr=0.01)
        for _ in range(3):
            opt.step(model.loss_and_grads(src, tgt, SRC_LENGTHS, TGT_LENGTHS)[1])
        return model.params

    a, b, c = trained(7), trained(7), trained(8)
    assert_same_grads(a, b)
    assert not np.array_equal(a["out.weight"], c["out.weight"])


# -- overfitting -----------------------------------------------------------------------------------
def test_a_tiny_model_overfits_a_tiny_copy_task():
    rng = np.random.default_rng(0)
    V, eos = 8, 2  # 0 padding, 1 BOS, 2 EOS, 3..7 the tokens copied
    src = rng.integers(3, V, size=(4, 8))  # 8 sources of 4 tokens
    tgt = np.concatenate([src, np.full((1, 8), eos)])  # the source, then EOS
    cfg = Seq2SeqConfig(src_vocab_size=V, embedding_dim=8, hidden_size=16, cell="gru", attention="dot",
                        eos_id=eos)
    model = Seq2Seq(cfg, rng=0)
    opt = make_optimizer("adam", model.params, lr=0.03)
    losses = []
    for _ in range(150):
        loss, grads = model.loss_and_grads(src, tgt)
        opt.step(grads)
        losses.append(loss)
    assert losses[0] > 1.5  # about log(8) at the start
    assert losses[-1] < 0.02 * losses[0], losses[-1]
    hyps = greedy(model, src, max_length=6)
    assert [h.tokens for h in hyps] == src.T.tolist()
    assert all(h.ended for h in hyps)
