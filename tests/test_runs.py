"""Run folders (exclusive names, cleanup of only what a run made) and the signal guard."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from scratchrnn.runs import SIGNAL_GUARD, Interrupted, RunFolder, SignalGuard, resume_command

NOW = 1_700_000_000.0  # one fixed second, so every folder below wants the same name


def test_default_folders_in_the_same_second_get_suffixes(tmp_path):
    folders = [RunFolder.create(None, "train-char", root=tmp_path / "runs", now=NOW) for _ in range(3)]
    names = [f.path.name for f in folders]
    assert names[1] == names[0] + "-2" and names[2] == names[0] + "-3"
    assert all(f.created and f.path.is_dir() for f in folders)


def test_an_existing_out_folder_is_used_but_not_owned(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    folder = RunFolder.create(tmp_path / "mine", "x")
    assert not folder.created
    log = folder.claim("log.jsonl")
    log.write_text("{}\n")
    kept = folder.claim("notes.txt")  # existed before: not the run's
    folder.discard()
    assert not log.exists() and kept.exists() and folder.path.is_dir()


def test_discard_removes_a_made_folder_only_when_empty(tmp_path):
    folder = RunFolder.create(tmp_path / "a" / "b", "x")
    folder.claim("model.npz").write_bytes(b"1")
    assert folder.made() == [folder.path / "model.npz"]
    folder.discard()
    assert not folder.path.exists() and (tmp_path / "a").is_dir()
    other = RunFolder.create(tmp_path / "c", "x")
    (other.path / "someone-elses.txt").write_text("x")  # written by another process
    other.discard()
    assert (other.path / "someone-elses.txt").exists()


def test_folders_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="cannot create output folder"):
        RunFolder.create(blocker / "sub", "x")
    with pytest.raises(ValueError, match="is not a writable folder"):
        RunFolder.create(blocker, "x")
    with pytest.raises(ValueError, match="cannot create output folder"):
        RunFolder.create(None, "x", root=blocker)


def test_the_resume_command_names_the_checkpoint_and_little_else():
    assert resume_command("scratchrnn", "runs/x/last.npz") == "scratchrnn train --resume runs/x/last.npz"
    assert resume_command("python -m scratchrnn", "runs/my run/last.npz", text="my text.txt",
                          options=["--time-limit", "5"]) == (
        "python -m scratchrnn train 'my text.txt' --resume 'runs/my run/last.npz' --time-limit 5")


def test_interrupted_is_a_quiet_system_exit_with_the_signal_status():
    exc = Interrupted(signal.SIGTERM)
    assert isinstance(exc, SystemExit) and not isinstance(exc, Exception)
    assert exc.code == exc.status == 143 and str(exc) == "interrupted by SIGTERM"


def test_the_guard_raises_at_once_and_defers_inside_deferred():
    guard = SignalGuard()
    before = signal.getsignal(signal.SIGINT)
    with guard.installed():
        with pytest.raises(Interrupted) as info:
            os.kill(os.getpid(), signal.SIGINT)
            signal.sigtimedwait([], 0) if hasattr(signal, "sigtimedwait") else None
            for _ in range(1000):  # the handler runs between bytecodes
                pass
        assert info.value.status == 130 and guard.received == signal.SIGINT
    with guard.installed():
        assert guard.received is None
        with guard.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):
                pass
            assert guard.received == signal.SIGTERM  # recorded, not raised
            with pytest.raises(Interrupted):  # a second one does not wait
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(1000):
                    pass
    assert signal.getsignal(signal.SIGINT) is before


def test_blocked_holds_a_signal_another_thread_took_until_the_block_ends():
    guard = SignalGuard()
    seen, go = [], threading.Event()
    other = threading.Thread(target=lambda: (go.wait(), signal.raise_signal(signal.SIGTERM)))
    other.start()  # made before the block, so SIGTERM is not masked in it
    with guard.installed(), pytest.raises(Interrupted):
        with guard.blocked():
            go.set()
            other.join()  # its C handler ran there; the Python handler runs here, in the block
            for _ in range(1000):
                pass
            seen.append("still here")
    assert seen == ["still here"] and guard.received == signal.SIGTERM


def test_blocked_holds_a_signal_until_the_block_ends():
    guard = SignalGuard()
    seen = []
    with guard.installed(), pytest.raises(Interrupted):
        with guard.blocked():
            # to the main thread: the block masks the signal there, and a test runner's worker has
            # other threads a signal sent to the whole process may be delivered to instead
            signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
            for _ in range(1000):
                pass
            seen.append("still here")
    assert seen == ["still here"]


def _signal_in_a_weakref_callback():
    """A signal whose handler runs inside a weakref callback (as importlib's module-lock callback
    runs during an import), where Python cannot raise the handler's exception and drops it."""
    import weakref

    class Thing:
        pass

    def callback(_):
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        for _ in range(1000):  # the handler runs at the next check, still inside the callback
            pass

    thing = Thing()
    ref = weakref.ref(thing, callback)
    del thing
    return ref


def test_a_signal_python_dropped_is_raised_at_the_next_blocked_block(capsys):
    guard = SignalGuard()
    seen = []
    with guard.installed(), pytest.raises(Interrupted) as caught:
        _signal_in_a_weakref_callback()
        seen.append("the work went on")  # Python dropped the Interrupted: the guard kept it
        with guard.blocked():
            seen.append("the block ran")
        seen.append("not reached")
    assert seen == ["the work went on", "the block ran"] and caught.value.signum == signal.SIGINT
    assert "Interrupted" not in capsys.readouterr().err  # not printed as an ignored exception


def test_a_signal_python_dropped_stops_a_deferred_loop_before_it_starts():
    guard = SignalGuard()
    with guard.installed(), pytest.raises(Interrupted):
        _signal_in_a_weakref_callback()
        with guard.deferred():
            pytest.fail("the loop started")


def test_other_unraisable_exceptions_reach_the_hook_installed_before(monkeypatch):
    import sys
    import weakref

    class Thing:
        pass

    def callback(_):
        raise ValueError("a callback's own error")

    got = []
    monkeypatch.setattr(sys, "unraisablehook", got.append)
    guard = SignalGuard()
    with guard.installed():
        thing = Thing()
        ref = weakref.ref(thing, callback)
        del thing  # the callback raises where Python cannot propagate it
    assert ref() is None and sys.unraisablehook == got.append
    assert [str(u.exc_value) for u in got] == ["a callback's own error"]


def test_outside_the_main_thread_the_guard_stands_aside():
    result = []

    def work():
        with SIGNAL_GUARD.installed(), SIGNAL_GUARD.blocked():
            result.append(signal.getsignal(signal.SIGINT))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert result == [signal.getsignal(signal.SIGINT)]
