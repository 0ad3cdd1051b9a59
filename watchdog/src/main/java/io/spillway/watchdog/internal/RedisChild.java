package io.spillway.watchdog.internal;

import io.spillway.watchdog.RedisBinary;
import io.spillway.watchdog.RedisServerConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
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
 * a server left behind by a watchdog that was itself SIGKILLed is killed before a new one starts, but only
 * once it is shown to be this directory's server (a pid alone may have been reused). One probe connection
 * is kept and replaced after any connection error; each new one first checks, with INFO, that the server
 * answering is the process this object launched. {@link Child.Answer#READY} means: PONG from our own
 * server, with its AOF in place.
 *
 * <p>A data directory that holds an RDB file but no AOF (data copied from another Redis, or kept by an
 * {@code appendonly no} setup) would start empty with {@code appendonly yes}: Redis then ignores the RDB and
 * writes an empty AOF, emptying every later start too. Such a start runs with {@code appendonly no} (so the
 * RDB is loaded), then turns the AOF on with {@code CONFIG SET appendonly yes}, which makes Redis write the
 * AOF from memory; the server is ready only once that rewrite has finished.
 *
 * <p>A data directory that Redis 7 wrote keeps its AOF in {@code appendonlydir/}, listed by a manifest; Redis 6
 * does not read it and would start empty (and write an {@code appendonly.aof} of its own, which Redis 7 ignores in
 * turn). {@link #launch()} refuses to start a binary older than 7.0 there.
 */
public final class RedisChild implements Child {
    private static final Logger log = LoggerFactory.getLogger("io.spillway.watchdog.Watchdog");
    /** A cluster node's bus listens on its port + 10000 unless Redis 7's {@code cluster-port} says otherwise. */
    private static final int CLUSTER_BUS_OFFSET = 10_000;
    /** Redis's line for a port it could not bind: "Could not create server TCP listening socket 127.0.0.1:16379: bind: …". */
    private static final java.util.regex.Pattern FAILED_BIND = java.util.regex.Pattern.compile(
            "Could not create server TCP listening socket \\S*:(\\d+): bind: Address already in use");
    /** Redis's line for a bind address that is not of this machine: "… listening socket 10.9.9.9:6379: bind: Cannot …". */
    private static final java.util.regex.Pattern FOREIGN_BIND = java.util.regex.Pattern.compile(
            "Could not create server \\S+ listening socket (\\S+): bind: Cannot assign requested address");
    /** Directives whose refused line must not be shown whole: a password ({@code user} lines hold {@code >password}). */
    private static final java.util.Set<String> SECRET_DIRECTIVES = java.util.Set.of("requirepass", "masterauth", "user");

    private final RedisServerConfig config;
    private final Path binary;
    private final Duration probeTimeout;
    private final String name;
    private final String password;
    private final boolean freshDir;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final Object lockKey;
    private Jedis probe;
    private boolean announced;
    private long launchedPid = -1;
    private long logOffset;
    /** The size of redis.stdout when the current server was launched: what it wrote is what follows. */
    private long stdoutOffset;
    private boolean verified;
    private boolean convertingRdb;
    /** The configured min-replicas-to-write, set back once an RDB conversion has written the AOF. */
    private String minReplicasToWrite = "0";
    private boolean aofRequested;
    /** The names CONFIG and INFO answer to during an RDB conversion ({@link #commandNames}). */
    private String configCommand = "CONFIG";
    private String infoCommand = "INFO";
    private String conflict;
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
        this.freshDir = isFresh(config.dataDir());
        try {
            privateDirectory(config.dataDir());
            Path lockFile = config.dataDir().resolve("watchdog.lock");
            synchronized (HELD) {
                // A data directory a watchdog of this JVM holds is refused without opening its lock file: closing a
                // second descriptor of it would drop that watchdog's lock for every other process (POSIX locks, on
                // Linux, belong to the process), and a watchdog started elsewhere would then take the directory.
                Object key = lockKey(lockFile);
                if (key != null && HELD.contains(key)) {
                    throw new IllegalStateException("Another watchdog is already running Redis in " + config.dataDir());
                }
                this.lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock l;
                try {
                    l = lockChannel.tryLock();
                } catch (OverlappingFileLockException e) {
                    // Held by other code of this JVM: the channel stays open, as closing it would drop that lock.
                    throw new IllegalStateException("Another watchdog is already running Redis in " + config.dataDir());
                }
                if (l == null) {
                    lockChannel.close(); // another process holds it: this JVM holds nothing on the file to drop
                    throw new IllegalStateException("Another watchdog is already running Redis in " + config.dataDir());
                }
                this.lock = l;
                this.lockKey = lockKey(lockFile);
                HELD.add(lockKey);
            }
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
        if (!announced) {
            announced = true;
            announce();
        }
        refuseOlderThanTheData();
        killLeftover();
        Path dir = config.dataDir();
        Path conf = dir.resolve("redis.conf");
        String text = config.configText();
        convertingRdb = rdbWithoutAof();
        aofRequested = false;
        if (convertingRdb) {
            log.warn("{}: {} holds {} but no AOF: starting it with appendonly no to load that file, then turning the"
                    + " AOF on (Redis writes it from memory) before declaring it up; until then it refuses writes", name, dir,
                    rdbFile().getFileName());
            text = text.replaceAll("(?m)^appendonly .*$", "appendonly no");
            // Clients reach the port during the conversion: a write Redis acknowledged then would be in neither the
            // RDB nor an AOF if Redis died before the rewrite ends (the next start converts from the RDB again).
            // With no replica, min-replicas-to-write 1 makes Redis answer NOREPLICAS to every write, which
            // Spillway's producers and workers take as "not now" (they spool and keep outcomes locally).
            minReplicasToWrite = setting(text, "min-replicas-to-write", "0");
            text = text.replaceAll("(?m)^min-replicas-to-write .*\\R?", "");
            text = (text.endsWith("\n") ? text : text + "\n") + "min-replicas-to-write 1\n";
            text = commandNames(text);
        }
        writeOwnerOnly(conf, text);
        ownerOnlyFile(dir.resolve("redis.stdout")); // a refused setting is echoed there, a password included
        logOffset = size(dir.resolve("redis.log"));
        stdoutOffset = size(dir.resolve("redis.stdout"));
        Process p = CannotRunException.start(new ProcessBuilder(binary.toString(), conf.toString())
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("redis.stdout").toFile())));
        launchedPid = p.pid();
        conflict = null;
        lastReply = "";
        Files.writeString(dir.resolve("watchdog.pid"), Long.toString(p.pid()), StandardCharsets.UTF_8);
        closeProbe();
        return p;
    }

    /** The first Redis version that reads a multi-part AOF ({@code appendonlydir/*.manifest}). */
    private static final int MULTI_PART_AOF_MAJOR = 7;

    /**
     * Throws if the data directory holds a Redis 7 multi-part AOF and the binary is older than 7.0. A version that
     * cannot be told (a wrapper that hides it) is let through with a WARN.
     */
    private void refuseOlderThanTheData() throws RedisTooOldException {
        Path aofDir = config.dataDir().resolve(setting("appenddirname", "appendonlydir"));
        if (!hasManifest(aofDir)) {
            return;
        }
        String version;
        try {
            version = RedisBinary.version(binary);
        } catch (RuntimeException e) {
            version = "";
        }
        int major = majorVersion(version);
        if (major < 0) {
            log.warn("{}: {} holds a Redis 7 AOF (a manifest), and the version of {} cannot be told ('{}'): if it is"
                    + " older than {}.0 it starts with no data", name, aofDir, binary, version, MULTI_PART_AOF_MAJOR);
        } else if (major < MULTI_PART_AOF_MAJOR) {
            throw new RedisTooOldException(binary + " is Redis " + version + ", but " + aofDir + " holds an AOF that"
                    + " Redis " + MULTI_PART_AOF_MAJOR + ".0 or later wrote (a multi-part AOF with a manifest), which Redis "
                    + version + " cannot read: it would start with no data. Run a redis-server " + MULTI_PART_AOF_MAJOR
                    + ".0 or later on this directory (--redis-server, " + RedisBinary.ENV_VARIABLE + " or"
                    + " RedisServerConfig.binary)");
        }
    }

    /** The major number of a version such as "6.2.11", or -1 if it does not start with one. */
    static int majorVersion(String version) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,4})\\.\\d+").matcher(version.trim());
        return m.lookingAt() ? Integer.parseInt(m.group(1)) : -1;
    }

    private static boolean hasManifest(Path aofDir) {
        if (!Files.isDirectory(aofDir)) {
            return false;
        }
        try (Stream<Path> files = Files.list(aofDir)) {
            return files.anyMatch(f -> f.getFileName().toString().endsWith(".manifest"));
        } catch (IOException e) {
            return false;
        }
    }

    /** One line at the first start: which binary and which data directory, as absolute paths. */
    private void announce() {
        String version;
        try {
            version = RedisBinary.version(binary);
        } catch (RuntimeException e) {
            version = "version unknown";
        }
        log.info("{}: running {} ({}) with data directory {}{}", name, binary, version, config.dataDir(),
                freshDir ? " (no data in it yet)" : "");
        if (config.defaultDataDir() && freshDir) {
            log.warn("{}: no data directory was given, so Redis keeps its data in {}, under the current directory,"
                    + " which holds no data yet; a watchdog started from another directory would start Redis empty"
                    + " somewhere else. Give one (--dir) to keep the data in one place", name, config.dataDir());
        }
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
            if (!isThisDirectorysServer(h.get())) {
                log.info("{}: watchdog.pid names pid {}, which is not a redis-server of {} (the pid was reused):"
                        + " leaving it alone", name, pid, config.dataDir());
                return;
            }
            log.warn("{}: killing redis-server pid {} left running by an earlier watchdog of {}", name, pid,
                    config.dataDir());
            Processes.stopTree(h.get(), Duration.ofSeconds(5));
        } catch (IOException | RuntimeException e) {
            // A stale or unreadable pid file is only a hint; the start below reports a busy port plainly.
        }
    }

    /**
     * Whether a live process is the redis-server of this data directory. Its program's name is not enough:
     * pids are reused, and other servers may run the same binary. Redis overwrites its command line with
     * its process title, so ask where it runs (Linux: its working directory, which Redis sets to its
     * {@code dir}) or the server itself (INFO: its pid and config file).
     */
    private boolean isThisDirectorysServer(ProcessHandle h) {
        // Not by the program's name: Redis is one binary under several names (Debian's redis-server is a link to
        // redis-check-rdb), and builds and forks name it as they like. Its arguments, its working directory or
        // the server itself say whether it serves this directory.
        String conf = config.dataDir().resolve("redis.conf").toString();
        if (h.info().arguments().map(a -> List.of(a).contains(conf)).orElse(false)) {
            return true;
        }
        try {
            Path cwd = Path.of("/proc", Long.toString(h.pid()), "cwd");
            if (Files.exists(cwd)) {
                return Files.isSameFile(cwd, config.dataDir());
            }
        } catch (IOException | RuntimeException e) {
            // No /proc (macOS) or not ours to read: ask the server.
        }
        try (Jedis j = connect()) {
            Map<String, String> info = fields(j.info("server"));
            return Long.toString(h.pid()).equals(info.get("process_id")) && conf.equals(info.get("config_file"));
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Override
    public Answer probe() {
        try {
            if (probe == null) {
                probe = connect();
                verified = false;
            }
            probe.ping();
            if (!verified) {
                Map<String, String> server = serverInfo(probe);
                long answering = pid(server);
                // Ours: the process launched, or (a wrapper script that runs redis-server without exec) a server
                // running this watchdog's redis.conf.
                boolean ownConfig = config.dataDir().resolve("redis.conf").toString().equals(server.get("config_file"));
                if (answering > 0 && answering != launchedPid && !ownConfig) {
                    conflict = "port " + config.port() + " is in use by pid " + answering
                            + ", not by the redis-server this watchdog started (pid " + launchedPid + ")";
                    lastReply = conflict;
                    closeProbe();
                    return Answer.FOREIGN;
                }
                verified = true;
            }
            if (convertingRdb) {
                return convertRdb();
            }
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

    /** The process_id INFO reports, or -1 if INFO is refused (renamed, ACL): then it cannot be checked. */
    private static long serverPid(Jedis j) {
        return pid(serverInfo(j));
    }

    /** INFO server's fields, or none if INFO is refused (renamed, ACL). */
    private static Map<String, String> serverInfo(Jedis j) {
        try {
            return fields(j.info("server"));
        } catch (JedisDataException e) {
            return Map.of();
        }
    }

    private static long pid(Map<String, String> info) {
        try {
            return Long.parseLong(info.getOrDefault("process_id", "-1"));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The value of {@code name} in a redis.conf text, or {@code otherwise}. */
    /**
     * Writes redis.conf readable by its owner only: it may hold {@code requirepass} or {@code masterauth}, and it
     * used to be world-readable (0644).
     */
    /** Creates {@code file} empty and 0600 if it is missing. */
    static void ownerOnlyFile(Path file) throws IOException {
        if (!Files.exists(file)) {
            try {
                createOwnerOnly(file);
            } catch (java.nio.file.FileAlreadyExistsException raced) {
                // made meanwhile
            }
        }
    }

    /** Creates {@code file} empty, readable and writable by its owner only where the file system has POSIX permissions. */
    private static void createOwnerOnly(Path file) throws IOException {
        try {
            Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException notPosix) {
            Files.createFile(file);
        }
    }

    /**
     * Creates the data directory 0700 (its AOF holds every job) if it is missing; one that exists is left as it is. (As
     * core's PrivateDirectory.ensure: the watchdog does not depend on core.)
     */
    static void privateDirectory(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        Path parent = dir.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try {
            Files.createDirectory(dir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
        } catch (UnsupportedOperationException notPosix) {
            Files.createDirectories(dir);
        } catch (java.nio.file.FileAlreadyExistsException raced) {
            // made meanwhile
        }
    }

    static void writeOwnerOnly(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        createOwnerOnly(tmp);
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static String setting(String conf, String name, String otherwise) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^" + java.util.regex.Pattern.quote(name) + " +(\\S+)")
                .matcher(conf);
        return m.find() ? m.group(1) : otherwise;
    }

    /**
     * The conversion's names for CONFIG and INFO, which it runs: a {@code rename-command} of either is followed, and one
     * that disables it ({@code rename-command CONFIG ""}) becomes, for this start only, a rename to a random name only
     * this watchdog knows. Before, a disabled CONFIG made the conversion wait forever. Returns the configuration text
     * of the conversion's start.
     */
    private String commandNames(String text) {
        configCommand = "CONFIG";
        infoCommand = "INFO";
        String[] lines = text.split("\n", -1);
        java.util.regex.Pattern rename = java.util.regex.Pattern.compile("^rename-command\\s+(\\S+)\\s+(.*?)\\s*$");
        for (int i = 0; i < lines.length; i++) {
            java.util.regex.Matcher m = rename.matcher(lines[i]);
            String command = m.matches() ? m.group(1).replaceAll("^[\"']|[\"']$", "") : "";
            if (command.equalsIgnoreCase("CONFIG") || command.equalsIgnoreCase("INFO")) {
                String to = m.group(2).replaceAll("^\"(.*)\"$|^'(.*)'$", "$1$2");
                if (to.isEmpty()) {
                    byte[] secret = new byte[16];
                    new java.security.SecureRandom().nextBytes(secret);
                    to = "spillway-" + command.toLowerCase(java.util.Locale.ROOT) + "-" + java.util.HexFormat.of().formatHex(secret);
                    lines[i] = "rename-command " + command + " " + to;
                }
                if (command.equalsIgnoreCase("CONFIG")) {
                    configCommand = to;
                } else {
                    infoCommand = to;
                }
            }
        }
        return String.join("\n", lines);
    }

    /** A command by the name it answers to (renamed or not), with String arguments. */
    private static redis.clients.jedis.commands.ProtocolCommand named(String name) {
        byte[] raw = name.getBytes(StandardCharsets.UTF_8);
        return () -> raw;
    }

    /** The RDB-to-AOF step of {@link #launch()}: READY once Redis has written its AOF, else ALIVE. */
    private Answer convertRdb() {
        if (!aofRequested) {
            probe.sendCommand(named(configCommand), "SET", "appendonly", "yes");
            aofRequested = true;
        }
        Object persistence = probe.sendCommand(named(infoCommand), "persistence");
        Map<String, String> info = fields(persistence instanceof byte[] b ? new String(b, StandardCharsets.UTF_8)
                : String.valueOf(persistence));
        boolean rewriting = "1".equals(info.get("aof_rewrite_in_progress")) || "1".equals(info.get("aof_rewrite_scheduled"));
        boolean ok = "ok".equals(info.get("aof_last_bgrewrite_status"));
        if (rewriting || !ok || !"1".equals(info.get("aof_enabled"))) {
            lastReply = "writing its AOF from the data loaded from " + rdbFile().getFileName()
                    + (ok ? "" : " (a try failed, see redis.log; Redis tries again)");
            return Answer.ALIVE;
        }
        probe.sendCommand(named(configCommand), "SET", "min-replicas-to-write", minReplicasToWrite);
        convertingRdb = false;
        log.info("{}: AOF written from the data loaded from {}; appendonly yes from now on, and writes accepted", name,
                rdbFile().getFileName());
        lastReply = "PONG";
        return Answer.READY;
    }

    @Override
    public String lastReply() {
        return lastReply;
    }

    @Override
    public String portConflict() {
        if (conflict != null) {
            return conflict;
        }
        // The server exited at once because it could not listen: name who holds the port if it answers.
        String newLog = readFrom(config.dataDir().resolve("redis.log"), logOffset);
        if (!newLog.contains("Address already in use")) {
            return null;
        }
        if (newLog.contains("(cluster), aborting")) {
            // The client port was bound, the cluster bus port was not. Redis 6.2 names the client port in "Failed listening
            // on port P (cluster)", 7.0 the bus port; both name the address that failed in the line before.
            int bus = failedBusPort(newLog);
            String which = bus == config.port() + CLUSTER_BUS_OFFSET ? " (port " + config.port() + " + 10000)" : "";
            return "cluster bus port " + bus + which + " is in use by " + holder(bus)
                    + " (redis-server could not listen on its cluster bus: Address already in use)";
        }
        return "port " + config.port() + " is in use by " + holder(config.port()) + " (redis-server: Address already in use)";
    }

    /** "pid N" for a Redis that answers INFO on {@code port}, else "another process". */
    private String holder(int port) {
        long pid;
        try (Jedis j = connect(port)) {
            pid = serverPid(j);
        } catch (RuntimeException e) {
            pid = -1;
        }
        return pid > 0 ? "pid " + pid : "another process";
    }

    /** The port of the last "Could not create server TCP listening socket" line, else the configured bus port. */
    private int failedBusPort(String log) {
        java.util.regex.Matcher m = FAILED_BIND.matcher(log);
        int port = -1;
        while (m.find()) {
            port = Integer.parseInt(m.group(1));
        }
        if (port > 0) {
            return port;
        }
        // Redis 7 can move the bus (cluster-port); 0 means the default, port + 10000.
        String set = setting("cluster-port", "0");
        return set.matches("[1-9][0-9]{0,4}") ? Integer.parseInt(set) : config.port() + CLUSTER_BUS_OFFSET;
    }

    /** The last line this start wrote to redis.log, else to redis.stdout (not an earlier start's). */
    @Override
    public String failureHint() {
        String line = lastLine(readFrom(config.dataDir().resolve("redis.log"), logOffset));
        if (line.isEmpty()) {
            line = lastLine(readFrom(config.dataDir().resolve("redis.stdout"), stdoutOffset));
        }
        return line.isEmpty() ? "" : "last log line: " + line;
    }

    /**
     * Redis's own words when this start refused its configuration: the FATAL CONFIG FILE ERROR it prints (to stdout,
     * before it opens its log) or a bind address it cannot assign; else null.
     */
    @Override
    public String badConfig() {
        String out = readFrom(config.dataDir().resolve("redis.stdout"), stdoutOffset);
        int fatal = out.indexOf("FATAL CONFIG FILE ERROR");
        if (fatal >= 0) {
            // *** FATAL CONFIG FILE ERROR (Redis 6.2.11) ***
            // Reading the configuration file, at line 7
            // >>> 'maxmemory-policy noevictoin'
            // argument must be one of the following: volatile-lru, …
            List<String> lines = out.substring(fatal).lines().skip(1).map(String::trim).filter(l -> !l.isEmpty())
                    .limit(3).toList();
            String directive = lines.stream().filter(l -> l.startsWith(">>> ")).findFirst().map(l -> l.substring(4))
                    .map(RedisChild::withoutSecret).orElse("");
            String why = lines.stream().filter(l -> !l.startsWith(">>> ") && !l.startsWith("Reading the configuration"))
                    .findFirst().orElse("");
            String where = lines.stream().filter(l -> l.startsWith("Reading the configuration")).findFirst()
                    .map(l -> l.replaceFirst(".*at line (\\d+).*", "line $1 of ")).orElse("");
            return "redis-server refused its configuration: " + (directive.isEmpty() ? "" : directive + ": ") + why
                    + " (" + where + config.dataDir().resolve("redis.conf") + ")";
        }
        java.util.regex.Matcher m = FOREIGN_BIND.matcher(readFrom(config.dataDir().resolve("redis.log"), logOffset));
        if (m.find()) {
            return "redis-server cannot listen on " + m.group(1) + ": Cannot assign requested address (bind " + config.bind()
                    + ": not an address of this machine)";
        }
        return null;
    }

    /** A refused redis.conf line as Redis quotes it ({@code 'requirepass x y'}), its value hidden if it is a secret. */
    private static String withoutSecret(String quoted) {
        String line = quoted.startsWith("'") ? quoted.substring(1) : quoted;
        String name = line.split("\\s+", 2)[0].toLowerCase(java.util.Locale.ROOT);
        return SECRET_DIRECTIVES.contains(name) ? "'" + name + " ***'" : quoted;
    }

    private static String lastLine(String text) {
        List<String> lines = text.lines().filter(l -> !l.isBlank()).toList();
        return lines.isEmpty() ? "" : lines.get(lines.size() - 1).trim();
    }

    private Jedis connect() {
        return connect(config.port());
    }

    private Jedis connect(int port) {
        int ms = (int) probeTimeout.toMillis();
        DefaultJedisClientConfig.Builder c = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis(ms).socketTimeoutMillis(ms).blockingSocketTimeoutMillis(ms)
                .clientName("spillway-watchdog")
                .clientSetInfoConfig(redis.clients.jedis.ClientSetInfoConfig.DISABLED); // as the library's connections
        if (password != null) {
            // The watchdog wrote requirepass itself; without it every PING is NOAUTH and "ready" never comes.
            c.password(password);
        }
        return new Jedis(new HostAndPort(config.clientHost(), port), c.build());
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

    private Path rdbFile() {
        return config.dataDir().resolve(setting("dbfilename", "dump.rdb"));
    }

    /**
     * An RDB file and no AOF with anything in it, while the AOF is to be on. A zero-byte AOF counts as none:
     * Redis creates it empty when it starts with the AOF on, so one is left by a start that ignored the RDB
     * (or by a conversion cut short) and holds no writes.
     */
    private boolean rdbWithoutAof() {
        if (!setting("appendonly", "no").equalsIgnoreCase("yes") || !Files.isRegularFile(rdbFile())) {
            return false;
        }
        Path dir = config.dataDir();
        Path aof = dir.resolve(setting("appendfilename", "appendonly.aof"));
        if (size(aof) > 0) {
            return false;
        }
        // Redis 7 keeps a multi-part AOF in a directory, listed by a manifest.
        Path aofDir = dir.resolve(setting("appenddirname", "appendonlydir"));
        if (Files.isDirectory(aofDir)) {
            try (Stream<Path> files = Files.list(aofDir)) {
                return files.noneMatch(f -> f.getFileName().toString().endsWith(".manifest"));
            } catch (IOException e) {
                return false;
            }
        }
        return true;
    }

    /** Whether a data directory is missing or holds no data yet (no RDB, no AOF). */
    private static boolean isFresh(Path dir) {
        if (!Files.isDirectory(dir)) {
            return true;
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString())
                    .noneMatch(n -> n.endsWith(".rdb") || n.endsWith(".aof") || n.equals("appendonlydir"));
        } catch (IOException e) {
            return false;
        }
    }

    private static Map<String, String> fields(String info) {
        Map<String, String> m = new HashMap<>();
        for (String line : info.split("\r?\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && !line.startsWith("#")) {
                m.put(line.substring(0, colon), line.substring(colon + 1).trim());
            }
        }
        return m;
    }

    private static long size(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static String readFrom(Path file, long offset) {
        try (InputStream in = Files.newInputStream(file)) {
            in.skipNBytes(Math.min(offset, Files.size(file)));
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void release() {
        closeProbe();
        synchronized (HELD) {
            try {
                if (lock.isValid()) {
                    lock.release();
                }
                lockChannel.close();
            } catch (IOException ignored) {
                // The lock goes with the channel or the process anyway.
            }
            HELD.remove(lockKey);
        }
    }

    /** The data directories' lock files this JVM's watchdogs hold, by file key. */
    private static final java.util.Set<Object> HELD = new java.util.HashSet<>();

    /** The file's key (device and inode), its absolute path where there is none; null if it does not exist. */
    private static Object lockKey(Path file) throws IOException {
        try {
            Object key = java.nio.file.Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class)
                    .fileKey();
            return key != null ? key : file.toAbsolutePath().normalize();
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        }
    }
}
