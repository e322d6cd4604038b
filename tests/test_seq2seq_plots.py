"""The attention heatmap (scratchrnn.seq2seq.plots): a PNG written atomically, sized by the steps,
bad weights and labels refused before anything is drawn."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.figures import DPI
from scratchrnn.seq2seq.plots import save_attention

pytest.importorskip("matplotlib")


def _png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_a_heatmap_is_written_and_grows_with_the_steps(tmp_path):
    w = np.full((4, 5), 0.2)
    small = save_attention(tmp_path / "a.png", w, list("abcde"), ["x", "y", "z", "<eos>"])
    large = save_attention(tmp_path / "b.png", np.full((30, 40), 1 / 40))
    (w1, h1), (w2, h2) = _png_size(small), _png_size(large)
    assert (w1, h1) == (4 * DPI, 3 * DPI) and w2 > w1 and h2 > h1
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.png", "b.png"]  # no temporary file left


@pytest.mark.parametrize("weights, kwargs, match", [
    (np.zeros(3), {}, r"finite \(T, S\) array with T, S >= 1, got shape \(3,\)"),
    (np.full((2, 2), np.nan), {}, "finite"),
    (np.zeros((2, 3)), {"source": list("ab")}, "source has 2 labels for the 3 source steps"),
    (np.zeros((2, 3)), {"target": list("abc")}, "target has 3 labels for the 2 target steps"),
])
def test_bad_weights_or_labels_are_refused_and_write_nothing(tmp_path, weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        save_attention(tmp_path / "a.png", weights, **kwargs)
    with pytest.raises(ValueError, match="must end in .png"):
        save_attention(tmp_path / "a.pdf", np.zeros((2, 2)))
    assert list(tmp_path.iterdir()) == []
