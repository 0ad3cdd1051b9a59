package io.spillway.cli;

import io.spillway.worker.Queues;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code resume QUEUE...}: resumes queues paused by {@code spillway pause} ({@link PauseCommand}), as
 * {@link Queues#resume} does. A queue that was not paused is left as it is; either way the exit code is 0.
 */
@Command(name = "resume", mixinStandardHelpOptions = true,
        description = {"Resume queues paused with 'spillway pause': workers take jobs from them again.",
                "Workers notice within about a second and take the jobs that waited in the meantime.",
                "A queue that was not paused is left as it is (its line says so). Exit code 0 either way."},
        footer = {"", "Examples:", "  spillway resume --redis redis://10.0.0.5:6379 images"})
final class ResumeCommand implements Callable<Integer> {
    @Mixin
    RedisOptions redis;

    @Parameters(arity = "1..*", paramLabel = "QUEUE", description = "Queues to resume.")
    List<String> queues;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        List<String> names = PauseCommand.validNames(queues); // every name first: bad input resumes nothing
        PauseCommand.run(redis, names, json, spec, "resuming", false,
                (qs, q) -> new PauseCommand.Row(q, false, qs.resume(q), null, null),
                row -> row.changed() ? "resumed" : "was not paused");
        return ExitCodes.OK;
    }
}
