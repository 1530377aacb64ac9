-- Raises a client's (negated) score in one rank zset to at least ARGV[3]; returns the raise.
-- KEYS (one bucket): [1] the bucket's rank zset, [2] the bucket's version share.
-- ARGV[1] clientId, ARGV[2] ttl seconds, ARGV[3] target
local current = -tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0')
local target = tonumber(ARGV[3])
if current >= target then return 0 end
redis.call('ZINCRBY', KEYS[1], -(target - current), ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
redis.call('INCR', KEYS[2])
return target - current
