-- Takes back what count-hits did for hits that could not be made durable (answered 503), so
-- a rejected hit is never counted and its event_id can be sent again.
-- ARGV: the same layout as count-hits (see count-protocol.ts): the header, then per request
-- the hits count-hits found new, encoded for the hour they were counted in. A request's
-- limit and force are not read. Returns how many hits were taken back.
local rp, globalVersion = ARGV[1], ARGV[6]

local n = 0
local at = 7
while at <= #ARGV do
  local cp, quotaKey, cid = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  local nEvents, nBuckets = tonumber(ARGV[at + 5]), tonumber(ARGV[at + 6])
  local events = at + 7
  local buckets = events + nEvents * 4
  at = buckets + nBuckets * 3

  local days, hours = {}, {}
  local taken = 0
  local function add(day, hour, c)
    taken = taken + c
    if day ~= '' then days[day] = (days[day] or 0) + c end
    if hour ~= '' then hours[hour] = (hours[hour] or 0) + c end
  end
  for i = 0, nEvents - 1 do
    local base = events + i * 4
    local ev, ts = ARGV[base], ARGV[base + 1]
    -- Only this copy's marker: a later copy of the same event id keeps its own.
    if redis.call('GET', cp .. 'ev:' .. ev) == ts then redis.call('DEL', cp .. 'ev:' .. ev) end
    add(ARGV[base + 2], ARGV[base + 3], 1)
  end
  for i = 0, nBuckets - 1 do
    local base = buckets + i * 3
    add(ARGV[base], ARGV[base + 1], tonumber(ARGV[base + 2]))
  end
  if taken > 0 then
    redis.call('DECRBY', quotaKey, taken)
    for day, c in pairs(days) do
      redis.call('DECRBY', cp .. 'd:' .. day, c)
      redis.call('ZINCRBY', rp .. 'd:' .. day, c, cid)
    end
    for hour, c in pairs(hours) do
      redis.call('ZINCRBY', rp .. 'h:' .. hour, c, cid)
    end
    redis.call('INCR', cp .. 'v')
    n = n + taken
  end
end
if n > 0 then redis.call('INCR', globalVersion) end
return n
