"""Binary to decimal with a two-weight linear RNN trained by plain Rprop.

Model (no bias, read most significant bit first, s_0 = 0)::

    s_k = x_k * w_x + s_{k-1} * w_rec        y = s_n

With w = (1, 2) the final state is exactly the number's value, so the task has a known answer.
The loss is the mean squared error over a full batch of random 8-bit numbers; the gradient is
ill-conditioned (w_rec enters as w_rec**7), which is why the tutorial uses Resilient
Backpropagation: only the sign of each gradient is used, with step sizes that grow by 1.2 while
the sign holds and halve when it flips.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..checks import check_int, check_real
from ..data.synthetic import MAX_BITS, all_binary_numbers, binary_numbers
from ..losses import mse
from ..nn import RNN
from ..optim import PlainRprop
from .base import TaskResult

__all__ = ["Config", "build_model", "predict", "run"]

TUTORIAL_ITERATIONS = 500  # the tutorial's training length, reported for comparison


@dataclass
class Config:
    """The binary-to-decimal task's settings (the tutorial's, where it has them).

    Attributes:
        samples (int, default 20): random training numbers in the full batch.
        bits (int, default 8): bits per training number.
        iterations (int, default 50000): most full-batch Rprop steps (the tutorial ran 500).
        tolerance (float, default 1e-20): training stops once the mean squared error is below this.
        init_step (float, default 0.001): Rprop's initial step size for both weights.
        eta_plus (float, default 1.2): step growth while a gradient keeps its sign.
        eta_minus (float, default 0.5): step shrink when it flips.
        test_bits (int, default 24): width of the random numbers that test generalisation.
        test_samples (int, default 1000): how many of them (every 8-bit number is tested too).
        seed (int, default 0): seeds the training numbers; the test numbers use seed + 1.
    """

    samples: int = 20  # training numbers, as in the tutorial
    bits: int = 8  # bits per training number
    iterations: int = 50_000  # at most this many full-batch Rprop steps (the tutorial ran 500)
    tolerance: float = 1e-20  # stop once the mean squared error is below this
    init_step: float = 0.001  # Rprop's initial step size (tutorial)
    eta_plus: float = 1.2  # step growth while the gradient keeps its sign
    eta_minus: float = 0.5  # step shrink when it flips
    test_bits: int = 24  # width of the random generalisation numbers
    test_samples: int = 1000
    seed: int = 0

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field (numpy scalars are stored as Python numbers)."""
        self.samples = check_int("samples", self.samples, low=1)
        self.bits = check_int("bits", self.bits, low=1, high=MAX_BITS)
        self.iterations = check_int("iterations", self.iterations, low=1)
        self.tolerance = check_real("tolerance", self.tolerance, low=0.0)
        self.init_step = check_real("init_step", self.init_step, low=0.0, low_open=True)
        self.eta_plus = check_real("eta_plus", self.eta_plus, low=1.0, low_open=True)
        self.eta_minus = check_real("eta_minus", self.eta_minus, low=0.0, high=1.0, low_open=True,
                                    high_open=True)
        self.test_bits = check_int("test_bits", self.test_bits, low=1, high=MAX_BITS)
        self.test_samples = check_int("test_samples", self.test_samples, low=1)
        self.seed = check_int("seed", self.seed, low=0)

    @classmethod
    def quick(cls) -> Config:
        return cls()


def build_model() -> RNN:
    """The tutorial's model: weights start at (w_x, w_rec) = (1, 1)."""
    rnn = RNN(1, 1, nonlinearity="identity", bias=False, dtype=np.float64, rng=0)
    rnn.params["weight_ih_l0"][...] = 1.0
    rnn.params["weight_hh_l0"][...] = 1.0
    return rnn


def predict(rnn: RNN, x: np.ndarray) -> np.ndarray:
    """x (bits, N, 1) most significant bit first -> the final state (N,)."""
    _, h_n, _ = rnn.forward(x)
    return h_n[0, :, 0]


