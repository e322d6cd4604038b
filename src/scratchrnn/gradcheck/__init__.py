"""Gradient checks: central differences (``checker``), the truncated-BPTT objective they are taken
of (``truncated``), and the matrix of layer configurations that ``scratchrnn gradcheck`` runs
(``matrix``). Every name is importable from ``scratchrnn.gradcheck`` as before the split.
"""

from .checker import (
    DEFAULT_ATOL,
    DEFAULT_EPS,
    DEFAULT_RTOL,
    DEFAULT_SAMPLE_SEED,
    GradcheckReport,
    ParamCheck,
    check_gradients,
    numerical_gradient,
)
from .matrix import GradcheckConfig, check_config, matrix_configs, recurrent_cells, run_matrix
from .truncated import truncated_objective

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_EPS",
    "DEFAULT_RTOL",
    "DEFAULT_SAMPLE_SEED",
    "GradcheckConfig",
    "GradcheckReport",
    "ParamCheck",
    "check_config",
    "check_gradients",
    "matrix_configs",
    "numerical_gradient",
    "recurrent_cells",
    "run_matrix",
    "truncated_objective",
]
