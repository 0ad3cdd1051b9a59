-- group: make the queue's consumer group (and its stream) if it is missing, delivering from the stream's start.
--
-- KEYS[1]  spillway:{q}:stream   the queue's stream
-- ARGV[1]  consumer group
--
-- Returns 1 when made, 0 when it was there already. A script rather than XGROUP CREATE from the client only so that
-- it also runs when Redis's memory is full (room.lua): XGROUP CREATE is refused with OOM then, even for a group that
-- exists, and a worker must go on draining a full Redis.
--#include room.lua
local made = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
if type(made) == 'table' and made.err then
  if string.find(made.err, 'BUSYGROUP', 1, true) then
    return 0
  end
  return made
end
return 1
