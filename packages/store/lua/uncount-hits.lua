-- Takes back what count-hits did for hits that could not be made durable (answered 503), so
-- a rejected hit is never counted and its event_id can be sent again.
-- KEYS[1] quota counter of the hour the hits were counted in, KEYS[2] client version,
-- KEYS[3] global version. ARGV: clientPrefix, rankPrefix, clientId, then per hit as in
-- count-hits; only the hits that count-hits found new are passed.
local cp, rp, cid = ARGV[1], ARGV[2], ARGV[3]
local FIRST = 4
local n = (#ARGV - FIRST + 1) / 4
if n == 0 then return 0 end
local days, hours = {}, {}
for i = 0, n - 1 do
  local base = FIRST + i * 4
  local ev, ts, day, hour = ARGV[base], ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
  if ev ~= '' and redis.call('GET', cp .. 'ev:' .. ev) == ts then redis.call('DEL', cp .. 'ev:' .. ev) end
  if day ~= '' then days[day] = (days[day] or 0) + 1 end
  if hour ~= '' then hours[hour] = (hours[hour] or 0) + 1 end
end
redis.call('DECRBY', KEYS[1], n)
for day, c in pairs(days) do
  redis.call('DECRBY', cp .. 'd:' .. day, c)
  redis.call('ZINCRBY', rp .. 'd:' .. day, c, cid)
end
for hour, c in pairs(hours) do
  redis.call('ZINCRBY', rp .. 'h:' .. hour, c, cid)
end
redis.call('INCR', KEYS[2])
redis.call('INCR', KEYS[3])
return n
