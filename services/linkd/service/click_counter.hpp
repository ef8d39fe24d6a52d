#pragma once
// Clicks are counted in memory and written in batches: a redirect never waits for a write.
// record() is called on the hot path from any loop thread (a sharded map under short locks);
// take() swaps the counts out for a flush, and restore() puts them back when the flush fails,
// so a click counted is either in the database or still pending: never lost.

#include "domain/model.hpp"

#include <array>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace linkd {

class ClickCounter {
  public:
    void record(std::int64_t link_id, std::int64_t count = 1) {
        Shard& s = shards_[static_cast<std::uint64_t>(link_id) % kShards];
        std::lock_guard lock(s.mu);
        s.counts[link_id] += count;
    }

    /// Pending clicks of one link (added to what the database says, so reads are current).
    std::int64_t pending(std::int64_t link_id) const {
        const Shard& s = shards_[static_cast<std::uint64_t>(link_id) % kShards];
        std::lock_guard lock(s.mu);
        auto it = s.counts.find(link_id);
        return it == s.counts.end() ? 0 : it->second;
    }

    /// Total pending clicks (for metrics and tests).
    std::int64_t pending_total() const {
        std::int64_t n = 0;
        for (const Shard& s : shards_) {
            std::lock_guard lock(s.mu);
            for (const auto& [id, c] : s.counts) {
                n += c;
            }
        }
        return n;
    }

    /// Takes every pending count, attributed to `day`, stamped `at`.
    std::vector<ClickDelta> take(std::int64_t day, std::int64_t at = 0) {
        std::vector<ClickDelta> out;
        for (Shard& s : shards_) {
            std::unordered_map<std::int64_t, std::int64_t> counts;
            {
                std::lock_guard lock(s.mu);
                counts.swap(s.counts);
            }
            for (const auto& [id, c] : counts) {
                out.push_back({id, day, c, at});
            }
        }
        return out;
    }

    /// Puts back a batch whose flush failed.
    void restore(const std::vector<ClickDelta>& batch) {
        for (const ClickDelta& d : batch) {
            record(d.link_id, d.count);
        }
    }

  private:
    static constexpr std::size_t kShards = 16;
    struct Shard {
        mutable std::mutex mu = {};
        std::unordered_map<std::int64_t, std::int64_t> counts = {};
    };
    std::array<Shard, kShards> shards_;
};

}  // namespace linkd
