-- dead_purge: delete a dead letter for good.
--
-- KEYS[1]  spillway:{q}:dead       dead letters
-- KEYS[2]  spillway:{q}:dead:data  job id -> JobCodec bytes
-- KEYS[3]  spillway:{q}:job:<id>   status record
-- ARGV[1]  job id
-- ARGV[2]  now, epoch milliseconds
-- ARGV[3]  seconds to keep the tombstone; 0 for none (an id that cannot be a job id: no job has a status record
--          under it, and KEYS[3] is then not a status record)
--
-- The status record becomes a tombstone (P) that expires after ARGV[3] seconds, instead of going at once: a
-- producer re-sends its recent writes after a Redis restart (up to an hour old, from its sent log), and a job
-- with no record would be taken as new and run again. The tombstone keeps the record's attempts and last error
-- (why the job died), so that 'spillway status -q' still tells them after the purge.
--
-- Returns 1 when deleted, 0 when it was not a dead letter.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
if tonumber(ARGV[3]) > 0 then
  -- Only here: with ARGV[3] = 0, KEYS[3] is not a status record (a GET of it would be a type error).
  local attempts, lastError = '0', ''
  local old = redis.call('GET', KEYS[3])
  if old then
    local a, e = string.match(old, '^.|(%d+)|%d*|(.*)$')
    if a then
      attempts, lastError = a, e
    end
  end
  redis.call('SET', KEYS[3], 'P|' .. attempts .. '|' .. ARGV[2] .. '|' .. lastError, 'EX', ARGV[3])
end
return 1
