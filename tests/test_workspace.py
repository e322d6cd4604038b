"""The reusable buffers of scratchrnn.nn.workspace: memory goes back to the pool only when no array
made from it is alive."""

import gc
import threading

import numpy as np
import pytest

from scratchrnn.nn import LSTM, workspace

BIG = (512, 1024)  # 2 MiB of float32, above MIN_BYTES
DEFAULTS = {"MIN_BYTES": workspace.MIN_BYTES, "FILL": workspace.FILL}  # read at import, before any fixture


@pytest.fixture(autouse=True)
def empty_pool(monkeypatch):
    """The library's own settings (conftest pools everything and fills it with NaN elsewhere)."""
    for name, value in DEFAULTS.items():
        monkeypatch.setattr(workspace, name, value)
    workspace.clear()
    yield
    workspace.clear()


def test_shape_dtype_layout_and_alignment():
    a = workspace.empty(BIG, np.float32)
    assert a.shape == BIG and a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable
    assert a.ctypes.data % (1 << 21) == 0  # starts on a huge-page boundary
    b = workspace.empty(7, np.float64)  # small: a plain numpy array, not pooled
    assert b.shape == (7,) and b.base is None
    assert workspace.empty([3, 4], np.float32).shape == (3, 4)


@pytest.mark.parametrize("bad", [(2.5, 3), (-1, 4), "12", (True, 2), None])
def test_a_bad_shape_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="shape of non-negative ints"):
        workspace.empty(bad, np.float32)


def test_a_free_buffer_is_reused_with_another_shape_or_dtype_of_the_same_size():
    a = workspace.empty(BIG, np.float32)
    addr = a.ctypes.data
    del a
    assert workspace.free_bytes() > 0
    b = workspace.empty((1024, 512), np.float32)
    assert b.ctypes.data == addr and workspace.free_bytes() == 0
    del b
    c = workspace.empty((256, 1024), np.float64)  # the same number of bytes
    assert c.ctypes.data == addr


def test_memory_still_referenced_is_never_handed_out_again():
    a = workspace.empty(BIG, np.float32)
    addr = a.ctypes.data
    a[:] = 1.0
    kept = [a[3:, ::2], a.reshape(-1)[10:], a.T, np.asarray(a)]  # views, however derived
    del a
    for _ in range(len(kept)):  # (not over kept: the loop variable would hold a view)
        b = workspace.empty(BIG, np.float32)
        assert b.ctypes.data != addr
        b[:] = 2.0
        assert np.all(kept[-1] == 1.0)
        del b
    while len(kept) > 1:
        kept.pop(0)
        assert workspace.empty(BIG, np.float32).ctypes.data != addr  # the last view still holds it
    free_before = workspace.free_bytes()
    kept.clear()
    assert workspace.free_bytes() > free_before  # the first buffer is free now
    handed = [workspace.empty(BIG, np.float32) for _ in range(len(kept) + 5)]
    assert addr in {h.ctypes.data for h in handed}


def test_a_buffer_dropped_in_another_thread_comes_back_too():
    a = workspace.empty(BIG, np.float32)
    addr = a.ctypes.data
    box = [a]
    del a
    th = threading.Thread(target=box.clear)
    th.start()
    th.join()
    gc.collect()
    assert workspace.empty(BIG, np.float32).ctypes.data == addr


def test_free_buffers_beyond_the_budget_are_given_back(monkeypatch):
    monkeypatch.setattr(workspace, "MAX_FREE_BYTES", 3 * (6 << 20))
    held = [workspace.empty((1 << 20, k), np.float32) for k in range(1, 9)]  # 4 .. 32 MiB, in use
    assert workspace.free_bytes() == 0
    held.clear()  # all free at once: only the newest that fit the budget stay
    assert 0 < workspace.free_bytes() <= workspace.MAX_FREE_BYTES
    workspace.clear()
    assert workspace.free_bytes() == 0


def test_a_buffer_much_bigger_than_asked_is_not_used():
    big = workspace.empty((1 << 22,), np.float32)  # 16 MiB
    addr = big.ctypes.data
    del big
    small = workspace.empty((1 << 19,), np.float32)  # 2 MiB: the free 16 MiB is over twice that
    assert small.ctypes.data != addr


def test_fill_poisons_every_handed_out_float_array(monkeypatch):
    monkeypatch.setattr(workspace, "FILL", np.nan)
    assert np.isnan(workspace.empty(BIG, np.float32)).all()
    assert np.isnan(workspace.empty((3, 2), np.float64)).all()


def test_kept_forward_caches_survive_later_calls_of_the_same_shape():
    """Passes in flight at once: later ones must not write into the memory of earlier ones."""
    rng = np.random.default_rng(0)
    lstm = LSTM(64, 128, num_layers=2, dtype=np.float32, rng=0)
    x1 = rng.standard_normal((40, 32, 64), dtype=np.float32)
    x2 = rng.standard_normal((40, 32, 64), dtype=np.float32)
    g = rng.standard_normal((40, 32, 128), dtype=np.float32)
    out1, _, cache1 = lstm.forward(x1)
    ref_out = out1.copy()
    ref = lstm.backward(g, None, cache1)
    ref_dx = ref[0].copy()
    for _ in range(3):  # more passes of the same shape, dropped at once: their memory is reused
        lstm.backward(g, None, lstm.forward(x2)[2])
    assert workspace.free_bytes() > 0  # the LSTM's big arrays do come from the pool
    np.testing.assert_array_equal(out1, ref_out)
    np.testing.assert_array_equal(ref[0], ref_dx)  # a kept dx is not overwritten either
    again = lstm.backward(g, None, cache1)
    np.testing.assert_array_equal(again[0], ref[0])
    for name in ref[2]:
        np.testing.assert_array_equal(again[2][name], ref[2][name])


def test_an_array_dropped_while_the_pool_is_locked_does_not_deadlock():
    """A finalizer can run inside the garbage collector while the same thread holds the pool's
    lock (in ``empty``); it must not wait for that lock."""
    a = workspace.empty(BIG, np.float32)

    def drop_while_locked():
        nonlocal a
        with workspace._lock:
            del a  # the last reference: the finalizer runs here, in this thread

    worker = threading.Thread(target=drop_while_locked, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "returning a buffer waited for the lock its own thread held"
    assert workspace.free_bytes() >= BIG[0] * BIG[1] * 4


def test_copy_gives_a_contiguous_pooled_copy():
    src = np.arange(2 * 512 * 1024, dtype=np.float32).reshape(1024, 1024)[:, ::2].T  # (512, 1024)
    c = workspace.copy(src)
    assert c.flags.c_contiguous and c.shape == src.shape and c.dtype == src.dtype
    assert np.array_equal(c, src) and not np.shares_memory(c, src)
    assert isinstance(c.base, workspace._Lease)


def test_zeros_gives_zeros_in_reused_memory(monkeypatch):
    monkeypatch.setattr(workspace, "FILL", np.nan)
    a = workspace.empty((512, 1024), np.float32)  # 2 MiB, NaN-filled
    a_raw = a.base.raw
    del a
    z = workspace.zeros((1024, 512), np.float32)
    assert z.base.raw is a_raw  # the same buffer again
    assert z.shape == (1024, 512) and z.dtype == np.float32 and not np.any(z)


def test_workspace_arrays_hold_numbers():
    assert workspace.empty((2, 3), np.int8).dtype == np.int8
    for bad, got in ((None, "None"), ("bogus", "'bogus'"), (object, "object")):
        with pytest.raises(ValueError, match=f"dtype must be a numeric dtype, got {got}"):
            workspace.empty((2, 3), bad)
