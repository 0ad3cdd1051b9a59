-- drop: take a cancelled job (status K, cancel.lua; or N, its cancel requested while a worker held it) out of the
-- stream without running it; its record becomes K.
--
-- KEYS[1]  spillway:{q}:stream   the queue's stream
-- KEYS[2]  spillway:{q}:job:<id> status record
-- ARGV[1]  consumer group
-- ARGV[2]  stream entry id
-- ARGV[3]  completed retention in seconds: the TTL the K record gets now that the job is gone
-- ARGV[4]  the consumer that held the lease
--
-- Returns 1 when dropped; 0 when the entry was no longer pending, is leased to another worker, or the record no
-- longer says K or N (nothing written: the entry, if still pending, is recovered after its lease and runs).
-- The record's TTL is set first (SET ... EX, not EXPIRE: a command the worker's ACL rules already allow): an XACK Redis refuses afterwards leaves the entry pending, to be found and dropped
-- again by the worker it goes to next.
--#include room.lua
--#include lease.lua
--#include /io/spillway/core/scripts/refusal.lua
--#include settle.lua
--#include cancelled.lua
if not settleable(KEYS[1], ARGV[1], ARGV[2], ARGV[4], KEYS[2]) then
  return 0
end
local v = redis.call('GET', KEYS[2])
local state = v and string.sub(v, 1, 1)
if state ~= 'K' and state ~= 'N' then
  return 0
end
local r = dropCancelled(KEYS[1], ARGV[1], ARGV[2], KEYS[2], 'K' .. string.sub(v, 2), ARGV[3], 'drop')
if r == 2 then
  return 1
end
return r
