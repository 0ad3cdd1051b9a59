-- retry: a failed job goes to the delayed set to run again after its backoff.
--
-- KEYS[1]  spillway:{q}:stream   the queue's stream
-- KEYS[2]  spillway:{q}:delayed  delayed jobs (score = run-at)
-- KEYS[3]  spillway:{q}:job:<id> status record
-- ARGV[1]  consumer group
-- ARGV[2]  stream entry id
-- ARGV[3]  now, epoch milliseconds
-- ARGV[4]  run-at of the next attempt, epoch milliseconds
-- ARGV[5]  the job, JobCodec bytes, with its attempt count already raised
-- ARGV[6]  handler runs so far (attempts)
-- ARGV[7]  the error ("ExceptionClass: message")
-- ARGV[8]  the consumer that held the lease
-- ARGV[9]  completed retention in seconds (the TTL of a K record, below)
--
-- Returns 1 when scheduled, 0 when the entry was no longer pending (a replayed retry, or another
-- worker settled it) or is leased to another worker now: then nothing is written, so a replay never schedules a
-- job twice and a late failure never takes a job from the worker running it. Returns 2 when its cancel was requested
-- while it ran (status N, cancelled.lua): it is not retried but dropped, its record K with this run's attempts and
-- error.
-- The job goes into the delayed set before its entry leaves the stream (settle.lua): a write Redis refuses part-way
-- returns the refusal and never loses the job.
--#include room.lua
--#include lease.lua
--#include /io/spillway/core/scripts/refusal.lua
--#include settle.lua
--#include cancelled.lua
if not settleable(KEYS[1], ARGV[1], ARGV[2], ARGV[8], KEYS[3]) then
  return 0
end
if cancelRequested(KEYS[3]) then
  return dropCancelled(KEYS[1], ARGV[1], ARGV[2], KEYS[3], 'K|' .. ARGV[6] .. '|' .. ARGV[3] .. '|' .. ARGV[7], ARGV[9], 'retry')
end
local added = redis.pcall('ZADD', KEYS[2], ARGV[4], ARGV[5])
if failed(added) then
  return refusal(added, 'ZADD', KEYS[2], 'retry')
end
local late, stop = leave(KEYS[1], ARGV[1], ARGV[2], 'retry', function()
  if added == 1 then
    redis.pcall('ZREM', KEYS[2], ARGV[5])
  end
end)
if stop then
  return late
end
local status = 'R|' .. ARGV[6] .. '|' .. ARGV[3] .. '|' .. ARGV[7]
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('SET', KEYS[3], status, 'KEEPTTL')
else
  redis.call('SET', KEYS[3], status)
end
return late or 1
