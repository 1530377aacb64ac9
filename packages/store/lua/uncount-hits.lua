-- Takes back what count-hits did for hits that could not be made durable (answered 503), so
-- a rejected hit is never counted and its event_id can be sent again.
-- KEYS and ARGV: the same layout as count-hits (see count-protocol.ts): per request the hits
-- count-hits found new, encoded for the hour they were counted in. A request's limit and
-- force are not read. Returns how many hits were taken back.
-- Reads first, then writes, as count-hits does and for the same reason: a call that fails
-- leaves nothing half taken back.
redis.call('GET', string.sub(KEYS[1], 1, -2) .. 'moving')

local requests = {}
local at = 5
while at <= #ARGV do
  local key, cp, cid = tonumber(ARGV[at]), ARGV[at + 1], ARGV[at + 3]
  local quotaKey = cp .. 'q:' .. ARGV[at + 2]
  local nEvents, nHours = tonumber(ARGV[at + 6]), tonumber(ARGV[at + 7])
  local events = at + 8
  local hours = events + nEvents * 4
  at = hours + nHours * 3

  local r = { key = key, cp = cp, quotaKey = quotaKey, cid = cid, days = {}, hours = {}, taken = 0, drop = {} }
  local function add(day, hour, n)
    r.taken = r.taken + n
    if day ~= '' then r.days[day] = (r.days[day] or 0) + n end
    if hour ~= '' then r.hours[hour] = (r.hours[hour] or 0) + n end
  end
  for i = 0, nEvents - 1 do
    local base = events + i * 4
    local markKey = cp .. 'ev:' .. ARGV[base]
    -- Only this copy's marker: a later copy of the same event id keeps its own.
    if redis.call('GET', markKey) == ARGV[base + 1] then r.drop[#r.drop + 1] = markKey end
    add(ARGV[base + 2], ARGV[base + 3], 1)
  end
  for i = 0, nHours - 1 do
    local base = hours + i * 3
    add(ARGV[base], ARGV[base + 1], tonumber(ARGV[base + 2]))
  end
  requests[#requests + 1] = r
end

local n = 0
for _, r in ipairs(requests) do
  if #r.drop > 0 then redis.call('DEL', unpack(r.drop)) end
  if r.taken > 0 then
    local bp = string.sub(KEYS[r.key], 1, -2)
    redis.call('DECRBY', r.quotaKey, r.taken)
    for day, c in pairs(r.days) do
      redis.call('DECRBY', r.cp .. 'd:' .. day, c)
      redis.call('ZINCRBY', bp .. 'rd:' .. day, c, r.cid)
    end
    for hour, c in pairs(r.hours) do redis.call('ZINCRBY', bp .. 'rh:' .. hour, c, r.cid) end
    redis.call('INCR', r.cp .. 'v')
    n = n + r.taken
  end
end
if n > 0 then redis.call('INCR', KEYS[1]) end
return n
