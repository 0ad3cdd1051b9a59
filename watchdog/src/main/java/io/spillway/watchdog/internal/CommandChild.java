package io.spillway.watchdog.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Any command, supervised by exit only (it has no probe). Output goes to a file or this process's own. */
public final class CommandChild implements Child {
    private final List<String> command;
    private final Path output;
    private final Path workDir;
    private final String name;

    public CommandChild(String name, List<String> command, Path output, Path workDir) {
        this.name = name;
        this.command = List.copyOf(command);
        this.output = output;
        this.workDir = workDir;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean probes() {
        return false;
    }

    @Override
    public Process launch() throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE);
        if (workDir != null) {
            pb.directory(workDir.toFile());
        }
        if (output != null) {
            pb.redirectOutput(ProcessBuilder.Redirect.appendTo(output.toFile()));
        } else {
            pb.redirectOutput(ProcessBuilder.Redirect.INHERIT);
        }
        Process p = CannotRunException.start(pb);
        // Its stdin is a pipe we never write: closing it gives the child EOF instead of our terminal.
        p.getOutputStream().close();
        return p;
    }

    @Override
    public Answer probe() {
        return Answer.READY;
    }

    @Override
    public String lastReply() {
        return "";
    }

    @Override
    public String portConflict() {
        return null;
    }

    @Override
    public String failureHint() {
        return output == null ? "" : "last output line: " + Processes.lastLine(output);
    }

    @Override
    public void release() {
    }
}
