-- GCRA over several keys, counted in order, atomically (Redis runs a script alone).
--
-- KEYS[i]: the counter of the i-th (quota, key) pair; its value is the
--          theoretical arrival time (TAT) in microseconds of Redis's clock.
-- ARGV[2i-1]: the emission interval in microseconds (period / requests).
-- ARGV[2i]:   the burst window in microseconds (interval * requests).
--
-- Returns {0, 0} when every key is allowed (and counted), or {i, wait} where
-- i is the first limited key and wait the microseconds until it has budget
-- again; the keys before i have been counted, the keys after i have not.
--
-- The time is Redis's own (TIME), so nodes whose clocks disagree still share
-- one timeline. Each counter expires when its budget is full again, so Redis
-- holds only keys that are being limited or were just used.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key))
  if tat == nil or tat < now then
    tat = now
  end
  local new_tat = tat + interval
  local allow_at = new_tat - window
  if allow_at > now then
    return {i, math.ceil(allow_at - now)}
  end
  redis.call('SET', key, string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
end
return {0, 0}
