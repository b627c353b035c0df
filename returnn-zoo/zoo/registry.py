"""The zoo's models: which RETURNN config, how it is trained, compiled and fed, and what must fuse.

Fields: name, kind (lm | am | ctc | encdec), description, config (in configs/), subst (text replacements that make
a variant of a config), train (synthetic data: spec key -> (sparse|dense, dim, length group "T"|"U")),
graphs (file -> compile_tf_graph.py flags, or {"flags": [...], "subst": {...}} for a graph compiled from an edited
config, "commit": False for one only the reference needs, moved to work/ afterwards; default {"graph.meta": []}), reference_graph (the graph TF runs for the recorded outputs), step_by_step (a
--rec_step_by_step graph + its JSON: reference.py also records a greedy decode through it), inputs (reference feed:
lengths of the padded batch, per data key its kind/dim, state_zeros: initial-state placeholders fed as zeros, [B, n]
or [B] + a shape such as a k/v history [heads, 0, d]), outputs (TF tensor names recorded), extra_references (key -> {"graph", "outputs"}: another graph of the same
model, e.g. the search graph with another beam size, run by TF on the same feeds; outputs/KEY__*.npy), fuse (ONNX op -> exact
count the converted model must have), declined (rule-note prefixes ZooTest expects, e.g. an attention form the rule
leaves alone; each must occur), state (state variants: what the Java test chunks, the chunked run must equal
the full one), chunked (reference.py also records TF's own run in chunks of this size), notes, tf2onnx (for compare.py: "graph",
the graph the seed's tf2onnx pipeline converts instead, e.g. one compiled with the seed's config edits;
"inputs"/"outputs": recorded TF name -> name in that graph where they differ).
"""

LM_TRAIN = {"spec": {"data": ("sparse", 50, "T"), "classes": ("sparse", 50, "T")}}
LM_INPUTS = {"lengths": [7, 1, 4], "inputs": {"data": {"kind": "sparse", "dim": 50}}}
AM_TRAIN = {"spec": {"data": ("dense", 20, "T"), "classes": ("sparse", 12, "T")}, "min_len": 3, "max_len": 16}
AM_INPUTS = {"lengths": [11, 1, 6], "inputs": {"data": {"kind": "dense", "dim": 20}}}

# Conformer: 4x time subsampling, CTC over the subsampled frames, labels about T / 8 long (CTC needs room for blanks
# between repeated labels); min_len survives the subsampling (pool "same" gives ceil(T / 4) frames)
CONFORMER_TRAIN = {"spec": {"data": ("dense", 20, "T"), "classes": ("sparse", 12, "U")}, "min_len": 8, "max_len": 40,
                   "label_ratio": 8}
