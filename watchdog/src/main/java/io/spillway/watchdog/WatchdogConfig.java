package io.spillway.watchdog;

import io.spillway.watchdog.internal.Arguments;
import java.time.Duration;

/**
 * How a {@link Watchdog} supervises its child: how often it checks, when it declares a hang, how it
 * backs off between restarts, when it calls a crash loop, and how long it waits for a clean stop.
 * Immutable; build with {@link #custom()} or take {@link #ofDefaults()}.
 *
 * <p>Defaults (each a {@code DEFAULT_*} constant):
 * <table>
 *   <caption>defaults</caption>
 *   <tr><td>probeInterval</td><td>250 ms</td><td>time between PINGs (redis only)</td></tr>
 *   <tr><td>probeTimeout</td><td>500 ms</td><td>one PING's connect/read timeout</td></tr>
 *   <tr><td>hangTimeout</td><td>3 s</td><td>no answer for this long: SIGKILL and restart</td></tr>
 *   <tr><td>startTimeout</td><td>60 s</td><td>a start that has not answered at all for this long has failed. Any
 *       answer, an error reply such as LOADING or NOAUTH included, proves it alive: from then on only silence for
 *       the hang timeout fails the start, so loading a large AOF takes as long as it takes</td></tr>
 *   <tr><td>initialBackoff / maxBackoff</td><td>100 ms / 10 s</td><td>restart delay, doubling per
 *       consecutive failure, with jitter (a random 50–100 % of the step)</td></tr>
 *   <tr><td>stableAfter</td><td>30 s</td><td>a child up this long resets the backoff</td></tr>
 *   <tr><td>crashLoopRestarts / crashLoopWindow</td><td>5 in 60 s</td><td>an ERROR line reports a crash loop</td></tr>
 *   <tr><td>stopTimeout</td><td>10 s</td><td>after SIGTERM, wait this long before SIGKILL</td></tr>
 * </table>
 *
 * <pre>{@code
 * WatchdogConfig config = WatchdogConfig.custom()
 *         .hangTimeout(Duration.ofSeconds(5))
 *         .maxBackoff(Duration.ofSeconds(30))
 *         .build();
 * }</pre>
 */
public final class WatchdogConfig {
    public static final Duration DEFAULT_PROBE_INTERVAL = Duration.ofMillis(250);
    public static final Duration DEFAULT_PROBE_TIMEOUT = Duration.ofMillis(500);
    public static final Duration DEFAULT_HANG_TIMEOUT = Duration.ofSeconds(3);
    public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(60);
    public static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofMillis(100);
    public static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(10);
    public static final Duration DEFAULT_STABLE_AFTER = Duration.ofSeconds(30);
    public static final int DEFAULT_CRASH_LOOP_RESTARTS = 5;
    public static final Duration DEFAULT_CRASH_LOOP_WINDOW = Duration.ofSeconds(60);
    public static final Duration DEFAULT_STOP_TIMEOUT = Duration.ofSeconds(10);

    private static final WatchdogConfig DEFAULTS = custom().build();

    private final Duration probeInterval;
    private final Duration probeTimeout;
    private final Duration hangTimeout;
    private final Duration startTimeout;
    private final Duration initialBackoff;
    private final Duration maxBackoff;
    private final Duration stableAfter;
    private final int crashLoopRestarts;
    private final Duration crashLoopWindow;
    private final Duration stopTimeout;

    private WatchdogConfig(Builder b) {
        this.probeInterval = b.probeInterval;
        this.probeTimeout = b.probeTimeout;
        this.hangTimeout = b.hangTimeout;
        this.startTimeout = b.startTimeout;
        this.initialBackoff = b.initialBackoff;
        this.maxBackoff = b.maxBackoff;
        this.stableAfter = b.stableAfter;
        this.crashLoopRestarts = b.crashLoopRestarts;
        this.crashLoopWindow = b.crashLoopWindow;
        this.stopTimeout = b.stopTimeout;
    }

    public static WatchdogConfig ofDefaults() {
        return DEFAULTS;
    }

    public static Builder custom() {
        return new Builder();
    }

    /** A builder that starts from this config's values. */
    public Builder toBuilder() {
        return new Builder().probeInterval(probeInterval).probeTimeout(probeTimeout).hangTimeout(hangTimeout)
                .startTimeout(startTimeout).initialBackoff(initialBackoff).maxBackoff(maxBackoff)
                .stableAfter(stableAfter).crashLoop(crashLoopRestarts, crashLoopWindow).stopTimeout(stopTimeout);
    }

