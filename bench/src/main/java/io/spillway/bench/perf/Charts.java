package io.spillway.bench.perf;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The PNG charts of the report (XChart), one method per picture, a common look. */
final class Charts {
    static final Color SPILLWAY = new Color(0x1f77b4);
    static final Color[] PALETTE = {SPILLWAY, new Color(0x7f7f7f), new Color(0xbcbd22), new Color(0x2ca02c), new Color(0x9467bd),
        new Color(0xd62728), new Color(0xff7f0e), new Color(0x8c564b)};

    private Charts() {
    }

    /** Grouped horizontal-reading bars: one group per category, one bar per series. */
    static void bars(Path file, String title, String yTitle, List<String> categories, List<String> series,
                     List<List<Double>> values, Double targetLine, String targetLabel) {
        CategoryChart c = new CategoryChartBuilder().width(1000).height(520).title(title).yAxisTitle(yTitle).build();
        style(c.getStyler());
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        c.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        c.getStyler().setLabelsVisible(true);
        c.getStyler().setLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        c.getStyler().setLabelsFontColorAutomaticEnabled(false);
        c.getStyler().setLabelsFontColor(Color.DARK_GRAY);
        c.getStyler().setLabelsPosition(0.98);
        c.getStyler().setYAxisDecimalPattern("#,###");
        c.getStyler().setSeriesColors(PALETTE);
        c.getStyler().setOverlapped(false);
        c.getStyler().setAvailableSpaceFill(0.85);
        c.getStyler().setXAxisLabelRotation(12);
        for (int s = 0; s < series.size(); s++) {
            List<Double> v = new ArrayList<>();
            for (Double d : values.get(s)) {
                v.add(d == null || d.isNaN() ? 0.0 : d);
            }
            c.addSeries(series.get(s), categories, v);
        }
        save(c, file);
    }

    /** Latency percentiles on a "nines" x axis, log y. Each series: {percentile, value}. */
    static void percentiles(Path file, String title, String yTitle, List<String> names, List<List<double[]>> series) {
        XYChart c = new XYChartBuilder().width(1000).height(520).title(title).xAxisTitle("percentile").yAxisTitle(yTitle).build();
        style(c.getStyler());
        c.getStyler().setYAxisLogarithmic(true);
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        c.getStyler().setSeriesColors(PALETTE);
        c.getStyler().setxAxisTickLabelsFormattingFunction(x -> {
            if (Math.abs(x - Math.rint(x)) > 0.01) {
                return "";
            }
            double p = 100 * (1 - Math.pow(10, -Math.rint(x)));
            return p >= 99.9999 ? "max" : (p == Math.floor(p) ? String.format("p%.0f", p) : String.format("p%s", trim(p)));
        });
        c.getStyler().setXAxisMin(0.0);
        c.getStyler().setXAxisMax(5.0);
        for (int i = 0; i < names.size(); i++) {
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            for (double[] pt : series.get(i)) {
                double nines = pt[0] >= 100 ? 5.0 : Math.min(5.0, -Math.log10(1 - pt[0] / 100));
                if (pt[1] > 0) {
                    xs.add(nines);
                    ys.add(pt[1]);
                }
            }
            if (!xs.isEmpty()) {
                XYSeries s = c.addSeries(names.get(i), xs, ys);
                s.setMarker(SeriesMarkers.CIRCLE);
            }
        }
        save(c, file);
    }

    private static String trim(double p) {
        String s = String.format("%.4f", p);
        while (s.endsWith("0")) {
            s = s.substring(0, s.length() - 1);
        }
        return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    }

    /** Scatter of per-call latency over time, one series per system (failed calls as their own series). */
    static void timeline(Path file, String title, List<String> names, List<List<double[]>> points, double killedAt, double upAt) {
        XYChart c = new XYChartBuilder().width(1100).height(560).title(title).xAxisTitle("seconds (Redis SIGKILLed at "
                + String.format("%.1f", killedAt) + " s, answering again at " + String.format("%.1f", upAt) + " s)")
                .yAxisTitle("enqueue call latency, ms (log)").build();
        style(c.getStyler());
        c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        c.getStyler().setYAxisLogarithmic(true);
        c.getStyler().setMarkerSize(4);
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        c.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        double maxY = 1;
        for (List<double[]> pts : points) {
            for (double[] p : pts) {
                maxY = Math.max(maxY, p[1]);
            }
        }
        for (int i = 0; i < names.size(); i++) {
            for (int ok = 1; ok >= 0; ok--) {
                List<Double> xs = new ArrayList<>();
                List<Double> ys = new ArrayList<>();
                for (double[] p : points.get(i)) {
                    if ((int) p[2] == ok) {
                        xs.add(p[0]);
                        ys.add(Math.max(0.001, p[1]));
                    }
                }
                if (xs.isEmpty()) {
                    continue;
                }
                XYSeries s = c.addSeries(names.get(i) + (ok == 1 ? " (accepted)" : " (threw)"), xs, ys);
                s.setMarkerColor(ok == 1 ? PALETTE[i % PALETTE.length] : PALETTE[i % PALETTE.length].brighter());
                s.setMarker(ok == 1 ? SeriesMarkers.CIRCLE : SeriesMarkers.CROSS);
            }
        }
        for (double x : new double[] {killedAt, upAt}) {
            XYSeries s = c.addSeries(x == killedAt ? "Redis killed" : "Redis back", List.of(x, x), List.of(0.001, maxY * 2));
            s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
            s.setMarker(SeriesMarkers.NONE);
            s.setLineColor(Color.RED);
            s.setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        }
        save(c, file);
    }

    /** Lines over a shared x. */
    static void lines(Path file, String title, String xTitle, String yTitle, List<Double> xs, List<String> names,
                      List<List<Double>> ys, Function<Double, String> xFormat) {
        XYChart c = new XYChartBuilder().width(1000).height(520).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        style(c.getStyler());
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        c.getStyler().setSeriesColors(PALETTE);
        c.getStyler().setYAxisMin(0.0);
        if (xFormat != null) {
            c.getStyler().setxAxisTickLabelsFormattingFunction(xFormat);
        }
        for (int i = 0; i < names.size(); i++) {
            XYSeries s = c.addSeries(names.get(i), xs, ys.get(i));
            s.setMarker(SeriesMarkers.CIRCLE);
        }
        save(c, file);
    }

    private static void style(Styler s) {
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setPlotBorderVisible(false);
        s.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        s.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        if (s instanceof org.knowm.xchart.style.AxesChartStyler a) {
            a.setPlotGridLinesColor(new Color(0xe5e5e5));
            a.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
            a.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        }
        s.setLegendBorderColor(Color.WHITE);
        s.setAntiAlias(true);
    }

    private static void save(org.knowm.xchart.internal.chartpart.Chart<?, ?> c, Path file) {
        try {
            BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
