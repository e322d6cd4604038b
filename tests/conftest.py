"""Test-session setup.

The tests check numbers, not speed: BLAS runs single-threaded so that small matrix products do
not fight over the cores (benchmarks, which do measure speed, set their own thread counts).
This runs before numpy is imported, which is when OpenBLAS reads these variables.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
