package io.spillway.core.internal;

import java.util.HashMap;
import java.util.Map;

/** Parses the text of Redis {@code INFO} into a flat map (sections are dropped; keys are unique). */
public final class RedisInfo {
    private RedisInfo() {
    }

    public static Map<String, String> parse(String info) {
        Map<String, String> out = new HashMap<>();
        if (info == null) {
            return out;
        }
        for (String line : info.split("\r?\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon > 0) {
                out.put(line.substring(0, colon), line.substring(colon + 1).trim());
            }
        }
        return out;
    }

    /** Separates the run id from the replication id in a {@link #runId} (neither holds it). */
    static final char REPLID_SEPARATOR = '/';
    private static final java.util.regex.Pattern REPLID = java.util.regex.Pattern.compile("/[0-9a-f]{40}");

    /**
     * What this library calls a Redis's run id: {@code run_id/master_replid} from its {@code INFO server} and
     * {@code INFO replication}, or {@code run_id} alone where the replication section was not read or lacks it.
     *
     * <p>Why both: the run id is new on each restart, but not when a master that lost writes comes back as master. After
     * a failover A to B (B lacking A's last writes) and a failover back once A has resynced from B, A is master again with
     * the run id it always had and B's data set: with the run id alone a producer would not send those writes again. A
     * master's replication id is new each time a replica is promoted, and a replica that resyncs takes its master's: so
     * the pair changes whenever the data set may have lost writes (a restart, a promotion), and otherwise stays.
     */
    public static String runId(Map<String, String> info) {
        String id = info.get("run_id");
        String replid = info.get("master_replid");
        return id == null || replid == null || replid.isEmpty() ? id : id + REPLID_SEPARATOR + replid;
    }

    /**
     * Whether {@code now} (a {@link #runId}, or {@link ClusterTopology#combinedRunId} of them) names the data set
     * {@code known} named. A {@code known} recorded by an earlier version (run ids only, no replication ids) is
     * compared with the run ids of {@code now}: an upgrade alone is no restart.
     */
    public static boolean sameRunId(String known, String now) {
        if (known == null || now == null) {
            return known == now;
        }
        if (known.equals(now)) {
            return true;
        }
        return known.indexOf(REPLID_SEPARATOR) < 0 && known.equals(REPLID.matcher(now).replaceAll(""));
    }
}
