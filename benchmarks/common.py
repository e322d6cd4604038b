"""Shared helpers for the benchmarks: timing, thread setup, a measured matmul peak, machine info,
a plain-text table and an atomic JSON writer.

Timing: ``time_call`` runs a few untimed warm-up calls, then timed repeats with
``time.perf_counter``, and reports the median and the interquartile range in milliseconds. An
optional ``setup`` callable runs before every call outside the timed region (the benchmarks use it to
restore the initial weights, so every repeat does exactly the same work). ``time_interleaved``
does the same for several libraries at once, alternating between them in blocks so that load
from other processes on a shared machine does not favour one of them.

Threads: numpy's OpenBLAS uses every core by default, so both libraries get ``os.cpu_count()``
threads unless the environment variable ``SCRATCHRNN_BENCH_THREADS`` asks for another count; the
count is applied to PyTorch (``torch.set_num_threads``) and, where the OpenBLAS library bundled
with numpy can be reached, to numpy as well, and recorded in the results.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import glob
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

THREADS_ENV = "SCRATCHRNN_BENCH_THREADS"
RESULTS_DIR = Path(__file__).resolve().parent / "results"

# Defaults for the time-boxed repeat loop of a full run, and the short loop of ``--quick``.
FULL_WARMUP = 2  # untimed calls before timing (caches, allocator, thread pools)
FULL_BUDGET_S = 6.0  # seconds of timed calls per library per config
FULL_MIN_REPEATS = 7  # even a slow step is timed at least this often
FULL_MAX_REPEATS = 2000  # a fast step stops here even if the budget is not spent
QUICK_WARMUP = 1
INTERLEAVE_BLOCKS = 5  # turns per library when several are timed side by side
QUICK_REPEATS = 3

PEAK_SIZE = 2048  # square float32 matmul used for the reference peak
PEAK_REPEATS = 9
QUICK_PEAK_SIZE = 1024
QUICK_PEAK_REPEATS = 3


# -- timing ------------------------------------------------------------------------------------
@dataclass
class Timing:
    """Summary of the timed calls, in milliseconds."""

    median_ms: float
    q1_ms: float
    q3_ms: float
    iqr_ms: float
    min_ms: float
    repeats: int
    warmup: int


@dataclass
class RepeatPolicy:
    """How often to call: a fixed ``repeats`` count, or a time box of ``budget_s`` seconds that
    still makes at least ``min_repeats`` and at most ``max_repeats`` calls."""

    warmup: int = FULL_WARMUP
    repeats: int | None = None
    budget_s: float = FULL_BUDGET_S
    min_repeats: int = FULL_MIN_REPEATS
    max_repeats: int = FULL_MAX_REPEATS

    @classmethod
    def from_args(cls, quick: bool, repeats: int | None, budget_s: float | None) -> RepeatPolicy:
        """The policy for ``--quick`` / ``--repeats N`` / ``--budget S`` (``--repeats`` wins)."""
        if repeats is not None and repeats < 1:
            raise ValueError(f"--repeats must be a positive integer, got {repeats}")
        if budget_s is not None and budget_s <= 0:
            raise ValueError(f"--budget must be a positive number of seconds, got {budget_s}")
        if quick:
            return cls(warmup=QUICK_WARMUP, repeats=repeats or QUICK_REPEATS)
        policy = cls(repeats=repeats)
        if budget_s is not None:
            policy.budget_s = budget_s
        return policy


def _summary(samples: list[float], warmup: int) -> Timing:
    ms = np.asarray(samples) * 1e3  # (n,)
    q1, med, q3 = np.percentile(ms, [25, 50, 75])
    return Timing(float(med), float(q1), float(q3), float(q3 - q1), float(ms.min()), len(samples), warmup)


def time_interleaved(
    fns: Mapping[str, Callable[[], object]],
    policy: RepeatPolicy,
    setups: Mapping[str, Callable[[], object]] | None = None,
) -> dict[str, Timing]:
    """Time several callables in alternating blocks, so that a burst of load from another process
    on a shared machine falls on all of them alike rather than on whichever ran at the time.

    Each callable gets ``policy.warmup`` untimed calls, then its timed calls are spread over
    ``INTERLEAVE_BLOCKS`` turns (A's block, B's block, A's block, ...) until each has met the
    policy on its own: a fixed ``repeats`` count, or the time box. ``setups[name]()`` runs untimed
    before every call of ``fns[name]``.
    """
    setups = setups or {}
    for name, fn in fns.items():
        for _ in range(policy.warmup):
            if name in setups:
                setups[name]()
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    spent = dict.fromkeys(fns, 0.0)

    def done(name: str) -> bool:
        n = len(samples[name])
        if policy.repeats is not None:
            return n >= policy.repeats
        return n >= policy.max_repeats or (n >= policy.min_repeats and spent[name] >= policy.budget_s)

    per_block = None if policy.repeats is None else -(-policy.repeats // INTERLEAVE_BLOCKS)
    block_budget = policy.budget_s / INTERLEAVE_BLOCKS
    while not all(done(name) for name in fns):
        for name, fn in fns.items():
            setup = setups.get(name)
            block_n, block_s = 0, 0.0
            while not done(name):
                if setup is not None:
                    setup()
                t0 = time.perf_counter()
                fn()
                dt = time.perf_counter() - t0
                samples[name].append(dt)
                spent[name] += dt
                block_n, block_s = block_n + 1, block_s + dt
                if (block_n >= per_block) if per_block is not None else (block_s >= block_budget):
                    break
    return {name: _summary(samples[name], policy.warmup) for name in fns}


def summarize(samples_s: Sequence[float], warmup: int = 0) -> Timing:
    """A ``Timing`` from durations (seconds) measured by the caller, e.g. one per generated token."""
    if len(samples_s) == 0:
        raise ValueError("summarize needs at least one duration, got none")
    return _summary(list(samples_s), warmup)


def time_call(
    fn: Callable[[], object], policy: RepeatPolicy, setup: Callable[[], object] | None = None
) -> Timing:
    """Warm up, then time ``fn()`` repeatedly; ``setup()`` runs untimed before every call."""
    setups = None if setup is None else {"fn": setup}
    return time_interleaved({"fn": fn}, policy, setups)["fn"]


# -- threads -----------------------------------------------------------------------------------
def _numpy_openblas():
    """The OpenBLAS library bundled with numpy's wheel, or None when it cannot be found."""
    libdir = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(glob.glob(str(libdir / "*openblas*"))):
        try:
            return ctypes.CDLL(path)  # already loaded by numpy: this returns the same handle
        except OSError:
            continue
    return None


def _openblas_fn(lib, stem: str):
    for prefix, suffix in (("scipy_", "64_"), ("", "64_"), ("", "")):
        fn = getattr(lib, f"{prefix}openblas_{stem}{suffix}", None)
        if fn is not None:
            return fn
    return None


def numpy_blas_threads(set_to: int | None = None) -> int | None:
    """Read (and optionally set) the thread count of numpy's OpenBLAS; None when unreachable."""
    lib = _numpy_openblas()
    if lib is None:
        return None
    if set_to is not None:
        setter = _openblas_fn(lib, "set_num_threads")
        if setter is not None:
            setter(ctypes.c_int(set_to))
    getter = _openblas_fn(lib, "get_num_threads")
    return None if getter is None else int(getter())


@functools.cache
def setup_threads() -> dict:
    """Give numpy and PyTorch the same thread count and return what was applied."""
    raw = os.environ.get(THREADS_ENV)
    if raw is None:
        n, source = os.cpu_count() or 1, "os.cpu_count()"
    else:
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}")
        source = THREADS_ENV
    info = {"threads": n, "source": source, "numpy_blas_threads": numpy_blas_threads(set_to=n)}
    try:
        import torch
    except ImportError:
        info["torch_threads"] = None
    else:
        torch.set_num_threads(n)
        info["torch_threads"] = torch.get_num_threads()
    return info


