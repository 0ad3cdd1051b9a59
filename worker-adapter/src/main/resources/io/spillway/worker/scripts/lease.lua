-- settleable(stream, group, id, consumer, key): whether an outcome decided by `consumer` for stream entry `id`
-- (the job whose status record is `key`) may be applied. Included by the settling scripts (LuaScript:
-- "--#include lease.lua"); not a script of its own.
-- - Pending and leased to `consumer` (the worker that held it when the outcome was decided): yes, if the entry holds
--   that job. An empty consumer (an outcome saved by an earlier version) accepts any lease. An entry of the same id
--   that holds another job is another job's: after a Sentinel failover the old master, still taking writes until the
--   sentinels demote it, and the new one can give two jobs the same entry id (both take ids from the same clock), and a
--   worker that fetched one on each would otherwise settle, and delete, the other job's entry with this outcome.
-- - Pending and leased to another worker: no. A late outcome -- sent after an outage, by a worker that was frozen
--   past its lease, or from a dead worker's state directory -- must not settle a lease another worker took over
--   (XACK alone does not look at who holds the entry).
-- - Not pending: settled already (no), or fetched from a Redis that lost the fetch in a restart, so the entry is
--   back undelivered: yes if the entry is still there and holds the same job (its JobCodec record starts with
--   version 1 and the id), so a job that ran is not run again.

-- holds(stream, id, key): true if entry `id` holds the job whose status record is `key`, false if it holds another
-- job's record, nil if there is no such entry or its record cannot be read (an undecodable job: its dead letter's
-- record is named after the entry, not a job id).
local function holds(stream, id, key)
  local e = redis.call('XRANGE', stream, id, id)
  if #e == 0 then
    return nil
  end
  local f = e[1][2]
  for i = 1, #f - 1, 2 do
    if f[i] == 'j' then
      local v = f[i + 1]
      if #v < 3 or string.byte(v, 1) ~= 1 then
        return nil
      end
      local n = string.byte(v, 2) * 256 + string.byte(v, 3)
      return string.sub(v, 4, 3 + n) == string.match(key, ':job:(.*)$')
    end
  end
  return nil
end

local function settleable(stream, group, id, consumer, key)
  if consumer == '' then
    if #redis.call('XPENDING', stream, group, id, id, 1) == 1 then
      return holds(stream, id, key) ~= false
    end
  else
    if #redis.call('XPENDING', stream, group, id, id, 1, consumer) == 1 then
      -- deleted while pending, or unreadable (nil): still ours to settle
      return holds(stream, id, key) ~= false
    end
    if #redis.call('XPENDING', stream, group, id, id, 1) == 1 then
      return false
    end
  end
  return holds(stream, id, key) == true
end
