package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.testing.ChildJvm;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What main() sets up before a command runs, each time in a JVM of its own (these settings are read once per JVM). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SpillwayCliIT {

    /** Prints the settings {@link SpillwayCli#configureJvm} leaves for a command line. */
    public static final class PrintSettings {
        public static void main(String[] args) {
            SpillwayCli.configureJvm(args);
            for (String key : new String[] {"spillway.warmUpAppends", "org.slf4j.simpleLogger.logFile",
                    "org.slf4j.simpleLogger.defaultLogLevel"}) {
                System.out.println(key + "=" + System.getProperty(key));
            }
        }
    }

    private static String settingsFor(String... args) throws Exception {
        try (ChildJvm jvm = ChildJvm.builder(PrintSettings.class).args(args).start()) {
            assertThat(jvm.waitFor(Duration.ofSeconds(30))).as(jvm.output()).isZero();
            return jvm.output();
        }
    }

    @Test
    void onlyTheSubcommandPositionMakesADemo() throws Exception {
        // The demo's own queue is named demo: listing its dead letters is not running the demo.
        assertThat(settingsFor("dlq", "list", "-q", "demo")).contains("spillway.warmUpAppends=0",
                "org.slf4j.simpleLogger.logFile=null", "org.slf4j.simpleLogger.defaultLogLevel=warn");
        assertThat(settingsFor("status", "-q", "report")).contains("org.slf4j.simpleLogger.defaultLogLevel=warn");
        assertThat(settingsFor("demo", "--jobs", "10")).contains("spillway.warmUpAppends=null",
                "spillway-demo.log", "org.slf4j.simpleLogger.defaultLogLevel=info");

        assertThat(SpillwayCli.commandName(new String[] {"dlq", "list", "-q", "demo"})).isEqualTo("dlq");
        assertThat(SpillwayCli.commandName(new String[] {"--help"})).isEmpty();
        assertThat(SpillwayCli.commandName(new String[] {"demo", "--jobs", "10"})).isEqualTo("demo");
    }
}
