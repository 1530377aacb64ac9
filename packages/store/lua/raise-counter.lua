-- Raises a client's day counter (and its rank entry) to at least ARGV[3]; returns the raise.
-- Used by the reconciler: Redis may lag the committed rollups (lost data), never lead them.
-- KEYS (all in the client's bucket): [1] day counter, [2] the bucket's rank zset of that day,
-- [3] client version, [4] the bucket's version share. ARGV[1] clientId, ARGV[2] ttl seconds, ARGV[3] target
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local target = tonumber(ARGV[3])
if current >= target then return 0 end
local diff = target - current
redis.call('INCRBY', KEYS[1], diff)
redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
redis.call('ZINCRBY', KEYS[2], -diff, ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2], 'NX')
redis.call('INCR', KEYS[3])
redis.call('INCR', KEYS[4])
return diff
