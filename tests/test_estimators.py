"""SequenceClassifier and SequenceRegressor (scratchrnn.estimators): scikit-learn's conventions
(clone, cross_val_score, get_params / set_params), learning on small synthetic tasks, save / load,
determinism and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from scratchrnn import SequenceClassifier, SequenceRegressor

FAST = dict(hidden_size=16, epochs=40, batch_size=16, lr=0.02, patience=None, random_state=0)


def sign_task(n, seed, labels=("neg", "pos")):
    """Sequences of 3 features and 4-12 steps; the label says whether the first feature's sum is
    positive (so every step counts, and the lengths differ)."""
    rng = np.random.default_rng(seed)
    X = [rng.standard_normal((int(rng.integers(4, 13)), 3)) for _ in range(n)]
    y = np.array([labels[int(x[:, 0].sum() > 0)] for x in X])
    return X, y


def sum_task(n, seed):
    rng = np.random.default_rng(seed)
    X = [rng.standard_normal((int(rng.integers(3, 10)), 2)) for _ in range(n)]
    y = np.array([[x[:, 0].sum(), x[:, 1].mean()] for x in X])
    return X, y


def test_constructor_arguments_are_stored_as_given_and_cloned():
    from sklearn.base import clone

    est = SequenceClassifier(cell="lstm", hidden_size=7, class_weight={"a": 2.0}, random_state=3)
    params = est.get_params()
    assert params["cell"] == "lstm" and params["hidden_size"] == 7 and params["class_weight"] == {"a": 2.0}
    assert set(params) == set(SequenceClassifier().get_params())
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    assert est.set_params(hidden_size=9) is est and est.hidden_size == 9
    with pytest.raises(ValueError, match="SequenceClassifier has no parameter 'width'"):
        est.set_params(width=3)
    assert repr(est) == ("SequenceClassifier(cell='lstm', hidden_size=9, class_weight={'a': 2.0}, "
                         "random_state=3)")
    SequenceClassifier(hidden_size="not checked until fit")  # scikit-learn's rule: fit checks


def test_classifier_learns_and_predicts_labels_of_any_type():
    X, y = sign_task(240, 0)
    Xt, yt = sign_task(120, 1)
    clf = SequenceClassifier(**FAST).fit(X, y)
    assert list(clf.classes_) == ["neg", "pos"] and clf.n_features_in_ == 3
    proba = clf.predict_proba(Xt)
    assert proba.shape == (120, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(Xt)) <= {"neg", "pos"}
    assert clf.score(Xt, yt) >= 0.9
    assert clf.history_.evals  # validated every epoch on its held-out part
    np.testing.assert_array_equal(clf.predict(Xt), clf.classes_[proba.argmax(axis=1)])


def test_cross_val_score_runs_the_estimator_on_folds():
    from sklearn.model_selection import cross_val_score

    X, y = sign_task(150, 2, labels=(0, 1))
    scores = cross_val_score(SequenceClassifier(**{**FAST, "epochs": 25}), X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.75)


def test_regressor_learns_several_targets_and_scores_r2():
    X, y = sum_task(300, 3)
    Xt, yt = sum_task(100, 4)
    reg = SequenceRegressor(**{**FAST, "epochs": 60}).fit(X, y)
    pred = reg.predict(Xt)
    assert pred.shape == (100, 2)
    assert reg.score(Xt, yt) >= 0.85
    one = SequenceRegressor(**{**FAST, "epochs": 5}).fit(X, y[:, 0])
    assert one.predict(Xt).shape == (100,)
    with pytest.raises(ValueError, match=r"y has shape \(100, 2\), the regressor predicts \(100,\)"):
        one.score(Xt, yt)


def test_token_ids_with_an_embedding():
    rng = np.random.default_rng(5)
    X = [rng.integers(0, 6, size=int(rng.integers(3, 9))) for _ in range(200)]
    y = np.array([int(x[0] >= 3) for x in X])  # the first token decides
    clf = SequenceClassifier(**{**FAST, "embedding_dim": 4}).fit(X, y)
    assert clf.vocab_size_ == 6 and clf.n_features_in_ is None
    assert clf.score(X, y) >= 0.95
    with pytest.raises(ValueError, match=r"token ids outside \[0, 6\)"):
        clf.predict([np.array([1, 7])])


def test_save_and_load_give_the_same_predictions(tmp_path):
    X, y = sign_task(80, 6)
    clf = SequenceClassifier(**{**FAST, "epochs": 5}).fit(X, y)
    path = clf.save(tmp_path / "clf.npz")
    back = SequenceClassifier.load(path)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert back.get_params()["hidden_size"] == 16 and list(back.classes_) == list(clf.classes_)
    Xr, yr = sum_task(60, 7)
    reg = SequenceRegressor(**{**FAST, "epochs": 3}).fit(Xr, yr)
    reg.save(tmp_path / "reg.npz")
    np.testing.assert_array_equal(SequenceRegressor.load(tmp_path / "reg.npz").predict(Xr), reg.predict(Xr))
    with pytest.raises(ValueError, match="holds no SequenceClassifier"):
        SequenceClassifier.load(tmp_path / "reg.npz")


def test_the_same_random_state_gives_the_same_model():
    X, y = sign_task(60, 8)
    a = SequenceClassifier(**{**FAST, "epochs": 4}).fit(X, y).predict_proba(X)
    b = SequenceClassifier(**{**FAST, "epochs": 4}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    c = SequenceClassifier(**{**FAST, "epochs": 4, "random_state": 1}).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, c)


def test_balanced_class_weights():
    clf = SequenceClassifier()
    clf.classes_ = np.array(["a", "b", "c"])
    targets = np.array([0, 0, 0, 0, 1, 1, 2, 0])
    np.testing.assert_allclose(clf.set_params(class_weight="balanced")._class_weights(targets),
                               [8 / (3 * 5), 8 / (3 * 2), 8 / 3])
    assert clf.set_params(class_weight={"b": 3.0})._class_weights(targets) == (1.0, 3.0, 1.0)
    with pytest.raises(ValueError, match="class_weight names labels y does not hold: \\['z'\\]"):
        clf.set_params(class_weight={"z": 1.0})._class_weights(targets)


@pytest.mark.parametrize("X, y, words", [
    ([], [], "X is empty"),
    ([np.zeros((3, 2)), np.zeros((3, 4))], [0, 1], "sequence 0 has 2, sequence 1 has 4"),
    ([np.zeros((3, 2)), np.zeros((4, 2))], [0, 1, 0], "y has 3 labels, X has 2 sequences"),
    ([np.zeros((3, 2)), np.zeros((4, 2))], [0, 0], "y holds one class only"),
    ([np.full((3, 2), np.nan), np.zeros((4, 2))], [0, 1], r"X\[0\] holds NaN or infinite values"),
    (np.zeros((3, 4)), [0, 1, 0], r"X as an array must be \(N, T, F\) features"),
])
def test_bad_input_is_named(X, y, words):
    with pytest.raises(ValueError, match=words):
        SequenceClassifier(**{**FAST, "epochs": 1}).fit(X, y)


def test_predicting_before_fit_and_unseen_labels_are_named():
    X, y = sign_task(40, 9)
    with pytest.raises(ValueError, match="not fitted yet"):
        SequenceClassifier().predict(X)
    clf = SequenceClassifier(**{**FAST, "epochs": 1}).fit(X, y)
    with pytest.raises(ValueError, match=r"labels the classifier never saw in fit: \['maybe'\]"):
        clf.score(X[:2], ["neg", "maybe"])
    with pytest.raises(ValueError, match="X has 2 features per step, the estimator was fitted with 3"):
        clf.predict([np.zeros((3, 2))])
    with pytest.raises(ValueError, match="head must be one of 'last', 'final', 'mean', 'max'"):
        SequenceClassifier(**{**FAST, "head": "all"}).fit(X, y)
    with pytest.raises(ValueError, match="validation_fraction must be < 1.0"):
        SequenceClassifier(**{**FAST, "validation_fraction": 1.0}).fit(X, y)


def test_a_failed_refit_leaves_an_unfitted_estimator():
    X, y = sign_task(40, 10)
    clf = SequenceClassifier(**{**FAST, "epochs": 1}).fit(X, y)
    with pytest.raises(ValueError, match="hidden_size"):
        clf.set_params(hidden_size=0).fit(X, y)
    assert not hasattr(clf, "classes_") and not hasattr(clf, "model_")
    with pytest.raises(ValueError, match="not fitted yet"):
        clf.predict(X)


def test_save_and_load_keep_every_kind_of_fit(tmp_path):
    rng = np.random.default_rng(11)
    X = [rng.integers(0, 5, size=int(rng.integers(2, 7))) for _ in range(40)]
    y = np.array([1 + int(x[0] > 2) for x in X])  # int labels, as the vowels' speakers
    clf = SequenceClassifier(**{**FAST, "epochs": 2, "embedding_dim": 3}, class_weight={1: 2.0},
                             dtype=np.float64)
    clf.fit(X, y).save(tmp_path / "ids.npz")
    back = SequenceClassifier.load(tmp_path / "ids.npz")
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    params = back.get_params()
    assert params["class_weight"] == {1: 2.0} and params["dtype"] == "float64" and params["random_state"] == 0
    assert back.history_.steps == clf.history_.steps and back.history_.evals == clf.history_.evals
    Xr, yr = sum_task(30, 12)
    reg = SequenceRegressor(**{**FAST, "epochs": 2}).fit(Xr, yr[:, 0])
    reg.save(tmp_path / "r.npz")
    again = SequenceRegressor.load(tmp_path / "r.npz")
    assert again.predict(Xr).shape == (30,) and again.target_1d_
    np.testing.assert_array_equal(again.predict(Xr), reg.predict(Xr))


def test_predictions_come_back_in_the_order_of_x():
    """More sequences than one forward pass takes, of shuffled lengths: each prediction is the one
    that sequence gets alone."""
    from scratchrnn import estimators

    X, y = sign_task(40, 13)
    clf = SequenceClassifier(**{**FAST, "epochs": 1}).fit(X, y)
    Xp, _ = sign_task(estimators.PREDICT_BATCH + 37, 14)
    together = clf.predict_proba(Xp)
    for i in (0, 5, estimators.PREDICT_BATCH, len(Xp) - 1):
        np.testing.assert_allclose(together[i], clf.predict_proba([Xp[i]])[0], rtol=1e-5, atol=1e-6)


def test_the_validation_split_is_the_fraction_shared_over_the_classes():
    clf = SequenceClassifier(validation_fraction=0.1)
    targets = np.repeat(np.arange(10), [2, 2, 2, 2, 2, 2, 2, 2, 2, 82])  # 100 sequences, one large class
    train, val = clf._split(targets, np.random.default_rng(0))
    assert len(val) == 10 and len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 100
    assert all(np.count_nonzero(targets[train] == c) >= 1 for c in range(10))  # every class trains
    assert np.count_nonzero(targets[val] == 9) >= 8  # the large class gives most of the ten
    again = clf._split(targets, np.random.default_rng(0))[1]
    np.testing.assert_array_equal(val, again)


def test_a_generator_random_state_is_consumed():
    X, y = sign_task(30, 15)
    gen = np.random.default_rng(3)
    a = SequenceClassifier(**{**FAST, "epochs": 1, "random_state": gen}).fit(X, y).predict_proba(X)
    b = SequenceClassifier(**{**FAST, "epochs": 1, "random_state": gen}).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, b)
    with pytest.raises(ValueError, match="random_state must be None, an integer seed >= 0 or a numpy"):
        SequenceClassifier(random_state=-1).fit(X, y)
