"""scratchrnn: recurrent networks written from scratch on numpy, with exact, checked BPTT."""

import importlib

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Embedding",
    "Linear",
    "Module",
    "data",
    "functional",
    "init",
    "io",
    "losses",
    "nn",
    "optim",
    "__version__",
]

_SUBMODULES = ("data", "functional", "init", "io", "losses", "nn", "optim")
_LAYERS = ("GRU", "LSTM", "RNN", "Embedding", "Linear", "Module")  # from scratchrnn.nn


def __getattr__(name: str):
    """The submodules and layers are imported on first use, so the command line can take SIGINT
    and SIGTERM before numpy loads (``python -m scratchrnn``)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAYERS:
        return getattr(importlib.import_module(f"{__name__}.nn"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
