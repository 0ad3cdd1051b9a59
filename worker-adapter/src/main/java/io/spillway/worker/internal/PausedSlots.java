package io.spillway.worker.internal;

import io.spillway.core.QueueName;
import io.spillway.core.internal.Backoff;
import io.spillway.core.internal.RedisKeys;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import redis.clients.jedis.util.JedisClusterCRC16;

/**
 * A cluster worker's queues that wait for their master, by slot (a queue's keys share its slot, so its master): a slot
 * is paused by the call that found its master unavailable, or by the reconnect loop's recovery when its probe found
 * that master failed (a worker that starts, or whose every queue was paused, while a master is down), and stays paused
 * until a check of it succeeds or a later recovery finds its master healthy ({@link #resume}). Checks of a paused slot
 * are spaced by a capped exponential backoff with full jitter, as the reconnect loop's probes are; the slots of a master
 * a check found hung are checked together, with that slot ({@link #checkWith}). Disabled (nothing is ever paused) for a
 * standalone or Sentinel Redis, where one circuit covers the one master.
 *
 * <p>Invariant: while the worker's circuit is closed, the outcomes it keeps locally are those of paused slots (and, for
 * a moment after the reconnect loop closed the circuit, those kept while it was open, which the acker sends next); a
 * paused slot's check sends its own before its queues are fetched from again. Thread-safe.
 */
final class PausedSlots {
    private final boolean enabled;
    private final Backoff backoff;
    /** The slots of the worker's queues, each with its queues. */
    private final Map<Integer, List<QueueName>> queuesOf = new LinkedHashMap<>();
    private final Map<QueueName, Integer> slotOf = new LinkedHashMap<>();
    private final Map<Integer, Pause> paused = new ConcurrentHashMap<>();

    private static final class Pause {
        final long since = System.nanoTime();
        int checks;
        long nextCheck = since;
    }

    PausedSlots(boolean enabled, Collection<QueueName> queues, Backoff backoff) {
        this.enabled = enabled;
        this.backoff = backoff;
        for (QueueName q : queues) {
            int slot = slot(q);
            slotOf.put(q, slot);
            queuesOf.computeIfAbsent(slot, k -> new ArrayList<>()).add(q);
        }
    }

    /** Whether slots can be paused at all: a Redis Cluster. */
    boolean enabled() {
        return enabled;
    }

    /** The slot of a queue's keys. */
    int slotOf(QueueName q) {
        Integer s = slotOf.get(q);
        return s != null ? s : slot(q); // a queue of another worker's outcomes adopted from its ack log
    }

    private static int slot(QueueName q) {
        return JedisClusterCRC16.getSlot(RedisKeys.stream(q));
    }

    boolean isPaused(QueueName q) {
        return !paused.isEmpty() && paused.containsKey(slotOf(q));
    }

    /** Pauses {@code q}'s slot; true if it was not paused yet. */
    boolean pause(QueueName q) {
        return pause(slotOf(q));
    }

    /** Pauses {@code slot}; true if it was not paused yet. */
    boolean pause(int slot) {
        return enabled && paused.putIfAbsent(slot, new Pause()) == null;
    }

    /** The slots of the worker's queues, each once, in the order of the queues. */
    List<Integer> slots() {
        return List.copyOf(queuesOf.keySet());
    }

    /** The slots paused now (the worker's, and any of outcomes adopted from another worker's ack log). */
    List<Integer> pausedSlots() {
        return List.copyOf(paused.keySet());
    }

    /** Whether every slot of the worker's queues is paused: none can be reached. */
    boolean all() {
        return enabled && paused.keySet().containsAll(queuesOf.keySet());
    }

    /** The worker's queues in {@code slot}. */
    List<QueueName> queuesOf(int slot) {
        return queuesOf.getOrDefault(slot, List.of());
    }

    /** The paused slots whose next check is due. */
    List<Integer> due() {
        long now = System.nanoTime();
        List<Integer> out = new ArrayList<>();
        paused.forEach((slot, p) -> {
            synchronized (p) {
                if (now - p.nextCheck >= 0) {
                    out.add(slot);
                }
            }
        });
        return out;
    }

    /** A check of {@code slot} failed: the next one after the backoff's next delay. */
    void checkFailed(int slot) {
        Pause p = paused.get(slot);
        if (p != null) {
            synchronized (p) {
                p.nextCheck = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff.delayMillis(p.checks++));
            }
        }
    }

    /**
     * {@code other} waits for the next check of {@code slot} and is checked with it (same time, same backoff): they share
     * a master that a check of {@code slot} found hung, and a check of each would wait for it on its own.
     */
    void checkWith(int other, int slot) {
        Pause p = paused.get(slot);
        Pause o = paused.get(other);
        if (p == null || o == null || p == o) {
            return;
        }
        long next;
        int checks;
        synchronized (p) {
            next = p.nextCheck;
            checks = p.checks;
        }
        synchronized (o) {
            o.nextCheck = next;
            o.checks = checks;
        }
    }

    /** Ends the pause of {@code slot}; returns how long it lasted in ms, or -1 if it was not paused. */
    long resume(int slot) {
        Pause p = paused.remove(slot);
        return p == null ? -1 : TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - p.since);
    }

    /** How many of the worker's queues are paused now. */
    int pausedQueues() {
        int n = 0;
        for (Integer slot : paused.keySet()) {
            n += queuesOf(slot).size();
        }
        return n;
    }
}
