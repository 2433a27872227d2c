#include "proxy/metering/usage_store.h"

#include <nlohmann/json.hpp>

namespace atrium::proxy::metering {

namespace {

constexpr const char* kStatusNames[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

std::string joinKey(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (auto p : parts) {
    if (!key.empty()) key.push_back('\t');
    key.append(p);
  }
  return key;
}

std::vector<std::string_view> splitKey(std::string_view key) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t tab = key.find('\t', start);
    parts.push_back(key.substr(start, tab == std::string_view::npos ? tab : tab - start));
    if (tab == std::string_view::npos) return parts;
    start = tab + 1;
  }
}

nlohmann::json countersJson(const UsageCounters& c) {
  nlohmann::json status;
  for (size_t i = 0; i < 5; ++i) status[kStatusNames[i]] = c.status[i];
  return {{"requests", c.requests},
          {"requestBytes", c.request_bytes},
          {"responseBytes", c.response_bytes},
          {"status", status},
          {"rejected", c.rejected}};
}

UsageCounters countersFromJson(const nlohmann::json& j) {
  UsageCounters c;
  c.requests = j.at("requests").get<uint64_t>();
  c.request_bytes = j.value("requestBytes", uint64_t{0});
  c.response_bytes = j.value("responseBytes", uint64_t{0});
  if (j.contains("status")) {
    for (size_t i = 0; i < 5; ++i) c.status[i] = j["status"].value(kStatusNames[i], uint64_t{0});
  }
  c.rejected = j.value("rejected", uint64_t{0});
  return c;
}

}  // namespace

void UsageCounters::add(const UsageCounters& other) {
  requests += other.requests;
  request_bytes += other.request_bytes;
  response_bytes += other.response_bytes;
  for (size_t i = 0; i < status.size(); ++i) status[i] += other.status[i];
  rejected += other.rejected;
}

UsageCounters usageOf(int status, uint64_t request_bytes, uint64_t response_bytes, bool rejected) {
  UsageCounters c;
  c.requests = 1;
  c.request_bytes = request_bytes;
  c.response_bytes = response_bytes;
  const int cls = status / 100;
  if (cls >= 1 && cls <= 5) c.status[static_cast<size_t>(cls - 1)] = 1;
  c.rejected = rejected ? 1 : 0;
  return c;
}

void UsageStore::record(std::string_view day, std::string_view consumer, std::string_view route,
                        const UsageCounters& delta) {
  std::string key = joinKey({day, consumer, route});
  Shard& shard = shardFor(key);
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.usage.find(key);
    if (it == shard.usage.end()) {
      shard.usage.emplace(std::move(key), delta);
    } else {
      it->second.add(delta);
    }
  }
  dirty_.store(true, std::memory_order_release);
}

std::vector<UsageRow> UsageStore::rows(std::string_view from_day, std::string_view to_day) const {
  std::vector<UsageRow> out;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (const auto& [key, counters] : shard.usage) {
      auto parts = splitKey(key);
      if (parts.size() != 3 || parts[0] < from_day || parts[0] >= to_day) continue;
      out.push_back({std::string(parts[0]), std::string(parts[1]), std::string(parts[2]), counters});
    }
  }
  return out;
}

bool UsageStore::takeQuota(std::string_view consumer, std::string_view period, uint64_t limit) {
  std::string key = joinKey({consumer, period});
  Shard& shard = shardFor(key);
  {
    std::lock_guard lock(shard.mu);
    uint64_t& used = shard.quota[std::move(key)];
    if (used >= limit) return false;
    ++used;
  }
  dirty_.store(true, std::memory_order_release);
  return true;
}

void UsageStore::releaseQuota(std::string_view consumer, std::string_view period) {
  std::string key = joinKey({consumer, period});
  Shard& shard = shardFor(key);
  std::lock_guard lock(shard.mu);
  if (auto it = shard.quota.find(key); it != shard.quota.end() && it->second > 0) --it->second;
  dirty_.store(true, std::memory_order_release);
}

uint64_t UsageStore::quotaUsed(std::string_view consumer, std::string_view period) const {
  std::string key = joinKey({consumer, period});
  const Shard& shard = shardFor(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.quota.find(key);
  return it == shard.quota.end() ? 0 : it->second;
}

nlohmann::json UsageStore::toJson() const {
  nlohmann::json usage = nlohmann::json::array();
  nlohmann::json quota = nlohmann::json::array();
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (const auto& [key, counters] : shard.usage) {
      auto parts = splitKey(key);
      if (parts.size() != 3) continue;
      nlohmann::json row = countersJson(counters);
      row["day"] = parts[0];
      row["consumer"] = parts[1];
      row["route"] = parts[2];
      usage.push_back(std::move(row));
    }
    for (const auto& [key, used] : shard.quota) {
      auto parts = splitKey(key);
      if (parts.size() != 2) continue;
      quota.push_back({{"consumer", parts[0]}, {"period", parts[1]}, {"used", used}});
    }
  }
  return {{"version", 1}, {"usage", std::move(usage)}, {"quota", std::move(quota)}};
}

void UsageStore::load(const nlohmann::json& doc) {
  if (doc.at("version").get<int>() != 1) throw std::runtime_error("unknown state file version");
  for (const auto& row : doc.at("usage")) {
    record(row.at("day").get<std::string>(), row.at("consumer").get<std::string>(),
           row.at("route").get<std::string>(), countersFromJson(row));
  }
  for (const auto& q : doc.at("quota")) {
    std::string key = joinKey({q.at("consumer").get<std::string>(), q.at("period").get<std::string>()});
    Shard& shard = shardFor(key);
    std::lock_guard lock(shard.mu);
    shard.quota[std::move(key)] += q.at("used").get<uint64_t>();
  }
}

void UsageStore::prune(std::string_view oldest_day) {
  // Quota periods are "YYYY-MM" or "YYYY-MM-DD": one older than the oldest kept day's month
  // can never be asked about again.
  const std::string_view oldest_month = oldest_day.substr(0, 7);
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mu);
    std::erase_if(shard.usage, [&](const auto& e) { return splitKey(e.first)[0] < oldest_day; });
    std::erase_if(shard.quota, [&](const auto& e) {
      auto parts = splitKey(e.first);
      return parts.size() == 2 && parts[1].substr(0, 7) < oldest_month;
    });
  }
}

}  // namespace atrium::proxy::metering
