package io.spillway.watchdog.internal;

import io.spillway.watchdog.RedisServerConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * A redis-server run in the foreground with a redis.conf written into its data directory.
 *
 * <p>Invariants: the data directory is locked ({@code watchdog.lock}) for this object's life, so two
 * watchdogs never run two servers over one AOF; {@code watchdog.pid} names the last server started, and
 * a server left behind by a watchdog that was itself SIGKILLed is killed before a new one starts. One
 * probe connection is kept and replaced after any connection error.
 */
public final class RedisChild implements Child {
    private static final Logger log = LoggerFactory.getLogger(RedisChild.class);

    private final RedisServerConfig config;
    private final Path binary;
    private final Duration probeTimeout;
    private final String name;
    private final String password;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private Jedis probe;
    private String lastReply = "";

    /**
     * @throws IllegalStateException if another watchdog holds the data directory
     * @throws UncheckedIOException if the data directory cannot be created
     */
    public RedisChild(RedisServerConfig config, Path binary, Duration probeTimeout) {
        this.config = config;
        this.binary = binary;
        this.probeTimeout = probeTimeout;
        this.name = "redis-server on port " + config.port();
        String pass = setting("requirepass", "");
        this.password = pass.isEmpty() ? null : pass;
        try {
            Files.createDirectories(config.dataDir());
            this.lockChannel = FileChannel.open(config.dataDir().resolve("watchdog.lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock l;
            try {
                l = lockChannel.tryLock();
            } catch (OverlappingFileLockException e) {
                l = null;
            }
            if (l == null) {
                lockChannel.close();
                throw new IllegalStateException("Another watchdog is already running Redis in " + config.dataDir());
            }
            this.lock = l;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot use Redis data directory " + config.dataDir() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean probes() {
        return true;
    }

    @Override
    public Process launch() throws IOException {
        killLeftover();
        Path dir = config.dataDir();
        Path conf = dir.resolve("redis.conf");
        Files.writeString(conf, config.configText(), StandardCharsets.UTF_8);
        Process p = new ProcessBuilder(binary.toString(), conf.toString())
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("redis.stdout").toFile()))
                .start();
        lastReply = "";
        Files.writeString(dir.resolve("watchdog.pid"), Long.toString(p.pid()), StandardCharsets.UTF_8);
        closeProbe();
        return p;
    }

    /** A redis-server from an earlier watchdog of this directory that died without stopping it. */
    private void killLeftover() {
        Path pidFile = config.dataDir().resolve("watchdog.pid");
        try {
            if (!Files.isRegularFile(pidFile)) {
                return;
            }
            long pid = Long.parseLong(Files.readString(pidFile, StandardCharsets.UTF_8).trim());
            Optional<ProcessHandle> h = ProcessHandle.of(pid);
            if (h.isEmpty() || !h.get().isAlive()) {
                return;
            }
            Optional<String> command = h.get().info().command();
            if (command.isPresent() && Path.of(command.get()).getFileName().equals(binary.getFileName())) {
                log.warn("{}: killing redis-server pid {} left running by an earlier watchdog of {}", name, pid,
                        config.dataDir());
                Processes.stopTree(h.get(), Duration.ofSeconds(5));
            }
        } catch (IOException | RuntimeException e) {
            // A stale or unreadable pid file is only a hint; the start below reports a busy port plainly.
        }
    }

    @Override
    public Answer probe() {
        try {
            if (probe == null) {
                probe = connect();
            }
            probe.ping();
            lastReply = "PONG";
            return Answer.READY;
        } catch (JedisDataException e) {
            // LOADING, NOAUTH, MISCONF, a failed AUTH...: it replied, so it is alive.
            lastReply = String.valueOf(e.getMessage());
            return Answer.ALIVE;
        } catch (RuntimeException e) {
            closeProbe();
            lastReply = "no answer (" + e.getMessage() + ")";
            return Answer.SILENT;
        }
    }

    @Override
    public String lastReply() {
        return lastReply;
    }

    @Override
    public String failureHint() {
        String line = Processes.lastLine(config.dataDir().resolve("redis.log"));
        if (line.isEmpty()) {
            line = Processes.lastLine(config.dataDir().resolve("redis.stdout"));
        }
        return line.isEmpty() ? "" : "last log line: " + line;
    }

    private Jedis connect() {
        int ms = (int) probeTimeout.toMillis();
        DefaultJedisClientConfig.Builder c = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis(ms).socketTimeoutMillis(ms).blockingSocketTimeoutMillis(ms)
                .clientName("spillway-watchdog");
        if (password != null) {
            // The watchdog wrote requirepass itself; without it every PING is NOAUTH and "ready" never comes.
            c.password(password);
        }
        return new Jedis(new HostAndPort(config.clientHost(), config.port()), c.build());
    }

    private void closeProbe() {
        if (probe != null) {
            try {
                probe.close();
            } catch (RuntimeException ignored) {
                // Closing a broken connection may fail; it is dropped either way.
            }
            probe = null;
        }
    }

    /** A redis.conf value as Redis reads it (surrounding quotes removed), or the default. */
    private String setting(String directive, String otherwise) {
        String v = config.settings().get(directive);
        if (v == null) {
            return otherwise;
        }
        v = v.trim();
        if (v.length() >= 2 && (v.startsWith("\"") && v.endsWith("\"") || v.startsWith("'") && v.endsWith("'"))) {
            v = v.substring(1, v.length() - 1);
        }
        return v;
    }

    @Override
    public void release() {
        closeProbe();
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException ignored) {
            // The lock goes with the channel or the process anyway.
        }
    }
}
