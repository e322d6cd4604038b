"""The forecaster on a ~300-point series: the wall time of a whole fit and backtest, and its
model's training step against PyTorch on the CPU.

Part 1, fit and backtest (scratchrnn only; PyTorch has no forecaster to compare with): the shipped
yearly sunspot numbers (``scratchrnn.data.load_series("sunspots")``, 309 values) with the forecast
task's settings (``scratchrnn.tasks.forecast.SETTINGS["sunspots"]``, hidden size 64):

    fc = Forecaster(hidden_size=64, random_state=seed, **SETTINGS["sunspots"]).fit(y[:-40])
    bt = backtest(fc, y, len(y) - 40, steps=5)

The fit time holds both models (the point model and the quantile model, each trained with Adam and
early stopping on its validation windows, and the calibration of the quantiles); the epochs each
ran are the validations in ``fc.history_.evals`` / ``fc.quantile_history_.evals`` (one per epoch).
Each run uses its own seed (0, 1, 2, ...; 3 runs, 1 with ``--quick``); the table shows every run and
the median.

Part 2, one training step of the forecaster's model, both libraries side by side (float32,
time-major, same thread count, one process, interleaved):

    GRU(1, 64), one layer, over windows x (T=24, B=32, 1) -> Linear(64, O) on the last step's output
    (head "last") -> loss -> backward -> SGD (lr 0.1) on every parameter

for the point model (O = 1, mean squared error) and the quantile model (O = 5 horizons x 3
quantiles = 15, the pinball loss of ``scratchrnn.losses.pinball`` against (B, 5) targets, levels
0.1 / 0.5 / 0.9). scratchrnn runs the ``SequenceModel`` the forecaster builds (the same
``ModelConfig``) with ``forward`` / ``backward`` and an in-place numpy update. PyTorch runs
``scratchrnn.io.to_torch`` of that model, its ``rnn`` and ``head`` called directly (``head(out[-1])``,
which is head "last" without lengths), ``F.mse_loss`` or the pinball loss written with
``torch.maximum`` as the same formula, and ``torch.optim.SGD``. The inputs and targets are random
standard normals (a step's cost does not depend on the values).

scratchrnn's backward always returns the gradient with respect to a dense input, so the PyTorch
input has ``requires_grad=True`` and both sides do the same work (with one input feature it is a
small share of the step). Before timing, the first step's losses and updated weights must agree
within 1e-4 (``common.check_step_agreement``); every timed repeat starts from the initial weights
again (restored outside the timed region). The table shows the median ms (IQR) and the speed-up,
torch ms / scratchrnn ms: above 1 means scratchrnn is faster.

Run: ``python benchmarks/bench_forecast.py [--quick] [--runs N] [--repeats N] [--budget S]
[--config I ...]`` (``--runs 0`` skips part 1; ``--config`` picks the training-step configs).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

import bench_lstm_gru as lstm_gru
from common import (
    RepeatPolicy,
    ScratchModules,
    TorchModules,
    check_step_agreement,
    machine_info,
    ms_cell,
    picked_configs,
    print_table,
    result_name,
    setup_threads,
    time_interleaved,
    timing_dict,
    timing_parser,
    torch_mkldnn_info,
    write_json,
)
from scratchrnn.data import load_series
from scratchrnn.forecast import Forecaster, backtest
from scratchrnn.losses import mse, pinball
from scratchrnn.nn.model import ModelConfig, SequenceModel
from scratchrnn.tasks.forecast import HELD_OUT, SETTINGS

NAME = "bench_forecast"
SERIES = "sunspots"
HIDDEN = 64  # the forecast task's default hidden size
FULL_RUNS = 3  # fit + backtest runs of a full run, seeds 0, 1, ...
QUICK_RUNS = 1
LR = lstm_gru.LR  # SGD on both sides, as bench_lstm_gru
SEED = 0  # weights and data of the training-step configs
LOSS_ATOL = 1e-4  # first-step losses must agree this closely
WEIGHT_ATOL = 1e-4  # and so must the weights after the first update


# -- part 1: fit and backtest -------------------------------------------------------------------
def fit_and_backtest(y: np.ndarray, seed: int) -> dict:
    """One fit on all but the last HELD_OUT values and one backtest over them, timed apart."""
    start = len(y) - HELD_OUT[SERIES]
    settings = SETTINGS[SERIES]
    t0, c0 = time.perf_counter(), time.process_time()
    fc = Forecaster(hidden_size=HIDDEN, random_state=seed, **settings).fit(y[:start])
    t1, c1 = time.perf_counter(), time.process_time()
    bt = backtest(fc, y, start, steps=fc.horizon)
    t2, c2 = time.perf_counter(), time.process_time()
    quantile = fc.quantile_history_
    return {
        "seed": seed,
        "fit_s": t1 - t0,
        "backtest_s": t2 - t1,
        "fit_cpu_s": c1 - c0,
        "backtest_cpu_s": c2 - c1,
        "point_epochs": len(fc.history_.evals),
        "quantile_epochs": 0 if quantile is None else len(quantile.evals),
        "point_steps": len(fc.history_.steps),
        "quantile_steps": 0 if quantile is None else len(quantile.steps),
        "origins": len(bt.origins),
        "model_mae_all_steps": bt.all_steps["model"]["MAE"],
        "coverage": bt.coverage,
        "beats_baselines": bt.beats_baselines(),
    }


def run_fits(runs: int) -> dict:
    _, y = load_series(SERIES)
    rows = [fit_and_backtest(y, seed) for seed in range(runs)]
    return {
        "series": SERIES,
        "values": len(y),
        "fitted_on": len(y) - HELD_OUT[SERIES],
        "settings": {"hidden_size": HIDDEN, **SETTINGS[SERIES]},
        "backtest_steps": SETTINGS[SERIES]["horizon"],
        "runs": rows,
        "median_fit_s": float(np.median([r["fit_s"] for r in rows])),
        "median_backtest_s": float(np.median([r["backtest_s"] for r in rows])),
    }


FIT_HEADERS = ("run", "fit s", "point epochs", "quantile epochs", "steps", "ms / fit step", "backtest s",
               "MAE, all steps", "80% coverage")


def fit_rows(fits: dict) -> list[tuple[str, ...]]:
    rows = []
    for r in fits["runs"]:
        steps = r["point_steps"] + r["quantile_steps"]
        rows.append((f"seed {r['seed']}", f"{r['fit_s']:.2f}", str(r["point_epochs"]),
                     str(r["quantile_epochs"]), str(steps), f"{1e3 * r['fit_s'] / steps:.2f}",
                     f"{r['backtest_s']:.3f}", f"{r['model_mae_all_steps']:.2f}", f"{r['coverage']:.3f}"))
    if len(fits["runs"]) > 1:
        rows.append((f"median of {len(fits['runs'])}", f"{fits['median_fit_s']:.2f}", "", "", "", "",
                     f"{fits['median_backtest_s']:.3f}", "", ""))
    return rows


# -- part 2: the training step ------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    """The forecaster's model: window T, batch B, horizons H, quantile levels (None: the point
    model, MSE on one output; else the quantile model, pinball on H * Q outputs)."""

    steps: int
    batch: int
    horizons: int
    quantiles: tuple[float, ...] | None

    @property
    def outputs(self) -> int:
        return self.horizons * (1 if self.quantiles is None else len(self.quantiles))

    @property
    def loss(self) -> str:
        return "mse" if self.quantiles is None else "pinball"

    def label(self) -> str:
        shape = "" if self.quantiles is None else f" ({self.horizons} x {len(self.quantiles)})"
        return f"GRU I=1 H={HIDDEN} T={self.steps} B={self.batch} O={self.outputs}{shape} {self.loss}"


CONFIGS = (
    Config(24, 32, 1, None),  # the point model of the recursive sunspots forecaster
    Config(24, 32, 5, (0.1, 0.5, 0.9)),  # its quantile model (always direct)
)


class ScratchModel(ScratchModules):
    """The forecaster's SequenceModel with a plain SGD step."""

    def __init__(self, cfg: Config, rng: np.random.Generator):
        mcfg = ModelConfig(cell="gru", input_size=1, hidden_size=HIDDEN, num_layers=1, head="last",
                           output_size=cfg.outputs, dtype="float32")
        self.model = SequenceModel(mcfg, rng=rng)
        self.modules = {"model": self.model}
        self.quantiles = cfg.quantiles

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """Forward, loss, backward and SGD on windows x (T, B, 1) and targets y (B, H)."""
        pred, _, cache = self.model.forward(x)  # (B, O)
        if self.quantiles is None:
            loss, dpred = mse(pred, y)  # dpred (B, O)
        else:
            loss, dpred = pinball(pred, y, self.quantiles)  # dpred (B, H*Q)
        _, _, grads = self.model.backward(dpred, None, cache)
        self.sgd({"model": grads}, LR)
        self.model.params.version.bump()  # as an optimizer step does
        return loss


