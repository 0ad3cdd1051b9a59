-- cancel: cancel a job that has not started, so that no worker runs it.
--
-- KEYS[1]  spillway:{q}:job:<id>  the job's status record (and dedupe marker)
-- ARGV[1]  now, epoch milliseconds
-- ARGV[2]  seconds to keep the tombstone of an id Redis does not know (a job that may still be spooled in a
--          producer's journal: its replay finds the record and skips the job as a duplicate)
--
-- Returns the status record after the call:
--   K|...  cancelled, now or before. A queued (Q), delayed (D) or retrying (R) job's record becomes K with its
--          attempts and last error, and no TTL: the job stays where it is (stream or delayed set) until a worker
--          fetches it, finds the K and drops it without running it (start.lua, drop.lua), which gives the record
--          the completed-job retention. An unknown id gets K|0|now| with a TTL of ARGV[2].
--   N|...  an active job (A: a worker has fetched it) is asked to stop: its record becomes N with its attempts and
--          last error. The worker that holds it learns it at its next lease renewal (renew.lua): a job still waiting
--          for a thread is dropped unrun; a running handler sees Job.cancelRequested() and may stop. Whatever the run
--          does then, the job is not retried, dead-lettered or handed back (retry.lua, dead.lua, release.lua drop it,
--          record K); a run that succeeds anyway is completed (C). Asking again changes nothing.
--   C, X or P record: too late (completed, dead, purged); nothing written.
-- Nothing else writes over a K record: the worker's scripts keep it (release.lua, schedule.lua) and the enqueue
-- script takes the id for a duplicate.
local v = redis.call('GET', KEYS[1])
if not v then
  v = 'K|0|' .. ARGV[1] .. '|'
  redis.call('SET', KEYS[1], v, 'EX', ARGV[2])
  return v
end
local state = string.sub(v, 1, 1)
local into
if state == 'Q' or state == 'D' or state == 'R' then
  into = 'K'
elseif state == 'A' then
  into = 'N'
end
if into then
  local rest = string.match(v, '^.|(%d*|)%d*|') or '0|'
  local err = string.match(v, '^.|%d*|%d*|(.*)$') or ''
  v = into .. '|' .. rest .. ARGV[1] .. '|' .. err
  -- No TTL: the job is still in the stream, the delayed set or a worker's hands; the worker that drops it sets one.
  redis.call('SET', KEYS[1], v)
end
return v
