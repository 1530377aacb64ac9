-- Sums rank zsets (negated scores) and returns the first ARGV[2] members WITHSCORES.
-- KEYS: a scratch key, then the zsets to sum. ARGV[1] scratch ttl ms, ARGV[2] count.
local scratch = table.remove(KEYS, 1)
if #KEYS == 0 then return {} end
redis.call('ZUNIONSTORE', scratch, #KEYS, unpack(KEYS))
redis.call('PEXPIRE', scratch, ARGV[1])
local rows = redis.call('ZRANGE', scratch, 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
redis.call('DEL', scratch)
return rows
