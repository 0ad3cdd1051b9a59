package io.spillway.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "replay", mixinStandardHelpOptions = true, description = "Drain a journal into Redis.")
final class JournalReplayCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new CliException(ExitCodes.FAILED, "not built yet");
    }
}
