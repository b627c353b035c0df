package returnn.onnx.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/** A horizontal bar chart as PNG, drawn with Java2D (headless): one labelled bar per row, its value printed beside it. */
final class BarChart {
  private BarChart() {}

  static void write(Path file, String title, String unit, List<String> labels, List<Double> values) throws IOException {
    System.setProperty("java.awt.headless", "true");
    int rowH = 34, left = 300, right = 140, top = 56, width = 1000;
    int height = top + rowH * labels.size() + 30;
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, width, height);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    g.drawString(title, 16, 28);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    double max = values.stream().mapToDouble(Double::doubleValue).filter(Double::isFinite).max().orElse(1);
    int barMax = width - left - right;
    Color[] palette = {new Color(0x9e9e9e), new Color(0x4c78a8), new Color(0x72b7b2), new Color(0xf58518), new Color(0xe45756),
        new Color(0x54a24b)};
    for (int i = 0; i < labels.size(); i++) {
      int y = top + i * rowH;
      g.setColor(Color.BLACK);
      g.drawString(labels.get(i), 16, y + rowH / 2 + 5);
      double v = values.get(i);
      if (!Double.isFinite(v)) continue;
      int w = (int) Math.round(barMax * v / max);
      g.setColor(palette[i % palette.length]);
      g.fillRect(left, y + 6, Math.max(w, 1), rowH - 12);
      g.setColor(Color.BLACK);
      g.drawString(String.format("%.2f %s", v, unit), left + w + 8, y + rowH / 2 + 5);
    }
    g.setStroke(new BasicStroke(1));
    g.drawLine(left, top, left, top + rowH * labels.size());
    g.dispose();
    returnn.onnx.SafePaths.checkTarget(file);
    ImageIO.write(img, "png", file.toFile());
  }
}
