-- Sums rank zsets (negated scores) and returns the first ARGV[1] members WITHSCORES (0: all),
-- in (total desc, client_id asc) order. KEYS: the zsets, of one bucket on a cluster, of any
-- buckets on one node (a client is in one bucket only, so summing several buckets' zsets
-- still sums each client's own). A read: nothing is written, no scratch key.
if #KEYS == 0 then return {} end
local args = { #KEYS }
for i = 1, #KEYS do args[i + 1] = KEYS[i] end
args[#args + 1] = 'WITHSCORES'
local rows = redis.call('ZUNION', unpack(args))
local count = tonumber(ARGV[1]) * 2
if count == 0 or #rows <= count then return rows end
local first = {}
for i = 1, count do first[i] = rows[i] end
return first
