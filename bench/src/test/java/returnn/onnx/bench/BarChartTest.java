package returnn.onnx.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bench plot: a PNG with one row per model (a failed row without a bar), and no temporary left beside it. */
class BarChartTest {
  @TempDir
  Path dir;

  @Test
  void writesAPngWithARowPerModelAndNothingElse() throws Exception {
    Path png = dir.resolve("bench.png");
    BarChart.write(png, "demo: total time over 8 sequences, 1 thread(s)", "total time (s)",
        List.of("TF", "ONNX fp32", "ONNX int8", "failed"), List.of(2.0, 1.25, 0.75, Double.NaN), List.of(0.1, 0.05, 0.2, 0.0));
    if (System.getProperty("barchart.out") != null) Files.copy(png, Path.of(System.getProperty("barchart.out")));
    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(1000, img.getWidth());
    assertEquals(120 + 40 * 4, img.getHeight());
    // Not a blank image: the bars' colour is there.
    boolean bar = false;
    for (int x = 0; x < img.getWidth() && !bar; x += 2) for (int y = 0; y < img.getHeight() && !bar; y += 2) bar = (img.getRGB(x, y) & 0xffffff) == 0x4c78a8;
    assertTrue(bar, "no bar drawn");
    assertNotEquals(0, Files.size(png));
    try (var files = Files.list(dir)) {
      assertEquals(List.of(png), files.toList(), "a temporary was left beside the plot");
    }
  }
}
