package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.JobState;
import io.spillway.core.MetricNames;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An {@link Error} (an OutOfMemoryError, say) on the fetch thread or the acker does not end that thread: before, the
 * first one stopped all fetching, or left every later outcome unsent, for as long as the worker ran. The errors come
 * from the registry's meters, which those threads mark (a registry is the user's to pass).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WorkerThreadsOutliveErrorsIT {
    @TempDir
    Path dir;

    /** A meter whose first mark throws an OutOfMemoryError. */
    static final class FailingOnce extends Meter {
        final AtomicInteger thrown = new AtomicInteger();

        @Override
        public void mark(long n) {
            if (thrown.getAndIncrement() == 0) {
                throw new OutOfMemoryError("test: the first mark fails");
            }
            super.mark(n);
        }
    }

    @Test
    void theFetchThreadAndTheAckerOutliveAnErrorAndTheNextJobsComplete() {
        FailingOnce fetched = new FailingOnce();
        FailingOnce completed = new FailingOnce();
        MetricRegistry registry = new MetricRegistry();
        registry.register(MetricNames.FETCHED, fetched);
        registry.register(MetricNames.COMPLETED, completed);
        try (RedisProcess redis = RedisProcess.builder().start();
             JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal")).build();
             Worker w = Worker.builder().redis(redis.uri()).queue("errors").stateDir(dir.resolve("worker"))
                     .fetchBlock(Duration.ofMillis(100)).leaseDuration(Duration.ofSeconds(2)).metricRegistry(registry)
                     .handler("t", job -> { })
                     .build()) {
            w.start();
            List<Receipt> first = p.enqueueAll("errors", "t", List.of(new byte[0]));
            // The first fetch's error came after its jobs were leased: they are taken back after the lease.
            await().atMost(Duration.ofSeconds(20)).until(() -> fetched.thrown.get() > 0);
            List<Receipt> more = p.enqueueAll("errors", "t", List.of(new byte[0], new byte[0], new byte[0]));
            await().atMost(Duration.ofSeconds(30)).until(() -> more.stream().allMatch(r -> p.status(r).state() == JobState.COMPLETED)
                    && first.stream().allMatch(r -> p.status(r).state() == JobState.COMPLETED));
            assertThat(completed.thrown.get()).as("the acker met its error too").isPositive();
        }
    }
}
