package io.spillway.watchdog.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Signals and stops for child processes. ProcessHandle can send only SIGTERM and SIGKILL; STOP and CONT
 * go through kill(1). Stopping takes the whole tree (a shell script's own children too), so nothing is
 * left behind as an orphan.
 */
public final class Processes {
    private Processes() {
    }

    /** Sends a signal with kill(1); best effort (false if the process is gone or kill is missing). */
    public static boolean signal(long pid, String signal) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return kill.waitFor(5, TimeUnit.SECONDS) && kill.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Stops a process and its descendants: SIGCONT to all (a frozen process cannot handle SIGTERM), SIGTERM to the
     * process alone, and up to {@code grace} for it to exit, stopping its own children as it sees fit (a worker finishes
     * its jobs, whose subprocesses are its children; redis-server ends its AOF rewrite child); SIGKILL if it has not.
     * Then whatever of its tree is left gets SIGTERM and up to {@code grace} again, then SIGKILL. Before, SIGTERM went to
     * the whole tree at once, so a worker's handler subprocesses were stopped under the jobs it was finishing.
     *
     * @return true if SIGKILL was needed
     */
    public static boolean stopTree(ProcessHandle root, Duration grace) {
        if (!root.isAlive()) {
            return false;
        }
        java.util.Set<ProcessHandle> tree = new java.util.LinkedHashSet<>();
        tree.add(root);
        root.descendants().forEach(tree::add);
        for (ProcessHandle h : tree) {
            signal(h.pid(), "CONT");
        }
        root.destroy();
        boolean killed = false;
        if (!await(root, grace)) {
            root.descendants().forEach(tree::add); // started meanwhile
            root.destroyForcibly();
            killed = true;
            await(root, Duration.ofSeconds(5));
        }
        List<ProcessHandle> left = tree.stream().filter(ProcessHandle::isAlive).collect(Collectors.toList());
        for (ProcessHandle h : left) {
            h.destroy();
        }
        long deadline = System.nanoTime() + grace.toNanos();
        for (ProcessHandle h : left) {
            long wait = Math.max(0, deadline - System.nanoTime());
            if (!await(h, Duration.ofNanos(wait))) {
                h.destroyForcibly();
                killed = true;
                await(h, Duration.ofSeconds(5));
            }
        }
        return killed;
    }

    /** SIGKILLs a process (not its tree: used for a hung redis-server) and waits for it to be gone. */
    public static void kill(ProcessHandle h) {
        h.destroyForcibly();
        await(h, Duration.ofSeconds(10));
    }

    public static boolean await(ProcessHandle h, Duration timeout) {
        try {
            h.onExit().get(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return !h.isAlive();
        } catch (java.util.concurrent.ExecutionException e) {
            return !h.isAlive();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !h.isAlive();
        }
    }

    /** "code 1", or "signal 9 (SIGKILL)" for the 128+n codes Java reports for a process killed by a signal. */
    public static String describeExit(int code) {
        if (code > 128 && code < 160) {
            int sig = code - 128;
            String name = switch (sig) {
                case 1 -> "SIGHUP";
                case 2 -> "SIGINT";
                case 6 -> "SIGABRT";
                case 9 -> "SIGKILL";
                case 11 -> "SIGSEGV";
                case 15 -> "SIGTERM";
                default -> "signal " + sig;
            };
            return "killed by " + name;
        }
        return "exit code " + code;
    }

    /** The last non-blank line of a text file, or "" (for start-failure messages). */
    public static String lastLine(Path file) {
        try {
            if (!Files.isRegularFile(file)) {
                return "";
            }
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            for (int i = lines.size() - 1; i >= 0; i--) {
                if (!lines.get(i).isBlank()) {
                    return lines.get(i).trim();
                }
            }
            return "";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
