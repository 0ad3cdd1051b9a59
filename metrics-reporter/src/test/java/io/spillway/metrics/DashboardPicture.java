package io.spillway.metrics;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import java.util.function.ToDoubleFunction;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Draws the panels of {@code docs/grafana-dashboard.json} from the scrapes of a real run. Each panel
 * evaluates the panel's PromQL by hand on the scraped series: {@code rate(x[w])} is the difference of
 * a counter over the last second of samples (the run is seconds long, Grafana's default windows are
 * minutes), {@code sum(x)} adds the labelled series. It is a rendering of the same queries, not a Grafana
 * screenshot.
 */
final class DashboardPicture {
    private static final Color BG = new Color(0x11, 0x12, 0x17);
    private static final Color PANEL = new Color(0x18, 0x1b, 0x1f);
    private static final Color TEXT = new Color(0xcc, 0xcc, 0xdc);
    private static final Color GRID = new Color(0x2c, 0x32, 0x35);
    private static final Color[] SERIES = {new Color(0x73, 0xbf, 0x69), new Color(0xf2, 0xcc, 0x0c),
            new Color(0xff, 0x78, 0x83), new Color(0x8a, 0xb8, 0xff), new Color(0xca, 0x95, 0xe5),
            new Color(0xff, 0x98, 0x30)};
    private static final int W = 620;
    private static final int H = 300;

    private DashboardPicture() {
    }

