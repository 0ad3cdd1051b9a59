package io.spillway.watchdog.internal;

import java.io.IOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The program of a child cannot be run at all: the file is missing, not executable or not a program.
 * Unlike a fork that fails for want of memory, trying again does not help.
 */
public final class CannotRunException extends IOException {
    public CannotRunException(String message, IOException cause) {
        super(message, cause);
    }

    /**
     * ENOENT, EACCES, ENOEXEC as Java reports them: "error=2, No such file or directory" (JDK 17) or "Exec failed,
     * error: 2 (No such file or directory)" (JDK 21 and later, through jspawnhelper).
     */
    private static final Pattern BAD_PROGRAM = Pattern.compile(
            "error=(?:2|8|13), ([^\\n]*)|error: (?:2|8|13) \\(([^)]*)\\)");

    /**
     * Starts a process, turning the failures that name a bad program (ENOENT, EACCES, ENOEXEC) into a
     * {@link CannotRunException}.
     */
    static Process start(ProcessBuilder pb) throws IOException {
        try {
            return pb.start();
        } catch (IOException e) {
            String why = badProgram(e.getMessage());
            if (why != null) {
                throw new CannotRunException("cannot run '" + pb.command().get(0) + "': " + why, e);
            }
            throw e;
        }
    }

    /** The reason a failed start's message gives when the program itself cannot run; null for any other failure. */
    static String badProgram(String message) {
        Matcher m = BAD_PROGRAM.matcher(String.valueOf(message));
        if (!m.find()) {
            return null;
        }
        return (m.group(1) != null ? m.group(1) : m.group(2)).trim();
    }
}
