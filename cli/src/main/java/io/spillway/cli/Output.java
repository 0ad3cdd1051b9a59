package io.spillway.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.util.List;

/** Printing: JSON (Jackson, pretty) for {@code --json}, aligned text tables otherwise. */
final class Output {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Output() {
    }

    static void json(PrintWriter out, Object value) {
        try {
            out.println(JSON.writeValueAsString(value));
            out.flush();
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new CliException(ExitCodes.FAILED, "cannot write JSON: " + e.getOriginalMessage());
        }
    }

    /** A table with a header row; columns are left-aligned and padded to their widest cell. */
    static void table(PrintWriter out, List<String> header, List<List<String>> rows) {
        int[] width = new int[header.size()];
        for (int i = 0; i < header.size(); i++) {
            width[i] = header.get(i).length();
        }
        for (List<String> r : rows) {
            for (int i = 0; i < r.size(); i++) {
                width[i] = Math.max(width[i], r.get(i).length());
            }
        }
        printRow(out, header, width);
        for (List<String> r : rows) {
            printRow(out, r, width);
        }
        out.flush();
    }

    private static void printRow(PrintWriter out, List<String> cells, int[] width) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < cells.size(); i++) {
            String c = cells.get(i);
            line.append(c);
            if (i < cells.size() - 1) {
                line.append(" ".repeat(width[i] - c.length() + 2));
            }
        }
        out.println(line.toString().stripTrailing());
    }

    /** "1.2 s", "340 ms", "3 min" for ages and durations. */
    static String age(long millis) {
        if (millis < 0) {
            return "-";
        }
        if (millis < 1000) {
            return millis + " ms";
        }
        if (millis < 120_000) {
            return String.format("%.1f s", millis / 1000.0);
        }
        if (millis < 7_200_000) {
            return (millis / 60_000) + " min";
        }
        return String.format("%.1f h", millis / 3_600_000.0);
    }
}
