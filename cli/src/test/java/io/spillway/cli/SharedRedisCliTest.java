package io.spillway.cli;

import io.spillway.testing.RedisProcess;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** CLI tests of one class sharing one real redis-server, each test on queues of its own. */
abstract class SharedRedisCliTest {
    private static final AtomicInteger QUEUES = new AtomicInteger();
    static RedisProcess redis;

    @BeforeAll
    static void startRedis() {
        redis = RedisProcess.builder().start();
    }

    @AfterAll
    static void stopRedis() {
        redis.close();
    }

    /** A queue name no other test of the run uses. */
    static String uniqueQueue(String prefix) {
        return prefix + "-" + QUEUES.incrementAndGet() + "-" + System.nanoTime();
    }

    static String uri() {
        return redis.uri().toString();
    }
}
