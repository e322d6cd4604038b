"""A :class:`~scratchrnn.seq2seq.model.Seq2Seq` as two ONNX graphs: the encoder, and one decoder step.

An application encodes a batch of sources once, then runs the decoder step once per token,
feeding back the token it chose and the state the step returned, as ``DecoderStepper`` does;
greedy, sampled and beam decoding are its choice. The graphs' inputs and outputs are listed in
``scratchrnn.io.onnx_export``; ``scratchrnn.io.to_onnx(model, path, part=...)`` writes them.

The encoder's ``h0`` (and ``c0``) is the bridge of ``Seq2Seq.encode``: each layer's final states
of both directions side by side, (L, B, D*H), or zeros for ``bridge="zero"`` (and for an LSTM
decoder's cell state after an RNN or GRU encoder). The decoder step embeds the token, steps the
decoder's layers, attends over ``memory`` inside ``source_lengths`` (the scores of the model's
kind, a softmax over the source steps, the context ``tanh(W_c [context; h] + b_c)``) and gives
the logits of the output layer.
"""

from __future__ import annotations

import numpy as np

from ..io.onnx_graph import STATE_INPUTS, Graph, Stack

__all__ = ["decoder_step_graph", "encoder_graph"]


def encoder_graph(graph: Graph, model) -> None:
    """The encoder of ``model`` into ``graph``: source (S, B) -> memory, h0 (and c0)."""
    cfg = model.config
    stack = Stack.of(model.encoder)
    src = graph.input("source", "int64", ["source_time", "batch"])
    steps, batch = graph.scalar_dim(src, 0), graph.dim(src, 1)
    lengths = graph.lengths_input("source_lengths", steps, batch)
    ids = graph.op("Where", graph.steps_mask(lengths, steps), src, graph.const(0))  # padding never read
    emb = graph.const(model.src_embedding.params["weight"], "src_embedding.weight")
    L, D, H, Hd = cfg.num_layers, stack.num_directions, cfg.hidden_size, cfg.decoder_hidden_size
    zeros = graph.zeros(graph.op("Concat", graph.const([L * D]), batch, graph.const([H]), axis=0))
    states = [zeros] * stack.arity
    lengths32 = graph.op("Cast", lengths, to=graph.INT32)
    keys, finals = graph.recurrent(stack, graph.op("Gather", emb, ids, axis=0), states, lengths32, "encoder")
    graph.output("memory", keys, "float", ["source_time", "batch", D * H])
    decoder_arity = Stack.of(model.decoder).arity
    shape = graph.op("Concat", graph.const([L]), batch, graph.const([Hd]), axis=0)
    bridged = []
    for i in range(decoder_arity):
        if cfg.bridge == "zero" or i >= len(finals):
            bridged.append(graph.zeros(shape))
        else:  # (L*D, B, H) -> (L, D, B, H) -> (L, B, D, H) -> (L, B, D*H)
            split = graph.op("Reshape", finals[i], graph.op("Concat", graph.const([L, D]), batch,
                                                             graph.const([H]), axis=0))
            bridged.append(graph.op("Reshape", graph.op("Transpose", split, perm=[0, 2, 1, 3]), shape))
    for name, state in zip(STATE_INPUTS, bridged, strict=False):  # the decoder step's inputs
        graph.output(name, state, "float", [L, "batch", Hd])


def _attend(graph: Graph, attention, query: str, memory: str, lengths: str) -> tuple[str, str]:
    """Context (B, Hk) and weights (B, S) of ``query`` (B, Hq) over ``memory`` (S, B, Hk)."""
    keys = graph.op("Transpose", memory, perm=[1, 0, 2])  # (B, S, Hk)
    p = attention.params
    if attention.kind == "additive":
        qp = graph.linear(query, p["query.weight"], None, "attention.query")  # (B, A)
        kp = graph.linear(keys, p["key.weight"], None, "attention.key")  # (B, S, A)
        hidden = graph.op("Tanh", graph.op("Add", kp, graph.op("Unsqueeze", qp, graph.const([1]))))
        scores = graph.op("MatMul", hidden, graph.const(p["v"], "attention.v"))  # (B, S)
    else:
        scored = keys if attention.kind == "dot" else graph.linear(keys, p["weight"], None, "attention")
        column = graph.op("Unsqueeze", query, graph.const([2]))  # (B, Hq, 1)
        scores = graph.op("Squeeze", graph.op("MatMul", scored, column), graph.const([2]))  # (B, S)
    steps = graph.scalar_dim(memory, 0)
    valid = graph.steps_mask(lengths, steps, time_major=False)  # (B, S)
    scores = graph.op("Where", valid, scores, graph.const(np.array(-np.inf, np.float32)))
    weights = graph.op("Softmax", scores, axis=1)
    context = graph.op("MatMul", graph.op("Unsqueeze", weights, graph.const([1])), keys)  # (B, 1, Hk)
    return graph.op("Squeeze", context, graph.const([1])), weights


def decoder_step_graph(graph: Graph, model) -> None:
    """One decoder step of ``model`` into ``graph``: token (B,), h0 (c0) [, memory] -> logits, h_n."""
    cfg = model.config
    stack = Stack.of(model.decoder)
    token = graph.input("token", "int64", ["batch"])
    batch = graph.dim(token, 0)
    L, Hd = cfg.num_layers, cfg.decoder_hidden_size
    states = [graph.input(n, "float", [L, "batch", Hd]) for n in STATE_INPUTS[:stack.arity]]
    emb = graph.const(model.tgt_embedding.params["weight"], "tgt_embedding.weight")
    x = graph.op("Unsqueeze", graph.op("Gather", emb, token, axis=0), graph.const([0]))  # (1, B, E)
    out, finals = graph.recurrent(stack, x, states, graph.ones(batch), "decoder")
    h = graph.op("Squeeze", out, graph.const([0]))  # (B, Hd), the top layer's new state
    feats = h
    if model.attention is not None:
        memory = graph.input("memory", "float", ["source_time", "batch", model.attention.key_size])
        lengths = graph.lengths_input("source_lengths", graph.scalar_dim(memory, 0), batch)
        context, weights = _attend(graph, model.attention, h, memory, lengths)
        cat = graph.op("Concat", context, h, axis=1)  # (B, 2 Hd)
        c = model.combine.params
        feats = graph.op("Tanh", graph.linear(cat, c["weight"], c["bias"], "combine"))
    o = model.out.params
    graph.output("logits", graph.linear(feats, o["weight"], o["bias"], "out"), "float",
                 ["batch", cfg.target_vocab_size])
    graph.state_outputs(finals, [L, "batch", Hd])
    if model.attention is not None:
        graph.output("attention", weights, "float", ["batch", "source_time"])
