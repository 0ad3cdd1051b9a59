-- takeover: take over the jobs of dead or hung workers (entries idle past the lease): XAUTOCLAIM, and a note of what
-- it claimed, so that a worker whose reply was lost (its connection dropped or timed out after Redis ran the call)
-- can find those jobs once it is back instead of leaving them leased to itself, unseen, for one more lease.
--
-- KEYS[1]  spillway:{q}:stream                the queue's stream
-- KEYS[2]  spillway:{q}:claimed:<consumer>    the note: "<token> <entry id> <entry id> ..."
-- ARGV[1]  consumer group
-- ARGV[2]  this worker's consumer name
-- ARGV[3]  the lease in milliseconds (min idle time)
-- ARGV[4]  cursor: the entry id the scan of the pending-entries list goes on from
-- ARGV[5]  COUNT
-- ARGV[6]  token of this call (unique per worker): the worker trusts a note only when it bears the token of the call
--          whose reply it did not get; the same call sent again adds to its note
-- ARGV[7]  the note's time to live in milliseconds (the lease: past it the entries are anyone's to take over again)
--
-- Returns XAUTOCLAIM's reply as it is: {next cursor, entries, (Redis 7) deleted ids}. The note is written only when
-- something was claimed, and a refused write of it (memory full, an ACL without SET) does not fail the takeover: only
-- the lost-reply recovery is lost then. XAUTOCLAIM itself is not refused on a full Redis, so the write that makes room
-- for the note (room.lua) is made only when there is a note to write: an idle queue's takeover is one command.
--#include /io/spillway/core/scripts/refusal.lua
local r = redis.pcall('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
if failed(r) then
  -- NOGROUP (the worker makes the group and goes on), or an ACL without XAUTOCLAIM, named as the worker's fetch
  -- errors are
  return refusal(r, 'XAUTOCLAIM', KEYS[1], 'takeover')
end
local entries = r[2]
local note = { ARGV[6] }
for _, e in ipairs(entries) do
  -- Redis 6.2 returns an entry deleted while pending as nil (false here)
  if type(e) == 'table' then
    note[#note + 1] = e[1]
  end
end
if #note > 1 then
--#include room.lua
  -- The same call sent again (the gateway's retry after its connection dropped): keep what the first send claimed.
  local old = redis.pcall('GET', KEYS[2])
  if type(old) == 'string' and string.sub(old, 1, #ARGV[6] + 1) == ARGV[6] .. ' ' then
    note[1] = old
  end
  redis.pcall('SET', KEYS[2], table.concat(note, ' '), 'PX', ARGV[7])
end
return r
