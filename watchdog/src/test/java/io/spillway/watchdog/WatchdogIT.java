package io.spillway.watchdog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.spillway.watchdog.internal.Processes;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;

/** Real redis-server and shell children under a watchdog. (test-support depends on this module, so no RedisProcess here.) */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // about 22 s; what it watches (PING, SIGKILL, restart) is the same on 7.0
class WatchdogIT {
    private static final WatchdogConfig FAST = WatchdogConfig.custom()
            .probeInterval(Duration.ofMillis(100))
            .probeTimeout(Duration.ofMillis(300))
            .hangTimeout(Duration.ofMillis(1500))
            .initialBackoff(Duration.ofMillis(50))
            .maxBackoff(Duration.ofMillis(500))
            .stopTimeout(Duration.ofSeconds(2))
            .build();

    @TempDir
    Path tmp;

    private final List<Watchdog> open = new ArrayList<>();
    private final List<Long> seenPids = new ArrayList<>();
    private final List<Process> plain = new ArrayList<>();

    @AfterEach
    void closeAndCheckOrphans() {
        open.forEach(Watchdog::close);
        plain.forEach(p -> Processes.stopTree(p.toHandle(), Duration.ofSeconds(5)));
        for (long pid : seenPids) {
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
                    .as("child pid %d is gone after close", pid).isFalse();
        }
    }

    private Watchdog redis(MetricRegistry registry, WatchdogConfig config) throws IOException {
        Watchdog w = Watchdog.builder()
                .redis(RedisServerConfig.custom().port(freePort()).dataDir(tmp.resolve("redis")).build())
                .config(config)
                .metrics(registry)
                .build();
        open.add(w);
        w.start();
        assertThat(w.awaitUp(Duration.ofSeconds(20))).as("redis up").isTrue();
        seenPids.add(w.pid().getAsLong());
        return w;
    }

    private static Jedis client(Watchdog w) {
        return new Jedis(new HostAndPort("127.0.0.1", w.redis().port()),
                DefaultJedisClientConfig.builder().connectionTimeoutMillis(500).socketTimeoutMillis(500).build());
    }

