"""SGD (scratchrnn.optim.sgd): against torch.optim.SGD, and bad hyperparameters."""

from __future__ import annotations

import pytest

from optim_cases import SGD_CASES, assert_matches_torch, make_params
from scratchrnn.optim import SGD

pytest.importorskip("torch")


@pytest.mark.parametrize("case", list(SGD_CASES))
def test_matches_torch_optim(case):
    assert_matches_torch(SGD_CASES[case])


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda p: SGD(p, momentum=-0.9), r"momentum"),
        (lambda p: SGD(p, lr=0.1, nesterov=True), r"nesterov"),
        (lambda p: SGD(p, weight_decay=-1), r"weight_decay"),
    ],
)
def test_bad_hyperparameters(build, match):
    with pytest.raises(ValueError, match=match):
        build(make_params())
