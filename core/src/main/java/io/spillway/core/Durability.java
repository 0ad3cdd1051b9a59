package io.spillway.core;

/**
 * How hard a spooled job is on disk before {@code enqueue} returns.
 */
public enum Durability {
    /**
     * The record is in the operating system's page cache: it survives a crash or kill -9 of the
     * process, not a power cut or kernel panic. About half a microsecond per job. The default.
     */
    PROCESS_CRASH,
    /**
     * The record is forced to the disk (fsync) before enqueue returns: it survives a power cut too.
     * Costs roughly 0.1–0.2 ms per spooled job on an SSD, more on a network disk.
     */
    POWER_LOSS
}