    public Duration probeInterval() {
        return probeInterval;
    }

    public Duration probeTimeout() {
        return probeTimeout;
    }

    public Duration hangTimeout() {
        return hangTimeout;
    }

    public Duration startTimeout() {
        return startTimeout;
    }

    public Duration initialBackoff() {
        return initialBackoff;
    }

    public Duration maxBackoff() {
        return maxBackoff;
    }

    public Duration stableAfter() {
        return stableAfter;
    }

    public int crashLoopRestarts() {
        return crashLoopRestarts;
    }

    public Duration crashLoopWindow() {
        return crashLoopWindow;
    }

    public Duration stopTimeout() {
        return stopTimeout;
    }

    @Override
    public String toString() {
        return "WatchdogConfig[probeInterval=" + probeInterval + ", probeTimeout=" + probeTimeout + ", hangTimeout="
                + hangTimeout + ", startTimeout=" + startTimeout + ", backoff=" + initialBackoff + ".." + maxBackoff
                + ", stableAfter=" + stableAfter + ", crashLoop=" + crashLoopRestarts + " in " + crashLoopWindow
                + ", stopTimeout=" + stopTimeout + "]";
    }

    /** Builds a {@link WatchdogConfig}. Setters fail fast with the bad value in the message. */
    public static final class Builder {
        private Duration probeInterval = DEFAULT_PROBE_INTERVAL;
        private Duration probeTimeout = DEFAULT_PROBE_TIMEOUT;
        private Duration hangTimeout = DEFAULT_HANG_TIMEOUT;
        private Duration startTimeout = DEFAULT_START_TIMEOUT;
        private Duration initialBackoff = DEFAULT_INITIAL_BACKOFF;
        private Duration maxBackoff = DEFAULT_MAX_BACKOFF;
        private Duration stableAfter = DEFAULT_STABLE_AFTER;
        private int crashLoopRestarts = DEFAULT_CRASH_LOOP_RESTARTS;
        private Duration crashLoopWindow = DEFAULT_CRASH_LOOP_WINDOW;
        private Duration stopTimeout = DEFAULT_STOP_TIMEOUT;

        private Builder() {
        }

        public Builder probeInterval(Duration d) {
            this.probeInterval = positive("probeInterval", d);
            return this;
        }

        public Builder probeTimeout(Duration d) {
            this.probeTimeout = positive("probeTimeout", d);
            return this;
        }

        public Builder hangTimeout(Duration d) {
            this.hangTimeout = positive("hangTimeout", d);
            return this;
        }

        public Builder startTimeout(Duration d) {
            this.startTimeout = positive("startTimeout", d);
            return this;
        }

        public Builder initialBackoff(Duration d) {
            this.initialBackoff = positive("initialBackoff", d);
            return this;
        }

        public Builder maxBackoff(Duration d) {
            this.maxBackoff = positive("maxBackoff", d);
            return this;
        }

        public Builder stableAfter(Duration d) {
            this.stableAfter = positive("stableAfter", d);
            return this;
        }

        /** A crash loop is {@code restarts} restarts within {@code window}. */
        public Builder crashLoop(int restarts, Duration window) {
            if (restarts < 1) {
                throw new IllegalArgumentException("crashLoop restarts must be >= 1, but was " + restarts);
            }
            this.crashLoopRestarts = restarts;
            this.crashLoopWindow = positive("crashLoop window", window);
            return this;
        }

        public Builder stopTimeout(Duration d) {
            this.stopTimeout = positive("stopTimeout", d);
            return this;
        }

        public WatchdogConfig build() {
            if (maxBackoff.compareTo(initialBackoff) < 0) {
                throw new IllegalArgumentException("maxBackoff must be >= initialBackoff (" + initialBackoff
                        + "), but was " + maxBackoff);
            }
            if (hangTimeout.compareTo(probeTimeout) < 0) {
                throw new IllegalArgumentException("hangTimeout must be >= probeTimeout (" + probeTimeout
                        + "), but was " + hangTimeout);
            }
            return new WatchdogConfig(this);
        }

        private static Duration positive(String name, Duration d) {
            Arguments.notNull(d, name);
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException(name + " must be > 0, but was " + d);
            }
            return d;
        }
    }
}
