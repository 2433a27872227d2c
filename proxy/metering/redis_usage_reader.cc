#include "proxy/metering/redis_usage_reader.h"

#include <charconv>
#include <map>
#include <memory>

namespace atrium::proxy::metering {

namespace {

bool addMetric(UsageCounters& c, std::string_view metric, uint64_t v) {
  static constexpr std::string_view kStatus[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  if (metric == "requests") {
    c.requests += v;
  } else if (metric == "requestBytes") {
    c.request_bytes += v;
  } else if (metric == "responseBytes") {
    c.response_bytes += v;
  } else if (metric == "rejected") {
    c.rejected += v;
  } else {
    for (size_t i = 0; i < 5; ++i) {
      if (metric == kStatus[i]) {
        c.status[i] += v;
        return true;
      }
    }
    return false;
  }
  return true;
}

}  // namespace

std::vector<UsageRow> parseUsageHash(std::string_view day, const redis::RedisReply& reply) {
  std::map<std::pair<std::string, std::string>, UsageCounters> rows;
  if (reply.type != redis::RedisReply::Type::Array) return {};
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    const std::string& field = reply.elements[i].str;
    const std::string& value = reply.elements[i + 1].str;
    const size_t first = field.find('|');
    const size_t last = field.rfind('|');
    if (first == std::string::npos || last == first) continue;
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || ptr != value.data() + value.size()) continue;
    UsageCounters counters;
    if (!addMetric(counters, std::string_view(field).substr(last + 1), v)) continue;
    rows[{field.substr(0, first), field.substr(first + 1, last - first - 1)}].add(counters);
  }
  std::vector<UsageRow> out;
  for (auto& [key, counters] : rows) {
    out.push_back({std::string(day), key.first, key.second, counters});
  }
  return out;
}

void readUsageFromRedis(redis::RedisClient& client, const std::vector<std::string>& days,
                        std::function<void(bool ok, std::vector<UsageRow> rows)> done) {
  struct Gather {
    size_t left = 0;
    bool ok = true;
    std::vector<UsageRow> rows;
    std::function<void(bool, std::vector<UsageRow>)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->left = days.size();
  gather->done = std::move(done);
  if (days.empty()) return gather->done(true, {});
  for (const auto& day : days) {
    client.command({"HGETALL", "atrium:usage:" + day},
                   [gather, day](const redis::RedisClient::Result& result) {
                     if (result.ec || result.reply.type == redis::RedisReply::Type::Error) {
                       gather->ok = false;
                     } else {
                       auto rows = parseUsageHash(day, result.reply);
                       gather->rows.insert(gather->rows.end(), rows.begin(), rows.end());
                     }
                     if (--gather->left == 0) gather->done(gather->ok, std::move(gather->rows));
                   });
  }
}

}  // namespace atrium::proxy::metering
