package io.spillway.testing;

import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;

/**
 * Whether <em>another process</em> can take a file's lock now: what a second producer, worker or tool would find. A
 * check from inside the JVM that holds the lock proves nothing (the JVM's own lock table answers for the OS), and on
 * Linux a JVM can lose its OS lock while its {@code FileLock} still says valid: only another process tells.
 */
public final class LockProbe {
    private LockProbe() {
    }

    /** True if a child JVM got (and released) an exclusive lock on {@code file}; false if it was refused. */
    public static boolean anotherProcessCanLock(Path file) {
        try (ChildJvm child = ChildJvm.builder(LockProbe.class).args(file.toAbsolutePath().toString())
                .jvmArgs("-Xmx64m", "-XX:TieredStopAtLevel=1").start()) {
            int code = child.waitFor(Duration.ofSeconds(30));
            String out = child.output();
            if (out.contains("taken")) {
                return true;
            }
            if (out.contains("refused")) {
                return false;
            }
            throw new IllegalStateException("lock probe of " + file + " exited with " + code + ": " + out);
        }
    }

    /** The child: tries an exclusive lock on args[0], prints {@code taken} or {@code refused}. */
    public static void main(String[] args) throws Exception {
        try (FileChannel ch = FileChannel.open(Path.of(args[0]), StandardOpenOption.WRITE)) {
            FileLock l = ch.tryLock();
            System.out.println(l != null ? "taken" : "refused");
            if (l != null) {
                l.release();
            }
        }
    }
}
