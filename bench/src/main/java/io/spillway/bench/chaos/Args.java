package io.spillway.bench.chaos;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A small parser for {@code --name value} and {@code --flag} arguments. Unknown names fail fast, naming
 * the argument and the ones allowed.
 */
final class Args {
    private final Map<String, String> values = new LinkedHashMap<>();

    private Args() {
    }

    /**
     * @param flags names that take no value (their value is {@code "true"})
     * @param names names that take a value
     */
    static Args parse(String[] argv, java.util.Set<String> flags, java.util.Set<String> names) {
        Args a = new Args();
        for (int i = 0; i < argv.length; i++) {
            String arg = argv[i];
            if (!arg.startsWith("--")) {
                throw new IllegalArgumentException("expected --name, but was '" + arg + "'");
            }
            String name = arg.substring(2);
            String inline = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                inline = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (flags.contains(name)) {
                a.values.put(name, inline != null ? inline : "true");
            } else if (names.contains(name)) {
                if (inline == null) {
                    if (i + 1 >= argv.length) {
                        throw new IllegalArgumentException("--" + name + " needs a value");
                    }
                    inline = argv[++i];
                }
                a.values.put(name, inline);
            } else {
                throw new IllegalArgumentException("unknown argument --" + name + "; known: flags " + flags
                        + ", options " + names);
            }
        }
        return a;
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    String get(String name, String dflt) {
        return values.getOrDefault(name, dflt);
    }

    String require(String name) {
        String v = values.get(name);
        if (v == null) {
            throw new IllegalArgumentException("--" + name + " is required");
        }
        return v;
    }

    long getLong(String name, long dflt) {
        String v = values.get(name);
        if (v == null) {
            return dflt;
        }
        try {
            return Long.parseLong(v.replace("_", "").replace(",", ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be a whole number, but was '" + v + "'");
        }
    }

    int getInt(String name, int dflt) {
        return Math.toIntExact(getLong(name, dflt));
    }

    double getDouble(String name, double dflt) {
        String v = values.get(name);
        if (v == null) {
            return dflt;
        }
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be a number, but was '" + v + "'");
        }
    }
}
