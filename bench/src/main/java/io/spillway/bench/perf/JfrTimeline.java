package io.spillway.bench.perf;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordingFile;

/**
 * Prints what each thread did around each Redis kill of a transitions run recorded with JFR: one line per event
 * (socket reads and writes, parks, sleeps, exceptions created, classes loaded), in ms from the moment the
 * harness's observer connection saw Redis's end of stream, with the top frames of its stack.
 *
 * <pre>
 * java $FLAGS -XX:StartFlightRecording=filename=t.jfr,settings=bench/jfr/transitions.jfc -cp ... \
 *     io.spillway.bench.perf.BenchmarkMain --reps 3 --only transitions --docs /tmp/t
 * java -cp bench/target/classes io.spillway.bench.perf.JfrTimeline t.jfr [frames]
 * </pre>
 */
public final class JfrTimeline {
    private static final long BEFORE_NANOS = 8_000_000;
    private static final long AFTER_NANOS = 15_000_000;

    private JfrTimeline() {
    }

    public static void main(String[] args) throws Exception {
        int frames = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        List<RecordedEvent> events = RecordingFile.readAllEvents(Path.of(args[0]));
        events.sort(Comparator.comparing(RecordedEvent::getStartTime));
        List<Instant> endsOfStream = new ArrayList<>();
        for (RecordedEvent e : events) {
            if (e.getEventType().getName().equals("jdk.SocketRead") && thread(e).equals("transition-observer")
                    && e.getBoolean("endOfStream")) {
                endsOfStream.add(e.getEndTime());
            }
        }
        for (Instant t0 : endsOfStream) {
            System.out.println("==== the observer saw Redis's end of stream at " + t0);
            for (RecordedEvent e : events) {
                long from = Duration.between(t0, e.getStartTime()).toNanos();
                long to = Duration.between(t0, e.getEndTime()).toNanos();
                if (to < -BEFORE_NANOS || from > AFTER_NANOS) {
                    continue;
                }
                String name = e.getEventType().getName().replace("jdk.", "");
                String what = switch (name) {
                    case "JavaExceptionThrow" -> e.getClass("thrownClass").getName() + ": " + e.getString("message");
                    case "ClassLoad" -> e.getClass("loadedClass").getName();
                    default -> "";
                };
                System.out.printf("%9.3f %9.3f ms %-24s %-18s %s%s%n", from / 1e6, (to - from) / 1e6, thread(e), name, what,
                        stack(e, frames));
            }
        }
    }

    private static String thread(RecordedEvent e) {
        return e.getThread() == null ? "-" : e.getThread().getJavaName();
    }

    private static String stack(RecordedEvent e, int frames) {
        if (e.getStackTrace() == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        List<RecordedFrame> fs = e.getStackTrace().getFrames();
        for (int i = 0; i < Math.min(frames, fs.size()); i++) {
            RecordedFrame f = fs.get(i);
            String type = f.getMethod().getType().getName();
            sb.append(" < ").append(type.substring(type.lastIndexOf('.') + 1)).append('.').append(f.getMethod().getName())
                    .append(':').append(f.getLineNumber());
        }
        return sb.toString();
    }
}
