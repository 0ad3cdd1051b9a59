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
-- A call of a stream (several calls in flight on one connection: batched enqueue, replay) is linked to the call before
-- it, with one more key and one more argument (so an odd number of arguments):
-- KEYS[n + 3]  spillway:{q}:chain:<stream>   the token of the stream's last call of this queue that went through
-- ARGV[2n + 3] "<check>,<set>": go through only if the chain key holds <check> (none if empty: the first call in
--              flight); once through, set it to <set> (kept 60 s; none if empty: no call of this queue may follow)
-- Redis runs the calls in flight one after the other, and refuses one midway (OOM, an ACL, BUSY, NOSCRIPT) while it
-- takes the next ones: without the link those would land ahead of the refused call's jobs, which are sent again
-- after them. A call whose link does not hold writes nothing and fails with
--   SPILLWAY_CHAIN the call before this one in its stream did not go through: nothing written
-- and the stream sends it again, in order, behind the one refused.
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
local nk = #KEYS
local chain
local chainSet
if #ARGV % 2 == 1 then
  chain = KEYS[nk]
  nk = nk - 1
  local check
  check, chainSet = string.match(ARGV[#ARGV], '^([^,]*),(.*)$')
  if check ~= '' then
    local last = redis.pcall('GET', chain)
    if failed(last) then
      return refusal(last, 'GET', chain, 'enqueue')
    end
    if last ~= check then
      return redis.error_reply('SPILLWAY_CHAIN the call before this one in its stream did not go through: nothing written')
    end
  end
end
-- One EXISTS and one SET per job (with EX for a TTL): with a TTL, and for one or two jobs, where MGET + MSET is
-- no cheaper.
local each = expires or nk <= 4
local queued = 'Q|0|' .. ARGV[1] .. '|'
local scheduled = 'D|0|' .. ARGV[1] .. '|'
local dups = {}
local nd = 0
local existing
local seen
local records
local nr = 0
if not each then
  existing = call('MGET', unpack(KEYS, 3, nk))
  seen = {}
  records = {}
end
for i = 3, nk do
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
if chainSet and chainSet ~= '' then
  local set = redis.pcall('SET', chain, chainSet, 'PX', 60000)
  if failed(set) then
    return refusal(set, 'SET', chain, 'enqueue')
  end
end
return dups
