"""The reusable buffers of scratchrnn.nn.workspace: reuse only when nothing else refers to them."""

import threading

import numpy as np
import pytest

from scratchrnn.nn import LSTM, workspace

BIG = (512, 1024)  # 2 MiB of float32, above MIN_BYTES


@pytest.fixture(autouse=True)
def empty_pool():
    workspace.clear()
    yield
    workspace.clear()


def test_shape_dtype_layout_and_alignment():
    a = workspace.empty(BIG, np.float32)
    assert a.shape == BIG and a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable
    assert a.ctypes.data % (1 << 21) == 0  # starts on a huge-page boundary
    b = workspace.empty(7, np.float64)  # small: a plain numpy array, not pooled
    assert b.shape == (7,) and workspace.pooled_bytes() == a.nbytes + (1 << 21)


def test_a_free_buffer_is_reused_with_any_shape_of_the_same_size():
    a = workspace.empty(BIG, np.float32)
    addr = a.ctypes.data
    del a
    b = workspace.empty((1024, 512), np.float32)
    assert b.ctypes.data == addr
    del b
    c = workspace.empty((256, 1024), np.float64)  # same number of bytes, another dtype
    assert c.ctypes.data == addr


def test_memory_still_referenced_is_never_handed_out_again():
    a = workspace.empty(BIG, np.float32)
    addr = a.ctypes.data
    a[:] = 1.0
    view = a[3:, ::2]  # a view keeps the buffer in use after the array itself is gone
    del a
    b = workspace.empty(BIG, np.float32)
    assert b.ctypes.data != addr
    b[:] = 2.0
    assert np.all(view == 1.0)
    del view
    c = workspace.empty(BIG, np.float32)
    assert c.ctypes.data == addr


def test_the_pool_keeps_at_most_max_bytes(monkeypatch):
    monkeypatch.setattr(workspace, "MAX_BYTES", 3 * (4 << 20))
    for _ in range(10):  # each dropped at once: freed buffers are trimmed as new ones come
        workspace.empty((1 << 20,), np.float32)
        workspace.empty((1 << 20, 2), np.float32)  # another size, so nothing is reused
    assert workspace.pooled_bytes() <= workspace.MAX_BYTES
    held = [workspace.empty((1 << 20, k), np.float32) for k in (3, 4, 5)]  # in use: kept over the cap
    assert workspace.pooled_bytes() >= sum(h.nbytes for h in held)
    workspace.clear()
    assert workspace.pooled_bytes() >= sum(h.nbytes for h in held)  # in-use buffers stay
    del held
    workspace.clear()
    assert workspace.pooled_bytes() == 0


def test_each_thread_has_its_own_pool():
    a = workspace.empty(BIG, np.float32)
    seen = {}

    def other():
        seen["pooled_before"] = workspace.pooled_bytes()
        b = workspace.empty(BIG, np.float32)
        seen["addr"] = b.ctypes.data

    th = threading.Thread(target=other)
    th.start()
    th.join()
    assert seen["pooled_before"] == 0
    assert seen["addr"] != a.ctypes.data


def test_a_kept_forward_cache_survives_later_calls_of_the_same_shape():
    """Two forward passes in flight: the second must not write into the first one's buffers."""
    rng = np.random.default_rng(0)
    lstm = LSTM(64, 128, dtype=np.float32, rng=0)
    x1 = rng.standard_normal((40, 32, 64), dtype=np.float32)
    x2 = rng.standard_normal((40, 32, 64), dtype=np.float32)
    g = rng.standard_normal((40, 32, 128), dtype=np.float32)
    out1, _, cache1 = lstm.forward(x1)
    ref_out = out1.copy()
    ref = lstm.backward(g, None, cache1)
    for _ in range(3):  # more passes of the same shape, dropped at once: their memory is reused
        lstm.backward(g, None, lstm.forward(x2)[2])
    np.testing.assert_array_equal(out1, ref_out)
    again = lstm.backward(g, None, cache1)
    np.testing.assert_array_equal(again[0], ref[0])
    for name in ref[2]:
        np.testing.assert_array_equal(again[2][name], ref[2][name])
    assert workspace.pooled_bytes() > 0  # the LSTM's big arrays do come from the pool
