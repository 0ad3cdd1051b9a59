package io.spillway.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "demo", mixinStandardHelpOptions = true, description = "Run the chaos demo.")
final class DemoCommand implements Callable<Integer> {
    static Path logFile(String[] args) {
        return Path.of(System.getProperty("java.io.tmpdir"), "spillway-demo.log");
    }

    @Override
    public Integer call() {
        throw new CliException(ExitCodes.FAILED, "not built yet");
    }
}
