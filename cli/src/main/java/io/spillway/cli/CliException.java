package io.spillway.cli;

/**
 * A command failed in a way the user can act on: the message is the whole one-line reason printed to
 * stderr, with no stack trace; {@code exitCode} is the process exit code.
 */
final class CliException extends RuntimeException {
    private final int exitCode;

    CliException(int exitCode, String message) {
        super(message, null, false, false);
        this.exitCode = exitCode;
    }

    int exitCode() {
        return exitCode;
    }
}
