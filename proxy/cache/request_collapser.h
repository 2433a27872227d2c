#pragma once
// Collapses concurrent cache misses for one key into one upstream request (SPEC §5.4), across
// all workers of the replica.
//
// The first request to miss a key becomes its Leader and goes upstream; requests that miss the
// same key while the leader is in flight become Followers and wait, without blocking a thread:
// they hand join() a callback, and the leader's complete() runs every follower's callback on
// the leader's thread, after the collapser's lock is released. A callback must therefore only
// `post` the outcome to its follower's own executor (and hold what keeps the follower alive).
// On Stored, followers look the key up in the cache (a miss there, e.g. a different Vary
// variant, sends them upstream without joining again); on NotStored they go upstream
// themselves.
//
// Bounds: at most `max_followers_per_key` followers wait on one leader (later ones are told
// Bypass and go upstream uncollapsed), and a leader that has not completed within
// `leader_deadline` is presumed lost: the next join() for the key releases its followers with
// NotStored and becomes the new leader, so a stuck leader can delay a key for one deadline at
// most. A follower whose own timer fires first calls abandon() and goes upstream.
//
// The in-flight table is sharded by key, each shard with its own mutex. Every member function
// may be called from any thread.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "proxy/cache/cache_counters.h"
#include "proxy/cache/cached_response.h"

namespace atrium::proxy::cache {

enum class CollapseRole { Leader, Follower, Bypass };

// What the leader's fetch came to: an entry now in the cache, or nothing to share (not
// cacheable, upstream failure, leader gone).
enum class CollapseOutcome { Stored, NotStored };

struct CollapseLimits {
  size_t max_followers_per_key = 64;
  std::chrono::milliseconds leader_deadline{30'000};
};

struct CollapseTicket {
  CollapseRole role = CollapseRole::Bypass;
  uint64_t id = 0;  // a leader's, for complete(); a follower's, for abandon()
};

class RequestCollapser {
 public:
  static constexpr size_t kShards = 32;
  // Runs on the completing thread; must only post to the follower's executor.
  using OnDone = std::function<void(CollapseOutcome)>;

  explicit RequestCollapser(CollapseLimits limits = {}, CacheCounters* counters = nullptr);
  ~RequestCollapser();
  RequestCollapser(const RequestCollapser&) = delete;
  RequestCollapser& operator=(const RequestCollapser&) = delete;

  // Leader: go upstream, then complete(key, ticket.id, outcome) exactly once (LeaderGuard does
  // it on every path). Follower: `on_done` will be called once, unless abandon() wins. Bypass:
  // go upstream without collapsing; `on_done` is dropped (as it is for a leader).
  CollapseTicket join(std::string_view key, OnDone on_done, SteadyTime now);

  // Releases the key's followers with `outcome`. Ignored unless `leader_id` is the key's current
  // leader (a leader replaced after its deadline cannot release its successor's followers).
  void complete(std::string_view key, uint64_t leader_id, CollapseOutcome outcome);

  // Withdraws a follower (its own deadline fired). True if it was still waiting: its callback
  // will not be called. False if the callback has run or is about to.
  bool abandon(std::string_view key, uint64_t follower_id);

  // Keys with a leader in flight (for tests and metrics).
  size_t inFlight() const;

 private:
  struct Shard;
  Shard& shardFor(std::string_view key) const;

  const CollapseLimits limits_;
  CacheCounters* const counters_;
  std::unique_ptr<Shard[]> shards_;
};

// Completes a leadership with NotStored when destroyed unless complete() was called, so that no
// early return, error or cancelled coroutine leaves followers waiting for the deadline.
class LeaderGuard {
 public:
  LeaderGuard() = default;
  LeaderGuard(RequestCollapser& collapser, std::string key, uint64_t leader_id)
      : collapser_(&collapser), key_(std::move(key)), id_(leader_id) {}
  LeaderGuard(LeaderGuard&& other) noexcept { *this = std::move(other); }
  LeaderGuard& operator=(LeaderGuard&& other) noexcept;
  ~LeaderGuard() { complete(CollapseOutcome::NotStored); }

  bool active() const { return collapser_ != nullptr; }
  void complete(CollapseOutcome outcome);

 private:
  RequestCollapser* collapser_ = nullptr;
  std::string key_;
  uint64_t id_ = 0;
};

}  // namespace atrium::proxy::cache
