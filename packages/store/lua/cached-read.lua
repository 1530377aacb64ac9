-- A versioned read in one round trip: the current version of a scope and the answer cached
-- for that version, whose key is ARGV[1] followed by the version. The cache key shares the
-- version key's hash tag, so both live in one slot under Redis Cluster.
-- KEYS[1]: the version key (a client's, or the global one). Returns {version, body or false}.
local version = redis.call('GET', KEYS[1]) or '0'
return {version, redis.call('GET', ARGV[1] .. version)}
