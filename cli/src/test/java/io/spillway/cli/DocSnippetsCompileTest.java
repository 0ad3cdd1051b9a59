package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code ```java} block of the README and of {@code docs/*.md}, and every usage example
 * ({@code <pre>{@code …}</pre>}) in the Javadoc of the modules' public types, compiles against the public API as
 * written: the README's quick start is what users paste (issue 2: "must work as written"), and a renamed method or a
 * changed signature must fail a build, not a reader.
 *
 * <p>Each block becomes the body of one method of a class that imports the public packages of every module, with the
 * names the blocks use without declaring them ({@code payloadBytes}, {@code uri}, {@code render(…)}, …) declared as
 * fields of the class ({@link #FIXTURE}). A line that starts with {@code ...} (the snippet's "your code here") loses it.
 * The few Javadoc examples that are not statements (a shell command, a builder fragment) are listed in
 * {@link #NOT_STATEMENTS}, each with the reason. Compiled in memory with the JDK's compiler and the test classpath;
 * nothing is run (the quick start runs in {@code WorkerIT.quickStartWithTheProducerAndStatusFromTheBackendSide}).
 */
@Tag("first-pass-only") // no Redis: once is enough
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DocSnippetsCompileTest {
    private static final Path ROOT = Path.of("..");

    private static final String IMPORTS = """
            import com.codahale.metrics.MetricRegistry;
            import com.codahale.metrics.health.HealthCheckRegistry;
            import io.spillway.backend.*;
            import io.spillway.core.*;
            import io.spillway.metrics.*;
            import io.spillway.testing.*;
            import io.spillway.watchdog.*;
            import io.spillway.worker.*;
            import redis.clients.jedis.Jedis;
            import redis.clients.jedis.RedisClusterClient;
            import java.net.URI;
            import java.nio.file.Path;
            import java.time.Duration;
            import java.time.Instant;
            import java.time.ZoneId;
            import java.util.List;
            """;

    /** The names the snippets use as given: what the reader's own code would hold. */
    private static final String FIXTURE = """
                byte[] payloadBytes;
                List<byte[]> manyPayloads;
                String traceId;
                String jobId;
                URI uri;
                Path dir;
                MetricRegistry registry;
                HealthCheckRegistry healthChecks;
                JobProducer producer;
                Worker worker;
                byte[] bytes;
                String userId;
                Path tmp;
                String user;
                String password;
                String masterPassword;
                String sentinelPassword;

                Images images;

                void render(String id, byte[] payload) {
                }

                interface Images {
                    void render(String id, byte[] payload) throws Exception;
                }

                static final class WorkerMain {
                    public static void main(String[] args) {
                    }
                }
            """;

    /**
     * Javadoc examples that are not Java statements, by file and first line: left out, each for the reason given.
     */
    private static final Map<String, String> NOT_STATEMENTS = Map.of(
            "SpillwayCli.java:java -jar cli/target/spillway.jar demo", "shell commands",
            "NonRetryableException.java:.handler(\"render\", job -> {", "a builder call taken out of its chain",
            "Worker.java:public static void main(String[] args) throws InterruptedException {",
            "a whole main method, its builder shortened to '...'",
            "Worker.java:Worker.builder().queues(\"critical\", \"default\", \"bulk\").strictPriority(true) ...",
            "a builder chain shortened to '...'",
            "TestCertificates.java:TestCertificates certs = TestCertificates.create(tempDir);",
            "its try block's body is prose");

    /** One {@code ```java} block: where it is, and its lines. */
    record Snippet(Path file, int line, List<String> body) {
        String where() {
            return ROOT.relativize(file) + ":" + line;
        }
    }

    @Test
    void everyJavaBlockOfTheReadmeAndTheDocsAndEveryJavadocExampleCompiles(@TempDir Path out) throws IOException {
        List<Snippet> snippets = new ArrayList<>(snippets(ROOT.resolve("README.md")));
        try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
            for (Path doc : docs.filter(p -> p.toString().endsWith(".md")).sorted().toList()) {
                snippets.addAll(snippets(doc));
            }
        }
        // The README's quick start and the blocks of guarantees, metrics, operations and worker at the time of writing:
        // fewer means the reading below broke, not that the docs lost their examples.
        assertThat(snippets).hasSizeGreaterThanOrEqualTo(10);
        assertThat(snippets).anySatisfy(s -> assertThat(s.file().getFileName()).hasToString("README.md"));
        List<Snippet> javadoc = new ArrayList<>();
        for (String module : List.of("core", "backend-adapter", "worker-adapter", "metrics-reporter", "watchdog", "cli",
                "test-support")) {
            try (Stream<Path> sources = Files.walk(ROOT.resolve(module).resolve("src/main/java"))) {
                for (Path source : sources.filter(DocSnippetsCompileTest::publicApiSource).sorted().toList()) {
                    javadoc.addAll(javadocExamples(source));
                }
            }
        }
        List<String> skipped = new ArrayList<>();
        for (Snippet s : javadoc) {
            String key = s.file().getFileName() + ":" + (s.body().isEmpty() ? "" : s.body().get(0).strip());
            if (NOT_STATEMENTS.containsKey(key)) {
                skipped.add(key);
            } else {
                snippets.add(s);
            }
        }
        // Each one left out still exists (else the list hides nothing and should lose that entry).
        assertThat(skipped).containsExactlyInAnyOrderElementsOf(NOT_STATEMENTS.keySet());
        assertThat(javadoc.size() - skipped.size()).as("javadoc examples compiled").isGreaterThanOrEqualTo(20);

        StringBuilder source = new StringBuilder(IMPORTS).append("\nclass Snippets {\n").append(FIXTURE);
        List<String> whereOfLine = new ArrayList<>();
        int lines = source.toString().split("\n", -1).length - 1;
        for (int i = 0; i < lines; i++) {
            whereOfLine.add("(fixture)");
        }
        for (int n = 0; n < snippets.size(); n++) {
            Snippet s = snippets.get(n);
            source.append("    void snippet").append(n).append("() throws Exception {\n");
            whereOfLine.add(s.where());
            for (int i = 0; i < s.body().size(); i++) {
                String line = s.body().get(i);
                // "..." (then maybe a comment): the reader's own code goes here
                source.append("        ").append(line.strip().startsWith("...") ? line.replaceFirst("\\.\\.\\.", "") : line)
                        .append('\n');
                whereOfLine.add(s.file().getFileName() + ":" + (s.line() + 1 + i));
            }
            source.append("    }\n");
            whereOfLine.add(s.where());
        }
        source.append("}\n");

        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        StringWriter output = new StringWriter();
        JavaFileObject unit = new SimpleJavaFileObject(URI.create("string:///Snippets.java"), JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                return source;
            }
        };
        boolean compiled;
        try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, Locale.ROOT, null)) {
            compiled = javac.getTask(output, files, diagnostics,
                    List.of("-classpath", System.getProperty("java.class.path"), "-d", out.toString(), "-proc:none",
                            "-Xlint:none"),
                    null, List.of(unit)).call();
        }
        List<String> errors = diagnostics.getDiagnostics().stream()
                .filter(d -> d.getKind() == Diagnostic.Kind.ERROR)
                .map(d -> {
                    int line = (int) d.getLineNumber();
                    String where = line >= 1 && line <= whereOfLine.size() ? whereOfLine.get(line - 1) : "?";
                    return where + ": " + d.getMessage(Locale.ROOT);
                })
                .toList();
        assertThat(errors).as("doc examples that do not compile (file:line)").isEmpty();
        assertThat(compiled).as(output.toString()).isTrue();
    }

    /** A source file of a module's public package (io.spillway.<module>, not its internal packages). */
    static boolean publicApiSource(Path file) {
        Path parent = file.getParent();
        return file.toString().endsWith(".java") && parent.getParent() != null
                && parent.getParent().getFileName().toString().equals("spillway");
    }

    /** The {@code <pre>{@code …}</pre>} examples of one source file's Javadoc, unescaped. */
    static List<Snippet> javadocExamples(Path file) throws IOException {
        return blocks(file, "* <pre>{@code", "* }</pre>", line -> line.replaceFirst("^\\s*\\*( |$)", "")
                .replace("&#64;", "@").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"));
    }

    /** The {@code ```java} blocks of one markdown file. */
    static List<Snippet> snippets(Path file) throws IOException {
        return blocks(file, "```java", "```", line -> line);
    }

    /**
     * The blocks of {@code file} between a line that is {@code open} and the next that starts with {@code close} (both
     * stripped), each line of them given by {@code asJava}.
     */
    private static List<Snippet> blocks(Path file, String open, String close, UnaryOperator<String> asJava)
            throws IOException {
        List<String> lines = Files.readAllLines(file);
        List<Snippet> found = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).strip().equals(open)) {
                continue;
            }
            int start = i;
            List<String> body = new ArrayList<>();
            for (i++; i < lines.size() && !lines.get(i).strip().startsWith(close); i++) {
                body.add(asJava.apply(lines.get(i)));
            }
            found.add(new Snippet(file, start + 1, body));
        }
        return found;
    }
}
