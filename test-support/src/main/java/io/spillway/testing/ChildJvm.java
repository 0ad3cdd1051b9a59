package io.spillway.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs {@code main(String[])} of a class in a separate JVM, so a test can SIGKILL a backend or a
 * worker mid-job and start another one over the same journal.
 *
 * <p>Contract: the child uses this JVM's {@code java} binary and {@code java.class.path}, plus the
 * Chronicle Queue flags ({@link #CHRONICLE_FLAGS}, and {@code --sun-misc-unsafe-memory-access=allow}
 * on JDK 24+), then the builder's JVM arguments, the main class and the program arguments. Its
 * stdout and stderr go, merged, to one file readable with {@link #output()} and
 * {@link #awaitOutput}. {@link #close()} kills the child and deletes the output file if this class
 * chose it; a JVM shutdown hook kills a child that was never closed. Methods may be called from any
 * thread.
 *
 * <pre>{@code
 * try (ChildJvm worker = ChildJvm.builder(WorkerMain.class).args("--queue", "q1").start()) {
 *     worker.awaitOutput("worker started", Duration.ofSeconds(20));
 *     worker.kill();                       // SIGKILL mid-job
 * }
 * }</pre>
 */
public final class ChildJvm implements AutoCloseable {

    /** JVM flags Chronicle Queue needs on Java 17+, and the switches that keep it quiet. */
    public static final List<String> CHRONICLE_FLAGS = List.of(
            "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
            "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED",
            "--enable-native-access=ALL-UNNAMED",
            "-Dchronicle.analytics.disable=true",
            "-Dchronicle.announcer.disable=true");

    private static final Duration KILL_WAIT = Duration.ofSeconds(10);

    private final Process process;
    private final Path outputFile;
    private final boolean ownsOutputFile;
    private final String name;

    private ChildJvm(Process process, Path outputFile, boolean ownsOutputFile, String name) {
        this.process = process;
        this.outputFile = outputFile;
        this.ownsOutputFile = ownsOutputFile;
        this.name = name;
    }

    /** Returns a builder that will run {@code mainClass.main(String[])}. */
    public static Builder builder(Class<?> mainClass) {
        return new Builder(mainClass.getName());
    }

    /** Returns a builder that will run the named class's {@code main(String[])}. */
    public static Builder builder(String mainClassName) {
        return new Builder(mainClassName);
    }

    /** Returns the child's pid. */
    public long pid() {
        return process.pid();
    }

    /** Returns whether the child is still running. */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** Freezes the child with SIGSTOP (a JVM that hangs: no thread runs, its sockets stay open); {@link #thaw()} ends it. */
    public void freeze() {
        ChildProcesses.signal(pid(), "STOP");
    }

    /** Thaws a child frozen by {@link #freeze()} with SIGCONT. */
    public void thaw() {
        ChildProcesses.signal(pid(), "CONT");
    }

    /** Kills the child with SIGKILL (no shutdown hooks run) and waits until it is dead. */
    public void kill() {
        process.destroyForcibly();
        if (!await(KILL_WAIT)) {
            throw new IllegalStateException(name + " (pid " + pid() + ") survived SIGKILL for " + KILL_WAIT);
        }
        ChildProcesses.unregister(process);
    }

    /**
     * Sends SIGTERM (the child's shutdown hooks run), waits up to {@code grace}, then SIGKILL.
     *
     * @return the exit code (143 for a JVM that ended on SIGTERM, 137 if it had to be killed)
     */
    public int terminate(Duration grace) {
        process.destroy();
        if (!await(grace)) {
            kill();
        }
        ChildProcesses.unregister(process);
        return process.exitValue();
    }

    /**
     * Waits until the child exits on its own.
     *
     * @return its exit code
     * @throws IllegalStateException if it is still running after {@code timeout} (it keeps running)
     */
    public int waitFor(Duration timeout) {
        if (!await(timeout)) {
            throw new IllegalStateException(name + " (pid " + pid() + ") still running after " + timeout
                    + ". Output:\n" + output());
        }
        ChildProcesses.unregister(process);
        return process.exitValue();
    }

    /** Waits until the output contains {@code substring}; returns the first line that does. */
    public String awaitOutput(String substring, Duration timeout) {
        return awaitOutput(Pattern.compile(Pattern.quote(substring)), timeout);
    }

    /**
     * Waits until a line of the output matches {@code pattern} (found anywhere in the line).
     *
     * @return the first matching line
     * @throws IllegalStateException on timeout, or as soon as the child has exited without printing
     *         it; the message carries the output
     */
    public String awaitOutput(Pattern pattern, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            // Check liveness before reading, so output written just before an exit is still seen.
            boolean exited = !process.isAlive();
            for (String line : output().split("\n", -1)) {
                Matcher m = pattern.matcher(line);
                if (m.find()) {
                    return line;
                }
            }
            if (exited) {
                throw new IllegalStateException(name + " exited with " + process.exitValue()
                        + " without printing /" + pattern + "/. Output:\n" + output());
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + " did not print /" + pattern + "/ within " + timeout
                        + ". Output:\n" + output());
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    /** Returns everything the child wrote to stdout and stderr so far. */
    public String output() {
        try {
            return Files.exists(outputFile) ? Files.readString(outputFile, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + outputFile, e);
        }
    }

    /** Returns the file that receives the child's stdout and stderr. */
    public Path outputFile() {
        return outputFile;
    }

    /** Kills the child if it still runs, and deletes the output file if this class created it. */
    @Override
    public void close() {
        if (process.isAlive()) {
            kill();
        }
        ChildProcesses.unregister(process);
        if (ownsOutputFile) {
            try {
                Files.deleteIfExists(outputFile);
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot delete " + outputFile, e);
            }
        }
    }

    @Override
    public String toString() {
        return "ChildJvm[" + name + ", pid=" + pid() + ", alive=" + isAlive() + "]";
    }

    private boolean await(Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !process.isAlive();
        }
    }

    /** Settings for a {@link ChildJvm}; every method returns this builder. */
    public static final class Builder {
        private final String mainClass;
        private final List<String> jvmArgs = new ArrayList<>();
        private final List<String> args = new ArrayList<>();
        private Path outputFile;

        private Builder(String mainClass) {
            this.mainClass = Objects.requireNonNull(mainClass, "mainClass");
        }

        /** Adds JVM arguments (after the defaults, so they can override a system property). */
        public Builder jvmArgs(String... jvmArgs) {
            this.jvmArgs.addAll(List.of(jvmArgs));
            return this;
        }

        /** Adds {@code -Dname=value}. */
        public Builder systemProperty(String name, String value) {
            return jvmArgs("-D" + name + "=" + value);
        }

        /** Adds program arguments, passed to {@code main}. */
        public Builder args(String... args) {
            this.args.addAll(List.of(args));
            return this;
        }

        /** File for stdout+stderr (kept on close); default: a temp file (deleted on close). */
        public Builder outputFile(Path outputFile) {
            this.outputFile = Objects.requireNonNull(outputFile, "outputFile");
            return this;
        }

        /** Returns the full command line that {@link #start()} runs. */
        public List<String> command() {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.addAll(CHRONICLE_FLAGS);
            if (Runtime.version().feature() >= 24) {
                // Java 17 refuses to start with this flag, so it is added only where it exists.
                cmd.add("--sun-misc-unsafe-memory-access=allow");
            }
            cmd.addAll(jvmArgs);
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(mainClass);
            cmd.addAll(args);
            return cmd;
        }

        /** Starts the child JVM; returns at once, without waiting for {@code main} to run. */
        public ChildJvm start() {
            try {
                boolean owns = outputFile == null;
                Path out = owns ? Files.createTempFile("spillway-child-", ".out") : outputFile;
                Process p = new ProcessBuilder(command())
                        .redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.to(out.toFile()))
                        .start();
                ChildProcesses.register(p);
                String simpleName = mainClass.substring(mainClass.lastIndexOf('.') + 1);
                return new ChildJvm(p, out, owns, simpleName);
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot start a JVM for " + mainClass, e);
            }
        }
    }
}