def torch_mkldnn_info() -> dict:
    """Whether PyTorch was built with oneDNN (mkldnn), whose fused LSTM kernel it uses for float32
    on the CPU, and whether it is switched on (``torch.backends.mkldnn.enabled``)."""
    import torch

    return {"available": bool(torch.backends.mkldnn.is_available()),
            "enabled": bool(torch.backends.mkldnn.enabled)}


@contextlib.contextmanager
def torch_mkldnn(enabled: bool | None):
    """Switch PyTorch's oneDNN (mkldnn) backend on or off for the ``with`` block (None: leave it as
    it is), then restore it. (Plain attribute assignment: ``torch.backends.mkldnn.flags`` also
    sets TF32 options and warns.)"""
    import torch

    before = torch.backends.mkldnn.enabled
    if enabled is not None:
        torch.backends.mkldnn.enabled = enabled
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


# -- reference peak ----------------------------------------------------------------------------
@functools.cache
def matmul_peak(quick: bool = False) -> dict:
    """Median GFLOP/s of a large square float32 matmul in numpy and in PyTorch (2 n^3 FLOPs each);
    the reference ``peak_gflops`` is the larger of the two. Cached, so a run measures it once."""
    import torch

    setup_threads()
    n = QUICK_PEAK_SIZE if quick else PEAK_SIZE
    policy = RepeatPolicy(warmup=1, repeats=QUICK_PEAK_REPEATS if quick else PEAK_REPEATS)
    gen = np.random.default_rng(0)
    a = gen.standard_normal((n, n), dtype=np.float32)  # (n, n)
    b = gen.standard_normal((n, n), dtype=np.float32)  # (n, n)
    c = np.empty((n, n), np.float32)  # (n, n)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    tc = torch.empty((n, n), dtype=torch.float32)  # (n, n)
    flops = 2.0 * n**3
    t_np = time_call(lambda: np.matmul(a, b, out=c), policy)
    t_torch = time_call(lambda: torch.matmul(ta, tb, out=tc), policy)
    np_gflops = flops / (t_np.median_ms * 1e-3) / 1e9
    torch_gflops = flops / (t_torch.median_ms * 1e-3) / 1e9
    return {
        "size": n,
        "repeats": policy.repeats,
        "numpy_gflops": np_gflops,
        "torch_gflops": torch_gflops,
        "peak_gflops": max(np_gflops, torch_gflops),
        # the fastest single call, for judging how much load the medians saw
        "numpy_best_gflops": flops / (t_np.min_ms * 1e-3) / 1e9,
        "torch_best_gflops": flops / (t_torch.min_ms * 1e-3) / 1e9,
    }


