package io.spillway.core.internal;

import java.util.HashMap;
import java.util.Map;

/** Parses the text of Redis {@code INFO} into a flat map (sections are dropped; keys are unique). */
public final class RedisInfo {
    private RedisInfo() {
    }

    public static Map<String, String> parse(String info) {
        Map<String, String> out = new HashMap<>();
        if (info == null) {
            return out;
        }
        for (String line : info.split("\r?\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon > 0) {
                out.put(line.substring(0, colon), line.substring(colon + 1).trim());
            }
        }
        return out;
    }
}
