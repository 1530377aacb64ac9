-- Takes back what count-hits did for hits that could not be made durable (answered 503), so
-- a rejected hit is never counted and its event_id can be sent again.
-- KEYS[1] quota counter of the hour the hits were counted in, KEYS[2] client version,
-- KEYS[3] global version. ARGV: clientPrefix, rankPrefix, clientId, nEvents, nBuckets, then
-- events and buckets as in count-hits; only the hits that count-hits found new are passed.
local cp, rp, cid = ARGV[1], ARGV[2], ARGV[3]
local nEvents, nBuckets = tonumber(ARGV[4]), tonumber(ARGV[5])
local events = 6
local buckets = events + nEvents * 4
local days, hours = {}, {}
local n = 0
local function add(day, hour, c)
  n = n + c
  if day ~= '' then days[day] = (days[day] or 0) + c end
  if hour ~= '' then hours[hour] = (hours[hour] or 0) + c end
end
for i = 0, nEvents - 1 do
  local base = events + i * 4
  local ev, ts = ARGV[base], ARGV[base + 1]
  if redis.call('GET', cp .. 'ev:' .. ev) == ts then redis.call('DEL', cp .. 'ev:' .. ev) end
  add(ARGV[base + 2], ARGV[base + 3], 1)
end
for i = 0, nBuckets - 1 do
  local base = buckets + i * 3
  add(ARGV[base], ARGV[base + 1], tonumber(ARGV[base + 2]))
end
if n == 0 then return 0 end
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
