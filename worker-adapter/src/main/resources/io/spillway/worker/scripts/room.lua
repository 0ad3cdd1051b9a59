-- Included by the worker's scripts before their first write (KEYS[1] is the queue's stream); not a script of its own.
-- A write that changes nothing (XDEL of entry 0-0, which no stream holds) as the script's first write: Redis checks
-- maxmemory only at a script's first write, so the script also runs when Redis's memory is full (OOM, noeviction).
-- Reads may come before it (schedule.lua and takeover.lua look first and write only when there is something to move).
-- Settling jobs is what frees that memory (acks delete entries), so a worker must not stop there: docs/worker.md,
-- "Redis full". pcall: without XDEL in the user's ACL only this allowance is lost.
redis.pcall('XDEL', KEYS[1], '0-0')