    private static boolean answers(Watchdog w, String key, String expected) {
        try (Jedis j = client(w)) {
            return expected.equals(j.get(key));
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Test
    void startingAndClosingManyWatchdogsLeavesNoThreadDescriptorOrChild() throws Exception {
        // An application (or a test suite) that starts and closes watchdogs in one JVM: each close ends the
        // supervision thread, the child and its pipes. Two warm-up cycles first (the JDK's process reaper threads).
        Path dir = tmp.resolve("cycles");
        for (int i = 0; i < 2; i++) {
            cycle(dir);
        }
        java.util.Set<Thread> before = java.util.Set.copyOf(Thread.getAllStackTraces().keySet());
        int fdsBefore = openDescriptors();
        for (int i = 0; i < 8; i++) {
            cycle(dir);
        }
        assertThat(ProcessHandle.current().children().filter(ProcessHandle::isAlive).toList())
                .as("children left after close").isEmpty();
        // Allow the JDK's reaper threads to come and go; one thread or descriptor kept per cycle would be 8.
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            List<String> kept = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.isAlive() && !before.contains(t) && !t.getName().startsWith("process reaper"))
                    .map(Thread::getName).toList();
            assertThat(kept).as("threads started by the 8 cycles and still alive").hasSizeLessThanOrEqualTo(1);
            assertThat(openDescriptors() - fdsBefore).as("descriptors kept by the 8 cycles").isLessThanOrEqualTo(2);
        });
    }

    private void cycle(Path dir) throws IOException {
        try (Watchdog w = Watchdog.builder()
                .redis(RedisServerConfig.custom().port(freePort()).dataDir(dir).build())
                .config(FAST).build().start()) {
            assertThat(w.awaitUp(Duration.ofSeconds(20))).as("redis up").isTrue();
            seenPids.add(w.pid().getAsLong());
            try (Jedis j = client(w)) {
                j.incr("cycles");
            }
        }
    }

    private static int openDescriptors() throws IOException {
        try (java.util.stream.Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return (int) fds.count();
        }
    }

    @Test
    void sigkilledRedisIsBackWithItsDataWithinSeconds() throws Exception {
        MetricRegistry registry = new MetricRegistry();
        // This test is about a SIGKILL, not a hang: a hang timeout a busy machine cannot trip by accident
        // (FAST's 1.5 s could, and a second restart would break the counts below).
        Watchdog w = redis(registry, FAST.toBuilder().probeTimeout(Duration.ofSeconds(1)).hangTimeout(Duration.ofSeconds(10)).build());
        try (Jedis j = client(w)) {
            j.set("job", "kept");
            assertThat(j.configGet("appendonly")).containsEntry("appendonly", "yes");
            assertThat(j.configGet("maxmemory-policy")).containsEntry("maxmemory-policy", "noeviction");
            assertThat(j.configGet("appendfsync")).containsEntry("appendfsync", "everysec");
            // A replica's full resync drops its old data in the background: in the foreground it answered nobody for
            // seconds with millions of keys, and the watchdog killed it for a hang, again at every resync.
            assertThat(j.configGet("replica-lazy-flush")).containsEntry("replica-lazy-flush", "yes");
        }
        // redis.conf may hold requirepass: readable by its owner only.
        assertThat(java.nio.file.Files.getPosixFilePermissions(tmp.resolve("redis").resolve("redis.conf")))
                .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        long first = w.pid().getAsLong();

        ProcessHandle.of(first).orElseThrow().destroyForcibly();

        long killedAt = System.nanoTime();
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20))
                .until(() -> w.pid().getAsLong() != first && answers(w, "job", "kept"));
        long backMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
        seenPids.add(w.pid().getAsLong());
        // Typically well under a second (backoff ≤ 500 ms); the bound leaves room for a loaded machine.
        assertThat(backMs).isLessThan(10_000);
        assertThat(w.restarts()).isEqualTo(1);
        assertThat(registry.counter(Watchdog.METRIC_RESTARTS + ".redis").getCount()).isEqualTo(1);
        // The test's own client may reach the new server before the watchdog's probe has seen it
        // answer; the downtime is added when the watchdog notices it is back.
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() ->
                w.downtime().compareTo(Duration.ZERO) > 0
                        && registry.counter(Watchdog.METRIC_DOWNTIME + ".redis").getCount() > 0);
        assertThat(w.isUp()).isTrue();
        assertThat(((Gauge<?>) registry.getGauges().get(Watchdog.METRIC_UP + ".redis")).getValue()).isEqualTo(1);
    }

    @Test
    void sigstoppedRedisIsDetectedAndReplaced() throws Exception {
        List<WatchdogEvent> events = new CopyOnWriteArrayList<>();
        // A backoff long enough to tell from none: the exit of the hung server it kills must not cut it short.
        Watchdog w = redis(new MetricRegistry(), FAST.toBuilder().initialBackoff(Duration.ofSeconds(1)).maxBackoff(Duration.ofSeconds(1)).build());
        w.onEvent(events::add);
        try (Jedis j = client(w)) {
            j.set("job", "kept");
        }
        long first = w.pid().getAsLong();

        assertThat(Processes.signal(first, "STOP")).isTrue();

        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                .until(() -> w.pid().getAsLong() != first && answers(w, "job", "kept"));
        seenPids.add(w.pid().getAsLong());
        assertThat(events).anySatisfy(e -> assertThat(e).isInstanceOf(WatchdogEvent.Hung.class));
        assertThat(ProcessHandle.of(first).map(ProcessHandle::isAlive).orElse(false)).isFalse();
        await().atMost(Duration.ofSeconds(10)).until(() -> events.stream().anyMatch(e -> e instanceof WatchdogEvent.Up));
        WatchdogEvent.Restarting restarting = events.stream().filter(e -> e instanceof WatchdogEvent.Restarting)
                .map(WatchdogEvent.Restarting.class::cast).findFirst().orElseThrow();
        WatchdogEvent.Up up = events.stream().filter(e -> e instanceof WatchdogEvent.Up).map(WatchdogEvent.Up.class::cast)
                .findFirst().orElseThrow();
        assertThat(Duration.between(restarting.at(), up.at()))
                .as("the restart waits the backoff it announced (%s)", restarting.delay())
                .isGreaterThanOrEqualTo(restarting.delay().minusMillis(10));
    }

    @Test
    void execChildThatDiesIsRestartedAndACrashLoopIsReported() throws Exception {
        List<WatchdogEvent> events = new CopyOnWriteArrayList<>();
        Path out = tmp.resolve("child.out");
        Watchdog w = Watchdog.builder()
                .command(List.of("sh", "-c", "echo started $$; sleep 0.2; exit 3"))
                .output(out)
                .config(FAST.toBuilder().crashLoop(3, Duration.ofSeconds(30)).build())
                .build()
                .onEvent(events::add);
        open.add(w);
        w.start();

        await().atMost(Duration.ofSeconds(30)).until(() -> w.restarts() >= 3);
        // The restart is counted before the supervisor thread publishes CrashLoop for it.
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(events).anySatisfy(e -> assertThat(e).isInstanceOf(WatchdogEvent.CrashLoop.class)));
        assertThat(events).anySatisfy(e -> assertThat(e).isInstanceOfSatisfying(WatchdogEvent.Exited.class,
                x -> assertThat(x.exitCode()).isEqualTo(3)));
        assertThat(Files.readAllLines(out).stream().filter(l -> l.startsWith("started")).count()).isGreaterThanOrEqualTo(3);
        assertThat(w.name()).isEqualTo("sh");
    }

    @Test
    void closeStopsAChildThatIgnoresSigtermAndItsChildren() throws Exception {
        Path pids = tmp.resolve("pids");
        Watchdog w = Watchdog.builder()
                .command(List.of("sh", "-c", "trap '' TERM; sleep 600 & echo $! > " + pids + "; while true; do sleep 0.1; done"))
                .config(FAST.toBuilder().stopTimeout(Duration.ofMillis(500)).build())
                .build()
                .start();
        open.add(w);
        assertThat(w.awaitUp(Duration.ofSeconds(20))).isTrue();
        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(pids) && !Files.readString(pids).isBlank());
        long shell = w.pid().getAsLong();
        long sleeper = Long.parseLong(Files.readString(pids).trim());
        seenPids.add(shell);
        seenPids.add(sleeper);

        List<WatchdogEvent> events = new CopyOnWriteArrayList<>();
        w.onEvent(events::add);
        long t0 = System.nanoTime();
        w.close();

        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(5000);
        assertThat(events).anySatisfy(e -> assertThat(e).isInstanceOfSatisfying(WatchdogEvent.Stopped.class,
                s -> assertThat(s.killed()).isTrue()));
    }

    /**
     * SIGTERM goes to the command alone, which stops its own children as it sees fit (a worker finishes its jobs, and
     * their subprocesses with them); only what it leaves running gets SIGTERM after it. Before, the whole tree got
     * SIGTERM at once: a worker's handler subprocesses were stopped under the jobs it was finishing.
     */
    @Test
    void closeSendsSigtermToTheCommandAloneAndThenToWhatItLeftRunning() throws Exception {
        Path log = tmp.resolve("log");
        Path pids = tmp.resolve("pids");
        // The child logs which signal reached it; the parent, on SIGTERM, ends it with SIGUSR1 after 0.3 s and exits,
        // leaving an orphan (sleep 600) that only the watchdog can stop.
        String child = "trap 'echo child-TERM >> " + log + "; exit 0' TERM; trap 'echo child-USR1 >> " + log + "; exit 0' USR1;"
                + " while true; do sleep 0.05; done";
        String parent = "sh -c \"" + child + "\" & c=$!; sleep 600 & o=$!; echo $o > " + pids + ";"
                + " trap 'echo parent-TERM >> " + log + "; sleep 0.3; kill -USR1 $c; wait $c; exit 0' TERM;"
                + " while true; do sleep 0.05; done";
        Watchdog w = Watchdog.builder()
                .command(List.of("sh", "-c", parent))
                .config(FAST.toBuilder().stopTimeout(Duration.ofSeconds(5)).build())
                .build()
                .start();
        open.add(w);
        assertThat(w.awaitUp(Duration.ofSeconds(20))).isTrue();
        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(pids) && !Files.readString(pids).isBlank());
        seenPids.add(w.pid().getAsLong());
        long orphan = Long.parseLong(Files.readString(pids).trim());
        seenPids.add(orphan);

        w.close();

        assertThat(Files.readAllLines(log)).containsExactly("parent-TERM", "child-USR1");
        assertThat(ProcessHandle.of(orphan).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    }

    @Test
    void secondWatchdogOnTheSameDataDirIsRefused() throws Exception {
        Watchdog w = redis(new MetricRegistry(), FAST);
        RedisServerConfig same = RedisServerConfig.custom().port(freePort()).dataDir(w.redis().dataDir()).build();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Watchdog.builder().redis(same).build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Another watchdog");
        // The refused second build of this JVM left the first one's lock in place for other processes (it opened and
        // closed the lock file, which on Linux dropped the process's lock: a watchdog elsewhere then took the dir).
        assertThat(anotherProcessCanLock(w.redis().dataDir().resolve("watchdog.lock"))).isFalse();
    }

    /** A watchdog of {@code redis} with the {@code FAST} settings, its events into {@code events}, started. */
    private Watchdog startedFast(RedisServerConfig redis, List<WatchdogEvent> events) {
        Watchdog w = Watchdog.builder().redis(redis).config(FAST).build().onEvent(events::add);
        open.add(w);
        w.start();
        return w;
    }

    /**
     * Two watchdogs left unnamed on one registry: the second's "up" gauge would replace the first's, and the health
     * check would say healthy while the first Redis is down. The second is refused, naming the fix; once the first is
     * closed the name is free again.
     */
    @Test
    void aSecondLiveWatchdogOfOneNameOnOneRegistryIsRefused() throws Exception {
        MetricRegistry registry = new MetricRegistry();
        Watchdog first = Watchdog.builder().metrics(registry)
                .redis(RedisServerConfig.custom().port(freePort()).dataDir(tmp.resolve("first")).build()).build();
        open.add(first);
        RedisServerConfig other = RedisServerConfig.custom().port(freePort()).dataDir(tmp.resolve("second")).build();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Watchdog.builder().metrics(registry).redis(other).build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("a watchdog named 'redis' already reports to this metric registry");
        // Its data directory was not taken by the refused build.
        Watchdog named = Watchdog.builder().metrics(registry).name("redis-2").redis(other).build();
        open.add(named);
        first.close();
        Watchdog again = Watchdog.builder().metrics(registry)
                .redis(RedisServerConfig.custom().port(freePort()).dataDir(tmp.resolve("third")).build()).build();
        open.add(again);
    }

    /** Whether a child JVM gets an exclusive lock on {@code file} (what a watchdog started elsewhere would find). */
    static boolean anotherProcessCanLock(java.nio.file.Path file) throws Exception {
        String javaBin = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"), LockProbeMain.class.getName(),
                file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        p.waitFor();
        if (!out.contains("taken") && !out.contains("refused")) {
            throw new IllegalStateException("lock probe: " + out);
        }
        return out.contains("taken");
    }

    /** The child of {@link #anotherProcessCanLock}. */
    public static final class LockProbeMain {
        public static void main(String[] args) throws Exception {
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(java.nio.file.Path.of(args[0]),
                    java.nio.file.StandardOpenOption.WRITE)) {
                System.out.println(ch.tryLock() != null ? "taken" : "refused");
            }
        }
    }

    @Test
    void redisBoundToEveryIpv6AddressIsProbedOnIpv6LoopbackAndKept() throws Exception {
        // Redis binds :: with IPV6_V6ONLY: a probe of 127.0.0.1 is refused, and the watchdog used to kill it at each start timeout.
        org.junit.jupiter.api.Assumptions.assumeTrue(ipv6LoopbackWorks(), "no IPv6 loopback (::1) on this machine");
        WatchdogConfig config = FAST.toBuilder().startTimeout(Duration.ofSeconds(2)).build();
        Watchdog w = Watchdog.builder()
                .redis(RedisServerConfig.custom().bind("::").port(freePort()).dataDir(tmp.resolve("redis")).build())
                .config(config)
                .build();
        open.add(w);
        w.start();

        assertThat(w.awaitUp(Duration.ofSeconds(10))).as("redis on :: up").isTrue();
        seenPids.add(w.pid().getAsLong());
        assertThat(w.redis().uri().toString()).isEqualTo("redis://[::1]:" + w.redis().port());
        // Past the start timeout: still the first server, never killed.
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5))
                .until(() -> w.isUp() && w.restarts() == 0);
        try (Jedis j = new Jedis(new HostAndPort("::1", w.redis().port()),
                DefaultJedisClientConfig.builder().connectionTimeoutMillis(500).socketTimeoutMillis(500).build())) {
            assertThat(j.ping()).isEqualTo("PONG");
        }
    }

    /** Whether a socket can listen on ::1 and be reached there. */
    private static boolean ipv6LoopbackWorks() {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName("::1"), 0));
            try (java.net.Socket c = new java.net.Socket()) {
                c.connect(s.getLocalSocketAddress(), 500);
                return true;
            }
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void aWatchdogClosedWithoutStartingReleasesItsDataDirAndItsGauge() throws Exception {
        MetricRegistry registry = new MetricRegistry();
        RedisServerConfig config = RedisServerConfig.custom().port(freePort()).dataDir(tmp.resolve("redis")).build();
        Watchdog.builder().redis(config).config(FAST).metrics(registry).build().close();

        // It used to keep watchdog.lock: "Another watchdog is already running Redis in …".
        Watchdog again = Watchdog.builder().redis(config).config(FAST).build();
        open.add(again);
        assertThat(registry.getGauges()).as("gauges left by the closed watchdog").isEmpty();
        again.start();
        assertThat(again.awaitUp(Duration.ofSeconds(20))).as("redis up").isTrue();
        seenPids.add(again.pid().getAsLong());
    }

    @Test
    void passwordProtectedRedisIsUpAndIsNotKilledAtTheStartTimeout() throws Exception {
        // requirepass makes every PING without AUTH a NOAUTH error: the watchdog must log in, not kill it.
        WatchdogConfig config = FAST.toBuilder().startTimeout(Duration.ofSeconds(1)).build();
        Watchdog w = Watchdog.builder()
                .redis(RedisServerConfig.custom().port(freePort()).dataDir(tmp.resolve("redis"))
                        .setting("requirepass", "se cret").build()) // a space: one argument all the same
                .config(config)
                .build();
        open.add(w);
        w.start();

        assertThat(w.awaitUp(Duration.ofSeconds(20))).as("redis with requirepass up").isTrue();
        long pid = w.pid().getAsLong();
        seenPids.add(pid);
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(10))
                .until(() -> w.restarts() == 0 && w.pid().getAsLong() == pid && w.isUp());
        try (Jedis j = client(w)) {
            j.auth("se cret");
            assertThat(j.ping()).isEqualTo("PONG");
        }
        assertThat(w.redis().toString()).as("never shown").doesNotContain("se cret").contains("requirepass=***");
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(
                w.redis().dataDir().resolve("redis.stdout")))).as("a refused setting is echoed there").isEqualTo("rw-------");
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(w.redis().dataDir())))
                .as("the data directory, made here").isEqualTo("rwx------");
    }

    @Test
    void loadingThatOutlastsTheStartTimeoutIsWaitedFor() throws Exception {
        Path dir = tmp.resolve("redis");
        int port = freePort();
        Watchdog first = Watchdog.builder()
                .redis(RedisServerConfig.custom().port(port).dataDir(dir).build())
                .config(FAST)
                .build()
                .start();
        open.add(first);
        assertThat(first.awaitUp(Duration.ofSeconds(20))).isTrue();
        seenPids.add(first.pid().getAsLong());
        // ~19 MB of random (incompressible) values: Redis answers LOADING between each 2 MB it reads.
        try (Jedis j = new Jedis(new HostAndPort("127.0.0.1", port),
                DefaultJedisClientConfig.builder().socketTimeoutMillis(10_000).build())) {
            Random random = new Random(42);
            for (int i = 0; i < 600; i++) {
                byte[] value = new byte[32 * 1024];
                random.nextBytes(value);
                j.set(("k" + i).getBytes(StandardCharsets.UTF_8), value);
            }
            j.bgrewriteaof();
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    j.info("persistence").contains("aof_rewrite_in_progress:0")
                            && j.info("persistence").contains("aof_rewrite_scheduled:0"));
        }
        first.close();

        List<WatchdogEvent> events = new CopyOnWriteArrayList<>();
        // key-load-delay (5 ms a key) makes the load take ~3 s, three times the start timeout.
        Watchdog w = Watchdog.builder()
                .redis(RedisServerConfig.custom().port(port).dataDir(dir).setting("key-load-delay", "5000").build())
                .config(FAST.toBuilder().probeTimeout(Duration.ofSeconds(1)).hangTimeout(Duration.ofSeconds(3))
                        .startTimeout(Duration.ofSeconds(1)).build())
                .build()
                .onEvent(events::add);
        open.add(w);
        long t0 = System.nanoTime();
        w.start();

        assertThat(w.awaitUp(Duration.ofSeconds(40))).as("redis up after loading").isTrue();
        seenPids.add(w.pid().getAsLong());
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("the load outlasted the start timeout")
                .isGreaterThan(1000);
        assertThat(w.restarts()).isZero();
        assertThat(events).noneMatch(e -> e instanceof WatchdogEvent.StartFailed);
        try (Jedis j = client(w)) {
            assertThat(j.dbSize()).isEqualTo(600);
        }
    }

    /**
     * Also with CONFIG (which the conversion runs) renamed or disabled, as managed setups do: before, a disabled CONFIG
     * made the conversion wait forever. A disabled one is renamed for the conversion's start only, to a random name.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"", "CONFIG \"\"", "CONFIG spillway-test-config", "INFO ''"})
    void dataDirWithOnlyAnRdbIsLoadedAndThenKeptInAnAof(String rename) throws Exception {
        Path dir = tmp.resolve("redis");
        int port = freePort();
        rdbOnlyDataDir(dir, port, j -> j.set("job", "kept"));
        assertThat(dir.resolve("dump.rdb")).exists();
        assertThat(dir.resolve("appendonly.aof")).doesNotExist();

        RedisServerConfig.Builder server = RedisServerConfig.custom().port(port).dataDir(dir);
        if (!rename.isEmpty()) {
            server.setting("rename-command", rename);
        }
        Watchdog w = Watchdog.builder()
                .redis(server.build())
                .config(FAST.toBuilder().probeTimeout(Duration.ofSeconds(1)).hangTimeout(Duration.ofSeconds(10)).build())
                .build();
        open.add(w);
        w.start();
        assertThat(w.awaitUp(Duration.ofSeconds(20))).isTrue();
        long first = w.pid().getAsLong();
        seenPids.add(first);
        try (Jedis j = client(w)) {
            assertThat(j.get("job")).isEqualTo("kept");
            if (rename.startsWith("INFO")) {
                assertThat(j.configGet("appendonly")).containsEntry("appendonly", "yes");
            } else {
                assertThat(j.info("persistence")).contains("aof_enabled:1");
            }
            if (rename.equals("CONFIG \"\"")) {
                // Disabled again from the next start on: the conversion's random name was for its start only.
                assertThat(Files.readString(dir.resolve("redis.conf"))).contains("rename-command CONFIG spillway-config-");
            }
        }

        // Up means the AOF holds the data: a SIGKILL and a start with appendonly yes keep it.
        ProcessHandle.of(first).orElseThrow().destroyForcibly();
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20))
                .until(() -> w.pid().getAsLong() != first && w.isUp() && answers(w, "job", "kept"));
        seenPids.add(w.pid().getAsLong());
        if (rename.equals("CONFIG \"\"")) {
            assertThat(Files.readString(dir.resolve("redis.conf"))).contains("rename-command CONFIG \"\"")
                    .doesNotContain("spillway-config-");
        }
    }

    @Test
    void whileAnRdbIsConvertedWritesAreRefusedSoThatACrashLosesNoAcknowledgedWrite() throws Exception {
        Path dir = tmp.resolve("redis");
        int port = freePort();
        rdbOnlyDataDir(dir, port, j -> {
            for (int i = 0; i < 2_000; i++) {
                j.set("k" + i, "v");
            }
        });

        // 2 ms per key written by the AOF rewrite: the conversion takes about 4 s.
        Watchdog w = Watchdog.builder()
                .redis(RedisServerConfig.custom().port(port).dataDir(dir).setting("rdb-key-save-delay", "2000").build())
                .config(FAST.toBuilder().probeTimeout(Duration.ofSeconds(1)).hangTimeout(Duration.ofSeconds(10)).build())
                .build();
        open.add(w);
        w.start();
        try (Jedis j = new Jedis("127.0.0.1", port)) {
            await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> "PONG".equals(j.ping()));
            assertThat(w.isUp()).as("up only once the AOF is written").isFalse();
            assertThatThrownBy(() -> j.set("acknowledged", "then lost")).hasMessageContaining("NOREPLICAS");
        }
        assertThat(w.awaitUp(Duration.ofSeconds(30))).isTrue();
        seenPids.add(w.pid().getAsLong());
        try (Jedis j = client(w)) {
            assertThat(j.configGet("min-replicas-to-write")).containsEntry("min-replicas-to-write", "0");
            assertThat(j.set("after", "ok")).isEqualTo("OK");
            assertThat(j.get("k1999")).isEqualTo("v");
        }
    }

    @Test
    void aWrapperScriptThatDoesNotExecRedisIsStillItsOwnServer() throws Exception {
        Path wrapper = tmp.resolve("redis-wrapper.sh");
        Files.writeString(wrapper, "#!/bin/sh\n\"" + RedisBinary.locate() + "\" \"$@\"\n");
        wrapper.toFile().setExecutable(true);
        Watchdog w = Watchdog.builder()
                .redis(RedisServerConfig.custom().binary(wrapper).port(freePort()).dataDir(tmp.resolve("redis")).build())
                .config(FAST)
                .build();
        open.add(w);
        w.start();
        assertThat(w.awaitUp(Duration.ofSeconds(20))).isTrue();
        assertThat(w.failure()).isEmpty();
    }

    @Test
    void anotherServerOnThePortIsAFailureNotAStart() throws Exception {
        int port = freePort();
        Process other = plainRedis(tmp.resolve("other"), port);
        List<WatchdogEvent> events = new CopyOnWriteArrayList<>();
        Watchdog w = startedFast(RedisServerConfig.custom().port(port).dataDir(tmp.resolve("redis")).build(), events);

        assertThat(w.awaitStopped(Duration.ofSeconds(20))).as("the watchdog gave up").isTrue();
        seenPids.add(w.pid().getAsLong());
        assertThat(w.failure()).hasValueSatisfying(f -> {
            assertThat(f.cause()).isEqualTo(WatchdogEvent.Failed.Cause.PORT_IN_USE);
            assertThat(f.reason()).contains("port " + port + " is in use by pid " + other.pid());
        });
        assertThat(events).noneMatch(e -> e instanceof WatchdogEvent.Up);
        assertThat(w.isUp()).isFalse();
        assertThat(other.isAlive()).as("the other server is left alone").isTrue();
    }

    @Test
    void aClusterNodeWhoseBusPortIsTakenIsAFailureThatNamesTheBusPort() throws Exception {
        // Another program listens on port + 10000 before the watchdog starts: redis-server binds its client port, then
        // cannot bind its cluster bus and exits ("Failed listening on port … (cluster), aborting").
        try (ServerSocket squatter = listeningBusPort()) {
            int bus = squatter.getLocalPort();
            int port = bus - 10_000;
            Path dir = tmp.resolve("redis");
            List<WatchdogEvent> events = new CopyOnWriteArrayList<>();
            Watchdog w = Watchdog.builder()
                    .redis(RedisServerConfig.custom().port(port).dataDir(dir)
                            .setting("cluster-enabled", "yes")
                            .setting("cluster-config-file", "\"" + dir.resolve("nodes.conf").toAbsolutePath() + "\"")
                            .setting("cluster-node-timeout", "1000")
                            .setting("cluster-announce-ip", "127.0.0.1")
                            .build())
                    .config(FAST)
                    .build()
                    .onEvent(events::add);
            open.add(w);
            w.start();

            assertThat(w.awaitStopped(Duration.ofSeconds(20))).as("the watchdog gave up").isTrue();
            seenPids.add(w.pid().getAsLong());
            assertThat(w.failure()).hasValueSatisfying(f -> {
                assertThat(f.cause()).isEqualTo(WatchdogEvent.Failed.Cause.PORT_IN_USE);
                assertThat(f.reason()).isEqualTo("cluster bus port " + bus + " (port " + port + " + 10000) is in use by"
                        + " another process (redis-server could not listen on its cluster bus: Address already in use)");
            });
            assertThat(events).noneMatch(e -> e instanceof WatchdogEvent.Up);
            assertThat(w.restarts()).isZero();
        }
    }

    @Test
    void aPidFileNamingAnotherRedisServerDoesNotGetItKilled() throws Exception {
        Process unrelated = plainRedis(tmp.resolve("other"), freePort());
        Path dir = Files.createDirectories(tmp.resolve("redis"));
        // As if this directory's last server had had that pid, since reused by an unrelated redis-server.
        Files.writeString(dir.resolve("watchdog.pid"), Long.toString(unrelated.pid()));

        Watchdog w = redis(new MetricRegistry(), FAST);

        assertThat(w.pid().getAsLong()).isNotEqualTo(unrelated.pid());
        assertThat(unrelated.isAlive()).as("the unrelated redis-server").isTrue();
    }

    @Test
    void aServerLeftRunningInThisDataDirIsKilledBeforeTheStart() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("redis"));
        RedisServerConfig config = RedisServerConfig.custom().port(freePort()).dataDir(dir).build();
        // What a watchdog that was SIGKILLed leaves behind: its redis-server, still running, and watchdog.pid.
        Files.writeString(dir.resolve("redis.conf"), config.configText());
        Process leftover = new ProcessBuilder(RedisBinary.locate().toString(), dir.resolve("redis.conf").toString())
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(dir.resolve("leftover.out").toFile())
                .start();
        plain.add(leftover);
        Files.writeString(dir.resolve("watchdog.pid"), Long.toString(leftover.pid()));
        await().atMost(Duration.ofSeconds(10)).until(() -> pings(config.port()));

        Watchdog w = Watchdog.builder().redis(config).config(FAST).build();
        open.add(w);
        w.start();

        assertThat(w.awaitUp(Duration.ofSeconds(20))).isTrue();
        seenPids.add(w.pid().getAsLong());
        assertThat(w.pid().getAsLong()).isNotEqualTo(leftover.pid());
        assertThat(leftover.isAlive()).isFalse();
    }

    @Test
    void aRedisOlderThan7OverARedis7AofIsAFailureNotAnEmptyStart() throws Exception {
        // The embedded 6.2, whatever SPILLWAY_REDIS_SERVER names: it must not start over data Redis 7 wrote.
        Path old = RedisBinary.extractTo(RedisBinary.defaultCacheDir());
        String version = RedisBinary.version(old);
        org.junit.jupiter.api.Assumptions.assumeTrue(version.startsWith("6."), "embedded redis-server is " + version);
        Path dir = Files.createDirectories(tmp.resolve("redis"));
        Path aofDir = Files.createDirectories(dir.resolve("appendonlydir"));
        Files.writeString(aofDir.resolve("appendonly.aof.manifest"),
                "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n");
        List<WatchdogEvent> events = new CopyOnWriteArrayList<>();
        Watchdog w = startedFast(RedisServerConfig.custom().binary(old).port(freePort()).dataDir(dir).build(), events);

        assertThat(w.awaitStopped(Duration.ofSeconds(20))).as("the watchdog gave up").isTrue();
        assertThat(w.failure()).hasValueSatisfying(f -> {
            assertThat(f.cause()).isEqualTo(WatchdogEvent.Failed.Cause.REDIS_TOO_OLD);
            assertThat(f.reason()).contains(old.toString(), "is Redis " + version, aofDir.toString(), "7.0 or later");
        });
        assertThat(w.pid()).as("no redis-server was started").isEmpty();
        assertThat(events).noneMatch(e -> e instanceof WatchdogEvent.Up);
        assertThat(dir.resolve("appendonly.aof")).doesNotExist();
        assertThat(w.restarts()).isZero();
    }

    @Test
    void aDirectiveRedisRefusesIsAFailureWithRedisSOwnWordsNotAnEarlierRunsLine() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("redis"));
        // What earlier runs left: a clean shutdown in redis.log, another refused setting in redis.stdout.
        Files.writeString(dir.resolve("redis.log"), "1:M 01 Dec 2026 10:00:00.000 # Redis is now ready to exit, bye bye...\n");
        Files.writeString(dir.resolve("redis.stdout"), "*** FATAL CONFIG FILE ERROR (Redis 6.2.11) ***\n"
                + "Reading the configuration file, at line 9\n>>> 'appendfsync sometimes'\nargument must be 'no', 'always' or 'everysec'\n");
        List<WatchdogEvent> events = new CopyOnWriteArrayList<>();
        Watchdog w = startedFast(RedisServerConfig.custom().port(freePort()).dataDir(dir)
                .setting("maxmemory-policy", "noevictoin").build(), events);

        assertThat(w.awaitStopped(Duration.ofSeconds(10))).as("the watchdog gave up").isTrue();
        seenPids.add(w.pid().getAsLong());
        assertThat(w.failure()).hasValueSatisfying(f -> {
            assertThat(f.cause()).isEqualTo(WatchdogEvent.Failed.Cause.BAD_CONFIG);
            assertThat(f.reason()).contains("'maxmemory-policy noevictoin'", "must be one of")
                    .doesNotContain("sometimes", "bye bye");
        });
        assertThat(w.restarts()).isZero();
    }

    @Test
    void aBindAddressNotOfThisMachineIsAFailureNotARestartLoop() throws Exception {
        Watchdog w = Watchdog.builder()
                .redis(RedisServerConfig.custom().bind("192.0.2.1").port(freePort()).dataDir(tmp.resolve("redis")).build()) // TEST-NET-1
                .config(FAST)
                .build();
        open.add(w);
        w.start();

        assertThat(w.awaitStopped(Duration.ofSeconds(10))).as("the watchdog gave up").isTrue();
        seenPids.add(w.pid().getAsLong());
        assertThat(w.failure()).hasValueSatisfying(f -> {
            assertThat(f.cause()).isEqualTo(WatchdogEvent.Failed.Cause.BAD_CONFIG);
            assertThat(f.reason()).contains("192.0.2.1", "Cannot assign requested address");
        });
        assertThat(w.restarts()).isZero();
    }

    @Test
    void aProgramThatCannotRunIsAFailureNotARestartLoop() throws Exception {
        Watchdog w = Watchdog.builder()
                .command(List.of("spillway-no-such-program", "--flag"))
                .config(FAST)
                .build()
                .start();
        open.add(w);

        assertThat(w.awaitStopped(Duration.ofSeconds(20))).as("the watchdog gave up").isTrue();
        assertThat(w.failure()).hasValueSatisfying(f -> {
            assertThat(f.cause()).isEqualTo(WatchdogEvent.Failed.Cause.CANNOT_RUN);
            assertThat(f.reason()).contains("cannot run 'spillway-no-such-program'");
        });
        assertThat(w.restarts()).isZero();
    }

    @Test
    void aLoopThatDiesSaysWhyAndStopsItsChild() throws Exception {
        Watchdog w = Watchdog.builder()
                .command(List.of("sleep", "60"))
                .config(FAST)
                .build()
                .onEvent(e -> {
                    if (e instanceof WatchdogEvent.Up) {
                        // Listeners must not throw; an Error gets through publish() and ends the loop.
                        throw new AssertionError("listener bug");
                    }
                });
        open.add(w);
        w.start();

        assertThat(w.awaitStopped(Duration.ofSeconds(20))).as("the loop ended").isTrue();
        seenPids.add(w.pid().getAsLong());
        assertThat(w.failure()).hasValueSatisfying(f -> {
            assertThat(f.cause()).isEqualTo(WatchdogEvent.Failed.Cause.LOOP_FAILED);
            assertThat(f.reason()).contains("listener bug");
        });
    }

    /** A redis-server that no watchdog runs, in its own directory, with persistence off unless {@code extra} says. */
    /** A data dir that holds only an RDB: a plain Redis without AOF, filled, saved and stopped. */
    private void rdbOnlyDataDir(Path dir, int port, java.util.function.Consumer<Jedis> fill) throws IOException {
        Process rdbOnly = plainRedis(dir, port, "--appendonly", "no");
        try (Jedis j = new Jedis("127.0.0.1", port)) {
            fill.accept(j);
            j.save();
        }
        Processes.stopTree(rdbOnly.toHandle(), Duration.ofSeconds(5));
    }

    private Process plainRedis(Path dir, int port, String... extra) throws IOException {
        Files.createDirectories(dir);
        List<String> command = new ArrayList<>(List.of(RedisBinary.locate().toString(), "--port", Integer.toString(port),
                "--bind", "127.0.0.1", "--dir", dir.toString(), "--save", ""));
        command.addAll(List.of(extra));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("plain.out").toFile()).start();
        plain.add(p);
        await().atMost(Duration.ofSeconds(10)).until(() -> pings(port));
        return p;
    }

    private static boolean pings(int port) {
        try (Jedis j = new Jedis(new HostAndPort("127.0.0.1", port),
                DefaultJedisClientConfig.builder().connectionTimeoutMillis(300).socketTimeoutMillis(300).build())) {
            return "PONG".equals(j.ping());
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * A socket listening on loopback port {@code p + 10000}, where {@code p} was free too and both lie below the kernel's
     * ephemeral range (so no outgoing connection takes {@code p} meanwhile): the cluster bus port of a node on {@code p}.
     */
    private static ServerSocket listeningBusPort() throws IOException {
        int above = ephemeralStart();
        if (above < 21_000) {
            throw new IllegalStateException("no room for a port and port + 10000 below the ephemeral range, which starts at " + above);
        }
        Random random = new Random();
        for (int attempt = 0; attempt < 1_000; attempt++) {
            int port = 10_000 + random.nextInt(above - 20_000);
            if (!bindable(port)) {
                continue;
            }
            ServerSocket bus = new ServerSocket();
            try {
                bus.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port + 10_000));
            } catch (IOException taken) {
                bus.close();
                continue;
            }
            if (bindable(port)) {
                return bus;
            }
            bus.close();
        }
        throw new IllegalStateException("no free loopback port pair (port, port + 10000) below " + above);
    }

    private static boolean bindable(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int ephemeralStart() {
        try {
            // readAllLines: Files.readString reads a /proc file short (its size says 0).
            String[] range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).trim().split("\\s+");
            return Math.min(65_536, Integer.parseInt(range[0]));
        } catch (IOException | RuntimeException e) {
            return 32_768; // Linux's default
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }
}
