"""scratchrnn.data.sequences: the layouts SequenceData accepts and what its batches hold, TokenStream's
parallel streams and windows against the cutting written out by hand (and against batchify and
Windows, which it is built on), and bad input named in the message."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.data import SequenceData, TokenStream, Windows, batchify


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
