-- dead_purge: delete a dead letter for good.
--
-- KEYS[1]  spillway:{q}:dead       dead letters
-- KEYS[2]  spillway:{q}:dead:data  job id -> JobCodec bytes
-- KEYS[3]  spillway:{q}:job:<id>   status record
-- ARGV[1]  job id
--
-- Returns 1 when deleted, 0 when it was not a dead letter.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
