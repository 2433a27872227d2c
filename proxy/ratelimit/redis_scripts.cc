#include "proxy/ratelimit/redis_scripts.h"

namespace atrium::proxy::ratelimit {

const redis::RedisScript& decideScript() {
  static const redis::RedisScript script = redis::RedisScript::make(R"lua(
local n = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if #KEYS > n then
  local used = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
  if used >= tonumber(ARGV[2 * n + 2]) then
    return {2, -1, 0, 0, 0, used}
  end
end
local allowed = true
local limit, remaining, reset, retry = -1, 0, 0, 0
local news = {}
for i = 1, n do
  local interval = tonumber(ARGV[2 * i])
  local capacity = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local nxt = tat + interval
  local horizon = capacity * interval
  local rem, rst
  if nxt - now > horizon then
    allowed = false
    if nxt - now - horizon > retry then retry = nxt - now - horizon end
    rem = 0
    rst = tat - now
  else
    news[i] = nxt
    rem = math.floor((horizon - (nxt - now)) / interval)
    rst = nxt - now
  end
  if limit < 0 or rem < remaining or (rem == remaining and rst > reset) then
    limit, remaining, reset = capacity, rem, rst
  end
end
if not allowed then
  return {1, limit, remaining, math.ceil(reset / 1000), math.ceil(retry / 1000), -1}
end
for i = 1, n do
  redis.call('SET', KEYS[i], string.format('%.0f', news[i]), 'PX',
             math.ceil((news[i] - now) / 1000) + 1000)
end
local used = -1
if #KEYS > n then
  used = redis.call('INCR', KEYS[n + 1])
  if used == 1 then redis.call('EXPIRE', KEYS[n + 1], tonumber(ARGV[2 * n + 3]) + 86400) end
end
return {0, limit, remaining, math.ceil(reset / 1000), 0, used}
)lua");
  return script;
}

const redis::RedisScript& usageScript() {
  static const redis::RedisScript script = redis::RedisScript::make(R"lua(
local names = {'requests', 'requestBytes', 'responseBytes', '1xx', '2xx', '3xx', '4xx', '5xx',
               'rejected'}
for i, name in ipairs(names) do
  local v = tonumber(ARGV[i + 1])
  if v and v ~= 0 then redis.call('HINCRBY', KEYS[1], ARGV[1] .. name, v) end
end
redis.call('EXPIRE', KEYS[1], 34560000)
return 1
)lua");
  return script;
}

}  // namespace atrium::proxy::ratelimit
