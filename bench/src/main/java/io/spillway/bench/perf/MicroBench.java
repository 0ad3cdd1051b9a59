package io.spillway.bench.perf;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/** Runs {@link JournalBenchmarks} in one forked JVM (with the Chronicle flags); results {@code jmh.<bench>.pNN} in µs. */
final class MicroBench {
    private final Env env;
    private final Results results;
    private final List<String> jvmFlags;

    MicroBench(Env env, Results results, List<String> jvmFlags) {
        this.env = env;
        this.results = results;
        this.jvmFlags = jvmFlags;
    }

    void run() throws Exception {
        List<String> flags = new ArrayList<>(jvmFlags);
        // The fork inherits this JVM's flags, run-benchmarks.sh's -Xms2g among them: its heap settings go last, both.
        flags.add("-Xms1g");
        flags.add("-Xmx1g");
        Options opts = new OptionsBuilder()
                .include(JournalBenchmarks.class.getName() + ".*")
                .forks(1)
                .warmupIterations(env.scale(3, 2))
                .warmupTime(TimeValue.seconds(1))
                .measurementIterations(env.scale(5, 3))
                .measurementTime(TimeValue.seconds(1))
                .jvmArgsAppend(flags.toArray(String[]::new))
                .shouldFailOnError(true)
                .build();
        Collection<RunResult> runs = new Runner(opts).run();
        for (RunResult r : runs) {
            String name = r.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.') + 1);
            var st = r.getPrimaryResult().getStatistics();
            for (double p : new double[] {50, 90, 99, 99.9, 99.99}) {
                results.add("jmh." + name + ".p" + fmt(p), st.getPercentile(p) / 1e3);
            }
            results.add("jmh." + name + ".mean", st.getMean() / 1e3);
            Env.log("jmh %s: p50 %.3f us, p99 %.3f us, p99.9 %.3f us", name, st.getPercentile(50) / 1e3,
                    st.getPercentile(99) / 1e3, st.getPercentile(99.9) / 1e3);
        }
    }

    static String fmt(double p) {
        return p == Math.floor(p) ? Integer.toString((int) p) : Double.toString(p).replace(".", "");
    }
}
