package io.spillway.worker.internal;

import java.util.concurrent.TimeUnit;

/**
 * Tells when this JVM did not run for a while: SIGSTOP, a long GC pause, a suspended VM or laptop. One daemon thread
 * per JVM ({@link #JVM}), running while a worker runs (started by the first, ended when the last is closed: none is
 * left behind by an application redeployed in an app server), sleeps {@value #TICK_MS} ms at a time and notes each wake-up that came at least
 * {@link #PAUSE_NANOS} late. A worker's stuck-fetch watch asks it before it calls an idle fetch loop stuck: the loop
 * did not run during such a pause, and no more did anything else.
 */
final class PauseWatch {
    static final long TICK_MS = 100;
    /** A wake-up this late (beyond its tick) is a pause of the JVM. */
    static final long PAUSE_NANOS = TimeUnit.SECONDS.toNanos(2);
    /** The JVM's watch; its thread starts with the first worker. */
    static final PauseWatch JVM = new PauseWatch(System.nanoTime());

    private long lastTick;
    /** When the last pause ended (nanoTime), and how long it was; 0 for none yet. */
    private long lastPauseEnd;
    private long lastPauseNanos;
    private Thread thread;
    /** Running workers using the watch. */
    private int users;

    PauseWatch(long now) {
        this.lastTick = now;
    }

    /** A worker starts using the watch: its thread is started if it is not running yet. */
    synchronized void start() {
        users++;
        if (thread != null) {
            return;
        }
        lastTick = System.nanoTime();
        thread = new Thread(this::run, "spillway-pause-watch");
        thread.setDaemon(true);
        thread.start();
    }

    /** A worker that {@link #start started} the watch is closed: the last one ends its thread. */
    synchronized void release() {
        if (users > 0 && --users == 0 && thread != null) {
            thread.interrupt();
            thread = null;
        }
    }

    /** Whether the watch thread runs (for tests). */
    synchronized boolean running() {
        return thread != null;
    }

    private void run() {
        Thread me = Thread.currentThread();
        while (true) {
            synchronized (this) {
                if (thread != me) {
                    return; // released (and maybe started again by a new worker: that thread watches now)
                }
            }
            try {
                Thread.sleep(TICK_MS);
            } catch (InterruptedException e) {
                continue; // released: the check above ends this thread
            }
            tick(System.nanoTime());
        }
    }

    synchronized void tick(long now) {
        long late = now - lastTick - TimeUnit.MILLISECONDS.toNanos(TICK_MS);
        if (late >= PAUSE_NANOS) {
            lastPauseNanos = late;
            lastPauseEnd = now;
        }
        if (now - lastTick > 0) {
            lastTick = now;
        }
    }

    /**
     * How long this JVM was last paused, if that pause ended after {@code since} (nanoTime); else 0. The caller ticks
     * too, so a pause that is ending now counts even when the caller woke before the watch thread.
     */
    synchronized long pausedAfter(long since, long now) {
        tick(now);
        return lastPauseEnd != 0 && lastPauseEnd - since > 0 ? lastPauseNanos : 0;
    }
}
