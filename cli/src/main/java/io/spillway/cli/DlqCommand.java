package io.spillway.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "dlq", mixinStandardHelpOptions = true, description = "Dead letters: list, show, retry, purge.")
final class DlqCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new CliException(ExitCodes.FAILED, "not built yet");
    }
}
