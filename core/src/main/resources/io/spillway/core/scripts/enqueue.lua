-- enqueue: add a batch of jobs of one queue, idempotently by job id.
--
-- KEYS[1]      spillway:{q}:stream    ready jobs
-- KEYS[2]      spillway:{q}:delayed   jobs with a run-at in the future
-- KEYS[2 + i]  spillway:{q}:job:<id>  status record (and dedupe marker) of job i, i = 1..n
-- ARGV[1]      now, epoch milliseconds (the producer's clock)
-- ARGV[2]      dedupe window in seconds: a TTL on the new status record; 0 = none (the record lives
--              as long as the job, and the worker gives it the completed-retention TTL at the end)
-- ARGV[1 + 2i] run-at of job i, epoch milliseconds (0 = at once)
-- ARGV[2 + 2i] job i, JobCodec bytes
--
-- Returns an array with one integer per job:
--   1  added to the stream
--   2  added to the delayed set
--   0  duplicate: its status record exists (queued, running, done or dead); nothing written
--
-- Atomic: under maxmemory the first SET fails with OOM and nothing of the batch is written.
local now = tonumber(ARGV[1])
local ttl = ARGV[2]
local expires = tonumber(ttl) > 0
local queued = 'Q|0|' .. ARGV[1] .. '|'
local scheduled = 'D|0|' .. ARGV[1] .. '|'
local out = {}
for i = 3, #KEYS do
  local a = 2 * (i - 2) + 1
  local runAt = tonumber(ARGV[a])
  local delayed = runAt > now
  local created
  if expires then
    created = redis.call('SET', KEYS[i], delayed and scheduled or queued, 'NX', 'EX', ttl)
  else
    -- No EX: on Redis 6.2 a TTL costs about as much as the rest of this loop body.
    created = redis.call('SET', KEYS[i], delayed and scheduled or queued, 'NX')
  end
  if created then
    if delayed then
      redis.call('ZADD', KEYS[2], runAt, ARGV[a + 1])
      out[#out + 1] = 2
    else
      redis.call('XADD', KEYS[1], '*', 'j', ARGV[a + 1])
      out[#out + 1] = 1
    end
  else
    out[#out + 1] = 0
  end
end
return out
