-- dead_retry: put a dead letter back into its queue.
--
-- KEYS[1]  spillway:{q}:stream     the queue's stream
-- KEYS[2]  spillway:{q}:dead       dead letters
-- KEYS[3]  spillway:{q}:dead:data  job id -> JobCodec bytes
-- KEYS[4]  spillway:{q}:job:<id>   status record
-- ARGV[1]  job id
-- ARGV[2]  the job, JobCodec bytes, attempts reset to 0
-- ARGV[3]  now, epoch milliseconds
--
-- Returns 1 when re-queued, 0 when it was not (no longer) a dead letter.
-- The job is added to the stream before it leaves the dead letters, and a refused ZREM takes the new entry back:
-- a write Redis refuses part-way (an ACL without XADD or ZREM) returns the refusal and never loses the job. A
-- refused HDEL leaves only the job's old bytes behind (the job is back in its queue), and is returned too.
--#include /io/spillway/core/scripts/refusal.lua
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return 0
end
local entry = redis.pcall('XADD', KEYS[1], '*', 'j', ARGV[2])
if failed(entry) then
  return refusal(entry, 'XADD', KEYS[1], 'dead_retry')
end
local removed = redis.pcall('ZREM', KEYS[2], ARGV[1])
if failed(removed) then
  redis.pcall('XDEL', KEYS[1], entry)
  return refusal(removed, 'ZREM', KEYS[2], 'dead_retry')
end
redis.call('SET', KEYS[4], 'Q|0|' .. ARGV[3] .. '|')
local dropped = redis.pcall('HDEL', KEYS[3], ARGV[1])
if failed(dropped) then
  return refusal(dropped, 'HDEL', KEYS[3], 'dead_retry')
end
return 1
