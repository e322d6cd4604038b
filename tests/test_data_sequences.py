"""scratchrnn.data.sequences: the layouts SequenceData accepts and what its batches hold, TokenStream's
parallel streams and windows against the cutting written out by hand (and against batchify and
Windows, which it is built on), and bad input named in the message."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.data import BucketedData, SequenceData, TokenStream, Windows, batchify, pad_sequences


# -- SequenceData ----------------------------------------------------------------------------------
def test_sequence_data_batches_pick_sequences_of_every_layout():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 6, 3))  # (T, N, F)
    idx = np.array([4, 1])
    per_step = SequenceData(x, rng.standard_normal((5, 6, 2)), mask=rng.random((5, 6)) < 0.5)
    bx, by, bm, bl = per_step.batch(idx)
    np.testing.assert_array_equal(bx, x[:, idx])
    np.testing.assert_array_equal(by, per_step.y[:, idx])
    np.testing.assert_array_equal(bm, per_step.mask[:, idx])
    assert per_step.per_step and len(per_step) == per_step.size == 6 and per_step.num_steps == 5
    assert per_step.tokens_per_batch(2) == 10
    labels = np.arange(6) % 3  # (N,) one class id per sequence
    per_seq = SequenceData(x, labels)
    bx, by, bm, bl = per_seq.batch(idx)
    assert not per_seq.per_step and bm is None and bl is None
    np.testing.assert_array_equal(by, labels[idx])


def test_a_mask_of_zeros_and_ones_becomes_boolean():
    ids = np.zeros((4, 3), np.int64)  # (T, N)
    mask = np.array([[1, 0, 1]] * 4)
    data = SequenceData(ids, ids, mask.astype(np.float32))
    assert data.mask.dtype == np.bool_
    np.testing.assert_array_equal(data.mask, mask == 1)


def test_sequence_data_layout_can_be_given_when_shapes_are_ambiguous():
    x = np.zeros((4, 4, 1), np.float64)
    y = np.zeros((4, 4), np.float64)  # T == N == O: per step (T, N) or per sequence (N, O)?
    assert SequenceData(x, y).per_step
    assert not SequenceData(x, y, per_step=False).per_step
    with pytest.raises(ValueError, match="per sequence"):
        SequenceData(x, np.zeros((3, 4)), per_step=False)


# -- TokenStream -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "batch_size", "window"), [(2000, 4, 20), (203, 4, 5), (61, 2, 5), (12, 1, 11)])
def test_token_stream_cuts_the_stream_as_written_out_by_hand(n, batch_size, window):
    ids = np.random.default_rng(n).integers(0, 50, size=n)  # (n,)
    data = TokenStream(ids, batch_size, window)
    per_stream = n // batch_size
    # column b is the b-th contiguous slice of the stream; the last n % B tokens are dropped
    by_hand = np.stack([ids[b * per_stream : (b + 1) * per_stream] for b in range(batch_size)], axis=1)
    np.testing.assert_array_equal(data.streams, by_hand)  # (S, B)
    assert data.streams.dtype == ids.dtype and data.streams.flags.c_contiguous
    # whole windows only: the last token of a stream is only ever a target
    assert len(data) == data.num_windows == (per_stream - 1) // window
    for i in range(len(data)):
        x, y = data.window_at(i)
        assert x.shape == y.shape == (window, batch_size)
        np.testing.assert_array_equal(x, by_hand[i * window : (i + 1) * window])
        np.testing.assert_array_equal(y, by_hand[i * window + 1 : (i + 1) * window + 1])
    assert (data.batch_size, data.window) == (batch_size, window)


def test_token_stream_is_batchify_read_by_whole_windows():
    ids = np.arange(103) % 7
    data = TokenStream(ids, 4, 5)  # 25 steps per stream, 24 with a target: 4 whole windows, 4 steps left
    np.testing.assert_array_equal(data.streams, batchify(ids, 4))
    assert isinstance(data.windows, Windows) and data.windows.drop_last
    assert len(data.windows) == len(data) == 4
    for i, (x, y) in enumerate(data.windows):
        got_x, got_y = data.window_at(i)
        np.testing.assert_array_equal(got_x, x)
        np.testing.assert_array_equal(got_y, y)
        assert np.shares_memory(got_x, data.streams)  # a view: a step copies nothing


@pytest.mark.parametrize(("make", "words"), [
    (lambda: SequenceData(np.zeros((4, 3)), np.zeros((4, 3), int)), "2-D x is read as token ids"),
    (lambda: SequenceData(np.zeros((4, 3, 2, 1), np.float32), np.zeros((4, 3))), "got shape (4, 3, 2, 1)"),
    (lambda: SequenceData(np.array([["a"]]), np.zeros((1, 1), int)), "x must hold numbers"),
    (lambda: SequenceData(np.zeros((0, 3), int), np.zeros((0, 3), int)), "the dataset is empty"),
    (lambda: SequenceData(np.zeros((4, 3), int), np.zeros((5, 3), int)), "y must be (T, N[, O]) = (4, 3"),
    (lambda: SequenceData(np.zeros((4, 3), int), np.zeros((4, 3), int), np.zeros((4, 3), bool)),
     "the mask selects no step"),
    (lambda: SequenceData(np.zeros((4, 3), int), np.zeros((4, 3), int), np.ones((3, 4), bool)),
     "mask must be (T, N) = (4, 3)"),
    (lambda: SequenceData(np.zeros((4, 3, 2), np.float32), np.zeros((3, 1)), np.ones((4, 3))),
     "needs targets per step"),
    (lambda: TokenStream(np.arange(20), batch_size=2, window=10), "fewer than one window of 10 steps"),
    (lambda: TokenStream(np.array([], dtype=np.int64), batch_size=1, window=1), "the stream has 0 tokens"),
    (lambda: TokenStream(np.linspace(0, 1, 20), batch_size=2, window=2), "1-D array of integer ids"),
    (lambda: TokenStream(np.arange(20), batch_size=0, window=2),
     "batch_size must be a positive integer, got 0"),
    (lambda: TokenStream(np.arange(20), batch_size=2, window=-1),
     "window must be a positive integer, got -1"),
    (lambda: TokenStream(np.arange(20), batch_size=2.0, window=2), "batch_size must be a positive integer"),
    (lambda: SequenceData(np.zeros((4, 3), int), np.zeros((4, 3), int), np.full((4, 3), 2)),
     "mask must be boolean or hold only 0 and 1"),
])
def test_bad_data_is_rejected_with_a_clear_message(make, words):
    with pytest.raises(ValueError) as info:
        make()
    assert words in str(info.value)


def test_window_at_names_a_bad_index_and_counts_negative_ones_from_the_end():
    stream = TokenStream(np.arange(100), batch_size=2, window=5)  # 49 steps per stream: 9 windows
    x_last, _ = stream.window_at(np.int64(-1))
    assert np.array_equal(x_last, stream.window_at(8)[0])
    for bad in (9, -10, 1.0, "0", None):
        with pytest.raises(ValueError, match=r"window index i must be .*\[-9, 8\], got"):
            stream.window_at(bad)


def test_per_step_is_a_flag_and_sizes_are_bounded():
    x, y = np.zeros((3, 2, 1)), np.zeros((3, 2, 1))
    assert SequenceData(x, y, per_step=np.bool_(True)).per_step is True
    with pytest.raises(ValueError, match="per_step must be None, True or False, got 'yes'"):
        SequenceData(x, y, per_step="yes")
    with pytest.raises(ValueError, match="window must be at most 1,048,576"):
        TokenStream(np.arange(100), 2, 2**21)


# -- lengths: pad_sequences, SequenceData(lengths=), BucketedData ----------------------------------
def test_pad_sequences_features_and_ids():
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 1, 4)]
    x, lens = pad_sequences(seqs)
    assert x.shape == (4, 3, 2) and x.dtype == np.float32 and lens.dtype == np.int64
    np.testing.assert_array_equal(lens, [3, 1, 4])
    for b, s in enumerate(seqs):
        np.testing.assert_array_equal(x[: len(s), b], s.astype(np.float32))
        assert not x[len(s) :, b].any()
    xb, _ = pad_sequences(seqs, dtype=np.float64, batch_first=True, padding_value=-5.0)
    assert xb.shape == (3, 4, 2) and xb.dtype == np.float64 and xb.flags.c_contiguous
    np.testing.assert_array_equal(xb[1, 1:], -5.0)
    np.testing.assert_array_equal(xb[2], seqs[2])
    ids, lens = pad_sequences([[1, 2, 3], [4], (5, 6)], padding_value=-1)
    np.testing.assert_array_equal(ids, [[1, 4, 5], [2, -1, 6], [3, -1, -1]])
    assert ids.dtype == np.int64 and list(lens) == [3, 1, 2]


@pytest.mark.parametrize("seqs, words", [
    ([], "sequences is empty"),
    (np.zeros((2, 3)), "must be a list"),
    ([np.zeros((2, 3)), np.zeros((0, 3))], "sequence 1 is empty"),
    ([np.zeros((2, 3)), np.zeros((2, 4))], "sequence 0 has 3, sequence 1 has 4"),
    ([[1, 2], np.zeros((2, 3))], "sequence 0 holds token ids (T,) but sequence 1 has shape (2, 3)"),
    ([np.zeros(3)], "sequence 0 is 1-D, which is read as token ids and must be integer"),
    ([np.zeros((2, 2, 2))], "sequence 0 must be (T,) token ids or (T, F) features, got shape (2, 2, 2)"),
    ([["a", "b"]], "sequence 0 must hold numbers"),
])
def test_pad_sequences_names_what_is_wrong(seqs, words):
    with pytest.raises(ValueError) as info:
        pad_sequences(seqs)
    assert words in str(info.value)


def test_pad_sequences_refuses_a_dtype_of_the_other_kind():
    with pytest.raises(ValueError, match="token ids are padded as integers, got dtype float32"):
        pad_sequences([[1, 2]], dtype=np.float32)
    with pytest.raises(ValueError, match="dtype must be one of float32, float64, got int64"):
        pad_sequences([np.zeros((2, 1))], dtype=np.int64)


def test_sequence_data_cuts_each_batch_to_its_longest_sequence():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4, 2))
    lens = np.array([2, 6, 3, 1])
    per_seq = SequenceData(x, np.arange(4), lengths=lens)
    bx, by, bm, bl = per_seq.batch(np.array([0, 2]))
    assert bx.shape == (3, 2, 2) and bm is None
    np.testing.assert_array_equal(bl, [2, 3])
    np.testing.assert_array_equal(by, [0, 2])
    mask = rng.random((6, 4)) < 0.8
    per_step = SequenceData(x, rng.standard_normal((6, 4, 1)), mask=mask, lengths=lens)
    bx, by, bm, bl = per_step.batch(np.array([3, 1]))
    assert bx.shape == (6, 2, 2) and by.shape == (6, 2, 1)
    np.testing.assert_array_equal(bm, (mask & (np.arange(6)[:, None] < lens))[:, [3, 1]])


def test_sequence_data_checks_lengths():
    x = np.zeros((4, 2, 1))
    with pytest.raises(ValueError, match=r"lengths must be a 1-D integer array of 2 sequence.*shape \(3,\)"):
        SequenceData(x, np.zeros(2, int), lengths=[1, 2, 3])
    with pytest.raises(ValueError, match="got dtype float64"):
        SequenceData(x, np.zeros(2, int), lengths=np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="the mask selects no step inside the lengths"):
        SequenceData(x, np.zeros((4, 2, 1)), mask=np.arange(4)[:, None].repeat(2, 1) == 3, lengths=[1, 2])
    with pytest.raises(ValueError, match="give lengths to say where each sequence ends"):
        SequenceData(x, np.zeros(2, int), mask=np.ones((4, 2), bool))


def test_bucketed_data_batches_sequences_of_about_one_length():
    rng = np.random.default_rng(7)
    lens = rng.integers(1, 9, size=10)
    x = rng.standard_normal((8, 10, 2))
    data = BucketedData(x, np.arange(10), lens, batch_size=4, seed=3)
    assert len(data) == 3 and data.sequences == 10
    assert sorted(np.concatenate(data.buckets).tolist()) == list(range(10))
    spans = [lens[b] for b in data.buckets]
    assert all(a.max() <= b.min() for a, b in zip(spans, spans[1:], strict=False))  # ordered by length
    bx, by, _, bl = data.batch(np.array([2]))
    np.testing.assert_array_equal(by, data.buckets[2])
    assert bx.shape[0] == bl.max()