def loss_and_grads(rnn: RNN, x: np.ndarray, values: np.ndarray):
    """MSE of the final state against the values, and its gradient w.r.t. both weights."""
    _, h_n, cache = rnn.forward(x)  # h_n (1, N, 1)
    loss, dpred = mse(h_n[0, :, 0], values)
    _, _, grads = rnn.backward(None, dpred.reshape(h_n.shape), cache)  # many-to-one through h_n
    return loss, grads


def loss_surface(x: np.ndarray, values: np.ndarray, wx: np.ndarray, wrec: np.ndarray) -> np.ndarray:
    """The MSE on a grid of (w_x, w_rec), vectorized over the grid (for the plot)."""
    WX, WR = np.meshgrid(wx, wrec, indexing="xy")  # (R, C)
    s = np.zeros(WX.shape + (x.shape[1],))  # (R, C, N)
    for k in range(x.shape[0]):
        s = x[k, :, 0] * WX[..., None] + s * WR[..., None]
    return np.mean((s - values) ** 2, axis=-1)  # (R, C)


def run(cfg: Config | None = None) -> TaskResult:
    cfg = cfg or Config()
    t0 = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    x, values = binary_numbers(cfg.samples, cfg.bits, rng)  # (bits, N, 1), (N,)
    x = x.astype(np.float64)
    values = values.astype(np.float64)
    rnn = build_model()
    # sign_rule "equal" is the tutorial's loop: grow while sign == previous sign (0 == 0 included)
    opt = PlainRprop(rnn.params, init_step=cfg.init_step, eta_plus=cfg.eta_plus, eta_minus=cfg.eta_minus,
                     sign_rule="equal")
    losses, path = [], [(1.0, 1.0)]
    for _ in range(cfg.iterations):
        loss, grads = loss_and_grads(rnn, x, values)
        losses.append(loss)
        if loss < cfg.tolerance:
            break
        opt.step(grads)
        path.append((float(rnn.params["weight_ih_l0"][0, 0]), float(rnn.params["weight_hh_l0"][0, 0])))
    w = np.array(path[-1])
    steps = len(path) - 1  # Rprop updates made; the last loss evaluation may have stopped the loop
    at_500 = path[min(TUTORIAL_ITERATIONS, len(path) - 1)]
    err = float(np.max(np.abs(w - np.array([1.0, 2.0]))))
    # every 8-bit number, and random 24-bit numbers, must come out exactly after rounding
    x8, v8 = all_binary_numbers(8)
    ok8 = int(np.sum(np.rint(predict(rnn, x8.astype(np.float64))) == v8))
    x24, v24 = binary_numbers(cfg.test_samples, cfg.test_bits, np.random.default_rng(cfg.seed + 1))
    ok24 = int(np.sum(np.rint(predict(rnn, x24.astype(np.float64))) == v24))
    passed = err <= 1e-3 and ok8 == len(v8) and ok24 == len(v24)
    return TaskResult(
        name="binary-to-decimal",
        tutorial=f"{TUTORIAL_ITERATIONS} Rprop steps; here they reach w = ({at_500[0]:.3f}, {at_500[1]:.3f})",
        ours=f"w = ({w[0]:.9f}, {w[1]:.9f}) after {steps} steps; {ok8}/{len(v8)} 8-bit and "
             f"{ok24}/{len(v24)} {cfg.test_bits}-bit exact",
        target="|w - (1, 2)| <= 1e-3, every conversion exact",
        passed=passed,
        seconds=time.perf_counter() - t0,
        metrics={"w_x": w[0], "w_rec": w[1], "max_weight_error": err, "final_loss": losses[-1],
                 "exact_8bit": ok8, "exact_24bit": ok24, "iterations": steps,
                 "w_after_500": list(at_500)},
        curves={"loss": losses},
        artifacts={"path": np.array(path), "x": x, "values": values},
        figures=("binary_surface",),
    )