# -- machine info ------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _numpy_blas() -> str | None:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # the layout of show_config differs between numpy versions
        return None
    return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()


def machine_info() -> dict:
    """CPU model, core count, Python / numpy / PyTorch versions, numpy's BLAS, and the threads."""
    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numpy_blas": _numpy_blas(),
    }
    try:
        import torch
    except ImportError:
        info["torch"] = None
    else:
        info["torch"] = torch.__version__
    info["threads"] = setup_threads()
    return info


# -- output ------------------------------------------------------------------------------------
def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        pairs = enumerate(zip(r, widths, strict=True))
        padded = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)
        return "  ".join(padded)

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None) -> None:
    """Print ``format_table`` with an optional title line."""
    if title:
        print(title)
    print(format_table(headers, rows), flush=True)


def write_json(name: str, payload: dict) -> Path:
    """Write ``payload`` to ``benchmarks/results/<name>.json`` atomically (temp file + os.replace)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    target = RESULTS_DIR / f"{name}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=RESULTS_DIR)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, sort_keys=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def timing_parser(name: str, description: str, count: int, per: str = "library",
                  quick_help: str | None = None) -> argparse.ArgumentParser:
    """The options of a time-boxed benchmark of ``count`` configs: ``--quick``, ``--repeats``,
    ``--budget`` and ``--config I`` (``RepeatPolicy.from_args`` and ``picked_configs`` read them);
    a benchmark adds its own after. ``per`` names what each timing is of ("library", "step")."""
    p = argparse.ArgumentParser(prog=name, description=description)
    p.add_argument("--quick", action="store_true",
                   help=quick_help or f"1 warm-up and 3 repeats per {per} per config")
    p.add_argument("--repeats", type=int, default=None, help="fixed number of timed repeats (no time box)")
    p.add_argument("--budget", type=float, default=None, help=f"seconds of timed calls per {per} per config")
    p.add_argument("--config", type=int, action="append", default=None, metavar="I",
                   help=f"run only config number I (0..{count - 1}); may be repeated")
    return p


def picked_configs(name: str, picks: list[int] | None, count: int) -> list[int]:
    """The config numbers ``--config`` picked (None: all ``count``), each checked to be one."""
    picks = list(range(count)) if picks is None else picks
    for i in picks:
        if not 0 <= i < count:
            raise SystemExit(f"{name}: --config must be in 0..{count - 1}, got {i}")
    return picks


def result_name(name: str, quick: bool, partial: bool = False, variant: str | None = None) -> str:
    """``name`` with ``.<variant>`` / ``.quick`` / ``.partial`` suffixes, so runs made with other
    settings, quick runs and runs of some configs only never replace a full run's file."""
    parts = [name, variant, "quick" if quick else None, "partial" if partial else None]
    return ".".join(p for p in parts if p)


