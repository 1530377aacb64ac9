-- Quota check, idempotency and live counters for a group of hits of ONE client, atomically.
-- KEYS[1] quota counter of the current fixed hour, KEYS[2] client version, KEYS[3] global version
-- ARGV: clientPrefix, rankPrefix, clientId, limit, quotaTtl, dayTtl, hourTtl, markerTtl, force,
--       then per hit: eventId ('' = none), tsMs, day ('' = outside the read window), hour ('' = idem)
-- Returns {accepted (1|0), quota used, then per hit '' (new) or the first copy's tsMs (duplicate)}.
local cp, rp, cid = ARGV[1], ARGV[2], ARGV[3]
local limit, quotaTtl, dayTtl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local hourTtl, markerTtl, force = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9] == '1'
local FIRST = 10
local n = (#ARGV - FIRST + 1) / 4

local out = {1, 0}
local seen = {}
local fresh = 0
for i = 0, n - 1 do
  local base = FIRST + i * 4
  local ev = ARGV[base]
  local prior = false
  if ev ~= '' then
    prior = seen[ev] or redis.call('GET', cp .. 'ev:' .. ev)
  end
  if prior then
    out[#out + 1] = prior
  else
    fresh = fresh + 1
    out[#out + 1] = ''
    if ev ~= '' then seen[ev] = ARGV[base + 1] end
  end
end

local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if not force and used + fresh > limit then
  return {0, used}
end
if fresh == 0 then
  out[2] = used
  return out
end

used = redis.call('INCRBY', KEYS[1], fresh)
-- A key gets its TTL when it is created (the increment equals the total), not on every hit.
if used == fresh then redis.call('EXPIRE', KEYS[1], quotaTtl) end
local days, hours = {}, {}
for i = 0, n - 1 do
  if out[i + 3] == '' then
    local base = FIRST + i * 4
    local ev, day, hour = ARGV[base], ARGV[base + 2], ARGV[base + 3]
    if ev ~= '' then redis.call('SET', cp .. 'ev:' .. ev, ARGV[base + 1], 'EX', markerTtl) end
    if day ~= '' then days[day] = (days[day] or 0) + 1 end
    if hour ~= '' then hours[hour] = (hours[hour] or 0) + 1 end
  end
end
-- Rank scores are negated so ZRANGE's natural order is (total desc, client_id asc).
for day, c in pairs(days) do
  redis.call('ZINCRBY', rp .. 'd:' .. day, -c, cid)
  if redis.call('INCRBY', cp .. 'd:' .. day, c) == c then
    redis.call('EXPIRE', cp .. 'd:' .. day, dayTtl)
    redis.call('EXPIRE', rp .. 'd:' .. day, dayTtl, 'NX')
  end
end
for hour, c in pairs(hours) do
  -- A new member (score back to -c) is the first hit of this client in that hour.
  if tonumber(redis.call('ZINCRBY', rp .. 'h:' .. hour, -c, cid)) == -c then
    redis.call('EXPIRE', rp .. 'h:' .. hour, hourTtl, 'NX')
  end
end
redis.call('INCR', KEYS[2])
redis.call('INCR', KEYS[3])
out[2] = used
return out
