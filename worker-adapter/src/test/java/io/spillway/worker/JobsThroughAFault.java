package io.spillway.worker;

import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.core.HealthState;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A producer and a worker on one Redis, jobs flowing (one every 2 ms), through a fault of Redis: applied once 200 jobs
 * were handled, held until at least 100 jobs were spooled and 1.5 s more, then healed; the load stops once the producer
 * is connected with an empty journal and 50 more jobs were accepted, and the run ends once every accepted job was
 * handled. The caller asserts on the {@link Outcome}.
 */
final class JobsThroughAFault {
    /** A step of the fault. */
    interface Step {
        void run() throws Exception;
    }

    /**
     * @param accepted the ids of every job {@code enqueue} accepted, in order
     * @param spooled how many of them were spooled
     * @param handled each handled id and how often it ran
     * @param handledWhileHeld jobs handled during the 1.5 s the fault held (after 100 had spooled)
     */
    record Outcome(List<String> accepted, int spooled, Map<String, AtomicInteger> handled, int handledWhileHeld) {
        long runTwice() {
            return handled.values().stream().filter(n -> n.get() > 1).count();
        }

        @Override
        public String toString() {
            return "accepted " + accepted.size() + ", spooled " + spooled + ", handled " + handled.size() + ", run twice "
                    + runTwice() + ", handled while the fault held " + handledWhileHeld;
        }
    }

    /**
     * The worker's lease: short, so that what a dropped connection may leave leased to the worker unseen and not taken
     * back at once (a takeover's lost reply; a fetch's is taken back when the worker is connected again) runs within
     * the test's wait.
     */
    static final Duration LEASE = Duration.ofSeconds(5);

    private JobsThroughAFault() {
    }

    /** Redis's reply to a write now, or "" if it takes it. */
    static String writeRefusal(redis.clients.jedis.Jedis admin) {
        try {
            admin.set("refusal-probe", "x");
            return "";
        } catch (redis.clients.jedis.exceptions.JedisDataException e) {
            return e.getMessage();
        }
    }

    /** Runs a worker on {@code queue} until it handled {@code jobs} jobs (30 s at most); each handled id and how often. */
    static Map<String, AtomicInteger> drain(URI redis, String queue, Path stateDir, int jobs) {
        Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
        try (Worker worker = Worker.builder().redis(redis).queue(queue).stateDir(stateDir).fetchBlock(Duration.ofMillis(50))
                .handler("t", job -> handled.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet())
                .build()) {
            worker.start();
            await().atMost(30, TimeUnit.SECONDS).until(() -> handled.size() >= jobs);
        }
        return handled;
    }

    /**
     * Runs the jobs through the fault: {@code apply}, then (once 100 jobs spooled) {@code whileHeld}, 1.5 s, then
     * {@code heal}.
     */
    static Outcome run(URI redis, Path dir, String queue, Step apply, Step whileHeld, Step heal) throws Exception {
        Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
        try (JobProducer producer = JobProducer.builder().redis(redis).journalDir(dir.resolve("journal"))
                     .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build();
             Worker worker = Worker.builder().redis(redis).queue(queue).stateDir(dir.resolve("worker"))
                     .fetchBlock(Duration.ofMillis(50)).leaseDuration(LEASE)
                     .handler("t", job -> handled.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet())
                     .build()) {
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
            worker.start();
            EnqueueLoad load = EnqueueLoad.start(producer, queue, 2);
            int heldCount;
            try (load) {
                await().atMost(10, TimeUnit.SECONDS).until(() -> handled.size() >= 200);
                apply.run();
                await().atMost(15, TimeUnit.SECONDS).until(() -> load.spooled.get() >= 100);
                whileHeld.run();
                int before = handled.size();
                Thread.sleep(1500);
                heldCount = handled.size() - before;
                heal.run();
                await().atMost(20, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED
                        && producer.journalBacklog() == 0);
                int afterHeal = load.accepted.size();
                // Some jobs enqueued straight to Redis again before the load stops.
                await().atMost(10, TimeUnit.SECONDS).until(() -> load.accepted.size() >= afterHeal + 50);
            }
            int total = load.accepted.size();
            await().atMost(30, TimeUnit.SECONDS).until(() -> handled.size() >= total);
            return new Outcome(List.copyOf(load.accepted), load.spooled.get(), Map.copyOf(handled), heldCount);
        }
    }
}
