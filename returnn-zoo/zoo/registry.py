"""The zoo's models: which RETURNN config, how it is trained, compiled and fed, and what must fuse.

Fields: name, kind (lm | am | ctc | encdec), description, config (in configs/), subst (text replacements that make
a variant of a config), train (synthetic data: spec key -> (sparse|dense, dim, length group "T"|"U")),
graphs (file -> compile_tf_graph.py flags; default {"graph.meta": []}), reference_graph (the graph TF runs for
the recorded outputs), inputs (reference feed: lengths of the padded batch, and per data key its kind/dim),
outputs (TF tensor names recorded), fuse (ONNX op -> exact count the converted model must have), state (state
variants: what the Java test chunks), notes.
"""

LM_TRAIN = {"spec": {"data": ("sparse", 50, "T"), "classes": ("sparse", 50, "T")}}
LM_INPUTS = {"lengths": [7, 1, 4], "inputs": {"data": {"kind": "sparse", "dim": 50}}}
AM_TRAIN = {"spec": {"data": ("dense", 20, "T"), "classes": ("sparse", 12, "T")}, "min_len": 3, "max_len": 16}
AM_INPUTS = {"lengths": [11, 1, 6], "inputs": {"data": {"kind": "dense", "dim": 20}}}


def blstm(unit, fuse, notes=None, name=None):
    m = {
        "name": name or "blstm-am-" + unit,
        "kind": "am",
        "description": "hybrid BLSTM acoustic model, 3 fw/bw pairs, unit %s" % unit,
        "config": "blstm_am.config",
        "subst": {} if unit == "nativelstm2" else {'"unit": "nativelstm2"': '"unit": "%s"' % unit},
        "train": AM_TRAIN,
        "inputs": AM_INPUTS,
        "fuse": fuse,
    }
    if notes:
        m["notes"] = notes
    return m


MODELS = [
    {
        "name": "lstm-lm",
        "kind": "lm",
        "description": "LSTM LM: embedding, 2 x nativelstm2, softmax over the vocabulary",
        "config": "lstm_lm.config",
        "train": LM_TRAIN,
        "inputs": LM_INPUTS,
        "fuse": {"LSTM": 2, "Loop": 0},
    },
    {
        "name": "lstm-lm-state",
        "kind": "lm",
        "description": "the LSTM LM with \"initial_state\": \"placeholder\" on both layers (RETURNN's own state I/O)",
        "config": "lstm_lm.config",
        "subst": {'"unit": "nativelstm2",': '"unit": "nativelstm2", "initial_state": "placeholder",'},
        "checkpoint_from": "lstm-lm",
        "train": LM_TRAIN,
        "inputs": dict(LM_INPUTS, state_zeros={
            "lstm0/rec/initial_state_placeholder_h": 32, "lstm0/rec/initial_state_placeholder_c": 32,
            "lstm1/rec/initial_state_placeholder_h": 32, "lstm1/rec/initial_state_placeholder_c": 32}),
        "outputs": ["output/output_batch_major", "lstm0/rec/last_state_h", "lstm0/rec/last_state_c",
                    "lstm1/rec/last_state_h", "lstm1/rec/last_state_c"],
        "fuse": {"LSTM": 2, "Loop": 0},
        "state": {"chunk": 3},
    },
    blstm("nativelstm2", {"LSTM": 3, "Loop": 0}),
    blstm("vanillalstm", {"LSTM": 3, "Loop": 0}),
    blstm("standardlstm", {"LSTM": 3, "Loop": 0}),
    blstm("lstmblock", {"LSTM": 3, "Loop": 0},
          "RETURNN on TF >= 2 builds unit lstmblock as NativeLSTM2 (rec.py get_rnn_cell_class: TF 2 has no contrib LSTMBlock)"),
    blstm("lstmblockfused", {"LSTM": 3, "Loop": 0},
          "RETURNN on TF >= 2 builds unit lstmblockfused as NativeLSTM2, like lstmblock"),
    blstm("lstmp", {"LSTM": 3, "Loop": 0},
          "RETURNN's TF backend maps unit lstmp (and lstm) to its default LSTM unit, NativeLSTM2: no projection"),
    blstm("layernormvariantslstm", {"LSTM": 0, "Loop": 6},
          "layer norm inside the cell: ONNX LSTM has none, so each layer stays an exact Loop"),
    {
        "name": "transformer-lm",
        "kind": "lm",
        "description": "Transformer LM as i6 writes it: embedding, positional_encoding, 2 pre-norm blocks of causal "
                       "self_attention (attention_left_only, 4 heads, d 32) + ReLU FF, final layer_norm, softmax",
        "config": "transformer_lm.config",
        "train": LM_TRAIN,
        "inputs": LM_INPUTS,
        "fuse": {"MultiHeadAttention": 2, "LayerNormalization": 5},
    },
    {
        "name": "transformer-lm-state",
        "kind": "lm",
        "description": "the Transformer LM with \"initial_state\": \"placeholder\" on both self_attention layers "
                       "(RETURNN's k/v state I/O: previous keys/values [B, heads, T_prev, d/heads] in, all keys/values out)",
        "config": "transformer_lm.config",
        "subst": {'"attention_left_only": True,': '"attention_left_only": True, "initial_state": "placeholder",'},
        "checkpoint_from": "transformer-lm",
        "train": LM_TRAIN,
        "inputs": dict(LM_INPUTS, state_zeros={
            "dec_%d_self_att_att/initial_state_placeholder_%s" % (i, kv): [4, 0, 8]
            for i in range(2) for kv in ("k_left", "v_left")}),
        "outputs": ["output/output_batch_major"] + [
            "dec_%d_self_att_att/last_state_%s" % (i, kv) for i in range(2) for kv in ("k_left", "v_left")],
        "fuse": {"MultiHeadAttention": 2, "LayerNormalization": 5},
        "notes": "no \"state\" chunk check: a chunked run does NOT equal the full run in RETURNN itself, because "
                 "positional_encoding restarts at position 0 in every call (it has no offset tied to the k/v state "
                 "length); the k/v states and the causal mask (ones over the previous keys, lower triangle over the new "
                 "ones) do carry over. last_state_k_left/v_left are the previous keys/values concatenated with all "
                 "new ones, padded frames included (attention_left_only ignores the sequence lengths).",
    },
]