class TorchModel(TorchModules):
    """``to_torch`` of the same SequenceModel, stepped with plain PyTorch calls."""

    def __init__(self, cfg: Config, src: ScratchModel):
        import torch

        from scratchrnn.io import to_torch

        self.torch = torch
        self.F = torch.nn.functional
        self.twin = to_torch(src.model)  # the same weights, strict=True
        self.modules = {"model": self.twin}
        self.q = None if cfg.quantiles is None else torch.tensor(cfg.quantiles, dtype=torch.float32)  # (Q,)
        self.opt = torch.optim.SGD(self.twin.parameters(), lr=LR)

    def loss(self, pred, y):
        if self.q is None:
            return self.F.mse_loss(pred, y)
        e = y.unsqueeze(-1) - pred.view(*y.shape, len(self.q))  # (B, H, Q) y - p
        elem = self.torch.maximum(self.q * e, (self.q - 1) * e)  # (B, H, Q)
        return elem.sum() / y.numel()  # the mean over the targets, as scratchrnn.losses.pinball

    def step(self, x, y) -> float:
        """The same step on x (T, B, 1) with requires_grad=True and y (B, H)."""
        self.opt.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = self.twin.rnn(x)  # (T, B, H)
        loss = self.loss(self.twin.head(out[-1]), y)  # head "last": (B, O)
        loss.backward()
        self.opt.step()
        return loss.item()


