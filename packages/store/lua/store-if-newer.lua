-- Keeps the newest computed answer: replaces KEYS[1] (a hash of v, at, body) only when ARGV[1]
-- (the version it was computed at) is at least the stored one, so two gateways racing can
-- never put an older answer over a newer one. Returns {v, at, body} of what is stored.
-- ARGV: version, computedAtMs, body, ttlSeconds
local stored = tonumber(redis.call('HGET', KEYS[1], 'v') or '-1')
if tonumber(ARGV[1]) >= stored then
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'at', ARGV[2], 'body', ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return {ARGV[1], ARGV[2], ARGV[3]}
end
return redis.call('HMGET', KEYS[1], 'v', 'at', 'body')
