package io.spillway.worker;

import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One thread enqueueing 512-byte jobs of type {@code t} through a producer, one every {@code pauseMillis}, until
 * closed: the accepted ids (the independent record a test compares the handled ids with) and how many were spooled.
 */
final class EnqueueLoad implements AutoCloseable {
    final List<String> accepted = new CopyOnWriteArrayList<>();
    final AtomicInteger spooled = new AtomicInteger();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final Thread thread;

    private EnqueueLoad(JobProducer producer, String queue, long pauseMillis) {
        byte[] payload = new byte[512];
        thread = new Thread(() -> {
            while (running.get()) {
                Receipt r = producer.enqueue(queue, "t", payload);
                accepted.add(r.jobId());
                if (r.spooled()) {
                    spooled.incrementAndGet();
                }
                try {
                    Thread.sleep(pauseMillis);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "load");
    }

    static EnqueueLoad start(JobProducer producer, String queue, long pauseMillis) {
        EnqueueLoad load = new EnqueueLoad(producer, queue, pauseMillis);
        load.thread.start();
        return load;
    }

    /** Stops enqueueing and waits for the call in flight. */
    @Override
    public void close() throws InterruptedException {
        running.set(false);
        thread.join();
    }
}
