-- leave(stream, group, id, script, undo): takes a settled job's entry out of the stream (XACK, then XDEL) once the
-- job's next place (the delayed set, the dead letters, a new entry) has been written. Included by the settling
-- scripts after refusal.lua; not a script of its own.
-- The next place comes first so that a write Redis refuses part-way (an ACL without one of the commands) never
-- leaves the job in neither place: Redis does not undo what a script wrote before a call failed.
-- - XACK refused: undo() takes the new place back and the refusal is returned (second value true: stop). Nothing
--   changed; the job is still pending and is redelivered after its lease.
-- - XDEL refused: the entry stays in the stream, acknowledged, so it is never delivered again, and the job is in its
--   next place. The refusal is returned (second value false) for the script to return once its status record is
--   written, so that the worker says so.
-- - Neither: nil.
local function leave(stream, group, id, script, undo)
  local r = redis.pcall('XACK', stream, group, id)
  if failed(r) then
    undo()
    return refusal(r, 'XACK', stream, script), true
  end
  r = redis.pcall('XDEL', stream, id)
  if failed(r) then
    return refusal(r, 'XDEL', stream, script), false
  end
  return nil, false
end
