package io.spillway.bench.perf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes {@code docs/benchmarks.md} and the {@code docs/img/bench-*.png} charts from one run's results. Everything of
 * the page already there from the line {@value #HISTORY} on (the hand-written session notes) is kept, below the new
 * figures: a run replaces the generated part only.
 */
final class ReportWriter {
    /** The line that starts the part of the page a run keeps. */
    static final String HISTORY = "<!-- history: kept as it is when bench/run-benchmarks.sh rewrites the page above -->";

    private final Results r;
    private final Map<String, String> meta;
    private final Map<String, List<double[]>> curves;
    private final StringBuilder md = new StringBuilder();

    ReportWriter(Results results, Map<String, String> meta, Map<String, List<double[]>> curves) {
        this.r = results;
        this.meta = meta;
        this.curves = curves;
    }

    void write(Path docs) throws IOException {
        Path img = docs.resolve("img");
        Files.createDirectories(img);
        header();
        summary();
        analysis();
        enqueue(img);
        batch(img);
        e2e(img);
        rtt();
        spool(img);
        transitions();
        replay();
        outage(img);
        memory(img);
        method();
        Path page = docs.resolve("benchmarks.md");
        md.append(history(page));
        Files.writeString(page, md.toString());
    }

    /** The kept part of the page now at {@code page}, from the {@link #HISTORY} line on; the line alone if none. */
    static String history(Path page) throws IOException {
        String old = Files.exists(page) ? Files.readString(page) : "";
        int at = old.indexOf(HISTORY);
        return "\n" + (at < 0 ? HISTORY + "\n" : old.substring(at));
    }

    // ---- sections

    private void header() {
        md.append("# Benchmarks\n\n");
        md.append("Spillway side by side with raw Jedis, Redisson, BullMQ and `redis-benchmark`, **in one run on one Redis**. ")
                .append("Every figure is the **median of repeated runs** (n = the number of runs; min–max in brackets where it matters); ")
                .append("ratios are taken between medians of the same run. Single-round-trip figures on a 2-core machine swing with ")
                .append("background load: read the ratios, not the absolute numbers. The sessions' later measurements of single ")
                .append("figures, and the latest of each target, are in the history at the end of this page.\n\n");
        md.append("Reproduce (from the repository root):\n\n```\n").append(meta.getOrDefault("command", "bench/run-benchmarks.sh")).append("\n```\n\n");
        md.append("| | |\n|---|---|\n");
        row2("run", meta.get("mode") + ", started " + meta.get("started") + ", " + meta.get("seconds.total") + " s in all");
        row2("machine", meta.get("machine"));
        row2("load average (start → end)", meta.get("loadavg.start") + " → " + meta.get("loadavg.end")
                + " (other engineers' builds share these 2 cores)");
        row2("JDK", meta.get("jdk"));
        row2("Redis", meta.get("redis"));
        row2("libraries", meta.get("libraries"));
        row2("BullMQ", meta.get("bullmq"));
        row2("redis-benchmark", meta.get("redis-benchmark") + " (the Debian redis-tools package: a newer client than the 6.2 server;"
                + " it only sends commands)");
        row2("payload", "200 bytes per job in every system (Spillway's encoded record: about 280 bytes with id, queue, type, times)");
        md.append('\n');
        StringBuilder failed = new StringBuilder();
        r.notes().forEach((k, v) -> {
            if (k.startsWith("failed.")) {
                failed.append("- section `").append(k.substring(7)).append("` failed: `").append(v.replace('`', '\'')).append("`\n");
            }
        });
        if (failed.length() > 0) {
            md.append("**Sections that failed in this run** (their figures are missing below):\n\n").append(failed).append('\n');
        }
    }

    private void summary() {
        md.append("## Targets (issues 2 and 3)\n\n");
        md.append("| figure | target | measured (median) | ratio / margin | met |\n|---|---|---|---|---|\n");
        for (int t : new int[] {1, 8}) {
            double sp = r.median("enqueue.single." + t + ".spillway");
            double raw = r.median("enqueue.single." + t + ".jedis-lua");
            ratioTarget("enqueue, " + t + (t == 1 ? " thread" : " threads") + ": JobProducer vs raw Jedis running the same enqueue.lua",
                    "≥ 0.9× raw", 0.9, "enqueue.pair." + t + ".ratio", rate(sp) + " vs " + rate(raw), sp / raw);
        }
        double b = r.median("enqueue.batch.spillway");
        double bx = r.median("enqueue.batch.jedis-xadd");
        target("batched enqueue (`enqueueAll`, 500 per call)", "≥ 100,000 jobs/s", rateRange("enqueue.batch.spillway"),
                ratio(b / 100_000), b >= 100_000);
        ratioTarget("batched enqueue vs bare pipelined XADD of the same records", "≥ 0.5×", 0.5, "enqueue.pair.batch.ratio",
                rate(b) + " vs " + rateRange("enqueue.batch.jedis-xadd"), b / bx);
        double p99 = r.median("spool.p99");
        double p999 = r.median("spool.p999");
        target("enqueue latency while spooling, p99 (plain harness)", "≤ 5 µs", us(p99), ratio(p99 / 5), p99 <= 5);
        target("enqueue latency while spooling, p99.9 (plain harness)", "≤ 20 µs", us(p999), ratio(p999 / 20), p999 <= 20);
        double ref = r.median("transition.refused.faultToJournalMs");
        target("Redis refusing (SIGKILL) → enqueues going to the journal (from Redis refusing to the first spooled enqueue's return)",
                "≤ 1 ms", msRange("transition.refused.faultToJournalMs"), ratio(ref / 1), ref <= 1);
        if (r.has("transition.refused.maxCallAfterFaultMs")) {
            double after = r.median("transition.refused.maxCallAfterFaultMs");
            target("Redis refusing: the longest wait of an enqueue started after Redis refused", "≤ 1 ms",
                    msRange("transition.refused.maxCallAfterFaultMs"), ratio(after / 1), after <= 1);
        }
        double hang = r.median("transition.hang.firstSpooledCallMs");
        target("Redis hanging (SIGSTOP) → enqueue goes to the journal: the caller's wait", "≤ 250 ms", ms(hang), ratio(hang / 250),
                hang <= 250);
        double rp = r.median("replay.replayer.jobsPerSec");
        double rs = r.median("replay.replayer.seconds");
        target("replay of a " + count(jobsReplayed()) + "-job journal (Replayer)", "≥ 100,000 jobs/s, ≤ 10 s",
                rate(rp) + ", " + sec(rs), ratio(rp / 100_000), rp >= 100_000 && rs <= 10);
        double rpp = r.median("replay.producer.jobsPerSec");
        target("the same, a producer opened on the journal (build() → backlog 0)", "≥ 100,000 jobs/s", rate(rpp) + ", "
                + sec(r.median("replay.producer.seconds")), ratio(rpp / 100_000), rpp >= 100_000);
        double hg = r.median("memory.heapGrowthMB");
        target("heap growth with " + count(r.median("memory.jobs")) + " jobs spooled", "< 32 MB", mb(hg), ratio(hg / 32), hg < 32);
        double e4 = Math.max(r.median("e2e.4.spillway"), r.median("e2e.4.spillway-prefetch200"));
        double bull50 = r.median("e2e.50.bullmq");
        target("end to end (enqueue → no-op → ack), Spillway 4 threads (best of default / prefetch 200) vs BullMQ concurrency 50",
                "≥ 3× BullMQ", rate(e4) + " vs " + rate(bull50), ratio(e4 / bull50), e4 / bull50 >= 3);
        double e4d = r.median("e2e.4.spillway");
        target("the same, Spillway with its default settings", "≥ 3× BullMQ", rate(e4d) + " vs " + rate(bull50), ratio(e4d / bull50),
                e4d / bull50 >= 3);
        md.append('\n');
    }

    /** Hand-written findings (analysis.md next to this class), written after looking at a run: not regenerated. */
    private void analysis() throws IOException {
        try (var in = ReportWriter.class.getResourceAsStream("analysis.md")) {
            if (in != null) {
                md.append(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim()).append("\n\n");
            }
        }
    }

    private void enqueue(Path img) {
        md.append("## Enqueue throughput, one job per call\n\n");
        md.append("Each caller thread enqueues one 200-byte job at a time and waits for the answer. `JobProducer.enqueue` runs one ")
                .append("EVALSHA of `enqueue.lua` per job (inside: `EXISTS` of the job's status record, the dedupe marker; `XADD`; `SET` of the record). ")
                .append("*Raw Jedis, same script* sends the very same ")
                .append("EVALSHA (same keys, same record size) through a pooled `RedisClient`: the anchor of the 0.9× target. ")
                .append("*SET NX EX + XADD* is a dedupe marker and the job in two round trips; *XADD only* has no dedupe at all (the floor); ")
                .append("Redisson is `RBlockingQueue.offer` (RPUSH); BullMQ is `Queue.add` with 1 or 8 concurrent async loops in one ")
                .append("Node process; redis-benchmark sends `XADD` with 1 or 8 connections.\n\n");
        String[][] sys = {{"spillway", "Spillway `enqueue`"}, {"jedis-lua", "raw Jedis, same enqueue.lua"},
            {"jedis-setnx-xadd", "raw Jedis SET NX EX + XADD"}, {"jedis-xadd", "raw Jedis XADD only"},
            {"redisson", "Redisson RBlockingQueue.offer"}, {"bullmq", "BullMQ Queue.add"}};
        md.append("| system | 1 thread, jobs/s | ratio to raw same script | 8 threads, jobs/s | ratio to raw same script |\n|---|---|---|---|---|\n");
        for (String[] s : sys) {
            md.append("| ").append(s[1]);
            for (int t : new int[] {1, 8}) {
                String id = "enqueue.single." + t + "." + s[0];
                md.append(" | ").append(rateRange(id)).append(" | ").append(ratio(r.median(id) / r.median("enqueue.single." + t + ".jedis-lua")));
            }
            md.append(" |\n");
        }
        md.append("| redis-benchmark `XADD` (1 / 8 connections) | ").append(rateRange("redisbench.c1")).append(" | ")
                .append(ratio(r.median("redisbench.c1") / r.median("enqueue.single.1.jedis-lua"))).append(" | ")
                .append(rateRange("redisbench.c8")).append(" | ")
                .append(ratio(r.median("redisbench.c8") / r.median("enqueue.single.8.jedis-lua"))).append(" |\n\n");
        if (r.has("enqueue.pair.1.ratio") || r.has("enqueue.pair.8.ratio")) {
            md.append("The target's ratio, in **alternating pairs** (Spillway and raw Jedis with the same script one right after the ")
                    .append("other, " + EnqueueBench.PAIRS + " pairs per repetition, each pair's own ratio; see *How it is measured*): ")
                    .append("1 thread, ").append(pairStats("enqueue.pair.1.ratio")).append(" → **").append(ratio(r.median("enqueue.pair.1.ratio")))
                    .append("**; 8 threads, ").append(pairStats("enqueue.pair.8.ratio")).append(" → **")
                    .append(ratio(r.median("enqueue.pair.8.ratio"))).append("**.\n\n");
        }
        List<String> cats = new ArrayList<>();
        List<List<Double>> vals = new ArrayList<>();
        List<Double> one = new ArrayList<>();
        List<Double> eight = new ArrayList<>();
        for (String[] s : sys) {
            cats.add(shortName(s[0]));
            one.add(r.median("enqueue.single.1." + s[0]));
            eight.add(r.median("enqueue.single.8." + s[0]));
        }
        cats.add("redis-benchmark");
        one.add(r.median("redisbench.c1"));
        eight.add(r.median("redisbench.c8"));
        vals.add(one);
        vals.add(eight);
        Charts.bars(img.resolve("bench-enqueue.png"), "Enqueue, one job per call (median jobs/s, higher is better)", "jobs/s", cats,
                List.of("1 thread", "8 threads"), vals, null, null);
        md.append("![enqueue throughput](img/bench-enqueue.png)\n\n");
    }

    private void batch(Path img) {
        md.append("## Batched enqueue\n\n");
        md.append("One thread, batches of 500 jobs of 200 bytes. `enqueueAll` sends one EVALSHA of `enqueue.lua` per batch (idempotent ")
                .append("like the single path). *Raw Jedis, one script call per batch* is the same Redis work without Spillway; the ")
                .append("*bare pipelined XADD* (500 XADDs of the same records per pipeline, no dedupe) is the anchor of the 0.5× target.\n\n");
        String[][] sys = {{"spillway", "Spillway `enqueueAll` (500 per call)"},
            {"spillway-write-ahead", "Spillway `enqueueAll` (500), write-ahead producer: until every job is in Redis"},
            {"jedis-lua", "raw Jedis, enqueue.lua, one call per 500"},
            {"jedis-xadd", "raw Jedis, pipelined XADD ×500 (no dedupe)"}, {"redisson", "Redisson `addAll` (500)"},
            {"bullmq", "BullMQ `addBulk` (500)"}};
        md.append("| system | jobs/s | ratio to pipelined XADD |\n|---|---|---|\n");
        List<String> cats = new ArrayList<>();
        List<Double> v = new ArrayList<>();
        for (String[] s : sys) {
            String id = "enqueue.batch." + s[0];
            md.append("| ").append(s[1]).append(" | ").append(rateRange(id)).append(" | ").append(ratio(r.median(id) / r.median("enqueue.batch.jedis-xadd"))).append(" |\n");
            cats.add(shortName(s[0]).replace("Jedis XADD", "Jedis XADD pipelined").replace("Jedis same Lua", "Jedis Lua/batch"));
            v.add(r.median(id));
        }
        md.append("| redis-benchmark `XADD`, pipeline 500 | ").append(rateRange("redisbench.c1-pipe500")).append(" | ")
                .append(ratio(r.median("redisbench.c1-pipe500") / r.median("enqueue.batch.jedis-xadd"))).append(" |\n\n");
        if (r.has("enqueue.pair.batch.ratio")) {
            md.append("The target's ratio, in **alternating pairs** (`enqueueAll` and the bare pipelined `XADD` one right after the other, ")
                    .append(EnqueueBench.BATCH_PAIRS + " pairs per repetition, each side as many jobs as in the table): ").append(pairStats("enqueue.pair.batch.ratio"))
                    .append(" → **").append(ratio(r.median("enqueue.pair.batch.ratio"))).append("**.\n\n");
        }
        cats.add("redis-benchmark -P 500");
        v.add(r.median("redisbench.c1-pipe500"));
        Charts.bars(img.resolve("bench-batch.png"), "Batched enqueue, 500 jobs per call (median jobs/s; target 100,000)", "jobs/s", cats,
                List.of("jobs/s"), List.of(v), 100_000.0, "target");
        md.append("![batched enqueue](img/bench-batch.png)\n\n");
    }

    private void e2e(Path img) {
        md.append("## End to end: enqueue → no-op handler → ack\n\n");
        md.append("A producer thread enqueues the jobs in batches of 500 while the consumers run; the clock stops when every job was ")
                .append("handled **and acknowledged** (Spillway: the stream is empty, `ack.lua` deletes entries). Spillway runs ")
                .append("`Worker` with its defaults (fetch 100, adaptive prefetch: up to 200 for jobs this short) and with a fixed ")
                .append("`prefetch(200)`. The raw Jedis loop is LPUSH (pipelined 500) / BRPOP one at a time: no ack, a job ")
                .append("in flight is lost if the consumer dies (the unsafe baseline). Redisson: `addAll` / `poll`. BullMQ: `addBulk` / ")
                .append("`Worker` with a no-op processor.\n\n");
        String[][] sys = {{"spillway", "Spillway Worker (defaults)"}, {"spillway-prefetch200", "Spillway Worker, prefetch 200"},
            {"jedis-brpop", "raw Jedis LPUSH / BRPOP (no ack)"}, {"redisson", "Redisson addAll / poll"}, {"bullmq", "BullMQ"}};
        md.append("| system | 1 worker thread | 4 worker threads | 4 threads vs BullMQ c=50 |\n|---|---|---|---|\n");
        List<String> cats = new ArrayList<>();
        List<Double> one = new ArrayList<>();
        List<Double> four = new ArrayList<>();
        double bull50 = r.median("e2e.50.bullmq");
        for (String[] s : sys) {
            md.append("| ").append(s[1]).append(" | ").append(rateRange("e2e.1." + s[0])).append(" | ").append(rateRange("e2e.4." + s[0]))
                    .append(" | ").append(ratio(r.median("e2e.4." + s[0]) / bull50)).append(" |\n");
            cats.add(shortName(s[0]));
            one.add(r.median("e2e.1." + s[0]));
            four.add(r.median("e2e.4." + s[0]));
        }
        md.append("| BullMQ, concurrency 50 | | ").append(rateRange("e2e.50.bullmq")).append(" (c=50) | 1.00× |\n\n");
        cats.add("BullMQ c=50");
        one.add(Double.NaN);
        four.add(bull50);
        Charts.bars(img.resolve("bench-e2e.png"), "End to end, no-op handler (median jobs/s, higher is better)", "jobs/s", cats,
                List.of("1 worker thread", "4 worker threads (BullMQ: concurrency 50 in the last group)"), List.of(one, four), null, null);
        md.append("![end to end](img/bench-e2e.png)\n\n");
    }

    private void rtt() {
        if (!r.has("rtt.spillway.1.client")) {
            return;
        }
        md.append("## Redis commands per job\n\n");
        md.append("Counted with `MONITOR` on a separate, smaller end-to-end run of each system (the timing runs above are not ")
                .append("monitored). *Client commands* are what the clients sent (a pipeline of k commands counts k: this is ")
                .append("commands Redis parsed, an upper bound on network round trips); *inside scripts* are the commands Lua ran. ")
                .append("Background work (fetch polls, heartbeats, metrics sampling, scheduler ticks) is included: it is what Redis saw.\n\n");
        md.append("`spillway-enqueue` / `spillway-enqueueAll` are the producer alone (single enqueues; batches of 500); the others are ")
                .append("end to end (enqueue + fetch + start + ack).\n\n");
        md.append("| system | threads | client commands / job | inside scripts / job | client commands by name (per job) |\n|---|---|---|---|---|\n");
        for (String s : new String[] {"spillway-enqueue", "spillway-enqueueAll", "spillway", "spillway-prefetch200", "jedis-brpop",
            "redisson", "bullmq"}) {
            for (int t : new int[] {1, 4}) {
                String k = "rtt." + s + "." + t;
                if (!r.has(k + ".client")) {
                    continue;
                }
                md.append("| ").append(s).append(" | ").append(t).append(" | ").append(f3(r.median(k + ".client"))).append(" | ")
                        .append(f3(r.median(k + ".lua"))).append(" | ").append(r.noteOr(k + ".detail", "").replaceAll("; inside scripts.*", "").replace("client: ", ""))
                        .append(" |\n");
            }
        }
        md.append('\n');
    }

    private void spool(Path img) {
        md.append("## Enqueue while Redis is down (spooling)\n\n");
        md.append("A producer whose Redis port has no server: every `enqueue` is a journal append (circuit open). Plain harness: ")
                .append("each call timed with `System.nanoTime()` after a warm-up, percentiles over all calls of a run, median of runs. ")
                .append("JMH (sample-time mode, one fork): a bare Chronicle Queue append of a 200-byte record (the anchor), ")
                .append("`ChronicleJournal.append` of a 200-byte record (Spillway's frame: version, CRC32, length) and ")
                .append("`JobProducer.enqueue` of a 200-byte payload while spooling.\n\n");
        md.append("| what | p50 | p90 | p99 | p99.9 | p99.99 |\n|---|---|---|---|---|---|\n");
        md.append("| plain harness: `enqueue` while spooling (n = ").append(r.get("spool.p50").size()).append(") | ").append(us(r.median("spool.p50")))
                .append(" | | ").append(us(r.median("spool.p99"))).append(" | ").append(us(r.median("spool.p999"))).append(" | max ")
                .append(us(r.median("spool.max"))).append(" |\n");
        if (r.has("spool.control.p50")) {
            md.append("| control: the same loop around pure CPU work as long as a spooled enqueue (")
                    .append(String.format("%.0f", r.median("spool.control.rounds")))
                    .append(" CRC32 rounds over the payload; no file, no allocation, no call): the machine's own tail | ")
                    .append(us(r.median("spool.control.p50"))).append(" | | ").append(us(r.median("spool.control.p99"))).append(" | ")
                    .append(us(r.median("spool.control.p999"))).append(" | |\n");
        }
        String[][] jmh = {{"chronicleAppendRaw", "JMH: bare Chronicle append, 200 B"}, {"journalAppend", "JMH: `ChronicleJournal.append`, 200 B"},
            {"enqueueWhileSpooling", "JMH: `enqueue` while spooling"}};
        List<String> names = new ArrayList<>();
        List<List<double[]>> series = new ArrayList<>();
        for (String[] j : jmh) {
            if (!r.has("jmh." + j[0] + ".p50")) {
                continue;
            }
            md.append("| ").append(j[1]);
            List<double[]> pts = new ArrayList<>();
            for (String p : new String[] {"50", "90", "99", "999", "9999"}) {
                double v = r.median("jmh." + j[0] + ".p" + p);
                md.append(" | ").append(us(v));
                double pc = switch (p) {
                    case "999" -> 99.9;
                    case "9999" -> 99.99;
                    default -> Double.parseDouble(p);
                };
                pts.add(new double[] {pc, v});
            }
            md.append(" |\n");
            names.add(j[1].replace("`", "").replace("JMH: ", "") + " (JMH)");
            series.add(pts);
        }
        if (r.has("spool.slowPerSecond") && r.has("spool.control.slowPerSecond")) {
            md.append("\nCalls over 20 µs per second spent in the calls (a machine interruption lands in calls at a rate per")
                    .append(" second, whatever they do; equal rates mean the slow calls are the machine's): spooled `enqueue` ")
                    .append(String.format("%,.0f/s", r.median("spool.slowPerSecond"))).append(", control loop ")
                    .append(String.format("%,.0f/s", r.median("spool.control.slowPerSecond"))).append(".\n");
        }
        md.append("\nTargets: p99 ≤ 5 µs, p99.9 ≤ 20 µs. JMH's sample-time mode times batches of calls when one call is ")
                .append("shorter than its timer's resolution, so its low percentiles of sub-µs calls are coarse (a granularity of ")
                .append("about 20–40 ns); its tail is the figure to read.\n\n");
        if (curves.containsKey("spool.cdf")) {
            names.add(0, "enqueue while spooling (plain harness, last run)");
            series.add(0, curves.get("spool.cdf"));
        }
        if (!names.isEmpty()) {
            Charts.percentiles(img.resolve("bench-spool-latency.png"), "Enqueue while spooling: latency by percentile (lower is better)",
                    "µs (log)", names, series);
            md.append("![spool latency](img/bench-spool-latency.png)\n\n");
        }
    }

    private void transitions() {
        md.append("## From Redis failing to enqueues going to the journal\n\n");
        md.append("One thread enqueues about every 250 µs through a connected producer; then Redis is SIGKILLed (connections refused from ")
                .append("then on) or SIGSTOPped (it keeps its socket and never answers). *Caller's wait* is the latency of the first ")
                .append("`enqueue` that came back spooled (it may have started before the fault, and then includes the kernel's teardown of ")
                .append("the killed process); *fault → journal* runs from the moment Redis refused (an idle observer connection read its ")
                .append("end of stream; for SIGSTOP, from the moment `hang` returned) to that enqueue's return; *calls after* is the ")
                .append("longest wait of an enqueue started after that moment; *worst call* is the longest enqueue after the fault. Then Redis comes back (restart from its ")
                .append("AOF, or SIGCONT) and *back → drained* runs until the producer is CONNECTED with an empty journal (reconnect ")
                .append("backoff set to 20–200 ms for this test).\n\n");
        md.append("| fault | caller's wait | fault → journal (target) | calls after | worst call | back → drained | runs |\n|---|---|---|---|---|---|---|\n");
        for (String[] k : new String[][] {{"refused", "SIGKILL (refused)", "≤ 1 ms"}, {"hang", "SIGSTOP (hang)", "≤ 250 ms"}}) {
            String p = "transition." + k[0];
            md.append("| ").append(k[1]).append(" | ").append(msRange(p + ".firstSpooledCallMs")).append(" | ")
                    .append(msRange(p + ".faultToJournalMs")).append(" (").append(k[2]).append(") | ")
                    .append(r.has(p + ".maxCallAfterFaultMs") ? msRange(p + ".maxCallAfterFaultMs") : "").append(" | ")
                    .append(msRange(p + ".maxCallMs")).append(" | ")
                    .append(msRange(p + ".recoveryMs")).append(" | ").append(r.get(p + ".firstSpooledCallMs").size()).append(" |\n");
        }
        md.append('\n');
    }

    private void replay() {
        md.append("## Replay of a spooled journal\n\n");
        md.append("A journal of ").append(count(jobsReplayed())).append(" jobs (200-byte payloads, one queue) is written, then drained ")
                .append("into an empty Redis: by `Replayer.drain` alone (reads of 1,000 records, streamed `enqueue.lua` calls of 250 jobs, ")
                .append("up to 3 in flight; no dedupe TTL, the producer's default), and by a `JobProducer` opened on the journal with Redis up (`build()` to backlog 0, ")
                .append("including connect and health probe).\n\n");
        md.append("| path | jobs/s | seconds | target |\n|---|---|---|---|\n");
        md.append("| `Replayer.drain` | ").append(rateRange("replay.replayer.jobsPerSec")).append(" | ").append(sec(r.median("replay.replayer.seconds")))
                .append(" | ≥ 100,000 jobs/s, ≤ 10 s for 1,000,000 |\n");
        md.append("| producer opened on the journal | ").append(rateRange("replay.producer.jobsPerSec")).append(" | ")
                .append(sec(r.median("replay.producer.seconds"))).append(" | |\n");
        md.append("| for scale: raw Jedis, enqueue.lua 500 per call, from memory (batched section) | ").append(rateRange("enqueue.batch.jedis-lua"))
                .append(" | | |\n\n");
    }

    private void outage(Path img) {
        if (!r.has("outage.spillway.calls")) {
            return;
        }
        md.append("## Redis SIGKILLed for 5 s: what each system does\n\n");
        md.append("Four callers at once, each enqueueing one job at a time paced to ").append(OutageBench.RATE)
                .append("/s: Spillway `enqueue`, raw Jedis `XADD` (pooled `RedisClient`, 5 s socket timeout), Redisson `offer` ")
                .append("(default config) and BullMQ `Queue.add` (ioredis offline queue on, `maxRetriesPerRequest: null`, as BullMQ ")
                .append("asks). Redis is SIGKILLed ").append(sec(r.median("outage.window.killedAtS"))).append(" into the window and answers again at ")
                .append(sec(r.median("outage.window.upAtS"))).append(", restarting from its AOF (everysec). *Lost* = calls that ")
                .append("returned success minus that system's jobs found in Redis at the end (after Spillway's replay). One run.\n\n");
        md.append("| system | calls | succeeded | threw | in Redis after | lost | latency p50 | p99 | max | what it does while Redis is down |\n")
                .append("|---|---|---|---|---|---|---|---|---|---|\n");
        String[][] sys = {{"spillway", "Spillway"}, {"jedis", "raw Jedis"}, {"redisson", "Redisson"}, {"bullmq", "BullMQ"}};
        List<String> names = new ArrayList<>();
        List<List<double[]>> pts = new ArrayList<>();
        for (String[] s : sys) {
            String p = "outage." + s[0];
            if (!r.has(p + ".calls")) {
                continue;
            }
            md.append("| ").append(s[1]).append(" | ").append(count(r.median(p + ".calls"))).append(" | ").append(count(r.median(p + ".ok")))
                    .append(" | ").append(count(r.median(p + ".failed"))).append(" | ").append(count(r.median(p + ".inRedis"))).append(" | ")
                    .append(count(r.median(p + ".lost"))).append(" | ").append(ms(r.median(p + ".p50ms"))).append(" | ")
                    .append(ms(r.median(p + ".p99ms"))).append(" | ").append(ms(r.median(p + ".maxMs"))).append(" | ")
                    .append(behaviour(s[0])).append(" |\n");
            names.add(s[1]);
            pts.add(curves.getOrDefault(p, List.of()));
        }
        md.append("\nErrors seen: ");
        for (String[] s : sys) {
            md.append(s[1]).append(": ").append(r.noteOr("outage." + s[0] + ".errors", "n/a").replace("|", "/")).append(". ");
        }
        md.append("\n\n");
        Charts.timeline(img.resolve("bench-outage.png"), "Enqueue latency while Redis is SIGKILLed for 5 s", names, pts,
                r.median("outage.window.killedAtS"), r.median("outage.window.upAtS"));
        md.append("![outage](img/bench-outage.png)\n\n");
    }

    /** Chart labels: short enough not to collide. */
    static String shortName(String id) {
        return switch (id) {
            case "spillway" -> "Spillway";
            case "spillway-prefetch200" -> "Spillway prefetch 200";
            case "spillway-write-ahead" -> "Spillway write-ahead";
            case "jedis-lua" -> "Jedis same Lua";
            case "jedis-setnx-xadd" -> "Jedis SETNX+XADD";
            case "jedis-xadd" -> "Jedis XADD";
            case "jedis-brpop" -> "Jedis LPUSH/BRPOP";
            case "redisson" -> "Redisson";
            case "bullmq" -> "BullMQ";
            default -> id;
        };
    }

    private String behaviour(String s) {
        return switch (s) {
            case "spillway" -> "spools to the local journal (µs), replays when Redis is back";
            case "jedis" -> "throws at once (connection refused): the caller must handle it";
            case "redisson" -> "retries inside `offer`, then throws";
            case "bullmq" -> "`add` blocks (ioredis offline queue, in memory) until Redis is back";
            default -> "";
        };
    }

    private void memory(Path img) {
        if (!r.has("memory.jobs")) {
            return;
        }
        md.append("## Memory of a producer holding spooled jobs\n\n");
        md.append("A child JVM (`").append(MemoryBench.XMX).append(" -Xms256m`, G1) runs a producer whose Redis is down and spools ")
                .append(count(r.median("memory.jobs"))).append(" jobs of 200 bytes; every twentieth of the way it runs `System.gc()` three ")
                .append("times and reads heap used (`MemoryMXBean`) and RSS (`/proc/self/status`: VmRSS, RssAnon). The journal is on ")
                .append("disk: RSS includes the journal pages Chronicle has mapped (file-backed, reclaimable), RssAnon does not.\n\n");
        md.append("| | at start | after ").append(count(r.median("memory.jobs"))).append(" jobs | growth |\n|---|---|---|---|\n");
        md.append("| heap used after GC | ").append(mb(r.median("memory.heapStartMB"))).append(" | ").append(mb(r.median("memory.heapEndMB")))
                .append(" | **").append(mb(r.median("memory.heapGrowthMB"))).append("** (target < 32 MB; highest sample ")
                .append(mb(r.median("memory.heapMaxMB"))).append(") |\n");
        md.append("| RSS | ").append(mb(r.median("memory.rssStartMB"))).append(" | ").append(mb(r.median("memory.rssEndMB"))).append(" | ")
                .append(mb(r.median("memory.rssEndMB") - r.median("memory.rssStartMB"))).append(" |\n");
        md.append("| RssAnon (heap, metaspace, native) | ").append(mb(r.median("memory.rssAnonStartMB"))).append(" | ")
                .append(mb(r.median("memory.rssAnonEndMB"))).append(" | ").append(mb(r.median("memory.rssAnonEndMB") - r.median("memory.rssAnonStartMB")))
                .append(" |\n");
        md.append("| journal on disk (apparent size, files preallocated sparse) | | ").append(mb(r.median("memory.journalMB"))).append(" | |\n\n");
        List<double[]> c = curves.get("memory");
        if (c != null && !c.isEmpty()) {
            List<Double> xs = new ArrayList<>();
            List<Double> heap = new ArrayList<>();
            List<Double> rss = new ArrayList<>();
            List<Double> anon = new ArrayList<>();
            for (double[] p : c) {
                xs.add(p[0] / 1e6);
                heap.add(p[1]);
                rss.add(p[2]);
                anon.add(p[3]);
            }
            Charts.lines(img.resolve("bench-memory.png"), "Producer memory while jobs pile up in the journal (Redis down)",
                    "jobs spooled (millions)", "MB", xs, List.of("heap used after GC", "RSS", "RssAnon"), List.of(heap, rss, anon), null);
            md.append("![memory](img/bench-memory.png)\n\n");
        }
    }

    private void method() {
        md.append("## How it is measured\n\n");
        md.append("- One `redis-server` (the one named in the table above, through `RedisProcess`: the embedded-redis jar's 6.2 binary unless `SPILLWAY_REDIS_SERVER` or `PATH` names another; AOF everysec, noeviction) serves ")
                .append("every system; `FLUSHALL` before each measurement so that no run pays for the memory of the one before. ")
                .append("In the enqueue section Redis's automatic AOF rewrites are off and each measurement starts on a freshly ")
                .append("rewritten, empty AOF (not timed): after a `FLUSHALL` every run of 300,000 jobs crossed the 64 MB minimum ")
                .append("and forked one to three rewrites at points that differed from system to system (the batch figures swung ")
                .append("2-3x between repetitions with them). AOF everysec appends go on as usual.\n")
                .append("- Each repetition runs every system once, in a rotated order (so slow drift of the machine does not favour a ")
                .append("system); the figure is the median over repetitions.\n")
                .append("- The three ratio targets of the enqueue section (one job per call, 1 and 8 threads, against raw Jedis with ")
                .append("the same script; `enqueueAll` against the bare pipelined `XADD`) are also measured in **alternating pairs**: ")
                .append("the two systems one right after the other, each on a freshly flushed and rewritten AOF, which goes first ")
                .append("alternating, and each pair's own ratio recorded. The targets table judges those three by the median of the ")
                .append("pairs' ratios, and shows the ratio of the medians run one after the other beside it. Runs seconds or minutes ")
                .append("apart each move with the machine (one system's repetitions spread by up to 2x here, more than the ")
                .append("0.9x target's 10 %); a pair's two halves move together.\n")
                .append("- Throughput = jobs / wall time from a start barrier to the last thread done (end to end: to the last ack).\n")
                .append("- Latency percentiles: nearest rank over every call (plain harness) or JMH sample-time histograms.\n")
                .append("- BullMQ runs in its own Node.js process against the same Redis, in the same repetition loop.\n")
                .append("- Section times (s): ");
        meta.forEach((k, v) -> {
            if (k.startsWith("seconds.") && !k.equals("seconds.total")) {
                md.append(k.substring(8)).append(' ').append(v).append("; ");
            }
        });
        md.append("\n");
    }

    // ---- formatting

    private double jobsReplayed() {
        return meta.getOrDefault("mode", "").startsWith("quick") ? 200_000 : 1_000_000;
    }

    private void row2(String k, String v) {
        md.append("| ").append(k).append(" | ").append(v == null ? "n/a" : v.replace("|", "/")).append(" |\n");
    }

    private void target(String what, String target, String measured, String ratio, boolean met) {
        boolean missing = measured.contains("n/a");
        md.append("| ").append(what).append(" | ").append(target).append(" | ").append(measured).append(" | ").append(ratio).append(" | ")
                .append(missing ? "not measured" : met ? "**yes**" : "**no**").append(" |\n");
    }

    /**
     * A ratio target: judged by the median of its alternating pairs ({@code pairId}) when the run has them (see "How it
     * is measured"), with the ratio of the sequential medians beside it; else by that sequential ratio alone.
     */
    private void ratioTarget(String what, String target, double min, String pairId, String sequential, double seqRatio) {
        if (r.has(pairId)) {
            double pr = r.median(pairId);
            target(what, target, "alternating pairs: " + pairStats(pairId) + "; one after the other: " + sequential + " ("
                    + ratio(seqRatio) + ")", ratio(pr), pr >= min);
        } else {
            target(what, target, sequential, ratio(seqRatio), seqRatio >= min);
        }
    }

    /** "median of N ratios [min–max]" for a pair-ratio figure. */
    private String pairStats(String id) {
        Samples s = r.get(id);
        return "median of " + s.size() + " ratios <sub>[" + ratio(s.min()) + "–" + ratio(s.max()) + "]</sub>";
    }

    private String rateRange(String id) {
        Samples s = r.get(id);
        if (s.isEmpty()) {
            return "n/a";
        }
        return s.size() == 1 ? rate(s.median()) : rate(s.median()) + " <sub>[" + kfmt(s.min()) + "–" + kfmt(s.max()) + "]</sub>";
    }

    private String msRange(String id) {
        Samples s = r.get(id);
        if (s.isEmpty()) {
            return "n/a";
        }
        return s.size() == 1 ? ms(s.median()) : ms(s.median()) + " <sub>[" + ms(s.min()) + "–" + ms(s.max()) + "]</sub>";
    }

    static String kfmt(double v) {
        return v >= 10_000 ? String.format("%.0fk", v / 1000) : String.format("%,.0f", v);
    }

    static String rate(double v) {
        return Double.isNaN(v) ? "n/a" : String.format("%,.0f/s", v);
    }

    static String ratio(double v) {
        return Double.isNaN(v) || Double.isInfinite(v) ? "n/a" : String.format("%.2f×", v);
    }

    static String us(double v) {
        return Double.isNaN(v) ? "n/a" : v < 10 ? String.format("%.2f µs", v) : String.format("%,.0f µs", v);
    }

    static String ms(double v) {
        return Double.isNaN(v) ? "n/a" : v < 1 ? String.format("%.3f ms", v) : v < 100 ? String.format("%.1f ms", v) : String.format("%,.0f ms", v);
    }

    static String sec(double v) {
        return Double.isNaN(v) ? "n/a" : String.format("%.2f s", v);
    }

    static String mb(double v) {
        return Double.isNaN(v) ? "n/a" : String.format("%.1f MB", v);
    }

    static String count(double v) {
        return Double.isNaN(v) ? "n/a" : String.format("%,.0f", v);
    }

    static String f3(double v) {
        return Double.isNaN(v) ? "n/a" : String.format("%.3f", v);
    }
}
