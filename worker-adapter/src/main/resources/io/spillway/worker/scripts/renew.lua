-- renew: extend the leases of the jobs this worker is running (reset their idle time).
--
-- KEYS[1]  spillway:{q}:stream   the queue's stream
-- ARGV[1]  consumer group
-- ARGV[2]  this worker's consumer name
-- ARGV[2 + i]  stream entry id of job i, i = 1..n
--
-- Returns an array with one integer per job:
--   1  renewed (XCLAIM JUSTID to ourselves: idle time back to 0, delivery count unchanged)
--   0  lost: not pending any more, or pending at another consumer (our lease had expired and it was
--      reclaimed). A lost lease is never taken back.
local out = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
