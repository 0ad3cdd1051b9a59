package io.spillway.cli;

import com.codahale.metrics.MetricRegistry;
import io.spillway.watchdog.RedisServerConfig;
import io.spillway.watchdog.Watchdog;
import io.spillway.watchdog.WatchdogConfig;
import io.spillway.watchdog.WatchdogEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Runs a watchdog in the foreground until Ctrl-C / SIGTERM, which stops the child cleanly. */
@Command(name = "watchdog", mixinStandardHelpOptions = true,
        description = {"Keep a redis-server (or, with --exec, any command) running, in the foreground.",
                "Which redis-server: --redis-server if given, else the one named by SPILLWAY_REDIS_SERVER, else"
                        + " redis-server on PATH, else the 6.2 binary embedded in spillway. It runs with settings that keep"
                        + " jobs (AOF everysec, noeviction, its own data dir). The child is restarted when it exits or"
                        + " (Redis) stops answering PING for --hang-timeout; any reply, LOADING included, is an answer.",
                "Ctrl-C or SIGTERM stops the child (SIGTERM, then SIGKILL after --stop-timeout) and exits.",
                "Exits 2 if the program cannot be run, is a redis-server older than 7.0 over data that Redis 7 wrote"
                        + " (it would start empty), or Redis refuses its configuration (a --set it does not take, a --bind"
                        + " address not of this machine); 1 if the watchdog gives up (another process holds the port, or its"
                        + " own loop failed)."},
        footer = {"", "Examples:", "  spillway watchdog --port 6390 --dir /var/lib/spillway/redis",
                "  spillway watchdog --exec -- java -jar my-worker.jar"})
