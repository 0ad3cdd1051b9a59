package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.testing.ChildJvm;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * Every command's --help as a user sees it, in a JVM of its own: picocli's warnings go to the System.err it found
 * at its first use, so only a fresh JVM shows them.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HelpTextIT {
    private static final int WIDTH = 80;

    /** Prints {@code --help} of every command and subcommand. */
    public static final class PrintAllHelp {
        public static void main(String[] args) {
            for (List<String> path : commandPaths()) {
                List<String> line = new ArrayList<>(path);
                line.add("--help");
                StringWriter out = new StringWriter();
                int code = SpillwayCli.run(line.toArray(String[]::new), new PrintWriter(out, true), new PrintWriter(System.err, true));
                System.out.println("=== " + String.join(" ", path) + " (exit " + code + ")");
                System.out.print(out);
            }
            System.out.flush();
        }
    }

    static List<List<String>> commandPaths() {
        List<List<String>> paths = new ArrayList<>();
        collect(new CommandLine(new SpillwayCli()), new ArrayList<>(), paths);
        return paths;
    }

    private static void collect(CommandLine cmd, List<String> path, List<List<String>> paths) {
        paths.add(List.copyOf(path));
        for (Map.Entry<String, CommandLine> sub : cmd.getSubcommands().entrySet()) {
            if (!sub.getKey().equals("help")) {
                List<String> next = new ArrayList<>(path);
                next.add(sub.getKey());
                collect(sub.getValue(), next, paths);
            }
        }
    }

    @Test
    void helpHasNoFormatWarningsAndShowsPercentSignsOnce() throws Exception {
        String help;
        try (ChildJvm jvm = ChildJvm.builder(PrintAllHelp.class).start()) {
            assertThat(jvm.waitFor(Duration.ofSeconds(45))).as(jvm.output()).isZero();
            help = jvm.output();
        }
        assertThat(help).contains("=== demo (exit 0)", "=== report (exit 0)", "=== journal replay (exit 0)", "=== cancel (exit 0)",
                "=== pause (exit 0)", "=== resume (exit 0)");
        assertThat(help).doesNotContain("picocli WARN", "Could not format", "%%");
        assertThat(help.replaceAll("\\s+", " ")).contains("in % or seconds", "reaches 90 % of it");
        assertThat(help).contains("Default: kill@25%,stop@50%,kill@75%.");
        // The example is cut where the shell allows it, not wrapped inside the --faults value.
        assertThat(help).contains("  spillway demo --jobs 20000 --rate 1000 \\\n      --faults kill@20%,stop@40%,kill@60%,stop@80%\n");
    }

    /** Example lines (indented; prose may wrap) must fit, or picocli wraps them where the shell would not. */
    @Test
    void examplesFitTheHelpWidthSoPicocliNeverWrapsOne() {
        for (List<String> path : commandPaths()) {
            CommandLine cmd = new CommandLine(new SpillwayCli());
            for (String name : path) {
                cmd = cmd.getSubcommands().get(name);
            }
            for (String line : cmd.getCommandSpec().usageMessage().footer()) {
                if (!line.startsWith("  ")) {
                    continue;
                }
                assertThat(line.replace("%%", "%").length()).as(path + ": " + line).isLessThanOrEqualTo(WIDTH);
            }
        }
    }
}
