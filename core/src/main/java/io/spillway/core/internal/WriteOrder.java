package io.spillway.core.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The order in which Redis acknowledged this process's writes: a direct write when its reply came, a replayed journal
 * batch when it was committed. After Redis lost writes (a restart, a failover), {@link Replayer#recover} sends the
 * recent direct writes and the recently replayed journal records again merged by it, so that a queue's jobs land in
 * the order they first reached Redis (DESIGN guarantee 6). One count per JVM: only the relative order matters.
 */
final class WriteOrder {
    /** The order of a write acknowledged by another process (a predecessor's): not known. */
    static final long UNKNOWN = 0;

    private static final AtomicLong LAST = new AtomicLong(UNKNOWN);

    private WriteOrder() {
    }

    /** A number above every one handed out before in this JVM. */
    static long next() {
        return LAST.incrementAndGet();
    }
}
