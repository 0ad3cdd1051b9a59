package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How a stream links its calls (pure logic; what the script does with the link: {@code EnqueueChainIT}). */
class ScriptStreamLinkTest {
    private static RedisGateway.ScriptCall call(String queue) {
        List<byte[]> keys = new ArrayList<>(List.of(bytes("spillway:{" + queue + "}:stream")));
        List<byte[]> args = new ArrayList<>(List.of(bytes("0"), bytes("0")));
        return new RedisGateway.ScriptCall(keys, args, queue, new ScriptStream.Chain("spillway:{" + queue + "}:chain:"));
    }

    private static String link(RedisGateway.ScriptCall c) {
        return new String(c.args().get(c.args().size() - 1), StandardCharsets.US_ASCII);
    }

    private static String chainKey(RedisGateway.ScriptCall c) {
        return new String(c.keys().get(c.keys().size() - 1), StandardCharsets.US_ASCII);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void eachCallIsCheckedAgainstTheCallOfItsQueueBeforeItAndSetsItsTokenOnlyWhenOneOfItsQueueFollows() {
        ScriptStream s = new ScriptStream(LuaScript.ENQUEUE, () -> null, (c, r) -> { }, 3);
        RedisGateway.ScriptCall a1 = call("a");
        RedisGateway.ScriptCall b1 = call("b");
        RedisGateway.ScriptCall a2 = call("a");
        RedisGateway.ScriptCall a3 = call("a");

        s.linkAll(List.of(a1, b1, a2, a3), false);

        assertThat(List.of(link(a1), link(b1), link(a2), link(a3))).containsExactly(",1", ",", "1,3", "3,");
        assertThat(chainKey(a1)).startsWith("spillway:{a}:chain:").isEqualTo(chainKey(a3));
        assertThat(chainKey(b1)).startsWith("spillway:{b}:chain:")
                .endsWith(chainKey(a1).substring("spillway:{a}:chain:".length()));
        // The same calls again (a retry after a1 had its reply): a2 is now first in flight, unchecked; the link is
        // replaced, not added twice.
        s.linkAll(List.of(a2, a3), true);
        assertThat(List.of(link(a2), link(a3))).containsExactly(",3", "3,4");
        assertThat(a2.keys()).hasSize(2);
        assertThat(a2.args()).hasSize(3);
    }

    @Test
    void twoStreamsNeverShareAChainKey() {
        RedisGateway.ScriptCall x = call("a");
        RedisGateway.ScriptCall y = call("a");
        new ScriptStream(LuaScript.ENQUEUE, () -> null, (c, r) -> { }, 3).linkAll(List.of(x), false);
        new ScriptStream(LuaScript.ENQUEUE, () -> null, (c, r) -> { }, 3).linkAll(List.of(y), false);
        assertThat(chainKey(x)).isNotEqualTo(chainKey(y));
    }

    @Test
    void aCallNeverWrittenByAStreamCannotBeRelinked() {
        assertThatThrownBy(() -> ScriptStream.relink(List.of(call("a")), false)).isInstanceOf(IllegalStateException.class);
    }
}