def run_config(cfg: Config, policy: RepeatPolicy) -> dict:
    """Time both libraries on one config and return a result row."""
    import torch

    gen = np.random.default_rng(SEED)
    sm = ScratchModel(cfg, gen)
    tm = TorchModel(cfg, sm)
    init = sm.state()
    x = gen.standard_normal((cfg.steps, cfg.batch, 1), dtype=np.float32)  # (T, B, 1)
    y = gen.standard_normal((cfg.batch, cfg.horizons), dtype=np.float32)  # (B, H)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)  # dx is computed on both sides
    ty = torch.from_numpy(y)
    check = check_step_agreement(sm, tm, (x, y), (tx, ty), init, LOSS_ATOL, WEIGHT_ATOL)

    timings = time_interleaved(
        {"scratchrnn": lambda: sm.step(x, y), "torch": lambda: tm.step(tx, ty)},
        policy,
        setups={"scratchrnn": lambda: sm.load(init), "torch": lambda: tm.load(init)},
    )
    t_s, t_t = timings["scratchrnn"], timings["torch"]
    return {
        "config": asdict(cfg),
        "label": cfg.label(),
        "outputs": cfg.outputs,
        "loss": cfg.loss,
        "scratchrnn": timing_dict(t_s),
        "torch": timing_dict(t_t),
        "speedup_torch_over_scratchrnn": t_t.median_ms / t_s.median_ms,
        "check": check,
    }


STEP_HEADERS = ("config", "scratchrnn ms (IQR)", "torch ms (IQR)", "speed-up")


def step_row(r: dict) -> tuple[str, ...]:
    return (r["label"], ms_cell(r["scratchrnn"], 3), ms_cell(r["torch"], 3),
            f"{r['speedup_torch_over_scratchrnn']:.2f}x")


# -- command line -------------------------------------------------------------------------------
def parse_args(argv):
    p = timing_parser(NAME, __doc__.splitlines()[0], len(CONFIGS), per="library",
                      quick_help="1 fit + backtest run; 1 warm-up and 3 repeats per library per step config")
    p.add_argument("--runs", type=int, default=None,
                   help=f"fit + backtest runs, seeds 0..N-1 (default {FULL_RUNS}, {QUICK_RUNS} with --quick; "
                        "0 skips them)")
    args = p.parse_args(argv)
    if args.runs is not None and args.runs < 0:
        p.error(f"--runs must be 0 or more, got {args.runs}")
    return args


def main(argv=None) -> dict:
    """Run the benchmark, print the tables, write benchmarks/results/bench_forecast[.quick][.partial].json."""
    args = parse_args(argv)
    policy = RepeatPolicy.from_args(args.quick, args.repeats, args.budget)
    picks = picked_configs(NAME, args.config, len(CONFIGS))
    runs = args.runs if args.runs is not None else (QUICK_RUNS if args.quick else FULL_RUNS)
    threads = setup_threads()
    started = time.time()
    fits = run_fits(runs) if runs else None
    rows = [run_config(CONFIGS[i], policy) for i in picks]

    if fits is not None:
        print_table(FIT_HEADERS, fit_rows(fits),
                    title=(f"{NAME}: Forecaster fit (point + quantile model) on {fits['fitted_on']} of the "
                           f"{fits['values']} yearly {SERIES} values, then a {fits['backtest_steps']}-step "
                           f"backtest from each of its {fits['runs'][0]['origins']} origins in the last "
                           f"{HELD_OUT[SERIES]}; {runs} run(s), {threads['threads']} threads"))
        print()
    print_table(STEP_HEADERS, [step_row(r) for r in rows],
                title=(f"{NAME}: one training step of the forecaster's model (GRU -> Linear on the last "
                       f"step -> MSE / pinball -> SGD), float32, {threads['threads']} threads"))
    payload = {
        "benchmark": NAME,
        "quick": args.quick,
        "started_unix": started,
        "policy": asdict(policy),
        "machine": machine_info(),
        "torch_mkldnn": torch_mkldnn_info(),
        "fit_backtest": fits,
        "fit_columns": list(FIT_HEADERS),
        "step_columns": list(STEP_HEADERS),
        "rows": rows,
    }
    partial = args.config is not None or runs == 0
    path = write_json(result_name(NAME, args.quick, partial), payload)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
