"""The Japanese Vowels task (scratchrnn.tasks.vowels): the classifier against the baselines on the
shipped split, and the baselines against plain loops."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn.tasks import vowels


def test_vowels_beats_its_baselines_and_meets_its_target():
    r = vowels.run(vowels.Config.quick())
    m = r.metrics
    assert r.passed and m["test_accuracy"] >= 0.97
    assert m["test_accuracy"] > max(v for k, v in m.items() if k.startswith("baseline: "))
    assert m["train_seconds"] < 60 and r.curves["val_loss"]


def test_baselines_are_the_plain_loops():
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((int(rng.integers(2, 6)), 3)) + (i % 3) for i in range(30)]
    y = np.array([i % 3 for i in range(30)])
    Xt = [rng.standard_normal((4, 3)) + (i % 3) for i in range(12)]
    yt = np.array([i % 3 for i in range(12)])
    got = vowels.baselines(X, y, Xt, yt)
    means = np.array([x.mean(axis=0) for x in X])
    mu, sd = means.mean(axis=0), means.std(axis=0)
    z = (means - mu) / sd
    hits_nn = hits_centroid = 0
    for x, label in zip(Xt, yt, strict=True):
        q = (x.mean(axis=0) - mu) / sd
        dists = [float(((q - v) ** 2).sum()) for v in z]
        hits_nn += y[int(np.argmin(dists))] == label
        cents = [z[y == c].mean(axis=0) for c in range(3)]
        hits_centroid += int(np.argmin([((q - c) ** 2).sum() for c in cents])) == label
    assert got["1-NN on the mean frame"] == pytest.approx(hits_nn / 12)
    assert got["nearest speaker mean"] == pytest.approx(hits_centroid / 12)
    assert got["most frequent speaker"] == pytest.approx(np.mean(yt == 0))


def test_config_checks_its_fields():
    with pytest.raises(ValueError, match="unknown cell 'cnn'"):
        vowels.Config(cell="cnn")
    with pytest.raises(ValueError, match="target_accuracy must be <= 1.0"):
        vowels.Config(target_accuracy=1.5)
