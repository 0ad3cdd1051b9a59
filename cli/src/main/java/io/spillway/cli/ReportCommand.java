package io.spillway.cli;

import io.spillway.metrics.SpillwayReporting;
import io.spillway.metrics.StandaloneReporter;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code spillway report}: one exporter per Redis, in the foreground. */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = {"Export a Redis's queue figures (and journal backlogs) as metrics, in the foreground.",
                "Reads every queue (waiting, in flight, delayed, dead, workers) from Redis and the backlog of the given"
                        + " journal directories, and serves them as Prometheus text on /metrics with /health as JSON;"
                        + " optionally also to the console, CSV files, SLF4J or JMX. Ctrl-C stops it.",
                "Redis need not be up, at start or later: it starts and serves at once, /health answers 503"
                        + " ('Redis ... unreachable: ...'), /metrics has the journal figures, and the queue figures appear"
                        + " once Redis answers (read again with backoff, forever). It never exits for an unreachable Redis."},
        footer = {"", "Examples:", "  spillway report --redis redis://10.0.0.5:6379 --listen 0.0.0.0:9477",
                "  spillway report --journal /var/lib/app/spillway --console 10"})
final class ReportCommand implements Callable<Integer> {
    @Mixin
    RedisOptions redis;

    @Option(names = "--journal", paramLabel = "DIR", description = {"A producer's journal directory to report on (repeatable).",
            "It must exist (a journal, or an empty directory a producer has not opened yet); it is read read-only every 30 s,"
                    + " and the journal health check fails while it is missing or cannot be read.",
            "One a running producer holds is read read-only too: the journal health check tells its backlog (that producer"
                    + " replays it itself), the journal gauges leave it out (that producer exports it)."})
    List<Path> journals;

    @Option(names = "--journal-max-bytes", paramLabel = "BYTES",
            description = {"The journalMaxBytes of those journals' producers (a journal does not record it; producers default"
                    + " to 1073741824, 1 GiB). Exported as spillway.journal.max.bytes; the journal health check fails when a"
                    + " journal's backlog reaches 90 %% of it. Default: not checked."})
    Long journalMaxBytes;

