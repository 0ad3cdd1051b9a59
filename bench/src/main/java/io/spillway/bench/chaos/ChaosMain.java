package io.spillway.bench.chaos;

import java.util.ArrayList;
import java.util.List;

/**
 * The chaos harness's command line: runs one or more scenarios and prints a table per scenario.
 *
 * <pre>
 * java ${chronicle.jvm.flags} -cp ... io.spillway.bench.chaos.ChaosMain --scenario medium,nopersist --seed 42
 * </pre>
 *
 * Exit code: 0 if every scenario passed; 1 if a job was lost (in a scenario with persistence: any lost
 * job; without persistence: a lost job that the documented resend-window limit does not explain);
 * 2 on bad arguments. See {@link ChaosOptions#usage()} and {@code docs/reliability.md}.
 */
public final class ChaosMain {
    private ChaosMain() {
    }

    public static void main(String[] argv) throws Exception {
        Args a;
        try {
            a = Args.parse(argv, ChaosOptions.FLAGS, ChaosOptions.NAMES);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.err.print(ChaosOptions.usage());
            System.exit(2);
            return;
        }
        if (a.has("help")) {
            System.out.print(ChaosOptions.usage());
            return;
        }
        List<ChaosOptions> scenarios = new ArrayList<>();
        try {
            for (String name : a.get("scenario", "small").split(",")) {
                scenarios.add(ChaosOptions.of(name.trim(), a));
            }
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        boolean allPassed = true;
        List<String> tables = new ArrayList<>();
        for (ChaosOptions o : scenarios) {
            System.out.println("[chaos] seed " + o.seed() + " (rerun with --scenario " + o.name() + " --seed " + o.seed()
                    + (o.overlap() ? " --overlap on" : "") + (o.nested() ? " --nested on" : "") + " and the run's other options)");
            ChaosResult r = new ChaosRun(o, System.out).run();
            tables.add(r.table());
            allPassed &= r.passed();
            System.out.println();
            System.out.println(r.table());
        }
        if (tables.size() > 1) {
            System.out.println("==== all scenarios ====");
            tables.forEach(System.out::println);
        }
        System.exit(allPassed ? 0 : 1);
    }
}
