package io.spillway.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the CLI in this JVM and captures what it printed. */
record Cli(int exit, String out, String err) {
    static Cli run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = SpillwayCli.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Cli(code, out.toString(), err.toString());
    }

    /** Errors must be one line with no stack trace. */
    String oneLineError() {
        String e = err.strip();
        if (e.contains("\n") || e.contains("\tat ") || e.isEmpty()) {
            throw new AssertionError("expected a one-line error, got: [" + err + "]");
        }
        return e;
    }

    @Override
    public String toString() {
        return "exit " + exit + "\n--- out\n" + out + "--- err\n" + err;
    }
}
