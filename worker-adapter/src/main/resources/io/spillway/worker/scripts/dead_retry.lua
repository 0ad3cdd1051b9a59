-- dead_retry: put a dead letter back into its queue.
--
-- KEYS[1]  spillway:{q}:stream     the queue's stream
-- KEYS[2]  spillway:{q}:dead       dead letters
-- KEYS[3]  spillway:{q}:dead:data  job id -> JobCodec bytes
-- KEYS[4]  spillway:{q}:job:<id>   status record
-- ARGV[1]  job id
-- ARGV[2]  the job, JobCodec bytes, attempts reset to 0
-- ARGV[3]  now, epoch milliseconds
--
-- Returns 1 when re-queued, 0 when it was not (no longer) a dead letter.
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[1], '*', 'j', ARGV[2])
redis.call('SET', KEYS[4], 'Q|0|' .. ARGV[3] .. '|')
return 1
