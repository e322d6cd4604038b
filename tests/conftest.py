"""Test-session setup.

The tests check numbers, not speed: BLAS runs single-threaded so that small matrix products do
not fight over the cores (benchmarks, which do measure speed, set their own thread counts).
This runs before numpy is imported, which is when OpenBLAS reads these variables.

Every test runs with the workspace (``scratchrnn.nn.workspace``) pooling every array it hands out,
however small, and filling each with NaN: a layer, loss or trainer that read an element of such an
array before writing it would spoil the numbers the tests check.

A test that checks an HTML page in a real browser takes the ``browser`` fixture: one headless
Chromium per test process (tests/browser.py), skipped where none is installed unless
SCRATCHRNN_REQUIRE_BROWSER=1, as in CI, makes that a failure.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings above)
import pytest  # noqa: E402

from browser import browser_or_skip  # noqa: E402
from scratchrnn.nn import workspace  # noqa: E402


@pytest.fixture(autouse=True)
def pooled_and_poisoned(monkeypatch):
    """Every workspace array comes from the pool and arrives full of NaN (see the module docstring)."""
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    monkeypatch.setattr(workspace, "FILL", np.nan)


@pytest.fixture(scope="session")
def browser():
    """The test process's headless Chromium; each ``open`` gives a test a fresh page."""
    with browser_or_skip() as b:
        yield b
