-- enqueue.lua's status records alone: one MGET, one MSET, no XADD (see README.md).
local call = redis.call
local records = {}
local nr = 0
call('MGET', unpack(KEYS, 3))
for i = 3, #KEYS do
  records[nr + 1] = KEYS[i]
  records[nr + 2] = 'Q|0|' .. ARGV[1] .. '|'
  nr = nr + 2
end
call('MSET', unpack(records, 1, nr))
return {}
