-- forget: remove the consumers of a queue's group that left without a graceful close (SIGKILL, OOM kill, a lost host):
-- those that hold no pending entry and have not been seen for a long time. Each consumer costs memory in every stream
-- it read (about 280 bytes), and a fleet that is autoscaled or OOM-killed would otherwise grow it without bound.
--
-- KEYS[1]  spillway:{q}:stream   the queue's stream
-- KEYS[2]  spillway:{q}:workers  the queue's workers set (heartbeats)
-- ARGV[1]  consumer group
-- ARGV[2]  idle time, in milliseconds, past which a consumer with no pending entry is removed
-- ARGV[3]  the calling worker's own consumer name: never removed here (its close() removes it)
-- ARGV[4]  epoch ms: a consumer whose worker's heartbeat is this recent is alive, and kept (on Redis 7 a read that
--          delivers nothing does not reset a consumer's idle time, so a live worker of a quiet queue looks idle too)
--
-- Returns the names of the consumers removed (usually none). A consumer that still holds a pending entry is never
-- removed, however long idle: XGROUP DELCONSUMER drops its pending entries with it, and jobs leased to no one are never
-- delivered again (lost). The count and the removal are one atomic step, so no entry can be leased to it in between.
-- A live worker removed all the same (no heartbeat read: an ACL without ZSCORE) loses nothing: its next read or claim
-- that delivers makes its consumer again. No stream or no group: nothing to do, an empty reply.
local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(consumers) ~= 'table' or consumers.err then
  return {}
end
local limit = tonumber(ARGV[2])
local removed = {}
for _, c in ipairs(consumers) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then
      name = c[i + 1]
    elseif c[i] == 'pending' then
      pending = c[i + 1]
    elseif c[i] == 'idle' then
      idle = c[i + 1]
    end
  end
  local beat = name and redis.pcall('ZSCORE', KEYS[2], name)
  local alive = type(beat) == 'string' and tonumber(beat) ~= nil and tonumber(beat) >= tonumber(ARGV[4])
  if name and name ~= ARGV[3] and pending == 0 and idle and idle >= limit and not alive then
    if #removed == 0 then
--#include room.lua
    end
    -- DELCONSUMER returns the pending entries it dropped: 0 here, since the script checked (and nothing runs in between)
    local dropped = redis.pcall('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    if type(dropped) == 'number' then
      removed[#removed + 1] = name
    end
  end
end
return removed
