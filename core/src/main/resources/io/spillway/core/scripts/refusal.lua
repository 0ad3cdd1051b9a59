-- Shared by the scripts that write in several steps (included with
-- "--#include /io/spillway/core/scripts/refusal.lua"; not a script of its own). Redis does not undo what a script
-- wrote before a call failed, so those scripts make the calls that can be refused (an ACL without a command or a
-- key, OOM) with redis.pcall and decide what to keep.
-- failed(reply): whether a redis.pcall reply is an error.
-- refusal(reply, command, key, script): that error as the reply to return. Redis's own words for a call an ACL
-- refuses inside a script name neither the command nor the key, so an ACL refusal becomes
--   NOPERM this user may not run XADD (on spillway:{q}:stream, in script enqueue)
--   NOPERM this user may not access spillway:{q}:delayed (ZADD in script retry)
-- and any other error (OOM ...) is returned as Redis gave it.
local function failed(reply)
  return type(reply) == 'table' and reply.err ~= nil
end
local function refusal(reply, command, key, script)
  local err = reply.err
  if string.find(err, "can't access", 1, true) then
    err = 'NOPERM this user may not access ' .. key .. ' (' .. command .. ' in script ' .. script .. ')'
  elseif string.find(err, "can't run", 1, true) then
    err = 'NOPERM this user may not run ' .. command .. ' (on ' .. key .. ', in script ' .. script .. ')'
  end
  return redis.error_reply(err)
end