    @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:" + SpillwayReporting.DEFAULT_PORT,
            description = "Where to serve /metrics and /health (default: ${DEFAULT-VALUE}; port 0 = any free port).")
    String listen;

    @Option(names = "--no-http", description = "Do not serve /metrics and /health.")
    boolean noHttp;

    @Option(names = "--console", paramLabel = "SECONDS", description = "Also print every metric to the console this often.")
    Integer consoleSeconds;

    @Option(names = "--csv", paramLabel = "DIR", description = "Also write CSV files (one per metric) into DIR, every 10 s.")
    Path csvDir;

    @Option(names = "--slf4j", paramLabel = "SECONDS", description = "Also log every metric (logger io.spillway.metrics) this often.")
    Integer slf4jSeconds;

    @Option(names = "--jmx", description = "Also expose the metrics as JMX MBeans.")
    boolean jmx;

    @Option(names = "--refresh", paramLabel = "MS", defaultValue = "5000",
            description = "How often to read the queues from Redis (default: ${DEFAULT-VALUE}).")
    long refreshMs;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        if (refreshMs <= 0) {
            throw new CliException(ExitCodes.USAGE, "--refresh must be > 0, but was " + refreshMs);
        }
        String host;
        int port;
        int colon = listen.lastIndexOf(':');
        try {
            host = listen.substring(0, colon);
            port = Integer.parseInt(listen.substring(colon + 1));
        } catch (RuntimeException e) {
            throw new CliException(ExitCodes.USAGE, "--listen must be HOST:PORT, but was '" + listen + "'");
        }
        if (port < 0 || port > 65_535 || host.isBlank()) {
            throw new CliException(ExitCodes.USAGE, "--listen must be HOST:PORT with a port in 0..65535, but was '" + listen + "'");
        }
        boolean everyInterface = requireLocalAddress(host).isAnyLocalAddress();
        positive("--console", consoleSeconds);
        positive("--slf4j", slf4jSeconds);
        if (noHttp && consoleSeconds == null && csvDir == null && slf4jSeconds == null && !jmx) {
            // It would run for ever and export nothing.
            throw new CliException(ExitCodes.USAGE, "--no-http leaves no reporter: add --console, --csv, --slf4j or --jmx");
        }
        if (journalMaxBytes != null && journalMaxBytes <= 0) {
            throw new CliException(ExitCodes.USAGE, "--journal-max-bytes must be > 0, but was " + journalMaxBytes);
        }
        if (journals != null) {
            // A typo would otherwise be reported for ever as a journal that is not there.
            journals.forEach(dir -> JournalCommand.requireJournal(dir, true));
        }
        if (csvDir != null) {
            requireCsvDirectory(csvDir);
        }
        // An unreachable Redis is no reason not to start: an exporter that refused to start while Redis is down would
        // restart-loop under systemd or Kubernetes during exactly the outage its /health and journal figures are
        // for. A Redis that answers but refuses the credentials is bad input, though: waiting will not mend it.
        try {
            redis.connect().close();
        } catch (CliException e) {
            if (e.exitCode() != ExitCodes.UNREACHABLE) {
                throw e;
            }
        }
        StandaloneReporter.Builder b = StandaloneReporter.builder(redis.connection())
                .refreshEvery(Duration.ofMillis(refreshMs))
                .reporting(r -> {
                    if (!noHttp) {
                        r.prometheus(host, port);
                    }
                    if (consoleSeconds != null) {
                        r.console(Duration.ofSeconds(consoleSeconds));
                    }
                    if (csvDir != null) {
                        r.csv(csvDir, Duration.ofSeconds(10));
                    }
                    if (slf4jSeconds != null) {
                        r.slf4j(Duration.ofSeconds(slf4jSeconds));
                    }
                    if (jmx) {
                        r.jmx();
                    }
                });
        if (journals != null) {
            journals.forEach(b::journalDir);
        }
        if (journalMaxBytes != null) {
            b.journalMaxBytes(journalMaxBytes);
        }
        StandaloneReporter reporter;
        try {
            reporter = b.start();
        } catch (RuntimeException e) {
            BindException bind = bindFailure(e);
            if (bind != null) {
                // Like any other bad --listen value: the user picks another port.
                String why = String.valueOf(bind.getMessage());
                throw new CliException(ExitCodes.USAGE, "--listen " + listen + ": "
                        + (why.contains("in use") ? "the address is already in use" : why));
            }
            throw new CliException(ExitCodes.FAILED, "cannot start the reporter: " + e.getMessage());
        }
        Runtime.getRuntime().addShutdownHook(new Thread(reporter::close, "spillway-report-shutdown"));
        if (!noHttp) {
            // Bound to every interface, the URI is the loopback one (a wildcard names no host): say where it listens too.
            spec.commandLine().getOut().println("Serving " + reporter.reporting().uri().resolve("/metrics") + " and /health"
                    + (everyInterface ? " (listening on every interface)" : "")
                    + " for " + redis.connection().redacted() + " (Ctrl-C stops)");
            spec.commandLine().getOut().flush();
        }
        reporter.awaitClose();
        return ExitCodes.OK;
    }

    /**
     * A host that does not resolve, or is not an address of this machine, is bad input (exit 2): found here it
     * is one clear line, found by the HTTP server's bind it was a failed start (exit 1).
     *
     * @return the address
     */
    private static InetAddress requireLocalAddress(String host) {
        InetAddress address;
        try {
            address = InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            throw new CliException(ExitCodes.USAGE, "--listen: unknown host '" + host + "'");
        }
        boolean local;
        try {
            local = address.isAnyLocalAddress() || address.isLoopbackAddress() || NetworkInterface.getByInetAddress(address) != null;
        } catch (SocketException e) {
            local = true; // cannot tell: let the bind decide
        }
        if (!local) {
            throw new CliException(ExitCodes.USAGE, "--listen: " + host + " (" + address.getHostAddress()
                    + ") is not an address of this machine");
        }
        return address;
    }

    private static BindException bindFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof BindException b) {
                return b;
            }
        }
        return null;
    }

    private static void positive(String name, Integer seconds) {
        if (seconds != null && seconds <= 0) {
            throw new CliException(ExitCodes.USAGE, name + " must be > 0 seconds, but was " + seconds);
        }
    }

    /** The --csv directory, made if missing (the reporter would make it too): a file there, or one it cannot make, is bad input. */
    private static void requireCsvDirectory(Path dir) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new CliException(ExitCodes.USAGE, "--csv " + dir + " is a file, not a directory");
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new CliException(ExitCodes.USAGE, "--csv " + dir + " cannot be created (" + e.getMessage() + ")");
        }
    }
}
