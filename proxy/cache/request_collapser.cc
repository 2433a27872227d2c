#include "proxy/cache/request_collapser.h"

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace atrium::proxy::cache {
namespace {

struct Follower {
  uint64_t id = 0;
  RequestCollapser::OnDone on_done;
};

struct InFlight {
  uint64_t leader_id = 0;
  SteadyTime deadline;
  std::vector<Follower> followers;
};

struct Hash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Tickets are unique across keys and collapsers, so a stale id can never match a new leader.
std::atomic<uint64_t> next_ticket{1};

uint64_t newTicket() { return next_ticket.fetch_add(1, std::memory_order_relaxed); }

void release(std::vector<Follower>& followers, CollapseOutcome outcome) {
  for (Follower& f : followers) {
    if (f.on_done) f.on_done(outcome);
  }
}

}  // namespace

struct alignas(64) RequestCollapser::Shard {
  mutable std::mutex mu;
  std::unordered_map<std::string, InFlight, Hash, std::equal_to<>> in_flight;
};

RequestCollapser::RequestCollapser(CollapseLimits limits, CacheCounters* counters)
    : limits_(limits), counters_(counters), shards_(std::make_unique<Shard[]>(kShards)) {}

RequestCollapser::~RequestCollapser() = default;

RequestCollapser::Shard& RequestCollapser::shardFor(std::string_view key) const {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

CollapseTicket RequestCollapser::join(std::string_view key, OnDone on_done, SteadyTime now) {
  Shard& shard = shardFor(key);
  std::vector<Follower> orphans;  // of a leader past its deadline, released after unlocking
  CollapseTicket ticket;
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.in_flight.find(key);
    if (it != shard.in_flight.end() && now < it->second.deadline) {
      if (it->second.followers.size() >= limits_.max_followers_per_key) {
        return {CollapseRole::Bypass, 0};
      }
      ticket = {CollapseRole::Follower, newTicket()};
      it->second.followers.push_back({ticket.id, std::move(on_done)});
      if (counters_) counters_->collapsed_followers.fetch_add(1, std::memory_order_relaxed);
      return ticket;
    }
    ticket = {CollapseRole::Leader, newTicket()};
    if (it == shard.in_flight.end()) {
      it = shard.in_flight.emplace(std::string(key), InFlight{}).first;
    } else {
      orphans = std::move(it->second.followers);
      it->second.followers.clear();
    }
    it->second.leader_id = ticket.id;
    it->second.deadline = now + limits_.leader_deadline;
  }
  release(orphans, CollapseOutcome::NotStored);
  return ticket;
}

void RequestCollapser::complete(std::string_view key, uint64_t leader_id, CollapseOutcome outcome) {
  Shard& shard = shardFor(key);
  std::vector<Follower> followers;
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.in_flight.find(key);
    if (it == shard.in_flight.end() || it->second.leader_id != leader_id) return;
    followers = std::move(it->second.followers);
    shard.in_flight.erase(it);
  }
  // Outside the lock: a callback that joins again (or completes something) cannot deadlock.
  release(followers, outcome);
}

bool RequestCollapser::abandon(std::string_view key, uint64_t follower_id) {
  Shard& shard = shardFor(key);
  OnDone dropped;  // destroyed after unlocking: it may own the follower's session
  std::lock_guard lock(shard.mu);
  auto it = shard.in_flight.find(key);
  if (it == shard.in_flight.end()) return false;
  auto& followers = it->second.followers;
  for (auto f = followers.begin(); f != followers.end(); ++f) {
    if (f->id == follower_id) {
      dropped = std::move(f->on_done);
      followers.erase(f);
      return true;
    }
  }
  return false;
}

size_t RequestCollapser::inFlight() const {
  size_t n = 0;
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].in_flight.size();
  }
  return n;
}

LeaderGuard& LeaderGuard::operator=(LeaderGuard&& other) noexcept {
  if (this != &other) {
    complete(CollapseOutcome::NotStored);
    collapser_ = std::exchange(other.collapser_, nullptr);
    key_ = std::move(other.key_);
    id_ = other.id_;
  }
  return *this;
}

void LeaderGuard::complete(CollapseOutcome outcome) {
  if (!collapser_) return;
  std::exchange(collapser_, nullptr)->complete(key_, id_, outcome);
}

}  // namespace atrium::proxy::cache
