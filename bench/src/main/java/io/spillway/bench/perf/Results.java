package io.spillway.bench.perf;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every figure of one run, by id ({@code section.figure.system}), in the order first recorded. Also free
 * text notes per section (what a system did, errors seen). Thread-safe enough for one harness thread.
 */
final class Results {
    private final Map<String, Samples> figures = new LinkedHashMap<>();
    private final Map<String, String> notes = new LinkedHashMap<>();

    synchronized void add(String id, double value) {
        figures.computeIfAbsent(id, k -> new Samples()).add(value);
    }

    synchronized Samples get(String id) {
        Samples s = figures.get(id);
        return s == null ? new Samples() : s;
    }

    synchronized double median(String id) {
        return get(id).median();
    }

    synchronized boolean has(String id) {
        return figures.containsKey(id) && !figures.get(id).isEmpty();
    }

    synchronized void note(String id, String text) {
        notes.put(id, text);
    }

    synchronized String noteOr(String id, String dflt) {
        return notes.getOrDefault(id, dflt);
    }

    synchronized Map<String, String> notes() {
        return new LinkedHashMap<>(notes);
    }

    synchronized Map<String, Samples> all() {
        return new LinkedHashMap<>(figures);
    }
}
