-- checkpoint_done: delete the checkpoint of a job whose run completed (Job.checkpoint), unless the job belongs to
-- another run by now.
--
-- KEYS[1]  spillway:{q}:stream             the queue's stream
-- KEYS[2]  spillway:{q}:job:<id>           status record
-- KEYS[3]  spillway:{q}:checkpoint:<id>    the checkpoint
-- ARGV[1]  consumer group
-- ARGV[2]  stream entry id of the completed run
-- ARGV[3]  the consumer that ran it
--
-- Deletes when the entry is still leased to ARGV[3] (the run's ack is on its way: this worker holds the job) or is
-- gone while the record says completed (C). Anything else -- the entry leased to another worker (a takeover after
-- this run lost its lease, not yet noticed), the job retried or queued again -- leaves the checkpoint to the job's
-- later run. Returns 1 when deleted, else 0.
local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if type(p) == 'table' and p.err == nil and #p == 1 then
  if p[1][2] == ARGV[3] then
    return redis.call('DEL', KEYS[3])
  end
  return 0
end
local v = redis.call('GET', KEYS[2])
if v and string.sub(v, 1, 1) == 'C' then
  return redis.call('DEL', KEYS[3])
end
return 0
