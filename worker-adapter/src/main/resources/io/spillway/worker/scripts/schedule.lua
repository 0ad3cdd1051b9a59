-- schedule: move due delayed jobs (run-at reached: delays and retry backoffs) into the stream.
--
-- KEYS[1]  spillway:{q}:stream   the queue's stream
-- KEYS[2]  spillway:{q}:delayed  delayed jobs (score = run-at, member = JobCodec bytes)
-- ARGV[1]  now, epoch milliseconds
-- ARGV[2]  at most this many jobs per call
-- ARGV[3]  the status key prefix of the queue, "spillway:{q}:job:" (same hash slot as KEYS)
--
-- Returns the number of jobs moved. Atomic, so many workers may run it at once. The status record goes back to Q
-- (attempts, last error and TTL kept), unless the job was cancelled (K): that record is kept, and the worker that
-- fetches the job drops it (start.lua). The job id is read from the JobCodec bytes: u8 version | u16 length | id.
-- Each job is added to the stream before it leaves the delayed set, and a refused ZREM takes the new entry back, so
-- a write Redis refuses part-way (an ACL without XADD or ZREM) returns the refusal, after the jobs moved before it,
-- and never loses a job. Nothing due (the usual case, every tick on every queue): one read, and no write at all.
--#include /io/spillway/core/scripts/refusal.lua
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due == 0 then
  return 0
end
--#include room.lua
local moved = 0
for _, m in ipairs(due) do
  local entry = redis.pcall('XADD', KEYS[1], '*', 'j', m)
  if failed(entry) then
    return refusal(entry, 'XADD', KEYS[1], 'schedule')
  end
  local removed = redis.pcall('ZREM', KEYS[2], m)
  if failed(removed) or removed == 0 then
    redis.pcall('XDEL', KEYS[1], entry)
    if removed ~= 0 then
      return refusal(removed, 'ZREM', KEYS[2], 'schedule')
    end
  else
    moved = moved + 1
    if string.len(m) >= 3 then
      local len = string.byte(m, 2) * 256 + string.byte(m, 3)
      local key = ARGV[3] .. string.sub(m, 4, 3 + len)
      local v = redis.call('GET', key)
      if v and string.sub(v, 1, 1) ~= 'K' then
        redis.call('SET', key, 'Q' .. string.sub(v, 2, -1), 'KEEPTTL')
      end
    end
  end
end
return moved
