-- cancelRequested(key), dropCancelled(...): a job whose cancel was requested while a worker held it (status N, set
-- by cancel.lua on an active job) is not retried, dead-lettered or handed back: its entry leaves the stream and its
-- record says cancelled (K) for the completed retention. Included by retry.lua, dead.lua and release.lua after
-- settle.lua; not a script of its own.

-- The status record if it says N (cancel requested), else nil.
local function cancelRequested(key)
  local v = redis.call('GET', key)
  if v and string.sub(v, 1, 1) == 'N' then
    return v
  end
  return nil
end

-- Writes `record` (a K record) with the TTL `retention` seconds, then XACK + XDEL of the entry. Returns what the
-- script returns: 2 (dropped), or a refusal of XACK or XDEL. The record goes first: an XACK refused afterwards leaves
-- the entry pending, and the worker it goes to next drops it (start.lua finds the K).
local function dropCancelled(stream, group, id, key, record, retention, script)
  redis.call('SET', key, record, 'EX', retention)
  local late, stop = leave(stream, group, id, script, function() end)
  if stop then
    return late
  end
  return late or 2
end
