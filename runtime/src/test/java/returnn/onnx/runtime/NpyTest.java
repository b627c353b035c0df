package returnn.onnx.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import returnn.onnx.ir.DType;
import returnn.onnx.ir.Tensor;

/** {@code .npy} files as NumPy 2 writes them (bytes captured from {@code np.lib.format.write_array}), and round trips. */
class NpyTest {
  /** np.arange(6, dtype='<f4').reshape(2, 3) / 4 */
  static final String F4_C = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAg"
      + "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPgAAAD8AAEA/AACAPwAA"
      + "oD8=";
  /** np.asfortranarray(np.arange(6, dtype='<f8').reshape(2, 3)) */
  static final String F8_FORTRAN = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAg"
      + "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAAAAAAAhAAAAAAAAA"
      + "8D8AAAAAAAAQQAAAAAAAAABAAAAAAAAAFEA=";
  /** np.array([1, -2, 70000], dtype='>i4') */
  static final String I4_BIG = "k05VTVBZAQB2AHsnZGVzY3InOiAnPmk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAg"
      + "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAB/////gABEXA=";
  /** np.array([[True, False], [False, True]]) */
  static final String B1 = "k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAg"
      + "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAB";
  /** np.array(-5, dtype='<i8') */
  static final String I8_SCALAR = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAg"
      + "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAr7/////////w==";
  /** np.array([7, 8], dtype='<i8') written with version=(2, 0) */
  static final String I8_V2 = "k05VTVBZAgB0AAAAeydkZXNjcic6ICc8aTgnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwpLCB9ICAgICAg"
      + "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoHAAAAAAAAAAgAAAAAAAAA";

  @TempDir
  Path dir;

  static Tensor read(String b64) {
    return Npy.read(Base64.getDecoder().decode(b64), "test.npy");
  }

  @Test
  void readsWhatNumpyWrites() {
    Tensor f = read(F4_C);
    assertEquals(DType.FLOAT, f.dtype());
    assertArrayEquals(new long[] {2, 3}, f.shape());
    assertArrayEquals(new float[] {0, 0.25f, 0.5f, 0.75f, 1, 1.25f}, f.toFloats());

    Tensor fortran = read(F8_FORTRAN);
    assertEquals(DType.DOUBLE, fortran.dtype());
    assertArrayEquals(new double[] {0, 1, 2, 3, 4, 5}, fortran.toDoubles(), "Fortran order comes back in C order");

    Tensor big = read(I4_BIG);
    assertEquals(DType.INT32, big.dtype());
    assertArrayEquals(new int[] {1, -2, 70000}, big.toInts());

    Tensor bool = read(B1);
    assertEquals(DType.BOOL, bool.dtype());
    assertArrayEquals(new long[] {1, 0, 0, 1}, bool.toLongs());

    Tensor scalar = read(I8_SCALAR);
    assertEquals(0, scalar.rank());
    assertArrayEquals(new long[] {-5}, scalar.toLongs());

    Tensor v2 = read(I8_V2);
    assertArrayEquals(new long[] {7, 8}, v2.toLongs());
  }

  @Test
  void writesWhatNumpyWrites() {
    Tensor t = Tensor.ofFloats(new long[] {2, 3}, 0, 0.25f, 0.5f, 0.75f, 1, 1.25f);
    assertArrayEquals(Base64.getDecoder().decode(F4_C), Npy.toBytes(t), "byte-identical to np.save");
    assertArrayEquals(Base64.getDecoder().decode(I8_SCALAR), Npy.toBytes(Tensor.ofLongs(new long[0], -5)));
  }

  @Test
  void roundTripsEveryType() {
    Tensor[] all = {
      Tensor.ofFloats(new long[] {2, 1, 2}, 1.5f, -2, Float.NaN, Float.MIN_VALUE),
      Tensor.ofDoubles(new long[] {3}, Math.PI, -0.0, 1e300),
      Tensor.ofInts(new long[] {1, 2}, Integer.MIN_VALUE, 7),
      Tensor.ofLongs(new long[] {2}, Long.MAX_VALUE, -1),
      Tensor.ofBools(new long[] {3}, true, false, true),
      Tensor.ofFloats(new long[] {0, 4}),
    };
    for (int i = 0; i < all.length; i++) {
      Path p = dir.resolve("sub/t" + i + ".npy");
      Npy.write(p, all[i]);
      Tensor back = Npy.read(p);
      assertEquals(all[i].dtype(), back.dtype());
      assertArrayEquals(all[i].shape(), back.shape());
      assertEquals(all[i].data(), back.data(), "element bytes of " + all[i]);
    }
  }

  @Test
  void longHeadersUseVersion2() {
    long[] shape = new long[22000]; // "1, " 22000 times: a header over 65535 bytes
    java.util.Arrays.fill(shape, 1);
    shape[0] = 2;
    byte[] bytes = Npy.toBytes(Tensor.fromDoubles(DType.FLOAT, shape, new double[] {3, 4}));
    assertEquals(2, bytes[6], "version byte");
    assertEquals(0, (bytes.length - 8) % 64, "data starts 64-byte aligned");
    assertArrayEquals(new float[] {3, 4}, Npy.read(bytes, "long").toFloats());
  }

  @Test
  void badFilesGiveClearErrors() {
    byte[] truncated = java.util.Arrays.copyOf(Base64.getDecoder().decode(F4_C), 130);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npy.read(truncated, "cut.npy"));
    assertTrue(e.getMessage().contains("cut.npy") && e.getMessage().contains("needs 24 data bytes"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Npy.read("hello".getBytes(), "x.txt"));
    assertTrue(e.getMessage().contains("not a .npy file"), e.getMessage());
    byte[] complex = Base64.getDecoder().decode(F4_C);
    complex[22] = 'c'; // '<f4' → '<c4'
    e = assertThrows(IllegalArgumentException.class, () -> Npy.read(complex, "c.npy"));
    assertTrue(e.getMessage().contains("'<c4' is not supported"), e.getMessage());
  }
}
