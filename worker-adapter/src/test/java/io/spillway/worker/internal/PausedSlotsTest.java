package io.spillway.worker.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.core.QueueName;
import io.spillway.core.internal.Backoff;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class PausedSlotsTest {
    private static final QueueName A = QueueName.of("a");
    private static final QueueName B = QueueName.of("b");
    private static final QueueName C = QueueName.of("c");

    @Test
    void theSlotsOfAHungMasterWaitForTheCheckThatFoundIt() {
        // Checks an hour apart: a slot whose check failed is not due again while this runs.
        PausedSlots p = new PausedSlots(true, List.of(A, B, C), new Backoff(Duration.ofHours(1), Duration.ofHours(1)));
        int a = p.slotOf(A);
        int b = p.slotOf(B);
        int c = p.slotOf(C);
        assertThat(List.of(a, b, c)).doesNotHaveDuplicates();
        p.pause(A);
        p.pause(B);
        p.pause(C);
        assertThat(p.due()).as("a slot just paused is checked at once").containsExactlyInAnyOrder(a, b, c);

        p.checkFailed(a);
        p.checkWith(b, a);
        assertThat(p.due()).as("b waits for a's next check; c, of another master, does not").containsExactly(c);

        p.resume(a);
        p.checkWith(c, a);
        assertThat(p.due()).as("nothing to wait for once a is resumed").containsExactly(c);
        assertThat(p.pausedQueues()).isEqualTo(2);
    }
}
