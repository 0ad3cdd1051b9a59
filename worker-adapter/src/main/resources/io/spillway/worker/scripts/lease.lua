-- settleable(stream, group, id, consumer, key): whether an outcome decided by `consumer` for stream entry `id`
-- (the job whose status record is `key`) may be applied. Included by the settling scripts (LuaScript:
-- "--#include lease.lua"); not a script of its own.
-- - Pending and leased to `consumer` (the worker that held it when the outcome was decided): yes. An empty
--   consumer (an outcome saved by an earlier version) accepts any lease.
-- - Pending and leased to another worker: no. A late outcome -- sent after an outage, by a worker that was frozen
--   past its lease, or from a dead worker's state directory -- must not settle a lease another worker took over
--   (XACK alone does not look at who holds the entry).
-- - Not pending: settled already (no), or fetched from a Redis that lost the fetch in a restart, so the entry is
--   back undelivered: yes if the entry is still there and holds the same job (its JobCodec record starts with
--   version 1 and the id), so a job that ran is not run again.
local function settleable(stream, group, id, consumer, key)
  if consumer == '' then
    if #redis.call('XPENDING', stream, group, id, id, 1) == 1 then
      return true
    end
  else
    if #redis.call('XPENDING', stream, group, id, id, 1, consumer) == 1 then
      return true
    end
    if #redis.call('XPENDING', stream, group, id, id, 1) == 1 then
      return false
    end
  end
  local e = redis.call('XRANGE', stream, id, id)
  if #e == 0 then
    return false
  end
  local f = e[1][2]
  for i = 1, #f - 1, 2 do
    if f[i] == 'j' then
      local v = f[i + 1]
      if #v < 3 or string.byte(v, 1) ~= 1 then
        return false
      end
      local n = string.byte(v, 2) * 256 + string.byte(v, 3)
      return string.sub(v, 4, 3 + n) == string.match(key, ':job:(.*)$')
    end
  end
  return false
end
