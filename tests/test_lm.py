"""scratchrnn.lm: a tiny CharLM overfits a short text, the same seed gives the same text (also after
a reload in a new process), evaluate against an independent computation, WordLM, loading trainer
checkpoints, exact resume, and clear errors for bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from scratchrnn.data.text import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN
from scratchrnn.io import load_checkpoint, save_checkpoint, save_npz_weights
from scratchrnn.lm import DEFAULT_LR, CharLM, LanguageModel, WordLM, load_language_model
from scratchrnn.resume import text_digest

TEXT = "hello world\n" * 60  # 720 characters: longer than one scoring chunk (512)
TINY = dict(cell="lstm", hidden_size=24, num_layers=1)
FIT = dict(batch_size=1, window=24, lr=1e-2, val_fraction=0.0)
WORDS = ("The cat sat on the mat. The dog sat on the log. " * 12).strip()


@pytest.fixture(scope="module")
def trained() -> CharLM:
    return CharLM(**TINY).fit(TEXT, steps=150, **FIT)


@pytest.fixture(scope="module")
def rough() -> CharLM:
    """Barely trained: its samples vary with the seed."""
    return CharLM(cell="gru", hidden_size=16, num_layers=2, seed=3).fit(TEXT, steps=3, **FIT)


@pytest.fixture(scope="module")
def words() -> WordLM:
    return WordLM(cell="gru", hidden_size=24, num_layers=1, embedding_dim=12).fit(
        WORDS, steps=120, batch_size=1, window=20, lr=1e-2, val_fraction=0.0)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


# -- training and sampling --------------------------------------------------------------------------
def test_a_tiny_char_lm_overfits_and_greedy_sampling_reproduces_the_text(trained):
    assert isinstance(trained, CharLM) and trained.history.losses[-1] < 0.05
    n = 3 * 12
    assert trained.sample(n, prime="h", temperature=0) == TEXT[1 : 1 + n]
    assert trained.sample(n, prime="hello wo", temperature=0) == TEXT[8 : 8 + n]
    assert trained.sample(n, prime="h", beam=1) == TEXT[1 : 1 + n]
    assert trained.sample(n, prime="h", beam=4) == TEXT[1 : 1 + n]
    assert trained.vocab.to_list() == sorted(set(TEXT))


def test_beam_search_stops_at_an_end_token_which_it_keeps(trained, words):
    assert trained.sample(36, prime="h", beam=3, eos="\n") == "ello world\n"
    assert trained.sample(36, prime="hello w", beam=1, eos="d") == "orld"
    text = words.sample(40, beam=2, eos="SENTENCE_END")
    assert text.endswith("\n") and text.count("\n") == 1 and len(text.split()) < 40
    with pytest.raises(ValueError,
                       match=r"^the end token 'Z' is not in the model's vocabulary of 9 characters$"):
        trained.sample(5, prime="h", beam=2, eos="Z")
    with pytest.raises(ValueError, match="^eos needs beam: only beam search stops at an end token$"):
        trained.sample(5, prime="h", eos="\n")


def test_fit_returns_the_model_and_is_deterministic():
    a = CharLM(**TINY, seed=5)
    assert a.fit(TEXT, steps=6, **FIT) is a
    b = CharLM(**TINY, seed=5).fit(TEXT, steps=6, **FIT)
    assert a.history.deterministic() == b.history.deterministic()
    for k, v in a.model.params.items():
        assert v.tobytes() == b.model.params[k].tobytes(), k
    c = CharLM(**TINY, seed=6).fit(TEXT, steps=6, **FIT)
    assert c.history.losses != a.history.losses
    assert any(v.tobytes() != c.model.params[k].tobytes() for k, v in a.model.params.items())


def test_same_seed_same_text_and_streaming(rough):
    a = rough.sample(80, prime="he", seed=11)
    assert len(a) == 80 and set(a) <= set(TEXT)
    assert rough.sample(80, prime="he", seed=11) == a
    assert rough.sample(80, prime="he", seed=12) != a
    pieces = []
    assert rough.sample(80, prime="he", seed=11, on_text=pieces.append) == a
    assert "".join(pieces) == a and len(pieces) == 80
    assert rough.sample(0, prime="he") == ""


def test_top_k_one_and_tiny_top_p_are_greedy(rough):
    greedy = rough.sample(40, prime="w", temperature=0)
    assert rough.sample(40, prime="w", top_k=1, seed=1) == greedy
    assert rough.sample(40, prime="w", top_p=1e-9, seed=2) == greedy


def test_an_empty_prime_starts_after_a_line_break(trained):
    assert trained.sample(11, temperature=0) == TEXT[:11]


def test_save_and_reload_in_a_new_process_gives_the_same_text(rough, tmp_path):
    path = tmp_path / "rough.npz"
    assert rough.save(path) == path
    want = rough.sample(120, prime="wor", temperature=0.9, top_k=6, seed=42)
    code = ("import json, sys\n"
            "from scratchrnn.lm import load_language_model\n"
            "lm = load_language_model(sys.argv[1])\n"
            "text = lm.sample(120, prime='wor', temperature=0.9, top_k=6, seed=42)\n"
            "print(json.dumps([type(lm).__name__, text]))\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["CharLM", want]
    again = CharLM.load(path)
    assert again.sample(120, prime="wor", temperature=0.9, top_k=6, seed=42) == want
    assert (again.cell, again.hidden_size, again.num_layers, again.seed) == ("gru", 16, 2, 3)
    assert again.history.deterministic() == rough.history.deterministic()


# -- evaluation --------------------------------------------------------------------------------------
def test_evaluate_matches_an_independent_cross_entropy(trained):
    text = TEXT[5:] + "hello"  # 720 characters, scored in two chunks
    got = trained.evaluate(text)
    ids = np.array([trained.vocab.token_to_id(c) for c in text])
    trained.model.eval()
    y, _, _ = trained.model.forward(ids[:-1, None])  # (n-1, 1, V) one pass over the whole text
    trained.model.train(True)
    logp = _log_softmax(y[:, 0].astype(np.float64))[np.arange(len(ids) - 1), ids[1:]]
    loss = -logp.mean()
    assert got["tokens"] == len(text) - 1
    assert got["loss"] == pytest.approx(loss, rel=1e-5)
    assert got["perplexity"] == pytest.approx(math.exp(got["loss"]), rel=1e-12)
    assert got["bits_per_char"] == pytest.approx(got["loss"] / math.log(2), rel=1e-12)
    per_token = trained.token_logprobs(text)
    assert [r["token"] for r in per_token] == list(text[1:])
    assert [r["index"] for r in per_token] == list(range(1, len(text)))
    np.testing.assert_allclose([r["logprob"] for r in per_token], logp, rtol=1e-4, atol=1e-6)
    assert -np.mean([r["logprob"] for r in per_token]) == pytest.approx(got["loss"], rel=1e-12)
    json.dumps(per_token)  # JSON lines need plain Python values


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_evaluate_equals_the_reference_layers_over_the_whole_text_in_float64(cell):
    # scored in chunks with the state carried (the fast inference path); the reference runs the plain
    # loops of scratchrnn.nn.reference over the whole text in one pass
    from scratchrnn.nn import reference

    lm = CharLM(cell=cell, hidden_size=12, num_layers=2, dtype="float64", seed=4).fit(TEXT, steps=2, **FIT)
    text = TEXT[3:] + "held row"  # 725 characters: two chunks
    ids = np.array([lm.vocab.token_to_id(c) for c in text])
    V = len(lm.vocab)
    rnn = {k[4:]: v for k, v in lm.model.params.items() if k.startswith("rnn.")}
    out, _, _ = reference.forward(cell, rnn, np.eye(V)[ids[:-1]][:, None])  # (n-1, 1, H)
    logits = out[:, 0] @ lm.model.params["head.weight"].T + lm.model.params["head.bias"]  # (n-1, V)
    want = _log_softmax(logits)[np.arange(len(ids) - 1), ids[1:]]
    rows = []
    got = lm.evaluate(text, on_token=rows.append)
    assert got["loss"] == pytest.approx(-want.mean(), rel=0, abs=1e-12)
    np.testing.assert_allclose([r["logprob"] for r in rows], want, rtol=0, atol=1e-12)
    assert rows == [{"index": i, "token": text[i], "id": int(ids[i]), "logprob": r["logprob"]}
                    for i, r in enumerate(rows, start=1)]
    assert rows == lm.token_logprobs(text)  # the same records, listed


def test_scoring_runs_without_dropout():
    lm = CharLM(cell="lstm", hidden_size=16, num_layers=3, dropout=0.5).fit(TEXT, steps=3, **FIT)
    assert lm.model.training
    first = lm.evaluate(TEXT[:200])
    assert lm.evaluate(TEXT[:200]) == first and lm.model.training
    ids = np.array([lm.vocab.token_to_id(c) for c in TEXT[:200]])
    lm.model.eval()
    y, _, _ = lm.model.forward(ids[:-1, None])
    want = -_log_softmax(y[:, 0].astype(np.float64))[np.arange(199), ids[1:]].mean()
    assert first["loss"] == pytest.approx(want, rel=1e-5)


def test_a_trained_model_scores_its_text_better_than_a_shuffled_one(trained):
    shuffled = "".join(np.random.default_rng(0).permutation(list(TEXT)))
    assert trained.evaluate(TEXT)["loss"] < 0.1 < trained.evaluate(shuffled)["loss"]


# -- word level --------------------------------------------------------------------------------------
def test_word_lm_trains_samples_and_evaluates(words):
    assert words.vocab.to_list()[:3] == [UNKNOWN_TOKEN, SENTENCE_START, SENTENCE_END]
    text = words.sample(12, prime="the cat", temperature=0)  # 12 tokens, SENTENCE_START among them
    assert text == " sat on the mat .\nthe dog sat on the"
    assert SENTENCE_START not in text and SENTENCE_END not in text
    assert words.sample(5, temperature=0) == "the cat sat on the"  # an empty prime starts a sentence
    result = words.evaluate("The cat sat on the log.")
    assert result["tokens"] == 8 and "bits_per_char" not in result  # the, cat, sat, on, the, log, ., END
    assert result["perplexity"] == pytest.approx(math.exp(result["loss"]))


def test_word_lm_maps_unknown_words_to_the_unknown_token(words):
    rows = words.token_logprobs("The zebra sat.")
    assert [r["token"] for r in rows] == ["the", "zebra", "sat", ".", SENTENCE_END]
    assert rows[1]["id"] == words.vocab.unk_id
    assert isinstance(words.sample(3, prime="a zebra", seed=0), str)


def test_word_lm_save_and_load(words, tmp_path):
    path = words.save(tmp_path / "w.npz")
    lm = load_language_model(path)
    assert type(lm) is WordLM and lm.vocab == words.vocab
    assert lm.sample(20, prime="the", seed=3) == words.sample(20, prime="the", seed=3)
    assert type(LanguageModel.load(path)) is WordLM
    with pytest.raises(ValueError, match=r"w\.npz holds a word-level model, not a char-level one"):
        CharLM.load(path)


def test_word_lm_max_vocab():
    lm = WordLM(cell="rnn", hidden_size=8, num_layers=1, max_vocab=6).fit(WORDS, steps=2, batch_size=1,
                                                                         window=10, val_fraction=0)
    # the three specials, then "the" (4 per repeat) and the first two, alphabetically, of the words
    # seen twice per repeat (".", "on", "sat")
    assert lm.vocab.to_list()[3:] == ["the", ".", "on"]


# -- checkpoints from fit, and resume ----------------------------------------------------------------
def test_trainer_checkpoints_load_as_language_models(tmp_path):
    lm = CharLM(**TINY).fit(TEXT, steps=8, batch_size=2, window=20, val_fraction=0.2, eval_every=4,
                            checkpoint_dir=tmp_path)
    assert len(lm.history.evals) == 2
    last = load_language_model(tmp_path / "last.npz")
    assert type(last) is CharLM and last.vocab == lm.vocab
    for k, v in lm.model.params.items():
        assert last.model.params[k].tobytes() == v.tobytes(), k
    assert type(load_language_model(tmp_path / "best.npz")) is CharLM


def test_resume_continues_a_run_exactly(tmp_path):
    kw = dict(batch_size=2, window=12, lr=5e-3, val_fraction=0.1)
    straight = CharLM(**TINY, seed=2).fit(TEXT, steps=10, **kw)
    CharLM(**TINY, seed=2).fit(TEXT, steps=5, checkpoint_dir=tmp_path, **kw)
    resumed = CharLM(**TINY, seed=2).fit(TEXT, steps=10, resume=tmp_path / "last.npz", **kw)
    for k, v in straight.model.params.items():
        assert resumed.model.params[k].tobytes() == v.tobytes(), k
    assert resumed.history.deterministic()["steps"] == straight.history.deterministic()["steps"]
    # a run continues exactly only on its own text and with its own settings
    with pytest.raises(ValueError, match="this text is not the one the run was trained on"):
        CharLM(**TINY, seed=2).fit(TEXT.replace("\n", " "), steps=7, resume=tmp_path / "last.npz", **kw)
    with pytest.raises(ValueError, match=r"batch_size=1 \(the run's: 2\), seed=3 \(the run's: 2\) differ"):
        CharLM(**TINY, seed=3).fit(TEXT, steps=7, resume=tmp_path / "last.npz", **{**kw, "batch_size": 1})
    with pytest.raises(ValueError, match="holds a char-level run, not a word-level one"):
        WordLM(**TINY, seed=2).fit(TEXT, steps=7, resume=tmp_path / "last.npz", **kw)
    with pytest.raises(ValueError, match="extend_vocab cannot be used with resume"):
        CharLM(**TINY, seed=2).fit(TEXT, steps=7, resume=tmp_path / "last.npz", extend_vocab=True, **kw)


def test_checkpoints_record_how_the_model_was_trained(tmp_path):
    lm = CharLM(**TINY, seed=4).fit(TEXT, steps=2, batch_size=2, window=12, val_fraction=0.1,
                                   optimizer="RMSprop", checkpoint_dir=tmp_path, source={"path": "t.txt"})
    lm.save(tmp_path / "model.npz")
    for name in ("last.npz", "model.npz"):
        info = load_checkpoint(tmp_path / name).config["lm"]
        assert info["level"] == "char" and info["seed"] == 4 and info["max_vocab"] is None
        assert info["fit"] == {"batch_size": 2, "window": 12, "optimizer": "rmsprop", "clip_norm": 5.0,
                               "val_fraction": 0.1, "seed": 4, "lr": DEFAULT_LR,
                               "text_sha256": text_digest(TEXT), "text_chars": len(TEXT),
                               "source": {"path": "t.txt"}, "clip_value": None, "weight_decay": None,
                               "val_tokens": None}
    assert load_language_model(tmp_path / "model.npz").fit(TEXT, steps=1, **FIT).history.steps


def test_a_new_rate_on_resume_is_used_logged_and_recorded(tmp_path):
    kw = dict(batch_size=2, window=12, val_fraction=0.1, checkpoint_dir=tmp_path,
              log_path=tmp_path / "log.jsonl")
    CharLM(**TINY).fit(TEXT, steps=4, lr=5e-3, **kw)
    kept = CharLM(**TINY).fit(TEXT, steps=6, resume=tmp_path / "last.npz", **kw)  # lr=None keeps the run's
    assert {r["lr"] for r in kept.history.steps} == {5e-3}
    changed = CharLM(**TINY).fit(TEXT, steps=8, lr=1e-3, resume=tmp_path / "last.npz", **kw)
    assert [r["lr"] for r in changed.history.steps] == [5e-3] * 6 + [1e-3] * 2
    log = [json.loads(ln) for ln in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r for r in log if "event" in r] == [{"step": 6, "event": "lr", "from": 5e-3, "to": 1e-3}]
    assert load_checkpoint(tmp_path / "last.npz").config["lm"]["fit"]["lr"] == 1e-3


def test_fine_tuning_starts_from_the_files_weights_with_a_new_optimizer(tmp_path):
    CharLM(**TINY).fit(TEXT, steps=3, **FIT).save(tmp_path / "a.npz")
    start, end = {}, {}

    def watch(event, trainer, record):
        if event == "start":
            start.update({k: v.copy() for k, v in trainer.model.params.items()}, step=record["step"])
        if event == "end":
            end["optimizer_steps"] = trainer.optimizer.state_dict()["step"]

    tuned = load_language_model(tmp_path / "a.npz").fit(TEXT[::-1], steps=2, callbacks=[watch], **FIT)
    saved = load_checkpoint(tmp_path / "a.npz").params
    assert start.pop("step") == 0 and start.keys() == saved.keys()
    assert all(start[k].tobytes() == v.tobytes() for k, v in saved.items())  # step 0: the file's weights
    assert end["optimizer_steps"] == 2 and [r["step"] for r in tuned.history.steps] == [1, 2]


def test_extend_vocab_adds_the_new_characters(tmp_path):
    CharLM(**TINY).fit(TEXT, steps=2, **FIT).save(tmp_path / "a.npz")
    new_text = TEXT + "HELLO, World!\n" * 10
    with pytest.raises(ValueError, match=r"7 character\(s\).*'!', ',', 'E', 'H', 'L'"):
        load_language_model(tmp_path / "a.npz").fit(new_text, steps=1, **FIT)
    lm = load_language_model(tmp_path / "a.npz")
    assert lm.unknown_tokens(new_text) == ["!", ",", "E", "H", "L", "O", "W"]
    old = lm.vocab.to_list()
    start = {}
    lm.fit(new_text, steps=1, extend_vocab=True, **FIT,
           callbacks=[lambda e, tr, r: start.update(tr.model.state_dict()) if e == "start" else None])
    assert lm.vocab.to_list() == sorted(old + ["!", ",", "E", "H", "L", "O", "W"])
    moved = [lm.vocab.to_list().index(c) for c in old]
    saved = load_checkpoint(tmp_path / "a.npz").params
    assert np.array_equal(start["head.weight"][moved], saved["head.weight"])
    assert np.array_equal(start["rnn.weight_ih_l0"][:, moved], saved["rnn.weight_ih_l0"])  # one-hot input
    assert np.array_equal(start["rnn.weight_hh_l0"], saved["rnn.weight_hh_l0"])
    lm.sample(20, prime="HELLO", seed=0)  # the new characters are the model's now


def test_extend_vocab_adds_words_that_would_be_unknown(words):
    new_text = WORDS + " The bird sat on the tree."
    assert words.unknown_tokens(new_text) == ["bird", "tree"]
    copy = WordLM(cell="gru", hidden_size=24, num_layers=1, embedding_dim=12)  # the fixture is shared
    copy.model, copy.vocab = words.model, words.vocab
    copy.fit(new_text, steps=1, batch_size=1, window=20, lr=1e-2, val_fraction=0.0, extend_vocab=True)
    assert copy.vocab.to_list() == words.vocab.to_list() + ["bird", "tree"]
    assert copy.model is not words.model and words.vocab.to_list()[-1] != "tree"


def test_a_second_fit_keeps_the_vocabulary(trained):
    lm = CharLM(**TINY).fit(TEXT, steps=2, **FIT)
    vocab = lm.vocab
    lm.fit(TEXT[::-1], steps=2, **FIT)
    assert lm.vocab is vocab and len(lm.history.steps) == 2
    with pytest.raises(ValueError, match=r"training text has 2 character\(s\).*'!', 'Z'"):
        lm.fit(TEXT + "Z!", steps=1, **FIT)


def test_the_library_prints_nothing(capsys, tmp_path):
    lm = CharLM(cell="rnn", hidden_size=8, num_layers=1).fit(TEXT, steps=3, **FIT)
    lm.sample(20, seed=0)
    lm.evaluate(TEXT[:50])
    lm.save(tmp_path / "x.npz")
    assert capsys.readouterr() == ("", "")


# -- errors ------------------------------------------------------------------------------------------
def test_unknown_prime_characters_are_named(trained):
    with pytest.raises(ValueError, match=r"prime has 2 character\(s\) that are not in the model's vocabulary "
                                         r"of 9: 'Z', 'q'"):
        trained.sample(5, prime="Zqhello")
    with pytest.raises(ValueError, match=r"text has 1 character\(s\).*'X'"):
        trained.evaluate("hello X")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"temperature": -1.0}, r"temperature .*-1\.0"),
    ({"top_p": 0.0}, r"top_p .*0\.0"),
    ({"top_p": 1.5}, r"top_p .*1\.5"),
    ({"top_k": 0}, r"top_k .*0"),
    ({"beam": 0}, r"beam .*0"),
    ({"beam": 2, "temperature": 0.5}, r"beam search is deterministic"),
    ({"seed": -3}, r"seed .*-3"),
])
def test_bad_sampling_options(trained, kwargs, match):
    with pytest.raises(ValueError, match=match):
        trained.sample(5, prime="h", **kwargs)


def test_text_shorter_than_a_window():
    with pytest.raises(ValueError, match=r"shorter than one window: 50 characters for training.*"
                                         r"window of 100 needs 101"):
        CharLM(**TINY).fit("abcde" * 10, steps=1, val_fraction=0)
    with pytest.raises(ValueError, match=r"shorter than one window: 45 characters .*holding out the last 5"):
        CharLM(**TINY).fit("abcde" * 10, steps=1, window=49, val_fraction=0.1)
    with pytest.raises(ValueError, match=r"too short for 32 parallel streams.*use batch_size <= 7"):
        CharLM(**TINY).fit(TEXT, steps=1, window=100, val_fraction=0)


def test_bad_fit_and_model_arguments():
    with pytest.raises(ValueError, match="exactly one of steps and epochs"):
        CharLM(**TINY).fit(TEXT, **FIT)
    with pytest.raises(ValueError, match=r"val_fraction .*1\.0"):
        CharLM(**TINY).fit(TEXT, steps=1, batch_size=1, window=10, val_fraction=1.0)
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        CharLM(**TINY).fit(TEXT, steps=1, optimizer="adamm", **FIT)
    with pytest.raises(ValueError, match="empty"):
        CharLM(**TINY).fit("  \n", steps=1)
    with pytest.raises(ValueError, match="unknown cell 'tcn'"):
        CharLM(cell="tcn")
    with pytest.raises(ValueError, match="hidden_size .*0"):
        CharLM(hidden_size=0)
    with pytest.raises(ValueError, match="shared base"):
        LanguageModel()
    with pytest.raises(ValueError, match="no model yet"):
        CharLM().sample(5)


def test_files_that_are_not_language_model_checkpoints(tmp_path, rough):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("just some text\n")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(3))
    weights = tmp_path / "weights.npz"
    save_npz_weights(rough.model, weights)
    bare = tmp_path / "bare.npz"
    save_checkpoint(bare, params={"w": np.zeros(2)})
    for path in (text_file, empty, plain, weights, bare):
        with pytest.raises(ValueError, match=path.name.replace(".", r"\.")):
            load_language_model(path)
        with pytest.raises(ValueError, match=path.name.replace(".", r"\.")):
            CharLM.load(path)
    with pytest.raises(ValueError, match="bare.npz is a scratchrnn checkpoint but not a language model"):
        load_language_model(bare)
    with pytest.raises(FileNotFoundError):
        load_language_model(tmp_path / "missing.npz")


# -- scoring once, streamed ----------------------------------------------------------------------
def test_evaluate_streams_the_token_records_in_one_pass(monkeypatch):
    lm = CharLM(**TINY, seed=1).fit(TEXT, steps=3, batch_size=2, window=20, progress=False)
    calls = []
    real = lm.model.stepper

    def counted():
        stepper = real()
        session = stepper.chunk_session
        monkeypatch.setattr(stepper, "chunk_session", lambda h: (lambda advance: (
            lambda x: calls.append(x.shape[0]) or advance(x)))(session(h)))
        return stepper

    monkeypatch.setattr(lm.model, "stepper", counted)
    rows = []
    res = lm.evaluate(TEXT, on_token=rows.append)
    assert calls == [512, 207]  # 719 predictions in chunks of 512: each chunk scored once
    assert rows == lm.token_logprobs(TEXT)
    assert res["loss"] == pytest.approx(-sum(r["logprob"] for r in rows) / len(rows), rel=1e-12)
    assert [r["index"] for r in rows] == list(range(1, len(TEXT)))


def test_evaluate_and_sample_refuse_weights_that_are_not_finite():
    lm = CharLM(**TINY, seed=1).fit(TEXT, steps=2, batch_size=2, window=20, progress=False)
    lm.model.params["head.bias"][0] = np.inf
    for call in (lambda: lm.evaluate(TEXT), lambda: lm.sample(5, seed=0)):
        with pytest.raises(ValueError, match=r"weights are not finite \(head.bias hold NaN or inf\)"):
            call()


# -- the training options ------------------------------------------------------------------------
def test_fit_takes_the_training_options_by_their_trainconfig_names(tmp_path):
    lm = CharLM(cell="gru", hidden_size=8, embedding_dim=8, tie_weights=True, seed=2)
    lm.fit(TEXT, steps=12, batch_size=2, window=12, lr=1e-2, optimizer="adamw", weight_decay=0.05,
           clip_value=0.5, lr_schedule="cosine", warmup=3, min_lr=1e-4, eval_every=4, val_tokens=30,
           sample_every=6, sample_length=9, log_path=tmp_path / "log.jsonl", checkpoint_dir=tmp_path)
    cfg = lm.train_config
    assert (cfg.lr_schedule, cfg.warmup, cfg.min_lr, cfg.clip_value, cfg.sample_every) == (
        "cosine", 3, 1e-4, 0.5, 6)
    assert lm.history.steps[0]["lr"] == pytest.approx(1e-2 / 3) and lm.history.steps[-1]["lr"] < 1e-3
    assert [len(r["text"]) for r in lm.history.samples] == [9, 9] and all(
        set(r["text"]) <= set(TEXT) for r in lm.history.samples)
    assert "head.weight" not in lm.model.params and lm.model.config.tie_weights
    again = load_language_model(lm.save(tmp_path / "model.npz"))
    assert again.tie_weights and again.model.head.params["weight"] is again.model.params["embedding.weight"]
    assert again.sample(20, seed=1) == lm.sample(20, seed=1)
    assert again.evaluate(TEXT[:300]) == lm.evaluate(TEXT[:300])  # scoring runs the tied head too
    fit = load_checkpoint(tmp_path / "last.npz").config["lm"]["fit"]
    assert (fit["weight_decay"], fit["clip_value"], fit["val_tokens"]) == (0.05, 0.5, 30)


def test_val_tokens_validates_on_the_first_tokens_of_the_held_out_part():
    text = "".join(chr(97 + i % 26) for i in range(2000))
    full = CharLM(hidden_size=4, num_layers=1).fit(text, steps=2, batch_size=2, window=10, eval_every=2)
    part = CharLM(hidden_size=4, num_layers=1).fit(text, steps=2, batch_size=2, window=10, eval_every=2,
                                                  val_tokens=50)
    assert part.history.deterministic()["steps"] == full.history.deterministic()["steps"]  # same training
    assert part.history.evals[0]["val_loss"] != full.history.evals[0]["val_loss"]
    with pytest.raises(ValueError, match="val_tokens must be"):
        CharLM(hidden_size=4).fit(text, steps=1, val_tokens=1)


def test_early_stopping_in_fit_restores_the_best_weights():
    lm = CharLM(hidden_size=16, num_layers=1, seed=0)
    lm.fit(TEXT + "qzqzqzqzqz" * 8, steps=300, batch_size=1, window=24, lr=5e-2, eval_every=1, patience=2)
    h = lm.history  # the held-out tail is unlike the training text: validation worsens at once
    assert lm.train_config.patience == 2 and len(h.steps) == 3
    assert h.restored == {"step": 3, "event": "restore_best", "best_step": 1,
                          "val_loss": h.evals[0]["val_loss"]}
    assert lm.evaluate("qzqzqzqzqz" * 8)["loss"] != pytest.approx(h.evals[-1]["val_loss"], rel=1e-3)


def test_weight_decay_is_refused_for_an_optimizer_without_it():
    with pytest.raises(ValueError, match="^the rprop optimizer has no option 'weight_decay'; the optimizers"):
        CharLM(hidden_size=4, num_layers=1).fit(TEXT, steps=1, optimizer="rprop", weight_decay=0.1, **FIT)
    with pytest.raises(ValueError, match="tie_weights needs embedding_dim equal to the head's input"):
        CharLM(hidden_size=4, num_layers=1, embedding_dim=5, tie_weights=True).fit(TEXT, steps=1, **FIT)


# -- characters outside the vocabulary, and the unknown token -------------------------------------
def test_evaluate_names_characters_outside_the_vocabulary_or_skips_them(trained):
    text = "hello \u00e9world\nhe\u00e9llo Z"  # 'é' twice and 'Z' once are not in the vocabulary of TEXT
    with pytest.raises(ValueError, match=r"text has 2 character\(s\) that are not in the model's vocabulary "
                                         r"of 9 \(3 in all\): 'Z', '\u00e9'; unknown='skip' scores"):
        trained.evaluate(text)
    skipped = trained.evaluate(text, unknown="skip")
    clean = text.replace("\u00e9", "").replace("Z", "")
    expected = trained.evaluate(clean)
    assert skipped == {**expected, "skipped": 3, "skipped_tokens": ["Z", "\u00e9"]}
    assert trained.evaluate(TEXT, unknown="skip") == {**trained.evaluate(TEXT), "skipped": 0,
                                                      "skipped_tokens": []}


def test_skipped_characters_have_no_record_and_the_others_keep_their_place_in_the_text(trained):
    text = "h\u00e9ello\u00e9 world\n" * 40  # longer than one scoring chunk after the skipping too
    rows = trained.token_logprobs(text, unknown="skip")
    kept = [i for i, c in enumerate(text) if c != "\u00e9"]
    assert [r["index"] for r in rows] == kept[1:]  # the first kept character is only context
    assert all(text[r["index"]] == r["token"] for r in rows)
    clean = trained.token_logprobs(text.replace("\u00e9", ""))
    assert [r["logprob"] for r in rows] == [r["logprob"] for r in clean]
    with pytest.raises(ValueError, match=r"nothing is left to score: the text has only whitespace besides "
                                         r"1 character\(s\) .*'\u00e9'"):
        trained.evaluate("\u00e9 \u00e9\n", unknown="skip")
    with pytest.raises(ValueError, match="unknown must be one of error, skip, got 'map'"):
        trained.evaluate(TEXT, unknown="map")


def test_a_word_model_reads_unknown_words_as_its_unknown_token_whatever_unknown_says(words):
    text = "The zebra sat."
    skipped = words.evaluate(text, unknown="skip")
    assert skipped == {**words.evaluate(text), "skipped": 0, "skipped_tokens": []}
    assert words.token_logprobs(text, unknown="skip") == words.token_logprobs(text)


def test_word_samples_never_hold_the_unknown_token_unless_allowed():
    lm = WordLM(cell="rnn", hidden_size=8, num_layers=1, max_vocab=5, seed=2).fit(
        WORDS, steps=30, batch_size=1, window=10, lr=1e-2, val_fraction=0)  # most words are unknown
    allowed = lm.sample(200, seed=0, allow_unknown=True)
    assert allowed.count(UNKNOWN_TOKEN) > 20  # so a sample without it is no accident
    for kwargs in ({"seed": 0}, {"temperature": 0}, {"seed": 1, "top_k": 2}, {"beam": 3}):
        assert UNKNOWN_TOKEN not in lm.sample(60, **kwargs), kwargs
    with pytest.raises(ValueError, match="allow_unknown must be True or False, got 'yes'"):
        lm.sample(5, allow_unknown="yes")
