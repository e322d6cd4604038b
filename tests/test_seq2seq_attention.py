"""scratchrnn.seq2seq.attention: the backward of every kind against finite differences (float64),
the mask past each source length, torch operations written here (not the twin), and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.gradcheck import check_gradients
from scratchrnn.seq2seq.attention import ATTENTION_KINDS, Attention, AttentionCache

torch = pytest.importorskip("torch")

T, B, S = 3, 3, 5
LENGTHS = {"full": None, "ragged": np.array([3, 1, 5])}  # length 1 and length S in one batch
EPS, ATOL, RTOL = 1e-5, 1e-9, 1e-8  # eps 1e-5: rounding and truncation both ~1e-11 on these sizes
TORCH_TOL = 1e-12


def make(kind: str, dtype=np.float64, rng=0) -> Attention:
    """Queries 4 wide; keys 4 wide for "dot" (it needs equal widths), else 3; additive A = 2."""
    return Attention(kind, 4, 4 if kind == "dot" else 3, 2 if kind == "additive" else None,
                     dtype=dtype, rng=rng)


def problem(kind: str, seed: int = 1, dtype=np.float64):
    att = make(kind, dtype)
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((T, B, att.query_size)).astype(dtype)  # (T, B, Hq)
    k = rng.standard_normal((S, B, att.key_size)).astype(dtype)  # (S, B, Hk)
    r = rng.standard_normal((T, B, att.key_size)).astype(dtype)  # (T, B, Hk) the scalar's weights
    return att, q, k, r


def run(att: Attention, q, k, r, lengths):
    """context, weights, and the gradients of sum(context * r): dq, dkeys, grads."""
    context, weights, cache = att.forward(q, att.memory(k, lengths))
    dq, dk, grads = att.backward(r, cache)
    return context, weights, dq, dk, grads


def valid_mask(lengths):
    """(B, S) whether source step s is inside sequence b."""
    if lengths is None:
        return np.ones((B, S), bool)
    return np.arange(S)[None, :] < np.asarray(lengths)[:, None]


# -- finite differences ----------------------------------------------------------------------------
@pytest.mark.parametrize("which", LENGTHS)
@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_the_backward_matches_finite_differences(kind, which):
    lengths = LENGTHS[which]
    att, q, k, r = problem(kind)
    _, _, dq, dk, grads = run(att, q, k, r, lengths)
    assert list(grads) == list(att.params)
    params = {"queries": q, "keys": k, **att.params}

    def scalar(p):
        context, _, _ = att.forward(p["queries"], att.memory(p["keys"], lengths))
        return float(np.sum(context * r))

    report = check_gradients(scalar, params, {"queries": dq, "keys": dk, **grads}, eps=EPS, atol=ATOL,
                             rtol=RTOL)
    assert report.ok, str(report)
    assert [c.name for c in report.checks] == ["queries", "keys", *att.params]


# -- the mask -------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", LENGTHS)
@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_the_weights_sum_to_one_inside_each_length_and_are_zero_past_it(kind, which):
    lengths = LENGTHS[which]
    att, q, k, _ = problem(kind)
    context, weights, _ = att.forward(q, att.memory(k, lengths))
    assert context.shape == (T, B, att.key_size)
    assert weights.shape == (T, B, S)
    valid = np.broadcast_to(valid_mask(lengths), weights.shape)  # (T, B, S)
    assert np.all(weights[valid] > 0)
    assert np.all(weights[~valid] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=2), 1.0, rtol=0, atol=1e-15)


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_the_keys_past_each_length_change_nothing(kind):
    lengths = LENGTHS["ragged"]
    att, q, k, r = problem(kind)
    past = ~valid_mask(lengths).T  # (S, B)
    other = k.copy()
    other[past] = 100.0 * np.random.default_rng(9).standard_normal((int(past.sum()), att.key_size))
    base = run(att, q, k, r, lengths)
    changed = run(att, q, other, r, lengths)
    for name, a, b in zip(("context", "weights", "dq"), base[:3], changed[:3], strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert np.all(base[3][past] == 0.0) and np.all(changed[3][past] == 0.0), "dkeys past the lengths"
    np.testing.assert_array_equal(base[3], changed[3], err_msg="dkeys")
    for name in att.params:
        np.testing.assert_array_equal(base[4][name], changed[4][name], err_msg=name)
    # without the lengths the same change of keys does change the context: the mask is what hides them
    assert not np.allclose(run(att, q, k, r, None)[0], run(att, q, other, r, None)[0])


def test_lengths_all_full_are_no_lengths():
    att, q, k, r = problem("additive")
    for a, b in zip(run(att, q, k, r, np.full(B, S))[:4], run(att, q, k, r, None)[:4], strict=True):
        np.testing.assert_array_equal(a, b)


# -- against torch operations ---------------------------------------------------------------------
def torch_attention(kind, q, k, params, lengths):
    """context (T, B, Hk) and weights (T, B, S) by einsum over time-major tensors, as the equations
    of the module docstring read."""
    if kind == "dot":
        scores = torch.einsum("tbh,sbh->bts", q, k)
    elif kind == "general":
        scores = torch.einsum("tbh,hk,sbk->bts", q, params["weight"], k)
    else:
        wq = torch.einsum("ah,tbh->bta", params["query.weight"], q)  # (B, T, A)
        wk = torch.einsum("ak,sbk->bsa", params["key.weight"], k)  # (B, S, A)
        scores = torch.einsum("btsa,a->bts", torch.tanh(wq[:, :, None] + wk[:, None]), params["v"])
    valid = torch.from_numpy(valid_mask(lengths))  # (B, S)
    scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=2)  # (B, T, S)
    context = torch.einsum("bts,sbk->tbk", weights, k)
    return context, weights.permute(1, 0, 2)


@pytest.mark.parametrize("which", LENGTHS)
@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_forward_and_backward_equal_torch_operations(kind, which):
    lengths = LENGTHS[which]
    att, q, k, r = problem(kind, seed=4)
    context, weights, dq, dk, grads = run(att, q, k, r, lengths)
    tq = torch.tensor(q, requires_grad=True)
    tk = torch.tensor(k, requires_grad=True)
    tp = {n: torch.tensor(p, requires_grad=True) for n, p in att.params.items()}
    tcontext, tweights = torch_attention(kind, tq, tk, tp, lengths)
    (tcontext * torch.from_numpy(r)).sum().backward()
    pairs = [("context", context, tcontext), ("weights", weights, tweights), ("dq", dq, tq.grad),
             ("dkeys", dk, tk.grad)] + [(n, grads[n], tp[n].grad) for n in att.params]
    for name, ours, theirs in pairs:
        theirs = theirs.detach().numpy()
        assert ours.shape == theirs.shape, name
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=TORCH_TOL, err_msg=name)


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_float32_stays_float32_and_is_close_to_float64(kind):
    lengths = LENGTHS["ragged"]
    att, q, k, r = problem(kind)
    att32 = make(kind, np.float32)
    att32.load_state_dict(att.params)
    ours = run(att32, q.astype(np.float32), k.astype(np.float32), r.astype(np.float32), lengths)
    want = run(att, q, k, r, lengths)
    for a, b in zip([*ours[:4], *ours[4].values()], [*want[:4], *want[4].values()], strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


# -- parameters and caches -------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "shapes"), [
    ("dot", {}),
    ("general", {"weight": (4, 3)}),
    ("additive", {"query.weight": (2, 4), "key.weight": (2, 3), "v": (2,)}),
])
def test_parameters_have_pytorch_style_names_and_shapes(kind, shapes):
    att = make(kind)
    assert {n: p.shape for n, p in att.params.items()} == shapes
    for p in att.params.values():
        assert p.dtype == np.float64
        bound = 1.0 / np.sqrt(p.shape[-1])  # fan-in: the last axis (v's own length)
        assert np.all(np.abs(p) <= bound)


def test_the_same_seed_gives_the_same_weights():
    a, b, c = make("additive", rng=3), make("additive", rng=3), make("additive", rng=4)
    for n in a.params:
        np.testing.assert_array_equal(a.params[n], b.params[n])
    assert not np.array_equal(a.params["v"], c.params["v"])


def test_a_cache_is_refused_after_load_state_dict():
    att, q, k, r = problem("general")
    _, _, cache = att.forward(q, att.memory(k))
    att.load_state_dict(att.state_dict())
    with pytest.raises(ValueError, match=r"Attention\.backward: this cache was made with older weights "
                                         r"\(version 0, now 1\)"):
        att.backward(r, cache)
    _, _, fresh = att.forward(q, att.memory(k))
    assert isinstance(fresh, AttentionCache)
    att.backward(r, fresh)


def test_backward_refuses_something_that_is_not_its_cache():
    att, _, _, r = problem("dot")
    with pytest.raises(ValueError, match="Attention.backward expects the cache returned by forward, "
                                         "got tuple"):
        att.backward(r, (1, 2))


# -- bad input -------------------------------------------------------------------------------------
def test_dot_attention_needs_equal_widths():
    with pytest.raises(ValueError, match=r"dot attention needs queries as wide as the keys, got query_size 4 "
                                         r"and key_size 3; use 'general' or 'additive'"):
        Attention("dot", 4, 3)


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match=r"attention must be one of dot, general, additive, got 'bilinear'"):
        Attention("bilinear", 4, 4)


@pytest.mark.parametrize(("keys", "got"), [
    (np.zeros((S, B, 4)), r"\(5, 3, 4\)"),  # too wide
    (np.zeros((B, 3)), r"\(3, 3\)"),  # not 3-D
    ([[[0.0, 0.0, 0.0]]], "list"),  # not an array
])
def test_keys_of_the_wrong_shape_are_refused(keys, got):
    att = make("general")
    with pytest.raises(ValueError, match=rf"attention keys must be \(S, B, 3\), got {got}"):
        att.memory(keys)


@pytest.mark.parametrize(("queries", "got"), [
    (np.zeros((T, B + 1, 4)), r"\(3, 4, 4\)"),  # another batch than the keys'
    (np.zeros((T, B, 3)), r"\(3, 3, 3\)"),  # too narrow
    (np.zeros((B, 4)), r"\(3, 4\)"),  # not 3-D
])
def test_queries_of_the_wrong_shape_or_batch_are_refused(queries, got):
    att = make("additive")
    memory = att.memory(np.zeros((S, B, 3)))
    with pytest.raises(ValueError, match=rf"attention queries must be \(T, 3, 4\), got {got}"):
        att.forward(queries, memory)


def test_lengths_are_checked_against_the_keys():
    att = make("dot")
    with pytest.raises(ValueError, match=r"lengths must be a 1-D integer array of 3 sequence lengths in "
                                         r"\[1, 5\] \(the input's steps\), got values in \[1, 6\]"):
        att.memory(np.zeros((S, B, 4)), np.array([1, 6, 2]))


def test_an_attention_size_of_zero_is_refused():
    with pytest.raises(ValueError, match="attention_size"):
        Attention("additive", 4, 3, attention_size=0)
