package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class DemoAndDoctorTest {

    @Test
    void faultScheduleInPercentAndSeconds() {
        assertThat(DemoCommand.parseFaults("stop@50%, kill@2s,kill@10%", 20_000)).containsExactly(
                new DemoCommand.Fault("kill", 2_000), new DemoCommand.Fault("kill", 2_000), new DemoCommand.Fault("stop", 10_000));
        assertThat(DemoCommand.parseFaults("none", 20_000)).isEmpty();
        assertThatThrownBy(() -> DemoCommand.parseFaults("kill@120%", 1000)).hasMessageContaining("past 100%");
        assertThatThrownBy(() -> DemoCommand.parseFaults("nuke@1s", 1000)).hasMessageContaining("'nuke@1s'");
    }

    @Test
    void unhandledJobsStillHeldAreNotLost() {
        Map<String, io.spillway.core.JobState> states = Map.of("a", io.spillway.core.JobState.QUEUED,
                "b", io.spillway.core.JobState.ACTIVE, "c", io.spillway.core.JobState.QUEUED, "d", io.spillway.core.JobState.UNKNOWN);
        DemoCommand.Unhandled u = DemoCommand.locate(List.of("a", "b", "c", "d", "e"), id -> {
            if (id.equals("e")) {
                throw new IllegalStateException("Redis did not answer");
            }
            return states.get(id);
        }, System.nanoTime() + 10_000_000_000L);
        assertThat(u.heldByState()).isEqualTo(Map.of("QUEUED", 2L, "ACTIVE", 1L));
        assertThat(u.held()).isEqualTo(3);
        assertThat(u.lost()).isEqualTo(1);
        assertThat(u.lostIds()).containsExactly("d");
        assertThat(u.unchecked()).isEqualTo(1);
        // Past the deadline nothing more is asked: unchecked, never lost.
        assertThat(DemoCommand.locate(List.of("a", "d"), states::get, System.nanoTime() - 1).unchecked()).isEqualTo(2);
    }

    @Test
    void doctorFlagsWhatLosesJobs() {
        Map<String, String> info = Map.of("maxmemory_policy", "volatile-lru", "aof_enabled", "0", "redis_version", "6.0.9",
                "used_memory", "950", "maxmemory", "1000", "role", "slave");
        List<DoctorCommand.Finding> f = DoctorCommand.check(info, Map.of("save", ""), Map.of(), new long[] {100, 200, 300});
        assertThat(f).extracting(DoctorCommand.Finding::check, DoctorCommand.Finding::severity).contains(
                org.assertj.core.groups.Tuple.tuple("eviction", DoctorCommand.Severity.LOSES_JOBS),
                org.assertj.core.groups.Tuple.tuple("persistence", DoctorCommand.Severity.LOSES_JOBS),
                org.assertj.core.groups.Tuple.tuple("memory", DoctorCommand.Severity.WARN),
                org.assertj.core.groups.Tuple.tuple("version", DoctorCommand.Severity.LOSES_JOBS),
                org.assertj.core.groups.Tuple.tuple("role", DoctorCommand.Severity.WARN),
                org.assertj.core.groups.Tuple.tuple("latency", DoctorCommand.Severity.OK));
        assertThat(f).allSatisfy(x -> assertThat(x.severity() == DoctorCommand.Severity.OK || !x.fix().isEmpty()).isTrue());
    }

    @Test
    void doctorCallsASettingItCannotReadAWarningNotOk() {
        Map<String, String> info = Map.of("maxmemory_policy", "noeviction", "aof_enabled", "1", "redis_version", "7.0.15",
                "used_memory", "100", "maxmemory", "1000", "role", "master");
        Map<String, String> denied = new java.util.LinkedHashMap<>();
        DoctorCommand.CONFIG_KEYS.forEach(k -> denied.put(k, "CONFIG not allowed (NOPERM)"));
        List<DoctorCommand.Finding> f = DoctorCommand.check(info, Map.of(), denied, new long[] {100});
        assertThat(f).filteredOn(x -> x.check().equals("persistence")).singleElement().satisfies(x -> {
            assertThat(x.severity()).isEqualTo(DoctorCommand.Severity.WARN);
            assertThat(x.found()).isEqualTo("AOF on; could not check appendfsync: CONFIG not allowed (NOPERM); check it by hand");
        });
        assertThat(f).noneMatch(x -> x.found().contains("?"));

        // AOF off and the RDB settings unreadable: snapshots or none, a crash loses jobs either way.
        Map<String, String> aofOff = new java.util.HashMap<>(info);
        aofOff.put("aof_enabled", "0");
        assertThat(DoctorCommand.check(aofOff, Map.of(), denied, new long[] {100}))
                .filteredOn(x -> x.check().equals("persistence")).singleElement()
                .extracting(DoctorCommand.Finding::severity).isEqualTo(DoctorCommand.Severity.LOSES_JOBS);

        // INFO denied too: what could not be checked, and why, instead of a guess.
        Map<String, String> blind = new java.util.LinkedHashMap<>(denied);
        blind.put(DoctorCommand.INFO, "INFO denied (NOPERM)");
        List<DoctorCommand.Finding> none = DoctorCommand.check(Map.of(), Map.of(), blind, new long[] {100});
        assertThat(none).extracting(DoctorCommand.Finding::check, DoctorCommand.Finding::severity).containsExactly(
                org.assertj.core.groups.Tuple.tuple("eviction", DoctorCommand.Severity.WARN),
                org.assertj.core.groups.Tuple.tuple("persistence", DoctorCommand.Severity.WARN),
                org.assertj.core.groups.Tuple.tuple(DoctorCommand.NOT_CHECKED, DoctorCommand.Severity.WARN),
                org.assertj.core.groups.Tuple.tuple("latency", DoctorCommand.Severity.OK));
        assertThat(none.get(0).found()).isEqualTo("could not check maxmemory-policy: INFO denied (NOPERM), CONFIG not allowed (NOPERM);"
                + " check it by hand");
        assertThat(none.get(2).found()).isEqualTo("memory headroom, version, role and AOF write errors: INFO denied (NOPERM)");

        // INFO denied, CONFIG allowed: eviction and persistence come from CONFIG.
        List<DoctorCommand.Finding> fromConfig = DoctorCommand.check(Map.of(), Map.of("maxmemory-policy", "allkeys-lru",
                "appendonly", "yes", "appendfsync", "everysec"), Map.of(DoctorCommand.INFO, "INFO denied (NOPERM)"), new long[] {100});
        assertThat(fromConfig).extracting(DoctorCommand.Finding::check, DoctorCommand.Finding::severity).startsWith(
                org.assertj.core.groups.Tuple.tuple("eviction", DoctorCommand.Severity.LOSES_JOBS),
                org.assertj.core.groups.Tuple.tuple("persistence", DoctorCommand.Severity.OK));
    }

    @Test
    void versionsCompareNumerically() {
        assertThat(DoctorCommand.compareVersions("6.2.11", "6.2.0")).isPositive();
        assertThat(DoctorCommand.compareVersions("10.0.0", "6.2.0")).isPositive();
        assertThat(DoctorCommand.compareVersions("6.0.16", "6.2.0")).isNegative();
    }
}
