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
-- The status records are written first: SET ... EX is the step Redis can refuse (an expire time out of
-- range), and Redis does not undo a script's earlier writes when a later one fails. A refused SET leaves
-- every entry pending, so the jobs are redelivered (and acked without running if their C record was
-- written); refused after XACK + XDEL, it would drop jobs from the stream with their status still active.
for i = 2, #KEYS do
  local a = 2 * (i - 1) + 2
  redis.call('SET', KEYS[i], 'C|' .. ARGV[a + 1] .. '|' .. ARGV[2] .. '|', 'EX', ARGV[3])
end
local acked = 0
for i = 2, #KEYS do
  local id = ARGV[2 * (i - 1) + 2]
  acked = acked + redis.call('XACK', KEYS[1], ARGV[1], id)
  redis.call('XDEL', KEYS[1], id)
end
return acked
