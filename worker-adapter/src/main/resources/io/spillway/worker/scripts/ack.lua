-- ack: settle a batch of completed jobs of one queue.
--
-- KEYS[1]      spillway:{q}:stream   the queue's stream
-- KEYS[1 + i]  spillway:{q}:job:<id> status record of job i, i = 1..n
-- ARGV[1]      consumer group
-- ARGV[2]      now, epoch milliseconds
-- ARGV[3]      completed retention in seconds (TTL of the C record)
-- ARGV[4]      the consumer that held the jobs' leases
-- ARGV[3 + 2i] stream entry id of job i
-- ARGV[4 + 2i] handler runs of job i (attempts)
--
-- Returns the number of entries settled: those still leased to ARGV[4] (or whose fetch a restarted Redis lost:
-- see lease.lua). The others (settled already, or taken over by another worker) are left alone: nothing is
-- written for them.
-- Idempotent: a replay (local acks flushed after an outage) writes the same values again, or nothing.
-- The status records are written first: SET ... EX is the step Redis can refuse (an expire time out of
-- range), and Redis does not undo a script's earlier writes when a later one fails. A refused SET leaves
-- every entry pending, so the jobs are redelivered (and acked without running if their C record was
-- written); refused after XACK + XDEL, it would drop jobs from the stream with their status still active.
-- One XACK and one XDEL for the whole batch: per entry they cost Redis about a third of this script
-- (bench/settle-capacity.py).
--#include room.lua
--#include lease.lua
local n = #KEYS - 1
local mine = {}
for i = 1, n do
  mine[i] = settleable(KEYS[1], ARGV[1], ARGV[3 + 2 * i], ARGV[4], KEYS[1 + i])
  if mine[i] then
    redis.call('SET', KEYS[1 + i], 'C|' .. ARGV[4 + 2 * i] .. '|' .. ARGV[2] .. '|', 'EX', ARGV[3])
  end
end
local ids = {}
local acked = 0
for i = 1, n do
  if mine[i] then
    acked = acked + 1
    ids[acked] = ARGV[3 + 2 * i]
  end
end
if acked > 0 then
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ids, 1, acked))
  redis.call('XDEL', KEYS[1], unpack(ids, 1, acked))
end
return acked
