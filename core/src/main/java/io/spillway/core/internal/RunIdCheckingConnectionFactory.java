package io.spillway.core.internal;

import java.util.function.Supplier;
import org.apache.commons.pool2.PooledObject;
import redis.clients.jedis.CommandArguments;
import redis.clients.jedis.CommandObject;
import redis.clients.jedis.Connection;
import redis.clients.jedis.ConnectionFactory;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.builders.StandaloneClientBuilder;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * The pool's connection factory for a standalone or Sentinel gateway: a new connection first reads Redis's {@code run_id}
 * ({@code INFO server}, one round trip, only when the pool opens a connection) and is refused, as a {@link
 * RedisRestartedException}, when it is not the one the reconnect loop last saw.
 *
 * <p>Why: a Redis that restarts empty between two calls of a producer, faster than the heartbeat's second, is met by no
 * call while it is down. The next call finds its pooled connection dead and is sent again on a fresh one, which reaches
 * the new Redis: without this check the job went in there ahead of the recent writes the restart lost, which the
 * recovery sends again only once the heartbeat noticed the new run id — out of order. Refused, the call spools, the
 * probe sees the new run id, and the recovery re-sends the lost writes before the journal.
 *
 * <p>The check compares {@code run_id} alone (a master that failed over and back keeps it; the heartbeat, which compares
 * the replication id too, and the sentinels notice that). A Redis that refuses {@code INFO} (an ACL without it) is not
 * checked: the heartbeat cannot read the run id there either.
 */
final class RunIdCheckingConnectionFactory extends ConnectionFactory {
    private final Supplier<String> expected;

    RunIdCheckingConnectionFactory(HostAndPort address, JedisClientConfig config, Supplier<String> expected) {
        super(address, config);
        this.expected = expected;
    }

    /** A client of {@code address} whose pool uses this factory. */
    static redis.clients.jedis.RedisClient client(HostAndPort address, JedisClientConfig config,
            org.apache.commons.pool2.impl.GenericObjectPoolConfig<Connection> poolConfig, Supplier<String> expected) {
        StandaloneClientBuilder<redis.clients.jedis.RedisClient> builder = redis.clients.jedis.RedisClient.builder();
        return builder.hostAndPort(address)
                .clientConfig(config)
                .connectionProvider(new redis.clients.jedis.providers.PooledConnectionProvider(
                        new RunIdCheckingConnectionFactory(address, config, expected), poolConfig))
                .build();
    }

    @Override
    public PooledObject<Connection> makeObject() throws Exception {
        PooledObject<Connection> made = super.makeObject();
        String want = expected.get();
        if (want == null) {
            return made;
        }
        Connection c = made.getObject();
        String found;
        try {
            String info = c.executeCommand(new CommandObject<>(
                    new CommandArguments(Protocol.Command.INFO).add("server"),
                    redis.clients.jedis.BuilderFactory.STRING));
            found = RedisInfo.parse(info).get("run_id");
        } catch (JedisDataException refused) {
            return made; // INFO refused (an ACL): nothing to compare
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        if (found != null && !found.equals(want)) {
            c.close();
            throw new RedisRestartedException("Redis restarted (a new connection found run id " + found + ", not "
                    + want + ")");
        }
        return made;
    }

    /**
     * A fresh connection reached a Redis with another run id than the one last seen: unavailable (the call spools and
     * the reconnect loop recovers) but not worth a quick retry, which would meet the same Redis.
     */
    static final class RedisRestartedException extends JedisConnectionException {
        private static final long serialVersionUID = 1L;

        RedisRestartedException(String message) {
            super(message);
        }
    }
}
