package io.spillway.cli;

import io.spillway.core.RedisUnavailableException;
import io.spillway.core.SpillwayException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code spillway} command-line tool. Every command has {@code --help}; a failure prints one line,
 * {@code spillway <command>: <reason>}, on stderr and exits non-zero (see {@link ExitCodes}): 2 for bad
 * input (refused credentials included), 3 for an unreachable Redis, 1 when the command ran and found a problem. Set
 * {@code SPILLWAY_DEBUG=1} to get stack traces as well.
 *
 * <pre>{@code
 * java -jar cli/target/spillway.jar demo
 * java -jar cli/target/spillway.jar status --redis redis://10.0.0.5:6379 --json
 * }</pre>
 */
@Command(name = "spillway", mixinStandardHelpOptions = true, versionProvider = SpillwayCli.Version.class,
        description = "Background jobs through Redis that are never lost: tools to run, inspect and repair them.",
        subcommands = {DemoCommand.class, StatusCommand.class, JournalCommand.class, DlqCommand.class,
                CancelCommand.class, PauseCommand.class, ResumeCommand.class, DoctorCommand.class, WatchdogCommand.class,
                ReportCommand.class, ScheduleCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Exit codes: 0 ok, 1 the command found a problem, 2 bad input (credentials Redis refuses included),"
                + " 3 Redis unreachable."})
public final class SpillwayCli implements Runnable {
    /** Commands whose log lines the user wants to see on the console. */
    private static final Set<String> CHATTY = Set.of("watchdog", "report");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        configureJvm(args);
        PrintWriter out = new PrintWriter(new java.io.OutputStreamWriter(System.out, StandardCharsets.UTF_8), true);
        PrintWriter err = new PrintWriter(new java.io.OutputStreamWriter(System.err, StandardCharsets.UTF_8), true);
        int code = run(args, out, err);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /**
     * What {@link #main} sets before any Chronicle class or logger exists (system properties these read once):
     * Chronicle quiet, the journal warm-up off except for the demo, and logging for the command about to run.
     */
    static void configureJvm(String[] args) {
        // Before any Chronicle class loads: no analytics phone-home, no banner.
        setIfAbsent("chronicle.analytics.disable", "true");
        setIfAbsent("chronicle.announcer.disable", "true");
        if (!commandName(args).equals("demo")) {
            // The journal's one-off warm-up (appends to a scratch journal, for a producer's first spool) is of no
            // use to a tool that only inspects a journal, and should not write next to it.
            setIfAbsent("spillway.warmUpAppends", "0");
        }
        configureLogging(args);
    }

    /** Runs one command line in this JVM and returns its exit code (what {@link #main} exits with). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        setIfAbsent("chronicle.analytics.disable", "true");
        setIfAbsent("chronicle.announcer.disable", "true");
        CommandLine cli = new CommandLine(new SpillwayCli());
        withVersion(cli);
        cli.setOut(out);
        cli.setErr(err);
        cli.setParameterExceptionHandler((ex, arguments) -> {
            CommandLine cmd = ex.getCommandLine();
            String name = cmd.getCommandSpec().qualifiedName();
            cmd.getErr().println(name + ": " + ex.getMessage() + " (see '" + name + " --help')");
            cmd.getErr().flush();
            return ExitCodes.USAGE;
        });
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            String name = cmd.getCommandSpec().qualifiedName();
            int code;
            String message;
            if (ex instanceof CliException ce) {
                code = ce.exitCode();
                message = ce.getMessage();
            } else if (ex instanceof RedisUnavailableException) {
                code = ExitCodes.UNREACHABLE;
                message = ex.getMessage();
            } else if (ex instanceof SpillwayException || ex instanceof IllegalArgumentException
                    || ex instanceof IllegalStateException || ex instanceof java.io.UncheckedIOException) {
                code = ex instanceof IllegalArgumentException ? ExitCodes.USAGE : ExitCodes.FAILED;
                message = ex.getMessage();
            } else {
                code = ExitCodes.FAILED;
                message = "unexpected error: " + ex;
            }
            cmd.getErr().println(name + ": " + oneLine(message));
            if (System.getenv("SPILLWAY_DEBUG") != null) {
                ex.printStackTrace(cmd.getErr());
            }
            cmd.getErr().flush();
            return code;
        });
        return cli.execute(args);
    }

    /** Every command has -V (mixinStandardHelpOptions), but only the one with a version provider prints anything. */
    private static void withVersion(CommandLine cmd) {
        cmd.getCommandSpec().versionProvider(new Version());
        cmd.getSubcommands().values().forEach(SpillwayCli::withVersion);
    }

    /**
     * The subcommand a command line runs: its first word that is not an option (the tool's own options,
     * --help and --version, take no value), or "" if there is none. Only this position counts: the word
     * "demo" elsewhere is a value, as in {@code dlq list -q demo} (the demo's own queue).
     */
    static String commandName(String[] args) {
        for (String a : args) {
            if (!a.startsWith("-")) {
                return a;
            }
        }
        return "";
    }

    static String oneLine(String message) {
        if (message == null) {
            return "failed";
        }
        int nl = message.indexOf('\n');
        return (nl < 0 ? message : message.substring(0, nl)).trim();
    }

    private static void configureLogging(String[] args) {
        // slf4j-simple reads these once, at its first use: so here, before any logger exists.
        String command = commandName(args);
        boolean chatty = CHATTY.contains(command);
        boolean demo = command.equals("demo");
        if (demo) {
            // The demo prints its own story; library log lines go to a file, named in its summary.
            setIfAbsent("org.slf4j.simpleLogger.logFile", DemoCommand.logFile(args).toString());
        }
        setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", chatty || demo ? "info" : "warn");
        setIfAbsent("org.slf4j.simpleLogger.showDateTime", "true");
        setIfAbsent("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        setIfAbsent("org.slf4j.simpleLogger.showThreadName", "false");
        setIfAbsent("org.slf4j.simpleLogger.showShortLogName", "true");
        // Chronicle's own chatter (file rolls, forced unlocks after a kill) is normal recovery.
        setIfAbsent("org.slf4j.simpleLogger.log.net.openhft", "warn");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** The version from the jar's manifest, or "dev" when run from classes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = SpillwayCli.class.getPackage().getImplementationVersion();
            return new String[] {"spillway " + (v == null ? "0.1.0-SNAPSHOT" : v)};
        }
    }
}
