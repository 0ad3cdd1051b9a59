package io.spillway.core;

/**
 * The connection to Redis as the reconnect loop sees it.
 * {@code CONNECTED → DISCONNECTED → RECOVERING → CONNECTED}.
 */
public enum HealthState {
    /** Redis takes writes; enqueues go straight to it. */
    CONNECTED,
    /** Redis is away; enqueues spool to the journal and the reconnect loop probes with backoff. */
    DISCONNECTED,
    /** Redis is healthy again; the journal is being replayed before direct enqueues resume. */
    RECOVERING;

    /** The value of the circuit-state gauges: 0 connected, 1 disconnected, 2 recovering. */
    public int gaugeValue() {
        return ordinal();
    }
}
