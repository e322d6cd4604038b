"""A Seq2Seq's encoder and decoder step as ONNX graphs (scratchrnn.seq2seq.onnx_parts): run in ONNX
Runtime they give ``Seq2Seq.encode``'s memory and bridged state, and each decoder step the
``DecoderStepper``'s logits, state and attention, within 1e-5, steps chained by feeding back."""

import itertools

import numpy as np
import pytest

from scratchrnn.io import export_onnx, onnx_model, to_onnx
from scratchrnn.seq2seq.data import SPECIALS, SourceFormat, SymbolVocab
from scratchrnn.seq2seq.decode import DecoderStepper
from scratchrnn.seq2seq.files import save_seq2seq
from scratchrnn.seq2seq.model import Seq2Seq, Seq2SeqConfig

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = 1e-5


def session(proto_or_path):
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the runtime's note that source_lengths' default can be fed
    source = proto_or_path.SerializeToString() if hasattr(proto_or_path, "SerializeToString") else str(
        proto_or_path)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run(sess, **feed) -> dict:
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feed), strict=True))


def parts(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def close(got, want):
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)


def check_decoding(model, encoder, decoder, src, lengths, steps=4):
    """The ONNX graphs against encode and DecoderStepper over ``steps`` greedy steps."""
    S, B = src.shape
    feed = {"source": src} if lengths is None else {"source": src, "source_lengths": lengths}
    enc = run(encoder, **feed)
    encoded = model.encode(src, lengths)
    names = ("h0", "c0")[:len(parts(encoded.state))]
    assert sorted(enc) == sorted(("memory", *names))
    for name, want in zip(names, parts(encoded.state), strict=True):
        close(enc[name], want)
    xe, _ = model.src_embedding.forward(np.where(np.arange(S)[:, None] < (S if lengths is None else lengths),
                                                 src, 0))
    keys, _, _ = model.encoder.eval().forward(xe, lengths=lengths)
    close(enc["memory"], keys)
    stepper, state = DecoderStepper(model), encoded.state
    carried = {n: enc[n] for n in names}
    token = np.full(B, model.config.bos_id)
    for _ in range(steps):
        logits, state, weights = stepper.step(token, state, encoded.memory)
        feed = {"token": token, **carried}
        if model.attention is not None:
            feed["memory"] = enc["memory"]
            if lengths is not None:
                feed["source_lengths"] = lengths
        out = run(decoder, **feed)
        close(out["logits"], logits)
        for name, want in zip(("h_n", "c_n"), parts(state), strict=False):
            close(out[name], want)
        if weights is not None:
            close(out["attention"], weights)
        else:
            assert "attention" not in out
        carried = {n: out[m] for n, m in zip(names, ("h_n", "c_n"), strict=False)}
        token = logits.argmax(axis=1)


CASES = [(cell, decoder, attention, bidirectional)
         for cell, decoder, attention, bidirectional in itertools.product(
             ("rnn", "lstm", "gru"), ("rnn", "lstm", "gru"), (None, "dot", "general", "additive"),
             (False, True))
         if cell == decoder or attention in (None, "additive")]


@pytest.mark.parametrize(("cell", "decoder", "attention", "bidirectional"), CASES,
                         ids=["-".join(map(str, c)) for c in CASES])
def test_encoder_and_decoder_step_equal_the_model(cell, decoder, attention, bidirectional):
    cfg = Seq2SeqConfig(src_vocab_size=9, tgt_vocab_size=8, embedding_dim=4, cell=cell, decoder_cell=decoder,
                        hidden_size=3, num_layers=2, bidirectional=bidirectional, attention=attention)
    model = Seq2Seq(cfg, rng=3).eval()
    encoder, step = session(onnx_model(model, "encoder")), session(onnx_model(model, "decoder_step"))
    rng = np.random.default_rng(0)
    for S, B in ((1, 1), (6, 3), (10, 2)):
        src = rng.integers(0, 9, (S, B))
        lengths = rng.integers(1, S + 1, B)
        lengths[0] = S
        check_decoding(model, encoder, step, src, lengths)
    check_decoding(model, encoder, step, rng.integers(0, 9, (5, 2)), None)  # source_lengths left out


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_zero_bridge_and_a_shared_embedding(cell):
    cfg = Seq2SeqConfig(src_vocab_size=7, share_embedding=True, embedding_dim=3, cell=cell, hidden_size=4,
                        bridge="zero", attention="general", attention_size=5)
    model = Seq2Seq(cfg, rng=1).eval()
    encoder, step = session(onnx_model(model, "encoder")), session(onnx_model(model, "decoder_step"))
    src = np.random.default_rng(1).integers(0, 7, (4, 3))
    check_decoding(model, encoder, step, src, np.array([4, 1, 3]))
    assert not run(encoder, source=src)["h0"].any()


def test_a_seq2seq_needs_its_part(tmp_path):
    model = Seq2Seq(Seq2SeqConfig(src_vocab_size=5, embedding_dim=2, hidden_size=2))
    with pytest.raises(ValueError, match="a Seq2Seq is exported in parts: give part='encoder' or "
                                         "'decoder_step', got None"):
        to_onnx(model, tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="got 'decoder'"):
        to_onnx(model, tmp_path / "x.onnx", part="decoder")
    assert list(tmp_path.iterdir()) == []


def test_export_onnx_writes_both_parts_of_a_seq2seq_file(tmp_path):
    import json

    source = SymbolVocab(list("0123456789+"))
    target = SymbolVocab(list("0123456789"))
    cfg = Seq2SeqConfig(src_vocab_size=len(source), tgt_vocab_size=len(target), embedding_dim=4,
                        hidden_size=5, attention="dot")
    model = Seq2Seq(cfg, rng=0).eval()
    save_seq2seq(model, tmp_path / "model.npz", source, target)
    paths = export_onnx(tmp_path / "model.npz", tmp_path / "adder.onnx")
    assert paths == [tmp_path / "adder.encoder.onnx", tmp_path / "adder.decoder_step.onnx"]
    for path, part in zip(paths, ("encoder", "decoder_step"), strict=True):
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto, full_check=True)
        meta = {p.key: p.value for p in proto.metadata_props}
        assert meta["scratchrnn.part"] == part
        vocab = {"source": [*SPECIALS, *source.symbols], "target": [*SPECIALS, *target.symbols]}
        assert json.loads(meta["scratchrnn.vocab"]) == vocab  # in id order: the specials first
        assert vocab["source"].index("+") == source.encode("+")[0]
        assert json.loads(meta["scratchrnn.source_format"]) == SourceFormat().to_dict()
    src = np.array([[3], [4], [12]])
    check_decoding(model, session(paths[0]), session(paths[1]), src, None)
