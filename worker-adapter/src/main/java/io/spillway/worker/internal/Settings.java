package io.spillway.worker.internal;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.worker.JobHandler;
import io.spillway.worker.RetryPolicy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A worker's validated, immutable settings (built by {@code Worker.Builder}). {@code prefetch} is negative
 * for the adaptive default ({@link AdaptivePrefetch}).
 */
public record Settings(RedisConnection redis, List<QueueName> queues, Map<String, JobHandler> handlers, int concurrency, int prefetch,
                       RetryPolicy retry, Duration lease, Duration shutdownTimeout, Duration jobTimeout,
                       Duration completedRetention, int fetchBatch, Duration fetchBlock, Duration schedulerInterval,
                       Duration stuckAfter, Path stateDir, String consumerName, MetricRegistry metrics,
                       boolean strictPriority) {
    public Settings {
        queues = List.copyOf(queues);
        handlers = Map.copyOf(handlers);
    }
}
