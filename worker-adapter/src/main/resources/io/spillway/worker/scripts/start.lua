-- start: mark a fetched batch active, and find the jobs that are already completed.
--
-- KEYS[1]       spillway:{q}:stream    the queue's stream (for room.lua)
-- KEYS[1 + i]   spillway:{q}:job:<id>  status record of job i, i = 1..n
-- ARGV[1]   now, epoch milliseconds
-- ARGV[1 + i]  the run job i is about to start: its attempt number, 1 on the first run (optional: without it, the
--              attempts of the record are kept)
--
-- Returns an array with one integer per job:
--   1  its status record says completed (C): ack it without running the handler
--   2  its status record says cancelled (K, cancel.lua), or cancel requested (N: a worker that held it before
--      died or handed it back): drop it without running the handler (drop.lua)
--   0  marked active (A|<run>|now|last error): the attempts count the run about to start, as the C, R and X
--      records of its end will; the last error and the TTL are kept
--#include room.lua
local out = {}
for i = 1, #KEYS - 1 do
  local key = KEYS[i + 1]
  local v = redis.call('GET', key)
  local state = v and string.sub(v, 1, 1)
  if state == 'C' then
    out[i] = 1
  elseif state == 'K' or state == 'N' then
    out[i] = 2
  else
    local attempts, err = ARGV[i + 1], ''
    if v then
      attempts = attempts or string.match(v, '^.|(%d+)|') or '0'
      err = string.match(v, '^.|%d*|%d*|(.*)$') or ''
      redis.call('SET', key, 'A|' .. attempts .. '|' .. ARGV[1] .. '|' .. err, 'KEEPTTL')
    else
      redis.call('SET', key, 'A|' .. (attempts or '0') .. '|' .. ARGV[1] .. '|')
    end
    out[i] = 0
  end
end
return out
