#pragma once
// Reads usage counts back from Redis for /usage: one hash per UTC day
// ("atrium:usage:2026-11-26"), fields "ns/consumer|route|metric" (ratelimit/redis_scripts.h).
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/metering/usage_store.h"
#include "proxy/redis/redis_client.h"

namespace atrium::proxy::metering {

// The rows of one day from an HGETALL reply (fields it does not know are skipped).
std::vector<UsageRow> parseUsageHash(std::string_view day, const redis::RedisReply& reply);

// Sends one HGETALL per day (pipelined) and calls `done` on the client's executor once all have
// answered: ok=false if any failed (Redis down or slow), with what was read so far.
void readUsageFromRedis(redis::RedisClient& client, const std::vector<std::string>& days,
                        std::function<void(bool ok, std::vector<UsageRow> rows)> done);

}  // namespace atrium::proxy::metering
