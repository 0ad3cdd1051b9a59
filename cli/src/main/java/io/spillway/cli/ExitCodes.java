package io.spillway.cli;

/** The exit codes of every command, in one place (documented in docs/operations.md). */
final class ExitCodes {
    /** Success; for doctor: no finding that loses jobs. */
    static final int OK = 0;
    /** The command ran and found a problem: a doctor finding that loses jobs, a demo that lost jobs, a failed step. */
    static final int FAILED = 1;
    /**
     * Bad input: unknown option, bad value, missing argument (picocli's own code for usage errors); also credentials
     * Redis or the sentinels refuse, given or not (NOAUTH, WRONGPASS: the fix is the {@code --redis} URI, or the
     * sentinels' options), a URI of the wrong kind of server (a sentinel as {@code redis://}), and a {@code --listen}
     * address already in use.
     */
    static final int USAGE = 2;
    /**
     * Redis could not be reached (refused, timed out, DNS), or a Redis Cluster refuses commands (CLUSTERDOWN), or a
     * master of one does not answer ({@code status}, {@code doctor}, after printing the rest): one-shot commands only;
     * {@code report} keeps running.
     */
    static final int UNREACHABLE = 3;

    private ExitCodes() {
    }
}
