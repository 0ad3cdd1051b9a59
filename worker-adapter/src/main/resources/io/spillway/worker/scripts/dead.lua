-- dead: a job that failed for good (attempts exhausted, unknown type, undecodable) becomes a dead letter.
--
-- KEYS[1]  spillway:{q}:stream     the queue's stream
-- KEYS[2]  spillway:{q}:dead       dead letters (score = dead-at, member = job id)
-- KEYS[3]  spillway:{q}:dead:data  job id -> JobCodec bytes
-- KEYS[4]  spillway:{q}:job:<id>   status record
-- ARGV[1]  consumer group
-- ARGV[2]  stream entry id
-- ARGV[3]  now, epoch milliseconds
-- ARGV[4]  job id
-- ARGV[5]  the job, JobCodec bytes (or the raw entry bytes when they could not be decoded)
-- ARGV[6]  handler runs so far (attempts)
-- ARGV[7]  the reason ("ExceptionClass: message", "unknown job type ...")
-- ARGV[8]  the consumer that held the lease
-- ARGV[9]  completed retention in seconds (the TTL of a K record, below)
--
-- Returns 1 when dead-lettered, 0 when the entry was no longer pending (a replay) or is leased to another worker:
-- nothing written. Returns 2 when its cancel was requested while it ran (status N, cancelled.lua): no dead letter,
-- it is dropped, its record K with this run's attempts and reason.
-- The X record has no TTL: a dead letter stays until it is retried or purged.
-- The job's bytes, then its place in the dead letters, are written before its entry leaves the stream (settle.lua):
-- a write Redis refuses part-way returns the refusal and never loses the job.
--#include room.lua
--#include lease.lua
--#include /io/spillway/core/scripts/refusal.lua
--#include settle.lua
--#include cancelled.lua
if not settleable(KEYS[1], ARGV[1], ARGV[2], ARGV[8], KEYS[4]) then
  return 0
end
if cancelRequested(KEYS[4]) then
  return dropCancelled(KEYS[1], ARGV[1], ARGV[2], KEYS[4], 'K|' .. ARGV[6] .. '|' .. ARGV[3] .. '|' .. ARGV[7], ARGV[9], 'dead')
end
local stored = redis.pcall('HSET', KEYS[3], ARGV[4], ARGV[5])
if failed(stored) then
  return refusal(stored, 'HSET', KEYS[3], 'dead')
end
local listed = redis.pcall('ZADD', KEYS[2], ARGV[3], ARGV[4])
local function undo()
  if listed == 1 then
    redis.pcall('ZREM', KEYS[2], ARGV[4])
  end
  if stored == 1 then
    redis.pcall('HDEL', KEYS[3], ARGV[4])
  end
end
if failed(listed) then
  undo()
  return refusal(listed, 'ZADD', KEYS[2], 'dead')
end
local late, stop = leave(KEYS[1], ARGV[1], ARGV[2], 'dead', undo)
if stop then
  return late
end
redis.call('SET', KEYS[4], 'X|' .. ARGV[6] .. '|' .. ARGV[3] .. '|' .. ARGV[7])
return late or 1
