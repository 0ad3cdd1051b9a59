-- owned(stream, group, id, consumer): the entry is pending and leased to consumer (the worker that held it when
-- the outcome was decided); an empty consumer (an outcome saved by an earlier version) accepts any lease. A late
-- outcome -- sent after an outage, by a worker that was frozen past its lease, or from a dead worker's state
-- directory -- must not settle a lease another worker took over (XACK alone does not look at who holds the entry).
-- Included by the settling scripts (LuaScript: "--#include lease.lua"); not a script of its own.
local function owned(stream, group, id, consumer)
  if consumer == '' then
    return #redis.call('XPENDING', stream, group, id, id, 1) == 1
  end
  return #redis.call('XPENDING', stream, group, id, id, 1, consumer) == 1
end
