-- renew: extend the leases of the jobs this worker is running (reset their idle time).
--
-- KEYS[1]      spillway:{q}:stream   the queue's stream
-- KEYS[1 + i]  spillway:{q}:job:<id> status record of job i (optional: without it, job i is never reported 2)
-- ARGV[1]  consumer group
-- ARGV[2]  this worker's consumer name
-- ARGV[2 + i]  stream entry id of job i, i = 1..n
--
-- Returns an array with one integer per job:
--   1  renewed (XCLAIM JUSTID to ourselves: idle time back to 0, delivery count unchanged)
--   2  renewed, and its cancel has been requested (status N, cancel.lua): the worker drops it if it has not started,
--      and tells its handler (Job.cancelRequested) if it has
--   0  lost: pending at another consumer (our lease had expired and it was reclaimed). A lost lease is never
--      taken back.
--   3  lost: pending at no consumer and gone from the stream (settled by a worker that took it over, or lost with
--      Redis's data: a restart without persistence). Never taken back either.
local out = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    local key = KEYS[i - 1]
    local v = key and redis.pcall('GET', key)
    if type(v) == 'string' and string.sub(v, 1, 1) == 'N' then
      out[#out + 1] = 2
    else
      out[#out + 1] = 1
    end
  elseif not p[1] and #redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i]) == 0 then
    out[#out + 1] = 3
  else
    out[#out + 1] = 0
  end
end
return out
