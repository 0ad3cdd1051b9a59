package io.spillway.worker.internal;

import io.spillway.core.internal.LuaScript;

/** The worker's Lua scripts (resources under {@code io/spillway/worker/scripts/}); each file's header is its contract. */
public final class WorkerScripts {
    public static final LuaScript START = load("start");
    public static final LuaScript ACK = load("ack");
    public static final LuaScript RETRY = load("retry");
    public static final LuaScript DEAD = load("dead");
    public static final LuaScript SCHEDULE = load("schedule");
    public static final LuaScript RENEW = load("renew");
    public static final LuaScript RELEASE = load("release");
    public static final LuaScript DEAD_RETRY = load("dead_retry");
    public static final LuaScript DEAD_PURGE = load("dead_purge");
    public static final LuaScript GROUP = load("group");
    public static final LuaScript DROP = load("drop");
    public static final LuaScript TAKEOVER = load("takeover");
    public static final LuaScript FORGET = load("forget");
    public static final LuaScript BEAT = load("beat");
    public static final LuaScript CHECKPOINT_DONE = load("checkpoint_done");

    public static final LuaScript[] ALL = {START, ACK, RETRY, DEAD, SCHEDULE, RENEW, RELEASE, DEAD_RETRY, DEAD_PURGE, GROUP, DROP, TAKEOVER, FORGET, BEAT,
            CHECKPOINT_DONE};

    private WorkerScripts() {
    }

    private static LuaScript load(String name) {
        return LuaScript.load(WorkerScripts.class, "/io/spillway/worker/scripts/" + name + ".lua");
    }
}
