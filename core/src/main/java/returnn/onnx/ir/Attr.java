package returnn.onnx.ir;

import java.util.List;

/** A typed node attribute. TF attributes are imported into the same set. */
public sealed interface Attr {
  record Int(long value) implements Attr {}

  record Float(float value) implements Attr {}

  record Bool(boolean value) implements Attr {}

  record Str(String value) implements Attr {}

  record Ints(long[] values) implements Attr {
    public Ints {
      values = values.clone();
    }

    @Override
    public long[] values() {
      return values.clone();
    }
  }

  record Floats(float[] values) implements Attr {
    public Floats {
      values = values.clone();
    }

    @Override
    public float[] values() {
      return values.clone();
    }
  }

  record Strs(List<String> values) implements Attr {
    public Strs {
      values = List.copyOf(values);
    }
  }

  record TensorVal(Tensor value) implements Attr {}

  record GraphVal(Graph value) implements Attr {}

  record Type(DType value) implements Attr {}

  record Types(List<DType> values) implements Attr {
    public Types {
      values = List.copyOf(values);
    }
  }

  record ShapeVal(Shape value) implements Attr {}

  record Shapes(List<Shape> values) implements Attr {
    public Shapes {
      values = List.copyOf(values);
    }
  }

  /** A TF function reference (e.g. While body); kept by name only. */
  record Func(String name) implements Attr {}
}
