-- enqueue.lua's XADDs alone, without dedupe (see README.md).
local call = redis.call
local stream = KEYS[1]
for i = 3, #KEYS do
  call('XADD', stream, '*', 'j', ARGV[2 * i - 2])
end
return {}
