package io.spillway.testing;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The processes this JVM started through the harness, killed by one shutdown hook so that a test
 * that forgets {@code close()} (or a JVM that dies of an error) never leaves a redis-server or a
 * child JVM running. Invariant: a process is registered from just after its start until it is
 * known dead.
 */
final class ChildProcesses {

    private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(ChildProcesses::killAll, "spillway-test-reaper"));
    }

    private ChildProcesses() {
    }

    static void register(Process process) {
        LIVE.add(process);
    }

    static void unregister(Process process) {
        LIVE.remove(process);
    }

    private static void killAll() {
        for (Process p : LIVE) {
            // SIGKILL works on a stopped (SIGSTOP) process too; no SIGCONT needed here.
            p.destroyForcibly();
        }
    }

    /** Sends a signal with kill(1): ProcessHandle can send only TERM and KILL, not STOP or CONT. */
    static void signal(long pid, String signal) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid))
                    .redirectErrorStream(true).start();
            String out = new String(kill.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (!kill.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) || kill.exitValue() != 0) {
                throw new IllegalStateException("kill -" + signal + " " + pid + " failed: " + out.trim());
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("Cannot run kill -" + signal + " " + pid, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while sending " + signal + " to " + pid, e);
        }
    }

    static void deleteRecursively(java.nio.file.Path dir) {
        if (dir == null || !java.nio.file.Files.exists(dir)) {
            return;
        }
        try (var paths = java.nio.file.Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("Cannot delete " + dir, e);
        }
    }
}
