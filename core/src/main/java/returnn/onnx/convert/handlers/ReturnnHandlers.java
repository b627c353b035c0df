package returnn.onnx.convert.handlers;

import returnn.onnx.convert.HandlerRegistry;

/**
 * RETURNN's LSTM kernels (custom ops from returnn/native_op.py, which TensorFlow cannot even load without RETURNN's
 * compiled op library) and TF's BlockLSTM, each as an exact ONNX Loop ({@link ReturnnLstmKernels},
 * {@link BlockLstmOps}). The fused ONNX LSTM comes from the TF-level rules in {@code rewrite.lstm}; these handlers
 * convert what those rules decline and everything under {@code convert --no-fuse}.
 */
public final class ReturnnHandlers {
  private ReturnnHandlers() {}

  public static void register(HandlerRegistry r) {
    r.register("NativeLstm2", ReturnnLstmKernels::nativeLstm2);
    r.register("LstmLowMem", ReturnnLstmKernels::lstmLowMem);
    r.register("LstmGenericBase", ReturnnLstmKernels::lstmGenericBase);
    r.register("BlockLSTM", BlockLstmOps::convert);
    r.register("BlockLSTMV2", BlockLstmOps::convert);
    r.register("LSTMBlockCell", BlockLstmOps::convertCell);
    r.register("GRUBlockCell", TfGruBlockCell::convert);
  }
}
