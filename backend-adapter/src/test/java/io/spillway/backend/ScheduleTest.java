package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A schedule's ticks come from the schedule and the instant alone, so every instance computes the same ones. */
class ScheduleTest {
    private static Instant at(String iso) {
        return Instant.parse(iso);
    }

    @Test
    void anIntervalTicksAtMultiplesOfItselfSinceTheEpochWhateverTheInstantAskedAbout() {
        Schedule s = Schedule.every(Duration.ofMinutes(5));
        assertThat(s.lastTickAtOrBefore(at("2026-12-04T10:07:31.250Z"))).contains(at("2026-12-04T10:05:00Z"));
        assertThat(s.lastTickAtOrBefore(at("2026-12-04T10:05:00Z"))).as("a tick is at-or-before itself")
                .contains(at("2026-12-04T10:05:00Z"));
        assertThat(s.lastTickAtOrBefore(at("2026-12-04T10:04:59.999Z"))).contains(at("2026-12-04T10:00:00Z"));
        assertThat(s.nextTickAfter(at("2026-12-04T10:05:00Z"))).as("strictly after").contains(at("2026-12-04T10:10:00Z"));
        assertThat(s.nextTickAfter(at("2026-12-04T10:07:31Z"))).contains(at("2026-12-04T10:10:00Z"));
        assertThat(Schedule.every(Duration.ofDays(1)).lastTickAtOrBefore(at("2026-12-04T23:59:59Z")))
                .contains(at("2026-12-04T00:00:00Z"));
        assertThat(Schedule.every(Duration.ofMillis(200)).nextTickAfter(at("2026-12-04T10:00:00.350Z")))
                .contains(at("2026-12-04T10:00:00.400Z"));
        assertThat(s).hasToString("every PT5M");
    }

    @Test
    void aCronExpressionIsReadInItsZone() {
        Schedule paris = Schedule.cron("0 3 * * *", ZoneId.of("Europe/Paris"));
        // Winter: Paris is UTC+1.
        assertThat(paris.lastTickAtOrBefore(at("2026-12-04T02:00:00Z"))).contains(at("2026-12-04T02:00:00Z"));
        assertThat(paris.lastTickAtOrBefore(at("2026-12-04T01:59:59.999Z"))).contains(at("2026-12-03T02:00:00Z"));
        assertThat(paris.nextTickAfter(at("2026-12-04T02:00:00Z"))).contains(at("2026-12-05T02:00:00Z"));
        // Summer: UTC+2.
        assertThat(paris.nextTickAfter(at("2026-07-01T00:00:00Z"))).contains(at("2026-07-01T01:00:00Z"));
        assertThat(Schedule.cron("*/15 9-17 * * MON-FRI").nextTickAfter(at("2026-12-04T17:50:00Z")))
                .as("Friday 17:45 was the week's last").contains(at("2026-12-07T09:00:00Z"));
        assertThat(paris).hasToString("cron '0 3 * * *' (Europe/Paris)");
    }

    @Test
    void aTimeTheZoneSkipsHasNoTickThatDayAndEveryTickIsAfterTheOneBefore() {
        Schedule s = Schedule.cron("30 2 * * *", ZoneId.of("Europe/Paris"));
        // 2026-03-29: clocks go from 02:00 to 03:00 in Paris, so 02:30 does not exist that day.
        List<Instant> ticks = new ArrayList<>();
        Instant t = at("2026-03-27T12:00:00Z");
        for (int i = 0; i < 4; i++) {
            t = s.nextTickAfter(t).orElseThrow();
            ticks.add(t);
        }
        assertThat(ticks).containsExactly(at("2026-03-28T01:30:00Z"), at("2026-03-30T00:30:00Z"),
                at("2026-03-31T00:30:00Z"), at("2026-04-01T00:30:00Z"));
        // 2026-10-25: 02:30 happens twice in Paris; ticks still only move forward.
        t = at("2026-10-24T12:00:00Z");
        Instant previous = t;
        for (int i = 0; i < 4; i++) {
            t = s.nextTickAfter(t).orElseThrow();
            assertThat(t).isAfter(previous);
            previous = t;
        }
    }

