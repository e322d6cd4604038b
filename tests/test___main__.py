"""``python -m scratchrnn``: the command line as a program, with SIGINT and SIGTERM taken before
anything heavy is imported, so an interrupt during start-up is a quiet exit with its status."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from cli_helpers import ENV, command, our_traceback, run_cli


def test_runs_the_command_line():
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.startswith("scratchrnn ")


def test_importing_the_module_leaves_the_handlers_alone():
    code = ("import signal, scratchrnn.__main__ as m; "
            "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, "
            "signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, m.main(['--version']))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert res.stdout.split()[-3:] == ["True", "True", "0"], res.stderr


def test_the_package_takes_the_signals_before_numpy_loads():
    code = "import sys, scratchrnn, scratchrnn.runs; print('numpy' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert res.stdout.strip() == "False", res.stderr


def test_an_interrupt_during_start_up_is_a_quiet_exit():
    # eval imports the language models (numpy, the layers) before it finds its file is missing
    statuses = []
    for sig, delay in ((signal.SIGINT, 0.06), (signal.SIGTERM, 0.06), (signal.SIGINT, 0.12),
                       (signal.SIGTERM, 0.12)):
        proc = subprocess.Popen(command("eval", "missing.npz", "missing.txt"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=ENV)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        if proc.returncode == 1 and "init_import_site" in err:
            continue  # it came while Python itself started (its site import), before any of ours ran
        assert proc.returncode in (2, 128 + sig, -sig), (proc.returncode, err)  # 2: done before it
        assert not our_traceback(err), err
        statuses.append(proc.returncode)
    assert {130, 143} & set(statuses), statuses  # some came while the package was starting


def test_an_import_broken_by_a_signal_is_the_signal_s_quiet_exit(monkeypatch):
    import scratchrnn.__main__ as entry
    import scratchrnn.cli
    from scratchrnn.runs import SIGNAL_GUARD

    def interrupted_import(argv):
        SIGNAL_GUARD.received = signal.SIGTERM  # as the handler records it before raising
        raise ImportError("PyCapsule_Import could not import module \"datetime\"")

    monkeypatch.setattr(scratchrnn.cli, "main", interrupted_import)
    assert entry.main([]) == 128 + signal.SIGTERM


def test_an_import_error_without_a_signal_is_raised(monkeypatch):
    import scratchrnn.__main__ as entry
    import scratchrnn.cli

    def broken(argv):
        raise ImportError("a missing module")

    monkeypatch.setattr(scratchrnn.cli, "main", broken)
    with pytest.raises(ImportError, match="a missing module"):
        entry.main([])
