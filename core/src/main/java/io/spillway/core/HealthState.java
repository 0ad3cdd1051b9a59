package io.spillway.core;

/**
 * The connection to Redis as the reconnect loop sees it.
 * {@code CONNECTED → DISCONNECTED → RECOVERING → CONNECTED}, and {@code CLOSED} once the component is closed.
 */
public enum HealthState {
    /** Redis takes writes; enqueues go straight to it. */
    CONNECTED,
    /** Redis is away; enqueues spool to the journal and the reconnect loop probes with backoff. */
    DISCONNECTED,
    /** Redis is healthy again; the journal is being replayed before direct enqueues resume. */
    RECOVERING,
    /** The component (producer or worker) is closed: it takes no more work and no longer talks to Redis. */
    CLOSED;

    /** The value of the connection-state gauges: 0 connected, 1 disconnected, 2 recovering, 3 closed. */
    public int gaugeValue() {
        return ordinal();
    }
}