    @Test
    void aCronExpressionThatNeverMatchesHasNoTicks() {
        Schedule never = Schedule.cron("0 0 30 2 *"); // February 30th
        assertThat(never.nextTickAfter(at("2026-12-04T00:00:00Z"))).isEqualTo(Optional.empty());
        assertThat(never.lastTickAtOrBefore(at("2026-12-04T00:00:00Z"))).isEqualTo(Optional.empty());
    }

    @Test
    void badSchedulesAreRejectedNamingWhatIsWrong() {
        assertThatThrownBy(() -> Schedule.every(Duration.ofMillis(9))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("interval must be at least PT0.01S, but was PT0.009S");
        assertThatThrownBy(() -> Schedule.every(Duration.ofSeconds(-5))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("interval");
        assertThatThrownBy(() -> Schedule.every(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("interval");
        // Too long for toMillis(): an IllegalArgumentException naming the value, not an ArithmeticException.
        assertThatThrownBy(() -> Schedule.every(Duration.ofSeconds(Long.MAX_VALUE))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("interval must be at most PT876000H (100 years), but was PT2562047788015215H30M7S");
        assertThatThrownBy(() -> Schedule.every(Schedule.MAX_INTERVAL.plusMillis(1))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("interval must be at most");
        assertThat(Schedule.every(Schedule.MAX_INTERVAL).nextTickAfter(at("2026-12-04T00:00:00Z")))
                .as("the longest interval: its first tick 100 years after the epoch").contains(at("2069-12-07T00:00:00Z"));
        assertThatThrownBy(() -> Schedule.cron("0 3 * *")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("cron expression '0 3 * *' is not a five-field Unix cron expression")
                .hasMessageContaining("4 parts");
        assertThatThrownBy(() -> Schedule.cron("61 3 * * *")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'61 3 * * *'").hasMessageContaining("61");
        assertThatThrownBy(() -> Schedule.cron("0 0 3 * * *")).as("six fields (with seconds): not Unix cron")
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("6 parts");
        assertThatThrownBy(() -> Schedule.cron("every day")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'every day'");
        assertThatThrownBy(() -> Schedule.cron(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cron expression must not be null");
        assertThatThrownBy(() -> Schedule.cron("0 3 * * *", null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("zone must not be null");
        assertThatThrownBy(() -> Schedule.every(Duration.ofMinutes(1)).nextTickAfter(null))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void latenessIsLoggedToTheMillisecondUnderAMinuteElseToTheSecond() {
        assertThat(RecurringJobs.readable(Duration.ofNanos(3_607_999_200L))).isEqualTo("PT3.607S");
        assertThat(RecurringJobs.readable(Duration.ofSeconds(2_612, 441_972_362))).isEqualTo("PT43M32S");
    }

    @Test
    void missedTicksAreCountedStrictlyBetweenTwoTicks() {
        Schedule s = Schedule.every(Duration.ofMinutes(1));
        assertThat(RecurringJobs.countBetween(s, at("2026-12-04T10:00:00Z"), at("2026-12-04T10:05:00Z"))).isEqualTo(4);
        assertThat(RecurringJobs.countBetween(s, at("2026-12-04T10:00:00Z"), at("2026-12-04T10:01:00Z"))).isZero();
        assertThat(RecurringJobs.countBetween(s, at("2026-12-04T10:00:30Z"), at("2026-12-04T10:05:00Z"))).isEqualTo(4);
        assertThat(RecurringJobs.countBetween(s, at("2026-12-04T10:00:30Z"), at("2026-12-04T10:05:00.001Z"))).isEqualTo(5);
        assertThat(RecurringJobs.countBetween(s, at("2026-12-04T10:05:00Z"), at("2026-12-04T10:00:00Z"))).isZero();
        assertThat(RecurringJobs.countBetween(Schedule.every(Schedule.MIN_INTERVAL), at("2026-01-01T00:00:00Z"),
                at("2026-01-02T00:00:00Z"))).as("an interval's: exact").isEqualTo(8_640_000 - 1);
        Schedule minutely = Schedule.cron("* * * * *");
        assertThat(RecurringJobs.countBetween(minutely, at("2026-12-04T10:00:00Z"), at("2026-12-04T10:05:00Z"))).isEqualTo(4);
        assertThat(RecurringJobs.countBetween(minutely, at("2026-01-01T00:00:00Z"), at("2026-12-04T00:00:00Z")))
                .as("a cron expression's: counted up to a cap, not for ever").isEqualTo(100_000);
    }
}