final class WatchdogCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "6379", description = "Redis port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--bind", defaultValue = RedisServerConfig.DEFAULT_BIND, description = "Redis bind address(es) (default: ${DEFAULT-VALUE}).")
    String bind;

    @Option(names = "--dir", paramLabel = "DIR", description = "Redis data directory (default: ./spillway-redis-<port>).")
    Path dir;

    @Option(names = "--redis-server", paramLabel = "PATH",
            description = "The redis-server binary to run (default: SPILLWAY_REDIS_SERVER, else redis-server on PATH,"
                    + " else the embedded 6.2).")
    Path binary;

    @Option(names = "--maxmemory", paramLabel = "SIZE", description = "Redis maxmemory, e.g. 512mb (default: none).")
    String maxMemory;

    @Option(names = "--set", paramLabel = "NAME=VALUE",
            description = "Any other redis.conf directive (repeatable). A NAME given again replaces its earlier value,"
                    + " except rename-command, client-output-buffer-limit, user, save, include and loadmodule, which"
                    + " Redis reads several lines of: each --set of these is one more line.")
    List<String> settings;

    @Option(names = "--exec", description = "Supervise the command given after '--' instead of Redis.")
    boolean exec;

    @Option(names = "--output", paramLabel = "FILE", description = "With --exec: append the command's output to FILE (default: this terminal).")
    Path output;

    @Option(names = "--hang-timeout", paramLabel = "MS", defaultValue = "3000",
            description = "Redis: kill and restart after this long without a PING answer (default: ${DEFAULT-VALUE}).")
    long hangTimeoutMs;

    @Option(names = "--start-timeout", paramLabel = "MS", defaultValue = "60000",
            description = "Redis: a start that has not answered PING at all for this long has failed; once it answers"
                    + " (LOADING too), only --hang-timeout of silence fails it (default: ${DEFAULT-VALUE}).")
    long startTimeoutMs;

    @Option(names = "--max-backoff", paramLabel = "MS", defaultValue = "10000", description = "Longest wait between restarts (default: ${DEFAULT-VALUE}).")
    long maxBackoffMs;

    @Option(names = "--stop-timeout", paramLabel = "MS", defaultValue = "10000",
            description = "On exit, SIGKILL the child if it has not stopped this long after SIGTERM (default: ${DEFAULT-VALUE}).")
    long stopTimeoutMs;

    @Parameters(paramLabel = "COMMAND", arity = "0..*", description = "With --exec: the program and its arguments.")
    List<String> command;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Options of the Redis watchdog that mean nothing with --exec, and the other way round. */
    private static final List<String> REDIS_ONLY = List.of("--port", "--bind", "--dir", "--redis-server", "--maxmemory",
            "--set", "--hang-timeout", "--start-timeout");
    private static final List<String> EXEC_ONLY = List.of("--output");
    /** A {@link Duration#toString()} in a config's message. */
    private static final java.util.regex.Pattern ISO_DURATION = java.util.regex.Pattern.compile("-?PT[-0-9.HMS]+");

    @Override
    public Integer call() throws InterruptedException {
        WatchdogConfig config = config();
        Watchdog.Builder b = Watchdog.builder().config(config).metrics(new MetricRegistry());
        picocli.CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
        List<String> misplaced = (exec ? REDIS_ONLY : EXEC_ONLY).stream().filter(parsed::hasMatchedOption).toList();
        if (!misplaced.isEmpty()) {
            // Silently ignored, they would leave the user believing they took effect.
            throw new CliException(ExitCodes.USAGE, String.join(", ", misplaced) + (misplaced.size() == 1 ? " applies" : " apply")
                    + (exec ? " to the Redis watchdog, not to --exec" : " to --exec only"));
        }
        if (exec) {
            if (command == null || command.isEmpty()) {
                throw new CliException(ExitCodes.USAGE, "--exec needs a command after '--', e.g. --exec -- java -jar worker.jar");
            }
            b.command(command);
            if (output != null) {
                b.output(output);
            }
        } else {
            if (command != null && !command.isEmpty()) {
                throw new CliException(ExitCodes.USAGE, "unexpected arguments " + command + " (did you mean --exec?)");
            }
            if (binary != null && !(Files.isRegularFile(binary) && Files.isExecutable(binary))) {
                throw new CliException(ExitCodes.USAGE, "--redis-server " + binary + " is not an executable file");
            }
            b.redis(redisConfig());
        }
        Watchdog w = b.build();
        w.start();
        spec.commandLine().getOut().println("Watchdog running " + w.childName() + (exec ? "" : " (" + w.redis().uri()
                + ", data in " + w.redis().dataDir() + ")") + ". Ctrl-C stops it.");
        spec.commandLine().getOut().flush();
        // The watchdog's shutdown hook stops the child on Ctrl-C/SIGTERM; this thread waits for that, or for the
        // watchdog to give up by itself, which is a failure of this command and must not exit 0.
        w.awaitStopped();
        Optional<WatchdogEvent.Failed> failure = w.failure();
        if (failure.isPresent()) {
            w.close();
            WatchdogEvent.Failed f = failure.get();
            boolean badInput = f.cause() == WatchdogEvent.Failed.Cause.CANNOT_RUN
                    || f.cause() == WatchdogEvent.Failed.Cause.REDIS_TOO_OLD
                    || f.cause() == WatchdogEvent.Failed.Cause.BAD_CONFIG;
            throw new CliException(badInput ? ExitCodes.USAGE : ExitCodes.FAILED, f.reason());
        }
        return ExitCodes.OK;
    }

    WatchdogConfig config() {
        try {
            return WatchdogConfig.custom()
                    .hangTimeout(Duration.ofMillis(hangTimeoutMs))
                    .startTimeout(Duration.ofMillis(startTimeoutMs))
                    .maxBackoff(Duration.ofMillis(maxBackoffMs))
                    .stopTimeout(Duration.ofMillis(stopTimeoutMs))
                    .build();
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, inMillis(e.getMessage().replace("hangTimeout", "--hang-timeout")
                    .replace("startTimeout", "--start-timeout").replace("maxBackoff", "--max-backoff")
                    .replace("stopTimeout", "--stop-timeout")));
        }
    }

    /** The config's message with its durations ({@code PT0S}, ISO-8601) in milliseconds, the unit of the options. */
    static String inMillis(String message) {
        java.util.regex.Matcher m = ISO_DURATION.matcher(message);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String ms;
            try {
                ms = Duration.parse(m.group()).toMillis() + " ms";
            } catch (RuntimeException notADuration) {
                ms = m.group();
            }
            m.appendReplacement(out, java.util.regex.Matcher.quoteReplacement(ms));
        }
        return m.appendTail(out).toString();
    }

    RedisServerConfig redisConfig() {
        try {
            RedisServerConfig.Builder r = RedisServerConfig.custom().port(port).bind(bind);
            if (dir != null) {
                r.dataDir(dir);
            }
            if (binary != null) {
                r.binary(binary);
            }
            if (maxMemory != null) {
                r.maxMemory(maxMemory);
            }
            if (settings != null) {
                for (String s : settings) {
                    int eq = s.indexOf('=');
                    if (eq <= 0) {
                        String shown = s.toLowerCase(java.util.Locale.ROOT).matches(".*(pass|auth).*")
                                ? "not shown: it may hold a password" : "'" + s + "'";
                        throw new IllegalArgumentException("--set wants NAME=VALUE, but was " + shown);
                    }
                    r.setting(s.substring(0, eq).trim(), s.substring(eq + 1).trim());
                }
            }
            return r.build();
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
    }
}
