-- Quota check, idempotency and live counters for a group of requests (of any clients), each
-- all or nothing, in order: a later request of a client sees what the earlier ones counted.
-- One call per group instead of one per request: the gateway gathers the requests of an
-- event-loop turn (see counters.ts).
-- ARGV and the reply: see count-protocol.ts, which encodes and decodes them (header:
-- rankPrefix, quotaTtl, dayTtl, hourTtl, markerTtl, globalVersionKey; then per request:
-- clientPrefix, quotaKey, clientId, limit, force, nEvents, nBuckets, events, buckets).
local rp, quotaTtl, dayTtl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local hourTtl, markerTtl, globalVersion = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]

local out = {}
local touched = {}
local any = false
local days, hours
local function add(day, hour, c)
  if day ~= '' then days[day] = (days[day] or 0) + c end
  if hour ~= '' then hours[hour] = (hours[hour] or 0) + c end
end
local at = 7
while at <= #ARGV do
  local cp, quotaKey, cid = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  local limit, force = tonumber(ARGV[at + 3]), ARGV[at + 4] == '1'
  local nEvents, nBuckets = tonumber(ARGV[at + 5]), tonumber(ARGV[at + 6])
  local events = at + 7
  local buckets = events + nEvents * 4
  at = buckets + nBuckets * 3

  local marks = {}
  local seen = {}
  local fresh = 0
  for i = 0, nEvents - 1 do
    local base = events + i * 4
    local ev = ARGV[base]
    local prior = seen[ev] or redis.call('GET', cp .. 'ev:' .. ev)
    if prior then
      marks[i + 1] = prior
    else
      fresh = fresh + 1
      marks[i + 1] = ''
      seen[ev] = ARGV[base + 1]
    end
  end
  for i = 0, nBuckets - 1 do fresh = fresh + tonumber(ARGV[buckets + i * 3 + 2]) end

  local used = tonumber(redis.call('GET', quotaKey) or '0')
  if not force and used + fresh > limit then
    out[#out + 1] = 0
    out[#out + 1] = used
  else
    if fresh > 0 then
      used = redis.call('INCRBY', quotaKey, fresh)
      -- A key gets its TTL when it is created (the increment equals the total), not on every hit.
      if used == fresh then redis.call('EXPIRE', quotaKey, quotaTtl) end
      days, hours = {}, {}
      for i = 0, nEvents - 1 do
        if marks[i + 1] == '' then
          local base = events + i * 4
          redis.call('SET', cp .. 'ev:' .. ARGV[base], ARGV[base + 1], 'EX', markerTtl)
          add(ARGV[base + 2], ARGV[base + 3], 1)
        end
      end
      for i = 0, nBuckets - 1 do
        local base = buckets + i * 3
        add(ARGV[base], ARGV[base + 1], tonumber(ARGV[base + 2]))
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
      touched[cp] = true
      any = true
    end
    out[#out + 1] = 1
    out[#out + 1] = used
    for i = 1, nEvents do out[#out + 1] = marks[i] end
  end
end

-- Cache versions move once per call, not once per request.
for cp in pairs(touched) do redis.call('INCR', cp .. 'v') end
if any then redis.call('INCR', globalVersion) end
return out
