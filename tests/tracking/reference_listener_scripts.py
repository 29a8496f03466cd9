"""The tracker's write scripts as they were on 2026-12-03 (main at 62bb27e), kept verbatim: footfall's and
presence's before they batched their hash and sorted-set writes (tests/tracking/test_batch_listeners.py holds
today's to what these stored, one call per position), and the kept positions' script the locator's plain
commands replaced (tests/tracking/test_kept_writes.py)."""

RECORD = """
local cur, open, hall, dall = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local at, gap, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local hh, max_close, only_close, day_ttl = ARGV[4], tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])

-- The dwell hashes a closed visit may count in: ARGV[8] days from ARGV[9] (the call's day first), each
-- with its key from KEYS[7] on (FootfallStore._dwell_days: a position's call passes yesterday to tomorrow,
-- close_idle every day whose dwell is still kept). A visit of another day waits in KEYS[6] (`late`) for
-- close_idle, which adds it to its day's dwell.
local late = KEYS[6]
local ndays = tonumber(ARGV[8])
local today, dwell_of = ARGV[9], {}
for k = 1, ndays do dwell_of[ARGV[8 + k]] = KEYS[6 + k] end
local first = 9 + ndays  -- the first position's ARGV

-- An open visit: "zone|since|last|day|hour", the day and hour (venue time) of its last sighting, where
-- it counts once closed. A value without them (written before they were kept) counts in the call's.
local function parse(value)
  local z, since, last, day, hour = string.match(value, "^(.*)|([^|]+)|([^|]+)|(%d+)|(%d+)$")
  if z == nil then
    z, since, last = string.match(value, "^(.*)|([^|]+)|([^|]+)$")
    day, hour = today, hh
  end
  if z == nil then return nil end
  return z, tonumber(since), tonumber(last), day, hour
end

local touched, touched_keys = {}, {}  -- the dwell hashes written, each given its TTL once at the end
local function touch(key)
  if not touched[key] then touched[key] = true; touched_keys[#touched_keys + 1] = key end
end
local function close(value)
  local z, since, last, day, hour = parse(value)
  if z == nil then return end
  local d = last - since
  if d < 0 then d = 0 end
  local dwell, field = dwell_of[day], z .. '|' .. hour
  if dwell == nil then dwell, field = late, day .. '|' .. field end
  redis.call('HINCRBYFLOAT', dwell, field .. '|s', d)
  redis.call('HINCRBY', dwell, field .. '|n', 1)
  touch(dwell)
end

-- close_idle: each late visit into its day's dwell; one of a day past the dwell's retention counts nowhere.
local function fold_late()
  local fields = redis.call('HGETALL', late)
  for k = 1, #fields, 2 do
    local day, field = string.match(fields[k], "^(%d+)|(.*)$")
    local dwell = day and dwell_of[day]
    if dwell then
      if string.sub(field, -2) == '|n' then
        redis.call('HINCRBY', dwell, field, tonumber(fields[k + 1]))
      else
        redis.call('HINCRBYFLOAT', dwell, field, fields[k + 1])
      end
      touch(dwell)
    end
  end
  redis.call('DEL', late)
end

local function expire_touched()
  for _, key in ipairs(touched_keys) do redis.call('EXPIRE', key, ttl) end
end

-- close visits that went quiet (other clients than the one recorded), a few per position
local function close_stale(client)
  local stale = redis.call('ZRANGEBYSCORE', open, '-inf', at - gap, 'LIMIT', 0, max_close)
  for _, c in ipairs(stale) do
    if c ~= client then
      local v = redis.call('HGET', cur, c)
      if v then close(v) end
      redis.call('HDEL', cur, c)
      redis.call('ZREM', open, c)
    end
  end
  return #stale
end

if only_close == '1' then
  local closed = close_stale('')
  fold_late()
  expire_touched()
  return closed
end

-- One position after the other, as many calls of one would: six ARGV each from ARGV[first] (client, zone,
-- heatmap cell, and the KEYS index of its zone's hour visitors, its zone's day visitors, its floor's heatmap).
-- What does not depend on the order (visitor counts, heatmap counts, TTLs set at this one time) is written
-- once per key after the loop, with the same result.
local visitors, counted = {}, {}  -- key -> clients; keys in the order first counted, with their TTL
local function count(key, client, ttl)
  if visitors[key] == nil then visitors[key] = {}; counted[#counted + 1] = {key, ttl} end
  table.insert(visitors[key], client)
end
local heats, heat_keys = {}, {}  -- heatmap key -> its cells in the order first hit and their counts
-- Staff phones (the operator's list, KEYS[5]) count nowhere: the set is read once per call, and a visit
-- such a phone had open from before it was listed is dropped uncounted.
local staff = {}
for _, c in ipairs(redis.call('SMEMBERS', KEYS[5])) do staff[c] = true end
local function place(client, zone, cell, hz, dz, heat)
  close_stale(client)
  local now, day, hour = at, today, hh
  local v = redis.call('HGET', cur, client)
  local since = now
  local z, s, last, last_day, last_hour
  if v then z, s, last, last_day, last_hour = parse(v) end
  if z ~= nil then
    if now < last then now, day, hour = last, last_day, last_hour end  -- an older position: its last stands
    if z == zone and now - last <= gap then
      since = s
    else
      close(v)
    end
  end
  if zone ~= '' then
    redis.call('HSET', cur, client, zone .. '|' .. string.format('%.3f', since) .. '|' .. string.format('%.3f', now)
      .. '|' .. day .. '|' .. hour)
    redis.call('ZADD', open, now, client)
    count(hz, client, ttl)
    count(dz, client, day_ttl)
  else
    redis.call('HDEL', cur, client)
    redis.call('ZREM', open, client)
  end
  count(hall, client, ttl)
  count(dall, client, day_ttl)
  if cell ~= '' then
    local h = heats[heat]
    if h == nil then h = {order = {}, n = {}}; heats[heat] = h; heat_keys[#heat_keys + 1] = heat end
    if h.n[cell] == nil then h.n[cell] = 0; h.order[#h.order + 1] = cell end
    h.n[cell] = h.n[cell] + 1
  end
end
for i = first, #ARGV, 6 do
  local client = ARGV[i]
  if staff[client] then
    redis.call('HDEL', cur, client)
    redis.call('ZREM', open, client)
  else
    place(client, ARGV[i + 1], ARGV[i + 2], KEYS[tonumber(ARGV[i + 3])], KEYS[tonumber(ARGV[i + 4])],
          KEYS[tonumber(ARGV[i + 5])])
  end
end
for _, entry in ipairs(counted) do
  local clients = visitors[entry[1]]
  for k = 1, #clients, 500 do redis.call('PFADD', entry[1], unpack(clients, k, math.min(k + 499, #clients))) end
  redis.call('EXPIRE', entry[1], entry[2])
end
for _, key in ipairs(heat_keys) do
  for _, cell in ipairs(heats[key].order) do redis.call('HINCRBY', key, cell, heats[key].n[cell]) end
  redis.call('EXPIRE', key, ttl)
end
expire_touched()  -- once, after every close of the batch
if #ARGV >= first then
  redis.call('EXPIRE', cur, gap * 3)
  redis.call('EXPIRE', open, gap * 3)
end
return 1
"""