CONFORMER_INPUTS = {"lengths": [23, 1, 10], "inputs": {"data": {"kind": "dense", "dim": 20}}}
# the seed's edits for exporting attention models: a finite masking value instead of RETURNN's default +inf (masked
# energies -1e30, not -inf: no NaN for an all-masked softmax row in ONNX Runtime) and RETURNN's onnx_export flag
# (length arithmetic via onnx_compat_floor_div)
CONFORMER_ONNX_EDITS = "inf_value = 1e30\nonnx_export = True\n"


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
    blstm("layernormvariantslstm", {"LSTM": 0, "Loop": 6, "LayerNormalization": 18},
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
        # TF's own chunked run (reference.py chunked_run): what a chunked ONNX run must equal
        "chunked": {"chunk": 3},
        "notes": "no \"state\" chunk-equals-full check: a chunked run does NOT equal the full run in RETURNN itself, "
                 "because positional_encoding restarts at position 0 in every call (it has no offset tied to the k/v "
                 "state length); the k/v states and the causal mask (ones over the previous keys, lower triangle over "
                 "the new ones) do carry over. \"chunked\" records TF's chunked run instead. last_state_k_left/v_left are the previous keys/values concatenated with all "
                 "new ones, padded frames included (attention_left_only ignores the sequence lengths).",
    },
    {
        "name": "conformer-am",
        "kind": "am",
        "description": "Conformer AM as in RETURNN's/i6's TF setups: 2-D conv front end with max-pool subsampling (4x "
                       "in time), 2 Conformer blocks (half-step swish FFs, relative_positional_encoding + self_attention "
                       "key_shift, conv module with depthwise conv (conv groups), batch_norm, swish), layer_norm, CTC "
                       "softmax; compiled without the seed's config edits",
        "config": "conformer_am.config",
        "train": CONFORMER_TRAIN,
        "inputs": CONFORMER_INPUTS,
        # conv1p/Neg_1: the subsampled lengths, -(-T // 4) (RETURNN merges both pools' ceildivs into one)
        "outputs": ["output/output_batch_major", "conv1p/Neg_1"],
        "fuse": {"MultiHeadAttention": 2, "LayerNormalization": 10},
        # the seed's pipeline (compare.py) converts the graph compiled with its config edits, as users do; there
        # the lengths are conv1p/Neg_2
        "tf2onnx": {"graph": "models/conformer-am-onnx-edits/graph.meta", "outputs": {"conv1p/Neg_1": "conv1p/Neg_2"}},
    },
    {
        "name": "conformer-am-onnx-edits",
        "kind": "am",
        "description": "the Conformer AM compiled with the seed's config edits for ONNX export: finite inf_value, "
                       "onnx_export = True (same checkpoint)",
        "config": "conformer_am.config",
        "subst": {"use_tensorflow = True\n": "use_tensorflow = True\n" + CONFORMER_ONNX_EDITS},
        "checkpoint_from": "conformer-am",
        "train": CONFORMER_TRAIN,
        "inputs": CONFORMER_INPUTS,
        # only the subsampled lengths: TF cannot run output/output_batch_major of this graph (see notes)
        "outputs": ["conv1p/Neg_2"],
        # the fusions are checked on a conversion of the network output, which has no TF reference
        "fuse_outputs": ["output/output_batch_major"],
        "fuse": {"MultiHeadAttention": 2, "LayerNormalization": 10},
        "notes": "TF cannot run this graph's output: with onnx_export = True RETURNN computes the pools' ceildiv(T, 4) "
                 "as -onnx_compat_floor_div(-T, 4) = -(tf.where(a*b >= 0, a // b, -|a| // |b| - cast(|a| % |b| != 0))), "
                 "and in RETURNN's TF1 graph mode `tensor != 0` is Python's identity test (no tf.not_equal), so the "
                 "cast is a constant True (conv1p/Cast/x): every subsampled length is ceil(T / 4) + 1 ([23, 1, 10] -> "
                 "[7, 2, 4], not [6, 1, 3]; also when 4 divides T). relative_positional_encoding takes the time dim "
                 "from these lengths (7), the tensor has 6 frames, so TF fails for every input: 'assertion failed: "
                 "[check_shape_of_key_shift:] [Condition x == y did not hold element-wise:] [x "
                 "(conformer_block_01_self_att/Shape:0) = ] [7 7 8] [y (conformer_block_01_self_att/assert_equal_1/y:0)"
                 " = ] [6 6 8]'. The reference records what TF does compute: the lengths conv1p/Neg_2. inf_value alone "
                 "(without onnx_export) does not have this problem.",
    },
    {
        "name": "ctc-conv-blstm",
        "kind": "ctc",
        "description": "CTC model: 2-D conv front end (feature max-pool), 2 BLSTM (nativelstm2) pairs with a 2x max-pool "
                       "over time between them, softmax with CTC loss; no onnx_export edit",
        "config": "ctc_conv_blstm.config",
        "train": {"spec": {"data": ("dense", 20, "T"), "classes": ("sparse", 10, "U")}, "min_len": 4, "max_len": 24,
                  "label_ratio": 4},
        "inputs": {"lengths": [13, 1, 6], "inputs": {"data": {"kind": "dense", "dim": 20}}},
        # lstm0_pool/Neg_1: the lengths after the 2x time pool, -(-T // 2)
        "outputs": ["output/output_batch_major", "lstm0_pool/Neg_1"],
        "fuse": {"LSTM": 2, "Loop": 0},
    },
    {
        "name": "attention-encdec",
        "kind": "encdec",
        "description": "attention encoder-decoder: BLSTM encoder (nativelstm2, 2x time pool), rec decoder with rnn_cell "
                       "LSTMBlock, MLP attention (linear + combine + tanh + energy + softmax_over_spatial + "
                       "generic_attention), maxout readout, choice beam search (beam 4) over the target, EOS 0",
        "config": "attention_encdec.config",
        # labels 1..9 ending with EOS 0, trained long enough that the search ends hypotheses before max_seq_len
        "train": {"spec": {"data": ("dense", 20, "T"), "classes": ("sparse", 10, "U")}, "min_len": 4, "max_len": 20,
                  "label_ratio": 2, "low_label": 1, "eos": 0, "num_seqs": 40, "epochs": 20},
        "graphs": {
            "graph.meta": ["--search", "1"],
            # RETURNN refuses a step-by-step graph whose loop condition depends on the input ("There should be no
            # path from extern data to <StateVar 'cond' ...>"): max_seq_len comes from the encoder length, so the
            # step-by-step graph is compiled without it (the decoder that drives the steps stops the search)
            "rec_step_by_step.meta": {
                "flags": ["--rec_step_by_step", "output", "--rec_step_by_step_output_file", "rec_step_by_step.json"],
                "subst": {', "max_seq_len": "max_len_from(\'base:encoder\')"}': "}"}},
        },
        "reference_graph": "graph.meta",
        # also a greedy decode over the step-by-step graph (reference.py step_by_step_reference): the labels and
        # every step's scores (log probs)
        "step_by_step": {"graph": "rec_step_by_step.meta", "info": "rec_step_by_step.json", "steps": 8},
        "inputs": {"lengths": [11, 1, 6], "inputs": {"data": {"kind": "dense", "dim": 20}}},
        # decision/output_batch_major: the best hypothesis' labels [B, T_out]; decision/GatherNd: its lengths [B];
        # output/rec/output_batch_major: every beam entry's labels [B * beam, T_out]; output/rec/output/truediv:
        # the beam scores [B, beam] (log prob, length-normalised by the choice layer: / (max length + 1)); RETURNN
        # gives these no names of their own
        "outputs": ["decision/output_batch_major", "decision/GatherNd", "output/rec/output_batch_major",
                    "output/rec/output/truediv"],
        "fuse": {"LSTM": 2, "Loop": 2},
        "notes": "fuse: the encoder's 2 fw/bw nativelstm2 pairs become LSTMs; the beam search is 2 Loops: the decoder "
                 "loop (its body steps the decoder's LSTMBlock cell, attention and choice once per label, its labels "
                 "and beam backpointers become scan outputs) and RETURNN's search resolve loop (walks them backwards, "
                 "reading them by Gather, to resolve each beam's labels). The step-by-step graph "
                 "(rec_step_by_step.meta + rec_step_by_step.json) keeps the encoder output and "
                 "decoder state in TF variables under IO/ (init_op rec_step_by_step_init_op; collections encode_ops, "
                 "decode_ops, decoder_input_vars, decoder_output_vars); it is compiled from returnn.rec_step_by_step"
                 ".config, the config without max_seq_len, which RETURNN refuses in a step-by-step graph. Its "
                 "reference (step_by_step) is a greedy decode for 8 steps, not stopped at EOS: the driver sets IO/i "
                 "itself (RETURNN compiles without update_i_in_graph) and starts the choice variable at 0 (init_op "
                 "leaves the stochastic_var_* variables uninitialised).",
    },
    {
        "name": "conformer-encdec",
        "kind": "encdec",
        "description": "attention encoder-decoder with a self-attention encoder: the Conformer encoder of conformer-am "
                       "(conv front end, 4x time subsampling by max-pool, 2 blocks with relative_positional_encoding + "
                       "self_attention key_shift, conv module, batch_norm) and the decoder of attention-encdec (rnn_cell "
                       "LSTMBlock, MLP attention, maxout readout, choice beam search (beam 4), EOS 0)",
        "config": "conformer_attention_encdec.config",
        # labels 1..9 ending with EOS 0, about T / 6 long (the search runs at most the encoder length T / 4 steps)
        "train": {"spec": {"data": ("dense", 20, "T"), "classes": ("sparse", 10, "U")}, "min_len": 8, "max_len": 40,
                  "label_ratio": 6, "low_label": 1, "eos": 0, "num_seqs": 40, "epochs": 20},
        "graphs": {
            "graph.meta": ["--search", "1"],
            # the same network with beam_size 1: TF's own beam-1 search (extra_references)
            # (not committed: only its recorded outputs are needed, and the zoo stays small)
            "search_beam1.meta": {"flags": ["--search", "1"], "subst": {'"beam_size": 4,': '"beam_size": 1,'},
                                  "commit": False},
            # without max_seq_len, as for attention-encdec (RETURNN refuses it in a step-by-step graph)
            "rec_step_by_step.meta": {
                "flags": ["--rec_step_by_step", "output", "--rec_step_by_step_output_file", "rec_step_by_step.json"],
                "subst": {', "max_seq_len": "max_len_from(\'base:encoder\')"}': "}"}},
        },
        "reference_graph": "graph.meta",
        "step_by_step": {"graph": "rec_step_by_step.meta", "info": "rec_step_by_step.json", "steps": 8},
        # encoder lengths 6, 1, 5
        "inputs": {"lengths": [23, 1, 17], "inputs": {"data": {"kind": "dense", "dim": 20}}},
        # encoder/output_batch_major: the Conformer encoder's output [B, T/4, d] (first: the float output the
        # perturbation check moves); the search outputs as for attention-encdec
        "outputs": ["encoder/output_batch_major", "decision/output_batch_major", "decision/GatherNd",
                    "output/rec/output_batch_major", "output/rec/output/truediv"],
        # TF's search with beam 1 on the same inputs and checkpoint (reference.py extra_references)
        "extra_references": {"beam1": {"graph": "search_beam1.meta", "outputs": [
            "decision/output_batch_major", "decision/GatherNd", "output/rec/output_batch_major",
            "output/rec/output/truediv"]}},
        "fuse": {"MultiHeadAttention": 2, "LayerNormalization": 10, "Loop": 2},
    },
    {
        "name": "conformer-transformer-encdec",
        "kind": "encdec",
        "description": "Conformer encoder (1 block, as in conformer-encdec) with a Transformer decoder in the rec layer: "
                       "target embedding + positional_encoding, causal self_attention (attention_left_only: the search "
                       "loop carries every previous key/value), multi-head dot cross-attention (dot + "
                       "softmax_over_spatial + generic_attention), ReLU FF, layer_norm, choice beam search (beam 4), EOS 0; "
                       "search graph and --rec_step_by_step graph (compiled by RETURNN with zoo/patches/"
                       "rec-step-by-step-dynamic-state.patch: the growing k/v state variables get a dynamic time dim)",
        "config": "conformer_transformer_encdec.config",
        "train": {"spec": {"data": ("dense", 20, "T"), "classes": ("sparse", 10, "U")}, "min_len": 8, "max_len": 40,
                  "label_ratio": 6, "low_label": 1, "eos": 0, "num_seqs": 40, "epochs": 20},
        "graphs": {
            "graph.meta": ["--search", "1"],
            # without max_seq_len (RETURNN refuses it in a step-by-step graph); RETURNN 1.20261022.211313 creates
            # the self-attention's k_left/v_left state variables with the static shape of their initial value
            # (?, 4, 0, 8), and the first step's assign of (?, 4, 1, 8) fails: the patch keeps a dim that is 0 in
            # the initial value dynamic (variable and rec_step_by_step.json)
            "rec_step_by_step.meta": {
                "flags": ["--rec_step_by_step", "output", "--rec_step_by_step_output_file", "rec_step_by_step.json"],
                "subst": {', "max_seq_len": "max_len_from(\'base:encoder\')"}': "}"},
                "returnn_patch": "rec-step-by-step-dynamic-state.patch"},
        },
        "reference_graph": "graph.meta",
        # StepByStepZooTest compares the base_value_* state with TF's encoder output where one holds it; none does here
        "step_by_step": {"graph": "rec_step_by_step.meta", "info": "rec_step_by_step.json", "steps": 8,
                         "encoder_output_state": None,
                         "note": "no state holds the encoder output itself: the cross-attention's keys and values "
                                 "(base_value_dec_01_att_key, base_value_dec_01_att_value) are linear projections of "
                                 "it; the per-step scores check the encoder in the initializer"},
        "inputs": {"lengths": [23, 1, 17], "inputs": {"data": {"kind": "dense", "dim": 20}}},
        "outputs": ["encoder/output_batch_major", "decision/output_batch_major", "decision/GatherNd",
                    "output/rec/output_batch_major", "output/rec/output/truediv"],
        "fuse": {"MultiHeadAttention": 1, "LayerNormalization": 9, "Loop": 2},
        # ZooTest: rule notes (prefixes) that are expected, with the reason in notes
        "declined": ["AttentionRules.SELF_ATTENTION declined at 'output/rec/dec_01_self_att_att/merge_vdim'"],
        "notes": "fuse: the encoder's self-attention and its 5 layer norms fuse, and the decoder's 4 layer norms inside "
                 "the search Loop (their weights come in through the loop's Enter); the decoder's other layers stay "
                 "plain ops. Its self_attention is the single-step form RETURNN "
                 "builds inside a rec loop: one query frame against the previous keys/values (kept as loop state, "
                 "concatenated with the new frame's each step), so the chain has no Reshape before merge_vdim and the "
                 "self-attention rule declines it (\"declined\"); the outputs match TF all the same. Step-by-step "
                 "graph: the k/v of every previous label (k_left/v_left, [B, heads, labels so far, d]) and "
                 "positional_encoding's own position ([B]) are states; see docs/RETURNN_GRAPHS.md.",
    },
    {
        "name": "transformer-lm-rec",
        "kind": "lm",
        "description": "the Transformer LM as i6 writes it for RASR: the same layers inside the unit of a rec layer "
                       "\"output\" (moved out of the loop by RETURNN), names under output/rec/",
        "config": "transformer_lm_rec.config",
        "train": LM_TRAIN,
        "inputs": LM_INPUTS,
        # compile_tf_graph.py names a rec layer's output output/rec/output_batch_major
        "outputs": ["output/rec/output_batch_major"],
        "fuse": {"MultiHeadAttention": 2, "LayerNormalization": 5},
    },
    {
        "name": "transformer-lm-rec-state",
        "kind": "lm",
        "description": "transformer-lm-rec with \"initial_state\": \"placeholder\" on both self_attention layers "
                       "(output/rec/dec_N_self_att_att/initial_state_placeholder_k_left ... last_state_k_left)",
        "config": "transformer_lm_rec.config",
        "subst": {'"attention_left_only": True,': '"attention_left_only": True, "initial_state": "placeholder",'},
        "checkpoint_from": "transformer-lm-rec",
        "train": LM_TRAIN,
        "inputs": dict(LM_INPUTS, state_zeros={
            "output/rec/dec_%d_self_att_att/initial_state_placeholder_%s" % (i, kv): [4, 0, 8]
            for i in range(2) for kv in ("k_left", "v_left")}),
        "outputs": ["output/rec/output_batch_major"] + [
            "output/rec/dec_%d_self_att_att/last_state_%s" % (i, kv) for i in range(2) for kv in ("k_left", "v_left")],
        "fuse": {"MultiHeadAttention": 2, "LayerNormalization": 5},
        "chunked": {"chunk": 3},
        "notes": "no \"state\" chunk-equals-full check, as for transformer-lm-state: positional_encoding restarts at 0 "
                 "in every call; \"chunked\" records TF's chunked run instead.",
    },
]