    static void render(List<PrometheusOutageIT.Sample> samples, Path png) throws IOException {
        double[] t = samples.stream().mapToDouble(PrometheusOutageIT.Sample::seconds).toArray();
        XYChart[] panels = {
            panel("Jobs per second — rate(spillway_producer_*_total), rate(spillway_replay_replayed_total)",
                    "jobs/s", t,
                    series("accepted", rate(samples, "spillway_producer_accepted_total")),
                    series("enqueued", rate(samples, "spillway_producer_enqueued_total")),
                    series("spooled", rate(samples, "spillway_producer_spooled_total")),
                    series("replayed", rate(samples, "spillway_replay_replayed_total"))),
            panel("Redis connection — spillway_redis_state, spillway_redis_circuit", "0 ok / 1 down / 2 recovering", t,
                    series("state{component=producer}", values(samples, m -> m.valueOr("spillway_redis_state{component=\"producer\"}", 0))),
                    series("circuit{component=producer}", values(samples, m -> m.valueOr("spillway_redis_circuit{component=\"producer\"}", 0)))),
            panel("Reconnects — spillway_redis_reconnect_attempts_total, _connection_lost_total (cumulative here)", "count", t,
                    series("reconnect attempts{component=producer}",
                            values(samples, m -> m.valueOr("spillway_redis_reconnect_attempts_total{component=\"producer\"}", 0))),
                    series("connection lost{component=producer}",
                            values(samples, m -> m.valueOr("spillway_redis_connection_lost_total{component=\"producer\"}", 0)))),
            panel("Spooled locally (journal backlog) — spillway_journal_backlog_jobs", "jobs", t,
                    series("journal backlog", values(samples, m -> m.valueOr("spillway_journal_backlog_jobs", 0)))),
            panel("Oldest spooled job — spillway_journal_oldest_age_ms / 1000", "seconds", t,
                    series("oldest age", values(samples, m -> m.valueOr("spillway_journal_oldest_age_ms", 0) / 1000))),
            queuePanel(samples, t),
            panel("Accepted vs accounted for (waiting + in flight + delayed + completed + dead + spooled)", "jobs", t,
                    series("accepted - duplicates", values(samples, PrometheusOutageIT::accepted)),
                    series("accounted for", values(samples, PrometheusOutageIT::accountedFor))),
            panel("Enqueue latency — spillway_producer_enqueue_latency{quantile=...} in ms", "ms", t,
                    series("p99", values(samples, m -> m.valueOr("spillway_producer_enqueue_latency{quantile=\"0.99\"}", 0) * 1000)),
                    series("p50", values(samples, m -> m.valueOr("spillway_producer_enqueue_latency{quantile=\"0.5\"}", 0) * 1000))),
        };
        int cols = 2;
        int header = 78;
        int rows = (panels.length + cols - 1) / cols;
        BufferedImage img = new BufferedImage(cols * W + (cols + 1) * 8, header + rows * (H + 8) + 8, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(BG);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setColor(TEXT);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 20));
        g.drawString("Spillway — producer through a Redis kill and restart", 12, 28);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        g.drawString("A rendering of the queries of docs/grafana-dashboard.json on scrapes of a real run (PrometheusOutageIT,"
                + " one scrape every 250 ms). Not a Grafana screenshot. x axis: seconds since start.", 12, 50);
        g.drawString("Redis killed at the first rise of the connection state; restarted when it falls. /health answered 503"
                + " during the outage and 200 after: " + healthChanges(samples), 12, 66);
        for (int i = 0; i < panels.length; i++) {
            BufferedImage p = BitmapEncoder.getBufferedImage(panels[i]);
            g.drawImage(p, 8 + (i % cols) * (W + 8), header + (i / cols) * (H + 8), null);
        }
        g.dispose();
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        ImageIO.write(img, "png", png.toFile());
    }

    /** The /health answers of the run, compressed: "200 until 4.2 s, 503 until 7.1 s, 200". */
    private static String healthChanges(List<PrometheusOutageIT.Sample> samples) {
        StringBuilder b = new StringBuilder();
        int prev = -1;
        for (PrometheusOutageIT.Sample s : samples) {
            if (s.health() != prev) {
                if (prev != -1) {
                    b.append(" until ").append(String.format(java.util.Locale.ROOT, "%.1f s", s.seconds())).append(", ");
                }
                b.append(s.health());
                prev = s.health();
            }
        }
        return b.toString();
    }

    private static XYChart queuePanel(List<PrometheusOutageIT.Sample> samples, double[] t) {
        TreeSet<String> keys = new TreeSet<>();
        for (PrometheusOutageIT.Sample s : samples) {
            s.metrics().series().keySet().stream().filter(k -> k.startsWith("spillway_queue_waiting{")).forEach(keys::add);
        }
        double[][] ys = new double[keys.size()][];
        String[] names = new String[keys.size()];
        int i = 0;
        for (String k : keys) {
            names[i] = k.substring("spillway_queue_waiting".length());
            ys[i] = values(samples, m -> m.valueOr(k, 0));
            i++;
        }
        Object[] series = new Object[keys.size()];
        for (int j = 0; j < keys.size(); j++) {
            series[j] = series(names[j], ys[j]);
        }
        return panel("Waiting by queue — max by (queue) (spillway_queue_waiting)", "jobs", t, java.util.Arrays.copyOf(series, series.length, Named[].class));
    }

    record Named(String name, double[] y) {
    }

    private static Named series(String name, double[] y) {
        return new Named(name, y);
    }

    private static double[] values(List<PrometheusOutageIT.Sample> samples, ToDoubleFunction<PrometheusText> f) {
        return samples.stream().mapToDouble(s -> f.applyAsDouble(s.metrics())).toArray();
    }

    /** Per-second increase of a counter over the last second of samples (Prometheus's rate(), on a 1 s window). */
    private static double[] rate(List<PrometheusOutageIT.Sample> samples, String counter) {
        double[] out = new double[samples.size()];
        int from = 0;
        for (int i = 0; i < samples.size(); i++) {
            while (samples.get(i).seconds() - samples.get(from).seconds() > 1.0) {
                from++;
            }
            double dt = samples.get(i).seconds() - samples.get(from).seconds();
            double dv = samples.get(i).metrics().valueOr(counter, 0) - samples.get(from).metrics().valueOr(counter, 0);
            out[i] = dt > 0 ? Math.max(0, dv / dt) : 0;
        }
        return out;
    }

    private static XYChart panel(String title, String yTitle, double[] t, Named... series) {
        XYChart c = new XYChartBuilder().width(W).height(H).title(title).xAxisTitle("s").yAxisTitle(yTitle).build();
        Styler s = c.getStyler();
        c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        s.setChartBackgroundColor(PANEL);
        s.setPlotBackgroundColor(PANEL);
        s.setPlotBorderVisible(false);
        s.setChartFontColor(TEXT);
        s.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 11));
        s.setChartTitleBoxVisible(false);
        s.setLegendBackgroundColor(PANEL);
        s.setLegendBorderColor(PANEL);
        s.setLegendPosition(Styler.LegendPosition.OutsideS);
        s.setLegendLayout(Styler.LegendLayout.Horizontal);
        s.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
        s.setSeriesColors(SERIES);
        c.getStyler().setAxisTickLabelsColor(TEXT);
        c.getStyler().setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
        c.getStyler().setPlotGridLinesColor(GRID);
        c.getStyler().setAxisTickMarksColor(GRID);
        c.getStyler().setXAxisDecimalPattern("0");
        if (t.length == 0) {
            c.addSeries("no data", new double[] {0}, new double[] {0});
            return c;
        }
        for (Named n : series) {
            XYSeries x = c.addSeries(n.name(), t, n.y());
            x.setMarker(SeriesMarkers.NONE);
        }
        return c;
    }
}
