package io.spillway.watchdog.internal;

import io.spillway.watchdog.WatchdogConfig;
import io.spillway.watchdog.WatchdogEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The supervision loop of one child, on its own thread. What the thread does:
 * <ol>
 *   <li>Launch the child. If the child probes (Redis), wait until it is ready. Any answer, even an error
 *       such as LOADING or NOAUTH, proves it alive, so a start may take as long as loading takes; a start
 *       fails only if the process exits, stays silent for the start timeout before its first answer, falls
 *       silent for the hang timeout after it, or another process answers on its port.</li>
 *   <li>Once up, add the time it was down to the downtime and publish {@code Up}.</li>
 *   <li>Watch: wake on exit at once (onExit), otherwise every probe interval; probe; if no answer has come
 *       for the hang timeout, SIGKILL it.</li>
 *   <li>On exit or hang: count a restart, report a crash loop if the window holds too many, wait a
 *       jittered exponential backoff (reset when the child had stayed up {@code stableAfter}), go to 1.</li>
 *   <li>Give up, publishing {@code Failed}, only when no restart can help: the child was never up and its
 *       program cannot be run, is a redis-server too old for its data, refuses its configuration, or its port
 *       belongs to another process; or this loop itself failed.</li>
 *   <li>On close (or giving up): stop the child's process tree (SIGCONT, SIGTERM, SIGKILL after the stop
 *       timeout).</li>
 * </ol>
 * Invariants: only this thread launches or kills children; {@link #close()} only signals it and waits.
 */
public final class Supervisor {
    private static final Logger log = LoggerFactory.getLogger("io.spillway.watchdog.Watchdog");

    private final Child child;
    private final WatchdogConfig config;
    private final Consumer<Duration> downtimeSink;
    private final Runnable restartSink;
    private final List<Consumer<WatchdogEvent>> listeners = new CopyOnWriteArrayList<>();
    private final Semaphore wake = new Semaphore(0);
    private final Thread thread;
    private final AtomicInteger restarts = new AtomicInteger();
    private final AtomicLong downtimeNanos = new AtomicLong();
    private final Deque<Long> recentRestarts = new ArrayDeque<>();
    private volatile boolean closed;
    private volatile boolean up;
    private volatile Process current;
    private volatile long pid = -1;
    private volatile WatchdogEvent.Failed failure;
    private boolean inCrashLoop;
    private boolean everUp;

    public Supervisor(String threadSuffix, Child child, WatchdogConfig config, Consumer<Duration> downtimeSink,
                      Runnable restartSink) {
        this.child = child;
        this.config = config;
        this.downtimeSink = downtimeSink;
        this.restartSink = restartSink;
        this.thread = new Thread(this::run, "spillway-watchdog-" + threadSuffix);
        this.thread.setDaemon(true);
    }

    public void onEvent(Consumer<WatchdogEvent> listener) {
        listeners.add(listener);
    }

    public void start() {
        thread.start();
    }

    public boolean isUp() {
        return up;
    }

    public long pid() {
        return pid;
    }

    public int restarts() {
        return restarts.get();
    }

    public Duration downtime() {
        return Duration.ofNanos(downtimeNanos.get());
    }

    public String name() {
        return child.name();
    }

    /** Why this loop gave up by itself, or null while it runs or after a plain close. */
    public WatchdogEvent.Failed failure() {
        return failure;
    }

    /**
     * Stops the loop and the child; returns once both are gone (or the stop timeout plus a margin passed). Before
     * {@link #start()}, releases what the child holds; the loop can then no longer be started.
     */
    public void close() {
        closed = true;
        wake.release();
        if (thread.getState() == Thread.State.NEW) {
            // Never started: there is no loop whose end releases what the child holds (a Redis data directory's lock).
            child.release();
            return;
        }
        if (Thread.currentThread() != thread && thread.isAlive()) {
            try {
                // stopTree: the grace for the child, then for what it left running, and their SIGKILLs.
                thread.join(config.stopTimeout().multipliedBy(2).plusSeconds(15).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Process p = current;
        if (p != null && p.isAlive()) {
            // The loop did not get to it in time (it was stuck): make sure nothing outlives us.
            Processes.stopTree(p.toHandle(), config.stopTimeout());
        }
    }

    private void run() {
        int failures = 0;
        long downSince = -1;
        try {
            while (!closed) {
                long launchedAt = System.nanoTime();
                Process p;
                try {
                    p = child.launch();
                } catch (CannotRunException e) {
                    if (!everUp) {
                        giveUp(WatchdogEvent.Failed.Cause.CANNOT_RUN, e.getMessage());
                        break;
                    }
                    // It ran before (the binary was moved during an upgrade?): keep trying, as for any failure.
                    downSince = downSince < 0 ? launchedAt : downSince;
                    failures = restartAfter(failures, e.getMessage(), launchedAt, true);
                    continue;
                } catch (RedisTooOldException e) {
                    if (!everUp) {
                        giveUp(WatchdogEvent.Failed.Cause.REDIS_TOO_OLD, e.getMessage());
                        break;
                    }
                    // The binary was swapped for an older one under a running watchdog: never start it, but keep
                    // trying, as for a binary that went missing, in case the right one comes back.
                    downSince = downSince < 0 ? launchedAt : downSince;
                    failures = restartAfter(failures, e.getMessage(), launchedAt, true);
                    continue;
                } catch (Exception e) {
                    downSince = downSince < 0 ? launchedAt : downSince;
                    failures = restartAfter(failures, "cannot start: " + e.getMessage(), launchedAt, true);
                    continue;
                }
                current = p;
                pid = p.pid();
                p.onExit().thenRun(wake::release);
                String notReady = awaitReady(p);
                if (closed) {
                    break;
                }
                if (notReady != null) {
                    downSince = downSince < 0 ? launchedAt : downSince;
                    boolean exited = !p.isAlive();
                    if (!exited) {
                        Processes.kill(p.toHandle());
                    }
                    String conflict = child.portConflict();
                    if (conflict != null && !everUp) {
                        giveUp(WatchdogEvent.Failed.Cause.PORT_IN_USE, conflict);
                        break;
                    }
                    // Only a child that exited by itself: one killed here was silent, and its output may hold warnings it
                    // started past.
                    String badConfig = conflict == null && exited ? child.badConfig() : null;
                    if (badConfig != null && !everUp) {
                        giveUp(WatchdogEvent.Failed.Cause.BAD_CONFIG, badConfig);
                        break;
                    }
                    String hint = child.failureHint();
                    String reason = conflict != null ? conflict : badConfig != null ? badConfig
                            : notReady + (hint.isEmpty() ? "" : "; " + hint);
                    log.warn("{}: start failed (pid {}): {}", child.name(), p.pid(), reason);
                    publish(new WatchdogEvent.StartFailed(child.name(), Instant.now(), reason));
                    failures = restartAfter(failures, reason, launchedAt, false);
                    continue;
                }
                everUp = true;
                Duration down = downSince < 0 ? Duration.ZERO : Duration.ofNanos(System.nanoTime() - downSince);
                downSince = -1;
                up = true;
                if (restarts.get() == 0) {
                    log.info("{} started (pid {})", child.name(), p.pid());
                } else {
                    downtimeNanos.addAndGet(down.toNanos());
                    downtimeSink.accept(down);
                    log.info("{} is back (pid {}) after {} ms down; restarts so far: {}", child.name(), p.pid(),
                            down.toMillis(), restarts.get());
                }
                publish(new WatchdogEvent.Up(child.name(), Instant.now(), p.pid(), restarts.get(), down));
                long[] lastAnswer = {System.nanoTime()};
                String reason = watch(p, lastAnswer);
                up = false;
                if (closed) {
                    break;
                }
                downSince = reason.startsWith("hung") ? lastAnswer[0] : System.nanoTime();
                failures = restartAfter(failures, reason, launchedAt, false);
            }
        } catch (RuntimeException | Error e) {
            // Unexpected (a bug, or a listener that threw an Error): the stack trace is for whoever fixes it.
            failure = new WatchdogEvent.Failed(child.name(), Instant.now(), WatchdogEvent.Failed.Cause.LOOP_FAILED,
                    "the watchdog loop failed and no longer supervises: " + e);
            log.error("{}: {}", child.name(), failure.reason(), e);
            publishQuietly(failure);
        } finally {
            up = false;
            Process p = current;
            boolean killed = false;
            if (p != null && p.isAlive()) {
                log.info("Stopping {} (pid {}): SIGTERM", child.name(), p.pid());
                killed = Processes.stopTree(p.toHandle(), config.stopTimeout());
                if (killed) {
                    log.warn("{} (pid {}), or a process it left running, did not exit within {} ms of SIGTERM: killed"
                            + " (SIGKILL)", child.name(), p.pid(), config.stopTimeout().toMillis());
                }
            }
            child.release();
            log.info("Watchdog for {} stopped", child.name());
            publishQuietly(new WatchdogEvent.Stopped(child.name(), Instant.now(), killed));
        }
    }

    /** Ends supervision for a cause no restart can fix; the loop's finally stops what is left. */
    private void giveUp(WatchdogEvent.Failed.Cause cause, String reason) {
        failure = new WatchdogEvent.Failed(child.name(), Instant.now(), cause, reason);
        log.error("{}: {}; the watchdog gives up (it never came up, and restarting cannot fix this)", child.name(),
                reason);
        publish(failure);
    }

    /**
     * Null once ready, else why not. Any answer proves the process alive: an error reply (LOADING, NOAUTH)
     * restarts the silence clock, so loading a large AOF takes as long as it takes; only silence fails a start.
     */
    private String awaitReady(Process p) {
        if (!child.probes()) {
            return p.isAlive() ? null : "exited at once (" + Processes.describeExit(exitCode(p)) + ")";
        }
        long launched = System.nanoTime();
        long lastAnswer = -1;
        String reported = null;
        while (!closed) {
            if (!p.isAlive()) {
                return "exited during start (" + Processes.describeExit(exitCode(p)) + ")";
            }
            Child.Answer a = child.probe();
            long now = System.nanoTime();
            switch (a) {
                case READY:
                    return null;
                case FOREIGN:
                    return child.lastReply();
                case ALIVE:
                    lastAnswer = now;
                    String reply = child.lastReply();
                    String kind = reply.split("\\s+", 2)[0];
                    if (!kind.equals(reported)) {
                        reported = kind;
                        log.info("{} (pid {}) answers but is not ready yet: {}; waiting (only silence fails a start)",
                                child.name(), p.pid(), reply);
                    }
                    break;
                default:
                    if (lastAnswer < 0 && now - launched >= config.startTimeout().toNanos()) {
                        return "did not answer PING within " + config.startTimeout().toMillis() + " ms";
                    }
                    if (lastAnswer >= 0 && now - lastAnswer >= config.hangTimeout().toNanos()) {
                        return "answered, then went silent for " + Duration.ofNanos(now - lastAnswer).toMillis()
                                + " ms while starting";
                    }
            }
            // Quick polls until the first answer (a normal start takes milliseconds); then the usual pace.
            pause(lastAnswer < 0 ? Duration.ofMillis(20) : config.probeInterval());
        }
        return "closed";
    }

    /** Watches a running child; returns why it stopped ("exited …" or "hung …"), or "closed". */
    private String watch(Process p, long[] lastAnswer) {
        while (!closed) {
            if (!p.isAlive()) {
                int code = exitCode(p);
                log.warn("{} (pid {}) exited: {}", child.name(), p.pid(), Processes.describeExit(code));
                publish(new WatchdogEvent.Exited(child.name(), Instant.now(), p.pid(), code));
                return "exited: " + Processes.describeExit(code);
            }
            if (child.probes()) {
                Child.Answer a = child.probe();
                long now = System.nanoTime();
                // A FOREIGN reply is not our server answering: for the hang check it counts as silence.
                if (a == Child.Answer.READY || a == Child.Answer.ALIVE) {
                    lastAnswer[0] = now;
                } else if (now - lastAnswer[0] >= config.hangTimeout().toNanos() && p.isAlive()) {
                    Duration silent = Duration.ofNanos(now - lastAnswer[0]);
                    log.warn("{} (pid {}) has not answered PING for {} ms: killing it (SIGKILL) and restarting",
                            child.name(), p.pid(), silent.toMillis());
                    publish(new WatchdogEvent.Hung(child.name(), Instant.now(), p.pid(), silent));
                    Processes.kill(p.toHandle());
                    return "hung: no answer for " + silent.toMillis() + " ms";
                }
            }
            pause(config.probeInterval());
        }
        return "closed";
    }

    /** Counts a restart, reports a crash loop, waits the backoff. Returns the new consecutive-failure count. */
    private int restartAfter(int failures, String reason, long launchedAt, boolean launchFailed) {
        if (launchFailed) {
            log.warn("{}: {}", child.name(), reason);
            publish(new WatchdogEvent.StartFailed(child.name(), Instant.now(), reason));
        }
        long now = System.nanoTime();
        if (now - launchedAt >= config.stableAfter().toNanos()) {
            failures = 0;
            inCrashLoop = false;
        }
        failures++;
        int n = restarts.incrementAndGet();
        restartSink.run();
        recentRestarts.addLast(now);
        while (!recentRestarts.isEmpty() && now - recentRestarts.peekFirst() > config.crashLoopWindow().toNanos()) {
            recentRestarts.removeFirst();
        }
        if (recentRestarts.size() >= config.crashLoopRestarts()) {
            if (!inCrashLoop) {
                inCrashLoop = true;
                log.error("{} is crash-looping: {} restarts in the last {} s (restarts in total: {}); last failure: {}."
                                + " It keeps being restarted, with up to {} ms between tries; fix the cause.",
                        child.name(), recentRestarts.size(), config.crashLoopWindow().toSeconds(), n, reason,
                        config.maxBackoff().toMillis());
                publish(new WatchdogEvent.CrashLoop(child.name(), Instant.now(), recentRestarts.size(),
                        config.crashLoopWindow(), reason));
            }
        } else {
            inCrashLoop = false;
        }
        Duration delay = backoff(failures);
        log.info("Restarting {} in {} ms (restart {}, {} in a row)", child.name(), delay.toMillis(), n, failures);
        publish(new WatchdogEvent.Restarting(child.name(), Instant.now(), n, delay));
        // The whole delay, as the line above says: the exit of a process this loop just killed (a hung one) wakes the
        // loop too, and must not cut the backoff short; only close() does.
        long deadline = System.nanoTime() + delay.toNanos();
        long left;
        while (!closed && (left = deadline - System.nanoTime()) > 0) {
            pause(Duration.ofNanos(left));
        }
        return failures;
    }

    /** Exponential from the initial backoff, capped, then a random 50–100 % of it (jitter). */
    Duration backoff(int failures) {
        double step = config.initialBackoff().toNanos() * Math.pow(2, Math.min(30, failures - 1));
        double capped = Math.min(step, config.maxBackoff().toNanos());
        double jittered = capped * (0.5 + 0.5 * ThreadLocalRandom.current().nextDouble());
        return Duration.ofNanos((long) jittered);
    }

    private void pause(Duration d) {
        if (closed) {
            return;
        }
        try {
            if (wake.tryAcquire(d.toNanos(), TimeUnit.NANOSECONDS)) {
                wake.drainPermits();
            }
        } catch (InterruptedException e) {
            closed = true;
            Thread.currentThread().interrupt();
        }
    }

    private static int exitCode(Process p) {
        try {
            return p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** For the last events of a loop that may be failing because a listener threw an Error. */
    private void publishQuietly(WatchdogEvent e) {
        try {
            publish(e);
        } catch (Error again) {
            log.debug("Watchdog event listener failed on {}", e, again);
        }
    }

    private void publish(WatchdogEvent e) {
        for (Consumer<WatchdogEvent> l : listeners) {
            try {
                l.accept(e);
            } catch (RuntimeException ex) {
                log.debug("Watchdog event listener failed on {}", e, ex);
            }
        }
    }
}