# RNN-T / RNA transducer (see configs/rnn_transducer.config): framewise labels + blank (8), one per encoder frame
RNNT_TRAIN = {"spec": {"data": ("dense", 20, "T"), "alignment": ("sparse", 9, "T")}, "min_len": 3, "max_len": 14,
              "num_seqs": 32, "epochs": 10}
RNNT_INPUTS = {"lengths": [9, 1, 5], "inputs": {"data": {"kind": "dense", "dim": 20}}}

# RNN-T entries: appended after the list (self-contained, as the models' order is the manifest's)
MODELS += [
    {
        "name": "rnn-transducer",
        "kind": "encdec",
        "description": "RNN-T (RNA topology) as in RETURNN's transducer setups: BLSTM encoder (2 nativelstm2 pairs + "
                       "linear), rec decoder over the encoder frames, prediction network (embedding + LSTMBlock cell) "
                       "inside masked_computation on prev:output_emit + unmask, joint linear + tanh + log_softmax over "
                       "8 labels + blank, choice beam search (beam 4), decision over the emitted labels",
        "config": "rnn_transducer.config",
        "train": RNNT_TRAIN,
        "graphs": {
            "graph.meta": ["--search", "1"],
            "rec_step_by_step.meta": ["--rec_step_by_step", "output", "--rec_step_by_step_output_file",
                                      "rec_step_by_step.json"],
        },
        "reference_graph": "graph.meta",
        "step_by_step": {"graph": "rec_step_by_step.meta", "info": "rec_step_by_step.json", "steps": 9},
        "inputs": RNNT_INPUTS,
        # decision/output_batch_major: the best beam entry's emitted labels (blank frames removed by the
        # masked_computation output_wo_b0: Cumsum + ScatterNd) [B, U]; decision/GatherNd: their count [B];
        # output/rec/output_batch_major: every beam entry's frame labels, blank 0 included [B * beam, T];
        # output/rec/output/truediv: the beam scores [B, beam] (log prob / (T + 1))
        "outputs": ["decision/output_batch_major", "decision/GatherNd", "output/rec/output_batch_major",
                    "output/rec/output/truediv"],
        "fuse": {"LSTM": 2, "Loop": 3},
        "notes": "fuse: the encoder's 2 fw/bw nativelstm2 pairs become LSTMs; 3 Loops: the decoder loop over the "
                 "encoder frames (its body: the prediction network's masked_computation, which RETURNN builds inside "
                 "the loop as the LSTMBlock step plus where(prev:output_emit, new, previous) per state and output; "
                 "unmask; joint; choice), and one search resolve loop for each resolved rec output (output and "
                 "output_emit, an output layer for output_wo_b0). output_wo_b0 (masked_computation outside the loop) "
                 "is Cumsum + ScatterNd: every blank frame is scattered onto one extra position that is sliced off, "
                 "so ScatterNd has duplicate indices (TF sums them; ONNX ScatterND reduction add). Step-by-step: the "
                 "rec layer iterates over the encoder frames, and each decoder step reads frame IO/i "
                 "(TensorArrayReadV3(source_ta, IO/i)); the converter carries i as an int32 [B] state (see "
                 "docs/RETURNN_GRAPHS.md). A sequence's hypotheses end at step length + 1 (RETURNN's end flag of a rec "
                 "layer over an input without an end layer: one padded frame is still searched), then continue with "
                 "label 0 at log p 0; the scores are / (longest T + 1) with RETURNN's (t+1)/t factors for ended "
                 "hypotheses.",
    },
    {
        "name": "rnn-transducer-beam1",
        "kind": "encdec",
        "description": "the RNN-T with beam_size 1 (greedy search; same checkpoint): what a step-by-step greedy decode "
                       "over rec_step_by_step.meta must equal",
        "config": "rnn_transducer.config",
        "subst": {'"beam_size": 4,': '"beam_size": 1,'},
        "checkpoint_from": "rnn-transducer",
        "train": RNNT_TRAIN,
        "graphs": {"graph.meta": ["--search", "1"]},
        "reference_graph": "graph.meta",
        "inputs": RNNT_INPUTS,
        "outputs": ["decision/output_batch_major", "decision/GatherNd", "output/rec/output_batch_major",
                    "output/rec/output/truediv"],
        "fuse": {"LSTM": 2, "Loop": 3},
    },
]
