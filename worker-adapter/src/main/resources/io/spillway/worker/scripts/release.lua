-- release: hand a fetched job back to the queue at once (graceful shutdown of a job not finished, or a job fetched
-- ahead that waited while every handler thread ran a long job).
--
-- KEYS[1]  spillway:{q}:stream   the queue's stream
-- KEYS[2]  spillway:{q}:job:<id> status record
-- ARGV[1]  consumer group
-- ARGV[2]  stream entry id
-- ARGV[3]  the job, JobCodec bytes
-- ARGV[4]  now, epoch milliseconds
-- ARGV[5]  the consumer that held the lease
-- ARGV[6]  completed retention in seconds (the TTL of a K record, below)
-- ARGV[7]  the job's attempts, the runs that ended (optional): the record's count goes back to it, since start.lua
--          counted the run handed back, which did not end
--
-- The status record goes back to Q, unless the job was cancelled meanwhile (K): that record is kept, and the worker
-- that fetches the job next drops it (start.lua). A job whose cancel was requested while this worker held it (N,
-- cancelled.lua) is not handed back but dropped (returns 2), its record K.
-- Returns 1 when re-queued, 0 when the entry was no longer pending or is leased to another worker (nothing written).
-- The job's new entry is added before the old one leaves the stream (settle.lua): a write Redis refuses part-way
-- returns the refusal and never loses the job.
--#include room.lua
--#include lease.lua
--#include /io/spillway/core/scripts/refusal.lua
--#include settle.lua
--#include cancelled.lua
if not settleable(KEYS[1], ARGV[1], ARGV[2], ARGV[5], KEYS[2]) then
  return 0
end
local requested = cancelRequested(KEYS[2])
if requested then
  return dropCancelled(KEYS[1], ARGV[1], ARGV[2], KEYS[2], 'K' .. string.sub(requested, 2), ARGV[6], 'release')
end
local entry = redis.pcall('XADD', KEYS[1], '*', 'j', ARGV[3])
if failed(entry) then
  return refusal(entry, 'XADD', KEYS[1], 'release')
end
local late, stop = leave(KEYS[1], ARGV[1], ARGV[2], 'release', function()
  redis.pcall('XDEL', KEYS[1], entry)
end)
if stop then
  return late
end
local v = redis.call('GET', KEYS[2])
if v and string.sub(v, 1, 1) ~= 'K' then
  local rest = string.sub(v, 2, -1)
  local tail = ARGV[7] and string.match(v, '^.|%d*(|.*)$')
  if tail then
    rest = '|' .. ARGV[7] .. tail
  end
  redis.call('SET', KEYS[2], 'Q' .. rest, 'KEEPTTL')
end
return late or 1
