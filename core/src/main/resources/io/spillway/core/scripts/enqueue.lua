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
-- A refused write ends the call with an error: under maxmemory the first write fails with OOM and nothing of
-- the batch is written. An ACL can refuse a later one (a user without XADD, or ZADD for the first delayed job):
-- Redis does not undo what a script wrote before an error, so each job is written before its status record
-- (a record without its job would make the replay take the job for a duplicate: lost), and the records of the
-- jobs already added go in before the error is returned (else the replay would add those twice). The error
-- names the command and key (Redis's own script error names neither):
--   NOPERM this user may not run XADD (on spillway:{q}:stream, in script enqueue)
-- Written for Redis's cost per job, which bounds batched enqueue and replay: without a dedupe TTL (the
-- default) one MGET finds the duplicates and one MSET writes every new status record, so the loop makes one
-- redis.call per job (XADD or ZADD) instead of two; no number parsing for the common run-at 0; locals for
-- everything used in the loop. With a TTL, and for one or two jobs, each record is checked with EXISTS and
-- written with SET after its job.
--#include refusal.lua
local call = redis.call
local stream = KEYS[1]
local delayedSet = KEYS[2]
local now = tonumber(ARGV[1])
local ttl = ARGV[2]
local expires = tonumber(ttl) > 0
-- One EXISTS and one SET per job (with EX for a TTL): with a TTL, and for one or two jobs, where MGET + MSET is
-- no cheaper.
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
  local created
  if each then
    created = call('EXISTS', key) == 0
  else
    -- the same id twice in one call: the second is a duplicate
    created = not (existing[i - 2] or seen[key])
  end
  if not created then
    nd = nd + 1
    dups[nd] = i - 2
  else
    local added
    if delayed then
      added = redis.pcall('ZADD', delayedSet, at, ARGV[a + 1])
    else
      added = redis.pcall('XADD', stream, '*', 'j', ARGV[a + 1])
    end
    if failed(added) then
      if nr > 0 then
        redis.pcall('MSET', unpack(records, 1, nr))
      end
      if delayed then
        return refusal(added, 'ZADD', delayedSet, 'enqueue')
      end
      return refusal(added, 'XADD', stream, 'enqueue')
    end
    local status = delayed and scheduled or queued
    if expires then
      call('SET', key, status, 'EX', ttl)
    elseif each then
      -- No EX: on Redis 6.2 a TTL costs about as much as the rest of this loop body.
      call('SET', key, status)
    else
      seen[key] = true
      records[nr + 1] = key
      records[nr + 2] = status
      nr = nr + 2
    end
  end
end
if nr > 0 then
  call('MSET', unpack(records, 1, nr))
end
return dups
