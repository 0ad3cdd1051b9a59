-- release: hand a fetched job back to the queue at once (graceful shutdown of a job not finished).
--
-- KEYS[1]  spillway:{q}:stream   the queue's stream
-- KEYS[2]  spillway:{q}:job:<id> status record
-- ARGV[1]  consumer group
-- ARGV[2]  stream entry id
-- ARGV[3]  the job, JobCodec bytes
-- ARGV[4]  now, epoch milliseconds
--
-- Returns 1 when re-queued, 0 when the entry was no longer pending (nothing written).
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[1], '*', 'j', ARGV[3])
local v = redis.call('GET', KEYS[2])
if v then
  redis.call('SET', KEYS[2], 'Q' .. string.sub(v, 2, -1), 'KEEPTTL')
end
return 1
