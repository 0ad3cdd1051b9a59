-- ack: settle a batch of completed jobs of one queue.
--
-- KEYS[1]      spillway:{q}:stream   the queue's stream
-- KEYS[1 + i]  spillway:{q}:job:<id> status record of job i, i = 1..n
-- ARGV[1]      consumer group
-- ARGV[2]      now, epoch milliseconds
-- ARGV[3]      completed retention in seconds (TTL of the C record)
-- ARGV[2 + 2i] stream entry id of job i
-- ARGV[3 + 2i] handler runs of job i (attempts)
--
-- Returns the number of entries that were still pending (XACK = 1).
-- Idempotent: a replay (local acks flushed after an outage) writes the same values again.
local acked = 0
for i = 2, #KEYS do
  local a = 2 * (i - 1) + 2
  local id = ARGV[a]
  acked = acked + redis.call('XACK', KEYS[1], ARGV[1], id)
  redis.call('XDEL', KEYS[1], id)
  redis.call('SET', KEYS[i], 'C|' .. ARGV[a + 1] .. '|' .. ARGV[2] .. '|', 'EX', ARGV[3])
end
return acked
