package io.spillway.bench.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ledger's reading of cancels: which jobs need not run, and which ran after a CANCELLED answer. */
class IdLedgerTest {
    static final String A = "01KB000000000000000000000A";
    static final String B = "01KB000000000000000000000B";
    static final String C = "01KB000000000000000000000C";
    static final String D = "01KB000000000000000000000D";
    static final String E = "01KB000000000000000000000E";

    @TempDir
    Path dir;

    static void append(Path f, String... lines) throws IOException {
        Files.writeString(f, String.join("\n", lines) + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    @Test
    void cancelledJobsNeedNotRunAndOneRunAfterACancelledAnswerIsCaught() throws IOException {
        Path accepted = dir.resolve("producer-0.ids");
        Path cancels = dir.resolve("producer-0.cancels");
        Path handled = dir.resolve("worker-0.ids");
        IdLedger ledger = new IdLedger();
        ledger.trackProducer(0, accepted);
        ledger.trackCanceller(cancels);
        ledger.trackWorker(handled);

        append(accepted, A + " 1000 D", B + " 1001 D", C + " 1002 D", D + " 1003 S", E + " 1004 D");
        // A: cancelled (K) at 2000; B: cancel requested (N); C: the call never answered (?); D: too late (A, active).
        append(cancels, A + " ?", A + " K 2000", B + " ?", B + " N 2001", C + " ?", D + " ?", D + " A 2003");
        append(handled, D + " 2500", B + " 2600");
        ledger.poll();
        assertThat(ledger.outstandingCount()).as("only E must still run").isEqualTo(1);
        assertThat(ledger.lost()).extracting(e -> e.getKey()).containsExactly(E);
        assertThat(ledger.handledAfterCancel()).isEmpty();
        assertThat(ledger.handledAcceptedCount()).as("B and D ran").isEqualTo(2);
        assertThat(ledger.cancelledUnhandledCount()).as("A and C need not run").isEqualTo(2);
        assertThat(ledger.cancelCounts()).containsEntry('K', 1L).containsEntry('N', 1L).containsEntry('?', 1L)
                .containsEntry('A', 1L);

        append(handled, E + " 2700", A + " 1500");
        ledger.poll();
        assertThat(ledger.outstandingCount()).isZero();
        assertThat(ledger.handledAfterCancel()).as("A ran before its cancel answered: allowed").isEmpty();
        append(handled, A + " 2001");
        ledger.poll();
        assertThat(ledger.handledAfterCancel()).containsExactly(A);
        assertThat(ledger.cancelledAt(A)).isEqualTo(2000);
        assertThat(ledger.lastHandledAt(A)).isEqualTo(2001);
    }
}