def ms_cell(t: dict, digits: int = 2) -> str:
    """A table cell "median (IQR)" in milliseconds from a ``timing_dict``."""
    return f"{t['median_ms']:.{digits}f} ({t['iqr_ms']:.{digits}f})"


def timing_dict(t: Timing) -> dict:
    """A ``Timing`` as a plain dict for JSON."""
    return asdict(t)


def check_step_agreement(sm, tm, batch, tbatch, init: dict, loss_atol: float, weight_atol: float) -> dict:
    """One training step on each side from the same weights ``init``: the losses and the updated
    weights must agree within the tolerances, so both libraries provably do the same work.

    ``sm`` / ``tm`` have ``load(state)``, ``step(x, y) -> loss`` and ``state() -> dict``;
    ``batch`` / ``tbatch`` are the (x, y) inputs of each side.
    """
    sm.load(init)
    tm.load(init)
    loss_s = sm.step(*batch)
    loss_t = tm.step(*tbatch)
    after_s, after_t = sm.state(), tm.state()
    weight_diff = max(float(np.max(np.abs(after_s[k] - after_t[k]))) for k in after_s)
    loss_diff = abs(loss_s - loss_t)
    if not loss_diff <= loss_atol:
        raise RuntimeError(f"first-step losses differ: scratchrnn {loss_s:.7f}, torch {loss_t:.7f} "
                           f"(|diff| {loss_diff:.2e} > {loss_atol})")
    if not weight_diff <= weight_atol:
        raise RuntimeError(f"weights after the first step differ by up to {weight_diff:.2e} > {weight_atol}")
    return {"loss_scratchrnn": loss_s, "loss_torch": loss_t, "loss_abs_diff": loss_diff,
            "weights_max_abs_diff_after_step": weight_diff}


class ScratchModules:
    """State copy / restore over ``self.modules`` (name -> scratchrnn module), keyed ``module.param``."""

    modules: dict

    def state(self) -> dict[str, np.ndarray]:
        """Copies of every parameter, keyed ``module.name``."""
        return {f"{m}.{k}": v.copy() for m, mod in self.modules.items() for k, v in mod.params.items()}

    def load(self, state: dict[str, np.ndarray]) -> None:
        for m, mod in self.modules.items():
            for k, p in mod.params.items():
                np.copyto(p, state[f"{m}.{k}"])

    def sgd(self, grads: dict[str, dict[str, np.ndarray]], lr: float) -> None:
        """``p -= lr * g`` in place for every parameter; ``grads`` maps module name -> its grads."""
        for m, mod in self.modules.items():
            for k, p in mod.params.items():
                g = grads[m][k]
                g *= lr  # the gradients are fresh arrays, so scaling them in place is safe
                p -= g


class TorchModules:
    """The same over ``self.modules`` (name -> torch.nn.Module); ``self.torch`` is the torch module."""

    modules: dict

    def load(self, state: dict[str, np.ndarray]) -> None:
        with self.torch.no_grad():
            for m, mod in self.modules.items():
                for k, p in mod.named_parameters():
                    p.copy_(self.torch.from_numpy(state[f"{m}.{k}"]))

    def state(self) -> dict[str, np.ndarray]:
        return {f"{m}.{k}": p.detach().numpy().copy()
                for m, mod in self.modules.items() for k, p in mod.named_parameters()}
