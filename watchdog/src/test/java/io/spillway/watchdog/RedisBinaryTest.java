package io.spillway.watchdog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedisBinaryTest {

    @TempDir
    Path tmp;

    @AfterEach
    void clearProperty() {
        System.clearProperty(RedisBinary.SYSTEM_PROPERTY);
    }

    @Test
    void locatesAnExecutableThatReportsAVersion() {
        Path binary = RedisBinary.locate();

        assertThat(binary).isRegularFile().isExecutable();
        assertThat(RedisBinary.version(binary)).matches("\\d+\\.\\d+\\.\\d+.*");
    }

    @Test
    void systemPropertyWins() throws Exception {
        Path fake = Files.createFile(tmp.resolve("my-redis"));
        fake.toFile().setExecutable(true);
        System.setProperty(RedisBinary.SYSTEM_PROPERTY, fake.toString());

        assertThat(RedisBinary.locate()).isEqualTo(fake);
    }

    @Test
    void explicitSettingThatIsNotExecutableIsAnError() {
        System.setProperty(RedisBinary.SYSTEM_PROPERTY, tmp.resolve("missing").toString());

        assertThatThrownBy(RedisBinary::locate)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(RedisBinary.SYSTEM_PROPERTY)
                .hasMessageContaining("missing");
    }

    @Test
    void findsRedisServerOnPath() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("bin"));
        Path exe = Files.createFile(dir.resolve("redis-server"));
        exe.toFile().setExecutable(true);

        assertThat(RedisBinary.findOnPath(tmp.resolve("nothing") + java.io.File.pathSeparator + dir)).isEqualTo(exe);
        assertThat(RedisBinary.findOnPath(tmp.resolve("nothing").toString())).isNull();
    }

    @Test
    void concurrentExtractionsAllYieldOneWorkingBinary() throws Exception {
        Path cache = tmp.resolve("cache");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Path>> results = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                results.add(pool.submit((Callable<Path>) () -> RedisBinary.extractTo(cache)));
            }
            Path first = results.get(0).get();
            for (Future<Path> f : results) {
                assertThat(f.get()).isEqualTo(first);
            }
            assertThat(RedisBinary.version(first)).matches("\\d+\\.\\d+\\.\\d+.*");
            // No half-written temp files are left behind by the losers of the race.
            try (var files = Files.list(cache)) {
                assertThat(files).containsExactly(first);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * A program planted where the binary is extracted is never run: a directory others may write in is refused, and a
     * file with other bytes than the embedded binary's is replaced (the review ran a planted script as root this way).
     */
    @Test
    void aPlantedBinaryIsNeverRun() throws Exception {
        String resource = RedisBinary.resourceName(System.getProperty("os.name"), System.getProperty("os.arch"));
        Path shared = tmp.resolve("shared");
        Files.createDirectory(shared);
        Files.setPosixFilePermissions(shared, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        Path planted = shared.resolve(resource);
        Files.writeString(planted, "#!/bin/sh\necho planted\n");
        Files.setPosixFilePermissions(planted, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        assertThatThrownBy(() -> RedisBinary.extractTo(shared)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("refusing to run a redis-server from a directory another user could write in");

        Path mine = tmp.resolve("mine");
        Files.createDirectory(mine);
        Files.setPosixFilePermissions(mine, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        Files.writeString(mine.resolve(resource), "#!/bin/sh\necho planted\n");
        Files.setPosixFilePermissions(mine.resolve(resource), java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        Path binary = RedisBinary.extractTo(mine);
        assertThat(RedisBinary.version(binary)).as("the real binary, not the planted script").matches("\\d+\\.\\d+\\.\\d+.*");

        Path fresh = tmp.resolve("fresh");
        RedisBinary.extractTo(fresh);
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh)))
                .as("made private").isEqualTo("rwx------");
        assertThat(RedisBinary.defaultCacheDir().getFileName().toString()).endsWith("-" + System.getProperty("user.name"));
    }

    @Test
    void mapsPlatformsToEmbeddedResources() {
        assertThat(RedisBinary.resourceName("Linux", "amd64")).isEqualTo("redis-server-6.2.6-v5-linux-amd64");
        assertThat(RedisBinary.resourceName("Linux", "aarch64")).isEqualTo("redis-server-6.2.7-linux-arm64");
        assertThat(RedisBinary.resourceName("Mac OS X", "aarch64")).isEqualTo("redis-server-6.2.6-v5-darwin-arm64");
        assertThat(RedisBinary.resourceName("Mac OS X", "x86_64")).isEqualTo("redis-server-6.2.6-v5-darwin-amd64");
        assertThatThrownBy(() -> RedisBinary.resourceName("SunOS", "sparc")).hasMessageContaining("sparc");
    }
}
