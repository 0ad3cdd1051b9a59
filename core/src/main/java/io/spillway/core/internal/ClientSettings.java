package io.spillway.core.internal;

import io.spillway.core.RedisConnection;
import redis.clients.jedis.ClientSetInfoConfig;
import redis.clients.jedis.DefaultJedisClientConfig;

/**
 * The Jedis settings every Spillway connection starts from: the connection's connect and socket timeouts, a client
 * name, TLS as the connection says ({@link Tls}), the given credentials, and no {@code CLIENT SETINFO}. Callers add
 * what differs (a database, a blocking-read timeout, other timeouts) to the builder returned.
 *
 * <p>No {@code CLIENT SETINFO}: {@code CLIENT SETNAME} names the connection, and before Redis 7.2 an ACL user (who
 * cannot be given {@code +client|setinfo} there) had each new connection's {@code SETINFO} logged as a refusal in
 * {@code ACL LOG}.
 */
public final class ClientSettings {
    private ClientSettings() {
    }

    /**
     * Settings for a connection named {@code clientName}, authenticated as {@code user} with {@code password} (either
     * may be null: none).
     */
    public static DefaultJedisClientConfig.Builder builder(RedisConnection c, String clientName, String user,
            String password) {
        DefaultJedisClientConfig.Builder cfg = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis((int) c.connectTimeout().toMillis())
                .socketTimeoutMillis((int) c.socketTimeout().toMillis())
                .clientName(clientName)
                .clientSetInfoConfig(ClientSetInfoConfig.DISABLED);
        Tls.configure(cfg, c);
        if (user != null) {
            cfg.user(user);
        }
        if (password != null) {
            cfg.password(password);
        }
        return cfg;
    }
}