PRESENCE = """
local here, seen, stream, marks_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local at, leave_after, maxlen, max_close = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])

local function emit(kind, at, who, z, data)
  local f = {'k', kind, 'at', string.format('%.3f', at), 'dev', who}
  if z ~= '' then table.insert(f, 'z'); table.insert(f, z) end
  if data then table.insert(f, 'd'); table.insert(f, data) end
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', unpack(f))
end

local function parse(v)
  local z, since, last, arrived = string.match(v, "^(.*)|([^|]+)|([^|]+)|([^|]+)$")
  return z, tonumber(since), tonumber(last), tonumber(arrived)
end

local function close(who, v)
  local z, since, last, arrived = parse(v)
  if z == nil then return end
  if z ~= '' then emit('zone_leave', last, who, z, string.format('{"dwell_s":%.1f}', last - since)) end
  emit('leave', last, who, '', string.format('{"dwell_s":%.1f}', last - arrived))
end

-- A `dwell` event for each mark (minutes) the stay passed between two sightings: once per stay, while
-- the phone is still in the zone (or as it leaves, when the stay reached the mark only then).
local marks = nil
local function crossed(who, z, since, from_t, to_t)
  if z == '' then return end
  if marks == nil then
    marks = redis.call('SMEMBERS', marks_key)
    table.sort(marks, function(a, b) return tonumber(a) < tonumber(b) end)
  end
  for _, m in ipairs(marks) do
    local mark = tonumber(m) * 60 - 0.001
    if from_t - since < mark and to_t - since >= mark then
      emit('dwell', to_t, who, z, string.format('{"dwell_s":%.1f,"min":%d}', to_t - since, tonumber(m)))
    end
  end
end

-- One phone after the other, as many calls of one would (device, zone each from ARGV[5]); device '':
-- only close the phones gone quiet (the sweep).
local closed = 0
for i = 5, #ARGV, 2 do
  local dev, zone, now = ARGV[i], ARGV[i + 1], at
  local stale = redis.call('ZRANGEBYSCORE', seen, '-inf', now - leave_after, 'LIMIT', 0, max_close)
  for _, c in ipairs(stale) do
    if c ~= dev then
      local v = redis.call('HGET', here, c)
      if v then close(c, v) end
      redis.call('HDEL', here, c)
      redis.call('ZREM', seen, c)
      closed = closed + 1
    end
  end
  if dev ~= '' then
    local v = redis.call('HGET', here, dev)
    local cur, since, last, arrived = '', now, now, now
    if v then
      cur, since, last, arrived = parse(v)
      if cur == nil or now - last > leave_after then
        close(dev, v)
        v = nil
      elseif now < last then
        now = last
      end
    end
    if not v then
      cur, since, arrived = '', now, now
      emit('arrive', now, dev, '', nil)
    end
    now = tonumber(string.format('%.3f', now))
    if v then crossed(dev, cur, since, last, now) end
    if zone ~= cur then
      if cur ~= '' then emit('zone_leave', now, dev, cur, string.format('{"dwell_s":%.1f}', now - since)) end
      if zone ~= '' then emit('zone_enter', now, dev, zone, nil) end
      since = now
    end
    redis.call('HSET', here, dev, zone .. '|' .. string.format('%.3f', since) .. '|' .. string.format('%.3f', now)
      .. '|' .. string.format('%.3f', arrived))
    redis.call('ZADD', seen, now, dev)
  end
end
return closed
"""

# KEYS: per phone its motion state and its kept position (TrackKeys.track, .last_position), all of one
# bucket; ARGV: their TTLs, then per phone its state as JSON ('': unchanged), 2n and the kept position's n
# fields and values (0: none kept). What SET, HSET and EXPIRE per phone did, in one call per batch.
KEEP = """
local a = 3
for k = 1, #KEYS, 2 do
  if ARGV[a] ~= '' then redis.call('SET', KEYS[k], ARGV[a], 'EX', ARGV[1]) end
  local n = tonumber(ARGV[a + 1])
  if n > 0 then
    redis.call('HSET', KEYS[k + 1], unpack(ARGV, a + 2, a + 1 + n))
    redis.call('EXPIRE', KEYS[k + 1], ARGV[2])
  end
  a = a + 2 + n
end
return 1
"""
