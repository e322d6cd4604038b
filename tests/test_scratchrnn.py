"""The package itself: what ``import scratchrnn`` offers, and that importing it pulls in neither
torch nor matplotlib (optional extras, imported only where used)."""

import subprocess
import sys

import scratchrnn


def test_the_top_level_names():
    for name in scratchrnn.__all__:
        assert getattr(scratchrnn, name) is not None, name
    expected = {"RNN", "LSTM", "GRU", "Linear", "Embedding", "nn", "optim", "io", "losses"}
    assert expected <= set(scratchrnn.__all__)
    assert scratchrnn.RNN is scratchrnn.nn.RNN
    assert isinstance(scratchrnn.__version__, str)


def test_importing_the_package_imports_no_optional_extra():
    extras = "('torch', 'matplotlib', 'safetensors')"
    code = f"import sys, scratchrnn, scratchrnn.cli; print(sorted(m for m in {extras} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
