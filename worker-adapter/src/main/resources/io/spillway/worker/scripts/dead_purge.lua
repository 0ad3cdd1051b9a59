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
-- with no record would be taken as new and run again.
--
-- Returns 1 when deleted, 0 when it was not a dead letter.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[3], 'P|0|' .. ARGV[2] .. '|', 'EX', ARGV[3])
end
return 1
