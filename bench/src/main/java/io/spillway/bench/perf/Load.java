package io.spillway.bench.perf;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

/** Runs a loop on T threads and times the whole (start barrier to last thread done). */
final class Load {
    /** One thread's work: {@code ops} operations; {@code thread} is 0..T-1. */
    interface Body {
        void run(int thread, int ops) throws Exception;
    }

    private Load() {
    }

    /** @return operations per second over the wall time of all threads */
    static double opsPerSecond(int threads, int totalOps, Body body) {
        int per = totalOps / threads;
        CountDownLatch start = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                try {
                    start.await();
                    body.run(id, per);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, "load-" + t);
            th.start();
            ts.add(th);
        }
        long t0 = System.nanoTime();
        start.countDown();
        for (Thread th : ts) {
            try {
                th.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        long elapsed = System.nanoTime() - t0;
        if (failure.get() != null) {
            throw new IllegalStateException("load failed: " + failure.get(), failure.get());
        }
        return (double) per * threads / (elapsed / 1e9);
    }
}
