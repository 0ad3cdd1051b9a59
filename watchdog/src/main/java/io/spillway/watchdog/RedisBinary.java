package io.spillway.watchdog;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds an executable {@code redis-server}.
 *
 * <p>{@link #locate()} looks in this order and returns the first hit:
 * <ol>
 *   <li>the system property {@value #SYSTEM_PROPERTY}, if set (it must name an executable file);</li>
 *   <li>the environment variable {@value #ENV_VARIABLE}, if set (same rule);</li>
 *   <li>{@code redis-server} in a directory of {@code PATH};</li>
 *   <li>the binary shipped in the {@code com.github.codemonstur:embedded-redis} jar for this OS and
 *       architecture (linux amd64/arm64/386, darwin amd64/arm64), extracted once into
 *       {@code ${java.io.tmpdir}/spillway-redis-<embedded-redis version>-<user>/} (private to the user; a binary
 *       there runs only if it has the embedded one's bytes) and made executable.</li>
 * </ol>
 * An explicit setting that does not name an executable file is an error, not a reason to fall
 * through: a typo there must not silently test against another Redis.
 *
 * <p>Extraction is safe across threads and JVMs: each writer copies into its own temp file in the
 * cache directory and renames it into place atomically, so a reader sees either no binary or a
 * complete one. Note that the embedded binaries are named {@code 6.2.6}/{@code 6.2.7} but the
 * linux-amd64 one reports {@code v=6.2.11}: trust {@link #version(Path)}, not the file name.
 *
 * <p>Thread-safe; all methods are static.
 *
 * <pre>{@code
 * Path redis = RedisBinary.locate();
 * String v = RedisBinary.version(redis);   // e.g. "6.2.11"
 * new ProcessBuilder(redis.toString(), "--port", "6390").start();
 * }</pre>
 */
public final class RedisBinary {

    /** System property naming a redis-server binary; wins over everything else. */
    public static final String SYSTEM_PROPERTY = "spillway.redis.server";
    /** Environment variable naming a redis-server binary; used when the property is not set. */
    public static final String ENV_VARIABLE = "SPILLWAY_REDIS_SERVER";

    private static final String EXECUTABLE = "redis-server";
    private static final String POM_PROPERTIES =
            "/META-INF/maven/com.github.codemonstur/embedded-redis/pom.properties";
    private static final Pattern VERSION = Pattern.compile("v=(\\S+)");

    private RedisBinary() {
    }

    /**
     * Returns an executable redis-server, following the lookup order in the class comment.
     *
     * @throws IllegalStateException if an explicit setting is not executable, or no binary exists
     *         for this platform
     * @throws UncheckedIOException if extracting the embedded binary fails
     */
    public static Path locate() {
        String explicit = System.getProperty(SYSTEM_PROPERTY);
        if (explicit != null && !explicit.isBlank()) {
            return requireExecutable(Path.of(explicit), "system property " + SYSTEM_PROPERTY);
        }
        explicit = System.getenv(ENV_VARIABLE);
        if (explicit != null && !explicit.isBlank()) {
            return requireExecutable(Path.of(explicit), "environment variable " + ENV_VARIABLE);
        }
        Path onPath = findOnPath(System.getenv("PATH"));
        if (onPath != null) {
            return onPath;
        }
        return extractTo(defaultCacheDir());
    }

    /**
     * Runs {@code binary --version} and returns the version number, e.g. {@code "6.2.11"}, or the
     * whole first output line if it has no {@code v=} field.
     *
     * @throws IllegalStateException if the binary does not answer within 10 seconds or exits non-zero
     */
    public static String version(Path binary) {
        try {
            Process p = new ProcessBuilder(binary.toString(), "--version").redirectErrorStream(true).start();
            // Read before waiting: a full pipe would otherwise block the child.
            String out;
            try (InputStream in = p.getInputStream()) {
                out = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
            }
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(binary + " --version did not exit within 10 s");
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException(binary + " --version exited with " + p.exitValue() + ": " + out);
            }
            Matcher m = VERSION.matcher(out);
            return m.find() ? m.group(1) : out.lines().findFirst().orElse("");
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot run " + binary + " --version", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while running " + binary + " --version", e);
        }
    }

    static Path findOnPath(String path) {
        if (path == null) {
            return null;
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, EXECUTABLE);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    /** Per user: a directory another user made first in a shared temp directory is never used (see {@link #extractTo}). */
    static Path defaultCacheDir() {
        String user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_");
        return Path.of(System.getProperty("java.io.tmpdir"), "spillway-redis-" + embeddedVersion() + "-" + user);
    }

    /**
     * Extracts the embedded binary for this platform into {@code cacheDir}, unless an identical copy is there. The
     * directory is made private (0700) when created here; one that exists must belong to this user and be writable by no
     * one else, and a binary found in it runs only if it has the embedded binary's exact bytes: in a shared temp
     * directory another user could otherwise plant a program that this process would run (with the password that the
     * watchdog's redis.conf holds).
     *
     * @throws IllegalStateException if the directory belongs to another user or others may write in it
     */
    static Path extractTo(Path cacheDir) {
        String resource = resourceName(System.getProperty("os.name"), System.getProperty("os.arch"));
        Path target = cacheDir.resolve(resource);
        try {
            privateDirectory(cacheDir);
            if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS) && Files.isExecutable(target)
                    && sameBytes(target, resource)) {
                return target;
            }
            Path tmp = Files.createTempFile(cacheDir, resource + ".", ".part");
            try {
                try (InputStream in = RedisBinary.class.getResourceAsStream("/" + resource)) {
                    if (in == null) {
                        throw new IllegalStateException("embedded-redis jar has no resource " + resource);
                    }
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                }
                makeExecutable(tmp);
                moveIntoPlace(tmp, target);
            } finally {
                Files.deleteIfExists(tmp);
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot extract " + resource + " into " + cacheDir, e);
        }
    }

    /** Creates {@code dir} 0700, or checks that the one there is this user's and that no one else may write in it. */
    static void privateDirectory(Path dir) throws IOException {
        boolean posix = dir.getFileSystem().supportedFileAttributeViews().contains("posix");
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir.getParent());
            try {
                if (posix) {
                    Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                } else {
                    Files.createDirectory(dir);
                }
                return;
            } catch (FileAlreadyExistsException raced) {
                // another JVM of this user made it just now: checked below like any existing one
            }
        }
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalStateException(dir + " is not a directory (a link or a file is in the way): refusing to run a"
                    + " redis-server from it; remove it, or set " + ENV_VARIABLE);
        }
        if (posix) {
            String owner = Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName();
            String me = System.getProperty("user.name");
            java.util.Set<java.nio.file.attribute.PosixFilePermission> perms = Files.getPosixFilePermissions(dir,
                    LinkOption.NOFOLLOW_LINKS);
            if (!owner.equals(me) || perms.contains(java.nio.file.attribute.PosixFilePermission.GROUP_WRITE)
                    || perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE)) {
                throw new IllegalStateException(dir + " belongs to " + owner + " with permissions "
                        + PosixFilePermissions.toString(perms) + ": refusing to run a redis-server from a directory another"
                        + " user could write in; remove it, or set " + ENV_VARIABLE);
            }
        }
    }

    /** Whether {@code file} holds exactly the embedded {@code resource}'s bytes. */
    private static boolean sameBytes(Path file, String resource) throws IOException {
        try (InputStream in = RedisBinary.class.getResourceAsStream("/" + resource)) {
            if (in == null) {
                return false;
            }
            return java.util.Arrays.equals(digest(in), digest(Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)));
        }
    }

    private static byte[] digest(InputStream in) throws IOException {
        try (InputStream s = in) {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = s.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return md.digest();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JDK has SHA-256
        }
    }

    private static void moveIntoPlace(Path tmp, Path target) throws IOException {
        try {
            // rename(2) replaces atomically: a racing JVM that won first is overwritten by an identical file.
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
            // Filesystems (or Windows) that refuse to replace: the other writer's complete file is as good.
            if (!Files.isRegularFile(target)) {
                throw e;
            }
        }
    }

    private static void makeExecutable(Path file) throws IOException {
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwx------"));
        } catch (UnsupportedOperationException e) {
            if (!file.toFile().setExecutable(true, false)) {
                throw new IOException("Cannot make " + file + " executable", e);
            }
        }
    }

    static String resourceName(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        String arch = osArch.toLowerCase(Locale.ROOT);
        boolean arm64 = arch.equals("aarch64") || arch.equals("arm64");
        boolean amd64 = arch.equals("amd64") || arch.equals("x86_64");
        boolean x86 = arch.equals("x86") || arch.equals("i386") || arch.equals("i686");
        if (os.contains("linux")) {
            if (amd64) {
                return "redis-server-6.2.6-v5-linux-amd64";
            }
            if (arm64) {
                return "redis-server-6.2.7-linux-arm64";
            }
            if (x86) {
                return "redis-server-6.2.7-linux-386";
            }
        } else if (os.contains("mac") || os.contains("darwin")) {
            if (amd64) {
                return "redis-server-6.2.6-v5-darwin-amd64";
            }
            if (arm64) {
                return "redis-server-6.2.6-v5-darwin-arm64";
            }
        } else if (os.contains("windows") && amd64) {
            return "redis-server-5.0.14.1-windows-amd64.exe";
        }
        throw new IllegalStateException("No embedded redis-server for os.name=" + osName + ", os.arch=" + osArch
                + "; install redis-server or set " + SYSTEM_PROPERTY);
    }

    private static String embeddedVersion() {
        try (InputStream in = RedisBinary.class.getResourceAsStream(POM_PROPERTIES)) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                String v = p.getProperty("version");
                if (v != null && !v.isBlank()) {
                    return v.trim();
                }
            }
        } catch (IOException e) {
            // Fall through: an unversioned cache dir still works, it is just shared more widely.
        }
        return "unversioned";
    }

    private static Path requireExecutable(Path path, String source) {
        if (!Files.isRegularFile(path) || !Files.isExecutable(path)) {
            throw new IllegalStateException(source + " names " + path + ", which is not an executable file");
        }
        return path;
    }
}
