package io.spillway.bench.chaos;

import io.spillway.core.RedisConnection;
import io.spillway.worker.Worker;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One worker process of the chaos harness (SIGKILLed, SIGTERMed and started again on the same state
 * directory and record file).
 *
 * <ol>
 *   <li>Builds a {@link Worker} on the queues of {@code --queues} (default {@value ChaosProducerMain#QUEUE}) with a
 *       handler for type {@value ChaosProducerMain#TYPE} that sleeps {@code --work-ms} (the job's "work"), then appends
 *       {@code <jobId> <handledAtMillis>} to the record file in one write, then returns.</li>
 *   <li>Starts it, prints {@code worker started}, and runs until stopped; SIGTERM closes the worker
 *       gracefully (fetched jobs handed back, running ones given {@code --shutdown-ms}).</li>
 * </ol>
 * A SIGKILL between the record write and the ack makes the job run again elsewhere: a duplicate, which
 * at-least-once delivery allows. A lost job would be one that no worker ever records.
 */
public final class ChaosWorkerMain {
    static final String STARTED = "worker started";

    private ChaosWorkerMain() {
    }

    public static void main(String[] argv) {
        Args a = Args.parse(argv, Set.of(), Set.of("redis", "record", "state-dir", "concurrency", "work-ms",
                "lease-ms", "shutdown-ms", "socket-timeout-ms", "slot", "incarnation", "queues"));
        URI redis = URI.create(a.require("redis"));
        Path recordPath = Path.of(a.require("record"));
        long workMs = a.getLong("work-ms", 0);
        RecordFile record = RecordFile.openAppend(recordPath);
        Worker worker = Worker.builder()
                .redis(RedisConnection.builder(redis)
                        .socketTimeout(Duration.ofMillis(a.getLong("socket-timeout-ms", 500))).build())
                .queues(a.get("queues", ChaosProducerMain.QUEUE).split(","))
                .concurrency(a.getInt("concurrency", 4))
                .leaseDuration(Duration.ofMillis(a.getLong("lease-ms", 5_000)))
                .shutdownTimeout(Duration.ofMillis(a.getLong("shutdown-ms", 5_000)))
                .fetchBlock(Duration.ofMillis(100))
                .stateDir(Path.of(a.require("state-dir")))
                .name("chaos-w" + a.get("slot", "0") + "-" + a.get("incarnation", "1"))
                .handler(ChaosProducerMain.TYPE, job -> {
                    if (workMs > 0) {
                        // The job's work: simulated, so that jobs are in flight when faults strike.
                        Thread.sleep(workMs);
                    }
                    record.append(job.id() + " " + System.currentTimeMillis());
                })
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            worker.close();
            record.close();
        }, "chaos-worker-stop"));
        worker.start();
        System.out.println(STARTED + " " + worker.name() + " pid " + ProcessHandle.current().pid());
        while (true) {
            LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
        }
    }
}
