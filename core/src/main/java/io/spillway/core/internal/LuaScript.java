package io.spillway.core.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A Lua script read from {@code io/spillway/core/scripts/<name>.lua} (or another resource base), with
 * its SHA-1 computed locally so EVALSHA needs no round trip first. {@link RedisGateway#eval} reloads it
 * after NOSCRIPT (a restarted Redis has an empty script cache).
 */
public final class LuaScript {
    /** Every script this JVM has loaded, by SHA-1 (declared before the scripts, which fill it): to name the script in an error Redis reports by its SHA only. */
    private static final java.util.Map<String, LuaScript> BY_SHA = new java.util.concurrent.ConcurrentHashMap<>();

    /** Idempotent batch enqueue. */
    public static final LuaScript ENQUEUE = load(LuaScript.class, "/io/spillway/core/scripts/enqueue.lua");
    public static final LuaScript CANCEL = load(LuaScript.class, "/io/spillway/core/scripts/cancel.lua");

    private final String name;
    private final String source;
    private final String sha;
    private final byte[] shaBytes;

    private LuaScript(String name, String source) {
        this.name = name;
        this.source = source;
        try {
            this.sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        this.shaBytes = sha.getBytes(StandardCharsets.US_ASCII);
        BY_SHA.putIfAbsent(sha, this);
    }

    /** The script of this SHA-1 loaded in this JVM, or null. */
    static LuaScript bySha(String sha) {
        return BY_SHA.get(sha);
    }

    /**
     * Loads a script resource relative to {@code anchor}'s class loader; fails at class init if missing. A line
     * {@code --#include <file>.lua} is replaced by that resource of the same folder, or {@code --#include /<path>.lua}
     * by that resource of the class path (for code several scripts share: Redis runs each script as one source).
     */
    public static LuaScript load(Class<?> anchor, String resource) {
        String name = resource.substring(resource.lastIndexOf('/') + 1).replace(".lua", "");
        return new LuaScript(name, read(anchor, resource, 0));
    }

    private static String read(Class<?> anchor, String resource, int depth) {
        if (depth > 4) {
            throw new IllegalStateException("Lua includes nested too deep at " + resource);
        }
        String text;
        try (InputStream in = anchor.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("Lua script resource not found: " + resource);
            }
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read Lua script " + resource, e);
        }
        StringBuilder out = new StringBuilder(text.length());
        String folder = resource.substring(0, resource.lastIndexOf('/') + 1);
        for (String line : text.split("\n", -1)) {
            if (line.startsWith(INCLUDE)) {
                String included = line.substring(INCLUDE.length()).trim();
                out.append(read(anchor, included.startsWith("/") ? included : folder + included, depth + 1));
            } else {
                out.append(line).append('\n');
            }
        }
        out.setLength(out.length() - 1); // the split's last piece had no newline after it
        return out.toString();
    }

    private static final String INCLUDE = "--#include ";

    public String name() {
        return name;
    }

    public String source() {
        return source;
    }

    public String sha() {
        return sha;
    }

    public byte[] shaBytes() {
        return shaBytes;
    }

    @Override
    public String toString() {
        return "LuaScript[" + name + " " + sha + "]";
    }
}
