-- beat: a worker's heartbeat in a queue's set of workers (spillway status, the workers gauge), and the trim of members
-- not seen within the window. A script only so that it also runs when Redis's memory is full (room.lua): a plain ZADD
-- is refused with OOM then, and a full Redis is when the workers, which go on settling jobs, must still be counted.
--
-- KEYS[1]  spillway:{q}:stream    the queue's stream (room.lua)
-- KEYS[2]  spillway:{q}:workers   the queue's workers set
-- ARGV[1]  now, epoch ms (the member's score)
-- ARGV[2]  the worker's name
-- ARGV[3]  members with a score below this (epoch ms) are removed
--#include room.lua
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
return 1
