package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spillway.core.SpillwayException;
import java.util.List;
import org.junit.jupiter.api.Test;

class EnqueueScriptTest {

    @Test
    void noDuplicatesMeansEveryJobWasAdded() {
        assertThat(EnqueueScript.codes(List.of(), 3))
                .containsExactly(EnqueueScript.ADDED, EnqueueScript.ADDED, EnqueueScript.ADDED);
    }

    @Test
    void duplicatePositionsAreOneBased() {
        assertThat(EnqueueScript.codes(List.of(1L, 3L), 3))
                .containsExactly(EnqueueScript.DUPLICATE, EnqueueScript.ADDED, EnqueueScript.DUPLICATE);
    }

    @Test
    void aReplyThatDoesNotFitTheCallIsAnError() {
        assertThatThrownBy(() -> EnqueueScript.codes(List.of(4L), 3)).isInstanceOf(SpillwayException.class)
                .hasMessageContaining("position 4");
        assertThatThrownBy(() -> EnqueueScript.codes(List.of(0L), 3)).isInstanceOf(SpillwayException.class);
        assertThatThrownBy(() -> EnqueueScript.codes("OK", 3)).isInstanceOf(SpillwayException.class);
        assertThatThrownBy(() -> EnqueueScript.codes(List.of(1L, 2L, 3L, 1L), 3)).isInstanceOf(SpillwayException.class);
    }
}
