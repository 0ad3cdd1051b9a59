package io.spillway.bench.chaos;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The verdict's only source: the producers' and workers' record files, read incrementally (each poll
 * reads the complete lines appended since the last one).
 *
 * <p>Invariants: {@code outstanding} is exactly the accepted ids not yet handled and not (maybe) cancelled (a
 * producer's cancels file says K, N or ?: such a job need not run); a line counts once it
 * ends with a newline; lines that do not start with a job id are counted as torn and ignored. Not
 * thread-safe (the harness polls from one thread).
 */
final class IdLedger {

    /** Where and when an id was accepted. */
    record Accepted(int producer, long atMillis, boolean spooled) {
    }

    private final Map<Path, Long> offsets = new LinkedHashMap<>();
    private final Map<Path, Integer> producerOf = new HashMap<>();
    private final Set<Path> handlerFiles = new HashSet<>();
    private final Set<Path> cancelFiles = new HashSet<>();
    /** A producer's last word on a cancel: its state code (K, N, ? or a too-late state) and when it answered. */
    private record Cancel(char code, long atMillis) {
        boolean excused() {
            return code == 'K' || code == 'N' || code == '?';
        }
    }

    private final Map<String, Cancel> cancels = new HashMap<>();
    private final Map<String, Long> lastHandledAt = new HashMap<>();
    private final Map<String, Accepted> accepted = new HashMap<>();
    private final Map<String, Integer> handledCount = new HashMap<>();
    private final Set<String> outstanding = new HashSet<>();
    private long tornLines;
    private long duplicateReceipts;

    void trackProducer(int slot, Path file) {
        offsets.putIfAbsent(file, 0L);
        producerOf.put(file, slot);
    }

    void trackWorker(Path file) {
        offsets.putIfAbsent(file, 0L);
        handlerFiles.add(file);
    }

    void trackCanceller(Path file) {
        offsets.putIfAbsent(file, 0L);
        cancelFiles.add(file);
    }

    /** Reads what was appended to every file since the last poll. */
    void poll() {
        for (Map.Entry<Path, Long> e : offsets.entrySet()) {
            Path file = e.getKey();
            long from = e.getValue();
            e.setValue(from + readLines(file, from));
        }
    }

    private long readLines(Path file, long from) {
        if (!Files.exists(file)) {
            return 0;
        }
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            long len = raf.length();
            if (len <= from) {
                return 0;
            }
            byte[] buf = new byte[(int) Math.min(len - from, 64L << 20)];
            raf.seek(from);
            raf.readFully(buf);
            int lastNl = -1;
            for (int i = buf.length - 1; i >= 0; i--) {
                if (buf[i] == '\n') {
                    lastNl = i;
                    break;
                }
            }
            if (lastNl < 0) {
                return 0;
            }
            String chunk = new String(buf, 0, lastNl, StandardCharsets.US_ASCII);
            Integer producer = producerOf.get(file);
            for (String line : chunk.split("\n", -1)) {
                if (!RecordFile.isValid(line)) {
                    if (!line.isEmpty()) {
                        tornLines++;
                    }
                    continue;
                }
                if (producer != null) {
                    onAccepted(producer, line);
                } else if (cancelFiles.contains(file)) {
                    onCancel(line);
                } else {
                    String[] f = line.split(" ");
                    onHandled(line.substring(0, 26), f.length > 1 ? Long.parseLong(f[1]) : 0);
                }
            }
            return lastNl + 1;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + file, e);
        }
    }

    private void onAccepted(int producer, String line) {
        String id = line.substring(0, 26);
        String[] f = line.split(" ");
        long at = f.length > 1 ? Long.parseLong(f[1]) : 0;
        boolean spooled = f.length > 2 && "S".equals(f[2]);
        if (accepted.putIfAbsent(id, new Accepted(producer, at, spooled)) != null) {
            duplicateReceipts++;
            return;
        }
        Cancel c = cancels.get(id);
        if (!handledCount.containsKey(id) && (c == null || !c.excused())) {
            outstanding.add(id);
        }
    }

    private void onHandled(String id, long atMillis) {
        handledCount.merge(id, 1, Integer::sum);
        lastHandledAt.merge(id, atMillis, Math::max);
        outstanding.remove(id);
    }

    /** {@code <jobId> ?} before a cancel call, {@code <jobId> <code> <answeredAtMillis>} after it returned. */
    private void onCancel(String line) {
        String id = line.substring(0, 26);
        String[] f = line.split(" ");
        char code = f.length > 1 && !f[1].isEmpty() ? f[1].charAt(0) : '?';
        long at = f.length > 2 ? Long.parseLong(f[2]) : 0;
        Cancel c = new Cancel(code, at);
        cancels.put(id, c);
        if (c.excused()) {
            outstanding.remove(id);
        } else if (accepted.containsKey(id) && !handledCount.containsKey(id)) {
            outstanding.add(id);
        }
    }

    /** The producers' cancels by the state code they answered last. */
    Map<Character, Long> cancelCounts() {
        Map<Character, Long> out = new java.util.TreeMap<>();
        cancels.values().forEach(c -> out.merge(c.code(), 1L, Long::sum));
        return out;
    }

    /** Ids whose cancel answered K (CANCELLED) and that a handler recorded after that answer: broken promises. */
    List<String> handledAfterCancel() {
        List<String> out = new ArrayList<>();
        cancels.forEach((id, c) -> {
            Long at = lastHandledAt.get(id);
            if (c.code() == 'K' && at != null && at > c.atMillis()) {
                out.add(id);
            }
        });
        out.sort(null);
        return out;
    }

    /**
     * The handler records ({@code <jobId> <handledAtMillis>}) whose time falls inside one of {@code windows}
     * ({@code [from, to]}, epoch ms), read again from the start of every worker's record file.
     */
    List<String> handledWithin(List<long[]> windows) {
        List<String> out = new ArrayList<>();
        if (windows.isEmpty()) {
            return out;
        }
        for (Path file : handlerFiles) {
            if (!Files.exists(file)) {
                continue;
            }
            try (var lines = Files.lines(file, StandardCharsets.US_ASCII)) {
                lines.filter(RecordFile::isValid).forEach(line -> {
                    String[] f = line.split(" ");
                    long at = f.length > 1 ? Long.parseLong(f[1]) : 0;
                    for (long[] w : windows) {
                        if (at >= w[0] && at <= w[1]) {
                            out.add(line);
                            break;
                        }
                    }
                });
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot read " + file, e);
            }
        }
        out.sort(null);
        return out;
    }

    long cancelledAt(String id) {
        Cancel c = cancels.get(id);
        return c == null ? 0 : c.atMillis();
    }

    long lastHandledAt(String id) {
        return lastHandledAt.getOrDefault(id, 0L);
    }

    long acceptedCount() {
        return accepted.size();
    }

    /** Accepted ids handled at least once. */
    long handledAcceptedCount() {
        return accepted.keySet().stream().filter(handledCount::containsKey).count();
    }

    /** Accepted ids never handled whose cancel answered K or N, or never answered: they need not run. */
    long cancelledUnhandledCount() {
        return accepted.keySet().stream().filter(id -> !handledCount.containsKey(id))
                .filter(id -> cancels.containsKey(id) && cancels.get(id).excused()).count();
    }

    /** Distinct ids handled (including ones whose receipt line was never written). */
    long handledDistinct() {
        return handledCount.size();
    }

    long handlerRuns() {
        return handledCount.values().stream().mapToLong(Integer::longValue).sum();
    }

    /** Ids handled more than once. */
    long duplicateIds() {
        return handledCount.values().stream().filter(c -> c > 1).count();
    }

    /** Handler runs beyond the first, summed over all ids. */
    long extraRuns() {
        return handlerRuns() - handledDistinct();
    }

    /** Handled ids that no producer recorded a receipt for (a producer killed between receipt and record). */
    long handledWithoutReceipt() {
        return handledCount.keySet().stream().filter(id -> !accepted.containsKey(id)).count();
    }

    long outstandingCount() {
        return outstanding.size();
    }

    long tornLines() {
        return tornLines;
    }

    long duplicateReceipts() {
        return duplicateReceipts;
    }

    /** The accepted ids never handled, oldest first, with where and when they were accepted. */
    List<Map.Entry<String, Accepted>> lost() {
        List<Map.Entry<String, Accepted>> out = new ArrayList<>();
        for (String id : outstanding) {
            out.add(Map.entry(id, accepted.get(id)));
        }
        out.sort(Map.Entry.comparingByKey());
        return out;
    }

    /** The ids handled more than once, with their run counts. */
    Map<String, Integer> duplicates(int limit) {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (Map.Entry<String, Integer> e : handledCount.entrySet()) {
            if (e.getValue() > 1 && out.size() < limit) {
                out.put(e.getKey(), e.getValue());
            }
        }
        return out;
    }
}
