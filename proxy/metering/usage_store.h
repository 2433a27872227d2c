#pragma once
// Usage counters per (UTC day, consumer, route) and quota counters per (consumer, period), kept
// in memory for one replica. Workers record into it (striped locks, like the local rate-limit
// buckets); the admin server reads it for /usage; usage_persister.h writes it to --state-dir.
// With --redis the authoritative counts live in Redis (redis_usage.h); this store then holds
// only the replica's own quota counts, used while Redis is unreachable.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace atrium::proxy::metering {

struct UsageCounters {
  uint64_t requests = 0;
  uint64_t request_bytes = 0;   // request body bytes received
  uint64_t response_bytes = 0;  // response body bytes sent
  std::array<uint64_t, 5> status{};  // 1xx..5xx
  uint64_t rejected = 0;  // answered 429 by the gateway's own limits or quota (not billed)
  void add(const UsageCounters& other);
  bool operator==(const UsageCounters&) const = default;
};

// One completed request's contribution.
UsageCounters usageOf(int status, uint64_t request_bytes, uint64_t response_bytes, bool rejected);

struct UsageRow {
  std::string day;       // "2026-11-26"
  std::string consumer;  // "namespace/name"
  std::string route;     // "namespace/name/rule"
  UsageCounters counters;
};

class UsageStore {
 public:
  void record(std::string_view day, std::string_view consumer, std::string_view route,
              const UsageCounters& delta);
  // Rows whose day is in [from_day, to_day) (ids compare as strings: "YYYY-MM-DD").
  std::vector<UsageRow> rows(std::string_view from_day, std::string_view to_day) const;

  // Quota: takes one request of `limit` for `consumer` in `period` ("2026-11" / "2026-11-26");
  // false when the period's count already reached `limit` (nothing is taken then).
  bool takeQuota(std::string_view consumer, std::string_view period, uint64_t limit);
  void releaseQuota(std::string_view consumer, std::string_view period);
  uint64_t quotaUsed(std::string_view consumer, std::string_view period) const;

  // Persistence (usage_persister.h). `dirty` is set by every change and cleared by the writer.
  nlohmann::json toJson() const;
  // Merges a document written by toJson (counts add up). Throws on a malformed document.
  void load(const nlohmann::json& doc);
  bool takeDirty() { return dirty_.exchange(false, std::memory_order_acq_rel); }
  void markDirty() { dirty_.store(true, std::memory_order_release); }
  // Drops usage days before `oldest_day` and quota periods of months before its month.
  void prune(std::string_view oldest_day);

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static constexpr size_t kShards = 16;
  struct alignas(64) Shard {
    mutable std::mutex mu;
    // "day\tconsumer\troute" → counters; "consumer\tperiod" → used
    std::unordered_map<std::string, UsageCounters, Hash, std::equal_to<>> usage;
    std::unordered_map<std::string, uint64_t, Hash, std::equal_to<>> quota;
  };
  Shard& shardFor(std::string_view key) { return shards_[Hash{}(key) % kShards]; }
  const Shard& shardFor(std::string_view key) const { return shards_[Hash{}(key) % kShards]; }

  std::array<Shard, kShards> shards_;
  std::atomic<bool> dirty_{false};
};

}  // namespace atrium::proxy::metering
