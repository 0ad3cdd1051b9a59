package io.spillway.worker.internal;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.worker.HandlerOptions;
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
                       boolean strictPriority, Map<String, HandlerOptions> handlerOptions) {
    public Settings {
        queues = List.copyOf(queues);
        handlers = Map.copyOf(handlers);
        handlerOptions = Map.copyOf(handlerOptions);
    }

    /** Settings where every type has the worker's job timeout and retry policy. */
    public Settings(RedisConnection redis, List<QueueName> queues, Map<String, JobHandler> handlers, int concurrency,
            int prefetch, RetryPolicy retry, Duration lease, Duration shutdownTimeout, Duration jobTimeout,
            Duration completedRetention, int fetchBatch, Duration fetchBlock, Duration schedulerInterval,
            Duration stuckAfter, Path stateDir, String consumerName, MetricRegistry metrics, boolean strictPriority) {
        this(redis, queues, handlers, concurrency, prefetch, retry, lease, shutdownTimeout, jobTimeout, completedRetention,
                fetchBatch, fetchBlock, schedulerInterval, stuckAfter, stateDir, consumerName, metrics, strictPriority,
                Map.of());
    }

    /** The job timeout of a type: its own, else the worker's (also for a type with no handler). */
    public Duration jobTimeout(String type) {
        HandlerOptions o = handlerOptions.get(type);
        return o != null ? o.jobTimeout().orElse(jobTimeout) : jobTimeout;
    }

    /** The retry policy of a type: its own, else the worker's (also for a type with no handler). */
    public RetryPolicy retry(String type) {
        HandlerOptions o = handlerOptions.get(type);
        return o != null ? o.retryPolicy().orElse(retry) : retry;
    }

    /** The shortest job timeout of any type. */
    public Duration shortestJobTimeout() {
        return handlerOptions.values().stream().flatMap(o -> o.jobTimeout().stream())
                .reduce(jobTimeout, (a, b) -> a.compareTo(b) <= 0 ? a : b);
    }

    /** The longest job timeout of any type. */
    public Duration longestJobTimeout() {
        return handlerOptions.values().stream().flatMap(o -> o.jobTimeout().stream())
                .reduce(jobTimeout, (a, b) -> a.compareTo(b) >= 0 ? a : b);
    }
}
