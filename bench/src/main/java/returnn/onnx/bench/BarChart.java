package returnn.onnx.bench;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.util.List;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.AxisLocation;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.labels.ItemLabelAnchor;
import org.jfree.chart.labels.ItemLabelPosition;
import org.jfree.chart.labels.StandardCategoryItemLabelGenerator;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.StatisticalBarRenderer;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.statistics.DefaultStatisticalCategoryDataset;

/**
 * The bench plot as PNG, drawn by JFreeChart (headless): one horizontal bar per model row (the median of its timed
 * passes), whiskers at ± the given deviation (one standard deviation over the passes), the value printed beside the bar, a labelled value
 * axis. A row without a finite time gets no bar.
 */
final class BarChart {
  private static final int WIDTH = 1000, ROW_HEIGHT = 40;

  private BarChart() {}

  static void write(Path file, String title, String valueAxis, List<String> labels, List<Double> values, List<Double> deviations)
      throws IOException {
    System.setProperty("java.awt.headless", "true");
    DefaultStatisticalCategoryDataset data = new DefaultStatisticalCategoryDataset();
    for (int i = 0; i < labels.size(); i++) {
      boolean finite = Double.isFinite(values.get(i));
      data.add(finite ? values.get(i) : null, finite ? deviations.get(i) : null, "time", labels.get(i));
    }
    StatisticalBarRenderer bars = new StatisticalBarRenderer();
    bars.setSeriesPaint(0, new Color(0x4c78a8));
    bars.setErrorIndicatorPaint(Color.BLACK);
    bars.setShadowVisible(false);
    bars.setDefaultItemLabelGenerator(new StandardCategoryItemLabelGenerator("{2} s", new DecimalFormat("0.00")));
    bars.setDefaultItemLabelsVisible(true);
    // The value inside the bar's end (the whisker runs past it); outside when the bar is too short for it.
    bars.setDefaultPositiveItemLabelPosition(new ItemLabelPosition(ItemLabelAnchor.INSIDE3, TextAnchor.CENTER_RIGHT));
    bars.setPositiveItemLabelPositionFallback(new ItemLabelPosition(ItemLabelAnchor.OUTSIDE3, TextAnchor.CENTER_LEFT));
    bars.setDefaultItemLabelPaint(Color.WHITE);
    NumberAxis axis = new NumberAxis(valueAxis);
    axis.setUpperMargin(0.15); // room for the value labels
    CategoryPlot plot = new CategoryPlot(data, new CategoryAxis(), axis, bars);
    plot.setOrientation(PlotOrientation.HORIZONTAL);
    plot.setRangeAxisLocation(AxisLocation.BOTTOM_OR_RIGHT);
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, false);
    chart.setBackgroundPaint(Color.WHITE);
    returnn.onnx.SafePaths.checkTarget(file);
    // Written beside the target and moved into place: no half-written PNG if drawing fails.
    Path tmp = returnn.onnx.TempFiles.create(file.toAbsolutePath().getParent(), ".png");
    try {
      ChartUtils.saveChartAsPNG(tmp.toFile(), chart, WIDTH, 120 + ROW_HEIGHT * labels.size());
      returnn.onnx.TempFiles.commit(tmp, file);
    } finally {
      returnn.onnx.TempFiles.discard(tmp);
    }
  }
}
