"""``scratchrnn classify`` and ``scratchrnn regress`` (scratchrnn.cli_classify): train, predict and
eval on JSON lines, and the one-line errors that leave nothing half written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import run_cli
from scratchrnn import SequenceClassifier

FAST = ["--hidden-size", "12", "--epochs", "15", "--batch-size", "16", "--lr", "0.02", "--no-progress"]


def write_jsonl(path, X, labels=None):
    with open(path, "w") as f:
        for i, x in enumerate(X):
            record = {"sequence": np.asarray(x).tolist()}
            if labels is not None:
                record["label"] = labels[i]
            f.write(json.dumps(record) + "\n")
    return path


def sign_data(n, seed):
    rng = np.random.default_rng(seed)
    X = [rng.standard_normal((int(rng.integers(3, 9)), 2)) for _ in range(n)]
    return X, ["up" if x[:, 0].sum() > 0 else "down" for x in X]


def test_classify_train_predict_eval(tmp_path):
    X, y = sign_data(160, 0)
    Xt, yt = sign_data(60, 1)
    train = write_jsonl(tmp_path / "train.jsonl", X, y)
    test = write_jsonl(tmp_path / "test.jsonl", Xt, yt)
    res = run_cli("classify", "train", train, "--out", tmp_path / "m", *FAST, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "trained on 160 sequences (2 classes)" in res.stdout
    history = json.loads((tmp_path / "m" / "history.json").read_text())
    assert history["steps"] and history["evals"]
    model = tmp_path / "m" / "model.npz"
    res = run_cli("classify", "eval", model, test, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    accuracy = float(res.stdout.split()[1])
    assert accuracy == pytest.approx(SequenceClassifier.load(model).score(Xt, np.array(yt)), abs=5e-5)
    res = run_cli("classify", "predict", model, write_jsonl(tmp_path / "new.jsonl", Xt), "-o",
                  tmp_path / "p.jsonl", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(rows) == 60 and {r["label"] for r in rows} <= {"up", "down"}
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-4 for r in rows)
    hits = np.mean([r["label"] == t for r, t in zip(rows, yt, strict=True)])
    assert hits == pytest.approx(accuracy, abs=5e-5)


def test_regress_train_and_eval_several_targets(tmp_path):
    rng = np.random.default_rng(2)
    X = [rng.standard_normal((int(rng.integers(3, 8)), 2)) for _ in range(120)]
    y = [[float(x[:, 0].sum()), float(x[:, 1].mean())] for x in X]
    data = write_jsonl(tmp_path / "d.jsonl", X, y)
    res = run_cli("regress", "train", data, "--out", tmp_path / "r", *FAST, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "(2 targets)" in res.stdout
    res = run_cli("regress", "eval", tmp_path / "r" / "model.npz", data, cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.startswith("R^2 ")
    res = run_cli("regress", "predict", tmp_path / "r" / "model.npz", data, cwd=tmp_path)
    assert len(json.loads(res.stdout.splitlines()[0])["prediction"]) == 2


@pytest.mark.parametrize("args, words", [
    (["classify", "train", "missing.jsonl"], "no such file: 'missing.jsonl'"),
    (["classify", "train", "bad.jsonl"], "bad.jsonl line 2 is not valid JSON"),
    (["classify", "train", "one.jsonl"], "y holds one class only"),
    (["classify", "train", "ok.jsonl", "--validation-fraction", "1.5"], "--validation-fraction"),
    (["classify", "eval", "nomodel.npz", "ok.jsonl"], "no such model file: 'nomodel.npz'"),
    (["regress", "train", "ok.jsonl"], "regress needs each label to be a number"),
])
def test_errors_are_one_line_with_status_2_and_leave_nothing(tmp_path, args, words):
    (tmp_path / "bad.jsonl").write_text('{"sequence": [[1]], "label": 1}\n{"sequence": [[1]], "label": 2\n')
    write_jsonl(tmp_path / "one.jsonl", [np.zeros((2, 1))] * 3, ["a"] * 3)
    write_jsonl(tmp_path / "ok.jsonl", [np.zeros((2, 1)), np.ones((3, 1))] * 3, ["a", "b"] * 3)
    before = set(tmp_path.iterdir())
    res = run_cli(*args, "--out", tmp_path / "out", cwd=tmp_path) if args[1] == "train" else \
        run_cli(*args, cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    assert set(tmp_path.iterdir()) == before  # no run folder, no file left behind


def test_token_id_files_list_labels_and_flags_in_library_errors(tmp_path):
    rng = np.random.default_rng(3)
    X = [rng.integers(0, 5, size=int(rng.integers(2, 6))) for _ in range(40)]
    ids = write_jsonl(tmp_path / "ids.jsonl", X, [int(x[0] > 2) for x in X])
    res = run_cli("classify", "train", ids, "--out", tmp_path / "t", *FAST, cwd=tmp_path)
    assert res.returncode == 0 and "2 classes" in res.stdout and "15 epochs" in res.stdout, res.stderr
    lists = write_jsonl(tmp_path / "lists.jsonl", [np.zeros((2, 1))] * 4, [[1.0], [2.0], [1.0], [3.0]])
    res = run_cli("classify", "train", lists, cwd=tmp_path)
    assert res.returncode == 2 and "classify takes a number or a string per line" in res.stderr
    res = run_cli("classify", "train", ids, "--hidden-size", "4", "--head", "mean", "--epochs", "1",
                  "--out", tmp_path / "u", "--unidirectional", "--validation-fraction", "0", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = run_cli("regress", "eval", tmp_path / "t" / "model.npz", ids, cwd=tmp_path)
    assert res.returncode == 2 and "holds no SequenceRegressor" in res.stderr
    res = run_cli("classify", "train", ids, "--num-layers", "5000", "--out", tmp_path / "v", cwd=tmp_path)
    assert res.returncode == 2 and "--num-layers must be at most 1,024" in res.stderr, res.stderr
    assert "see 'scratchrnn classify train --help'" in res.stderr and not (tmp_path / "v").exists()
