-- Quota check, idempotency and live counters for a group of requests (of any clients), each
-- all or nothing, in order: a later request of a client sees what the earlier ones counted.
-- One call per group instead of one per request: the gateway gathers the requests of an
-- event-loop turn (counters.ts), one call per bucket on a cluster (bucket-calls.ts).
-- KEYS, ARGV and the reply: see count-protocol.ts, which encodes and decodes them (KEYS: each
-- bucket's version share; header: quotaTtl, dayTtl, hourTtl, markerTtl; then per request: key,
-- clientPrefix, quotaHour, clientId, limit, force, nEvents, nHours, events, hours).
--
-- Two passes: the first reads and decides, the second writes. Redis does not undo a script
-- that fails halfway, so a call that errors must fail before its first write, or the
-- gateway's fallback would count again what it left behind. What can fail is checked in the
-- first pass: a wrong-typed quota or marker key, and a slot being migrated away (there a
-- script may not touch a key the node lacks, and the second pass creates keys; reading a key
-- that never exists, `<bucket prefix>moving`, trips on that first; on a cluster a call's keys
-- are all in one slot, so one such read covers the call).
-- Redis refuses a script for memory at its first write only, and the second pass writes
-- counters, zsets and versions that only these scripts write, with the types they give them.
local quotaTtl, dayTtl = tonumber(ARGV[1]), tonumber(ARGV[2])
local hourTtl, markerTtl = tonumber(ARGV[3]), tonumber(ARGV[4])

-- Pass 1: decide every request, writing nothing. What accepted requests would write is kept
-- here so later requests of the call see it.
local out = {}
local used = {}    -- quota key -> used, as the accepted requests so far leave it
local added = {}   -- quota key -> hits the call adds
local marks = {}   -- marker key -> ts of the first copy (false: none), read once
local newMarks = {} -- marker keys to set, in order
local clients = {} -- client prefix -> { key, cid, days = {day -> n}, hours = {hour -> n} }
local function add(c, day, hour, n)
  if day ~= '' then c.days[day] = (c.days[day] or 0) + n end
  if hour ~= '' then c.hours[hour] = (c.hours[hour] or 0) + n end
end
local function markOf(key)
  local mark = marks[key]
  if mark == nil then
    mark = redis.call('GET', key) or false
    marks[key] = mark
  end
  return mark
end

-- A slot leaving this node fails here, before any write.
redis.call('GET', string.sub(KEYS[1], 1, -2) .. 'moving')

local at = 5
while at <= #ARGV do
  local key, cp, cid = tonumber(ARGV[at]), ARGV[at + 1], ARGV[at + 3]
  local quotaKey = cp .. 'q:' .. ARGV[at + 2]
  local limit, force = tonumber(ARGV[at + 4]), ARGV[at + 5] == '1'
  local nEvents, nHours = tonumber(ARGV[at + 6]), tonumber(ARGV[at + 7])
  local events = at + 8
  local hours = events + nEvents * 4
  at = hours + nHours * 3

  local reply = {}
  local seen = {}
  local fresh = 0
  for i = 0, nEvents - 1 do
    local base = events + i * 4
    local ev = ARGV[base]
    local prior = seen[ev] or markOf(cp .. 'ev:' .. ev)
    if prior then
      reply[i + 1] = prior
    else
      fresh = fresh + 1
      reply[i + 1] = ''
      seen[ev] = ARGV[base + 1]
    end
  end
  for i = 0, nHours - 1 do fresh = fresh + tonumber(ARGV[hours + i * 3 + 2]) end

  if used[quotaKey] == nil then used[quotaKey] = tonumber(redis.call('GET', quotaKey) or '0') end
  local u = used[quotaKey]
  if not force and u + fresh > limit then
    out[#out + 1] = 0
    out[#out + 1] = u
  else
    if fresh > 0 then
      u = u + fresh
      used[quotaKey] = u
      added[quotaKey] = (added[quotaKey] or 0) + fresh
      local c = clients[cp]
      if c == nil then
        c = { key = key, cid = cid, days = {}, hours = {} }
        clients[cp] = c
      end
      for i = 0, nEvents - 1 do
        if reply[i + 1] == '' then
          local base = events + i * 4
          local markKey = cp .. 'ev:' .. ARGV[base]
          marks[markKey] = ARGV[base + 1]
          newMarks[#newMarks + 1] = markKey
          add(c, ARGV[base + 2], ARGV[base + 3], 1)
        end
      end
      for i = 0, nHours - 1 do
        local base = hours + i * 3
        add(c, ARGV[base], ARGV[base + 1], tonumber(ARGV[base + 2]))
      end
    end
    out[#out + 1] = 1
    out[#out + 1] = u
    for i = 1, nEvents do out[#out + 1] = reply[i] end
  end
end

-- Pass 2: write what the accepted requests added, summed per key.
for quotaKey, n in pairs(added) do
  -- A key gets its TTL when it is created (the increment equals the total), not on every hit.
  if redis.call('INCRBY', quotaKey, n) == n then redis.call('EXPIRE', quotaKey, quotaTtl) end
end
for _, markKey in ipairs(newMarks) do redis.call('SET', markKey, marks[markKey], 'EX', markerTtl) end
local changed = false
for cp, c in pairs(clients) do
  local bp = string.sub(KEYS[c.key], 1, -2)
  -- Rank scores are negated so ZRANGE's natural order is (total desc, client_id asc).
  for day, n in pairs(c.days) do
    redis.call('ZINCRBY', bp .. 'rd:' .. day, -n, c.cid)
    if redis.call('INCRBY', cp .. 'd:' .. day, n) == n then
      redis.call('EXPIRE', cp .. 'd:' .. day, dayTtl)
      redis.call('EXPIRE', bp .. 'rd:' .. day, dayTtl, 'NX')
    end
  end
  for hour, n in pairs(c.hours) do
    -- A new member (score back to -n) is the first hit of this client in that hour.
    if tonumber(redis.call('ZINCRBY', bp .. 'rh:' .. hour, -n, c.cid)) == -n then
      redis.call('EXPIRE', bp .. 'rh:' .. hour, hourTtl, 'NX')
    end
  end
  -- Cache versions move once per call, not once per request.
  redis.call('INCR', cp .. 'v')
  changed = true
end
-- The global version is the sum of the buckets' shares (keys.ts): one bump per call is enough.
if changed then redis.call('INCR', KEYS[1]) end
return out
