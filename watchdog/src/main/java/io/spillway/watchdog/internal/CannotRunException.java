package io.spillway.watchdog.internal;

import java.io.IOException;

/**
 * The program of a child cannot be run at all: the file is missing, not executable or not a program.
 * Unlike a fork that fails for want of memory, trying again does not help.
 */
public final class CannotRunException extends IOException {
    public CannotRunException(String message, IOException cause) {
        super(message, cause);
    }

    /**
     * Starts a process, turning the failures that name a bad program (ENOENT, EACCES, ENOEXEC, as Java
     * reports them: "error=2, No such file or directory") into a {@link CannotRunException}.
     */
    static Process start(ProcessBuilder pb) throws IOException {
        try {
            return pb.start();
        } catch (IOException e) {
            String m = String.valueOf(e.getMessage());
            if (m.contains("error=2,") || m.contains("error=13,") || m.contains("error=8,")) {
                String why = m.substring(m.lastIndexOf(',') + 1).trim();
                throw new CannotRunException("cannot run '" + pb.command().get(0) + "': " + why, e);
            }
            throw e;
        }
    }
}
