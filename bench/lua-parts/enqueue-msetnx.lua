-- EXPERIMENT (session 5, not used by Spillway): enqueue.lua with an MSETNX fast path for a call whose jobs are all
-- new. Measured against enqueue.lua with bench/lua-capacity.py (docs/benchmarks.md, "Session 5"): no gain above noise.
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
-- Returns the positions (1-based) of the duplicates, usually none: a job whose status record exists
-- (queued, running, done or dead) is not written again. Every other job was added, to the stream or,
-- with a run-at in the future, to the delayed set.
--
-- Atomic: under maxmemory the first write fails with OOM and nothing of the batch is written.
-- Written for Redis's cost per job, which bounds batched enqueue and replay: without a dedupe TTL (the
-- default) one MGET finds the duplicates and one MSET writes every new status record, so the loop makes one
-- redis.call per job (XADD or ZADD) instead of two; no number parsing for the common run-at 0; locals for
-- everything used in the loop. With a TTL, and for one or two jobs, each record is written with SET NX.
local call = redis.call
local stream = KEYS[1]
local delayedSet = KEYS[2]
local now = tonumber(ARGV[1])
local ttl = ARGV[2]
local expires = tonumber(ttl) > 0
-- One SET NX per job (with EX for a TTL): with a TTL, and for one or two jobs, where MGET + MSET is no cheaper.
local each = expires or #KEYS <= 4
local queued = 'Q|0|' .. ARGV[1] .. '|'
local scheduled = 'D|0|' .. ARGV[1] .. '|'
local dups = {}
local nd = 0
local existing
local seen
local records
local nr = 0
if not each then
  -- The usual call: no job of it exists yet and no id comes twice. Then one MSETNX writes every status record
  -- (and is the check: it writes nothing if any exists), and the loop only adds the jobs.
  records = {}
  seen = {}
  local fresh = true
  for i = 3, #KEYS do
    local key = KEYS[i]
    if seen[key] then
      fresh = false
      break
    end
    seen[key] = true
    local runAt = ARGV[2 * i - 3]
    records[nr + 1] = key
    records[nr + 2] = (runAt ~= '0' and tonumber(runAt) > now) and scheduled or queued
    nr = nr + 2
  end
  if fresh and call('MSETNX', unpack(records, 1, nr)) == 1 then
    for i = 3, #KEYS do
      local a = 2 * i - 3
      local runAt = ARGV[a]
      local at = 0
      if runAt ~= '0' then
        at = tonumber(runAt)
      end
      if at > now then
        call('ZADD', delayedSet, at, ARGV[a + 1])
      else
        call('XADD', stream, '*', 'j', ARGV[a + 1])
      end
    end
    return dups
  end
  nr = 0
  existing = call('MGET', unpack(KEYS, 3))
  seen = {}
  records = {}
end
for i = 3, #KEYS do
  local key = KEYS[i]
  local a = 2 * i - 3
  local runAt = ARGV[a]
  local at = 0
  local delayed = false
  if runAt ~= '0' then
    at = tonumber(runAt)
    delayed = at > now
  end
  local status = delayed and scheduled or queued
  local created
  if expires then
    created = call('SET', key, status, 'NX', 'EX', ttl)
  elseif each then
    -- No EX: on Redis 6.2 a TTL costs about as much as the rest of this loop body.
    created = call('SET', key, status, 'NX')
  elseif existing[i - 2] or seen[key] then
    created = false
  else
    -- the same id twice in one call: the second is a duplicate
    seen[key] = true
    records[nr + 1] = key
    records[nr + 2] = status
    nr = nr + 2
    created = true
  end
  if not created then
    nd = nd + 1
    dups[nd] = i - 2
  elseif delayed then
    call('ZADD', delayedSet, at, ARGV[a + 1])
  else
    call('XADD', stream, '*', 'j', ARGV[a + 1])
  end
end
if nr > 0 then
  call('MSET', unpack(records, 1, nr))
end
return dups
