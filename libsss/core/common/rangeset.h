// A set of uint64 values stored as disjoint half-open intervals [start, end).
// Used for packet numbers (ack tracking) and byte offsets (stream reassembly, acked data).
#pragma once

#include "common/sparenode.h"

#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <utility>

namespace sss::core {

class RangeSet
{
public:
    using Map = std::map<uint64_t, uint64_t>; // start -> end (exclusive)

    // Adds [start, end). Returns the number of values that were not in the set before.
    uint64_t insert(uint64_t start, uint64_t end)
    {
        // Inline fast path (the next packet number, the next stream seq or chunk): [start, end)
        // extends the highest range, so it can merge with nothing else. Every packet received
        // takes it twice or three times.
        if (last_ && start < end && start >= last_->first && start <= last_->second && end > last_->second) {
            const uint64_t added = end - last_->second;
            last_->second = end;
            return added;
        }
        return insertSlow(start, end);
    }
    uint64_t insert(uint64_t v) { return insert(v, v + 1); }
    // Removes [start, end).
    void remove(uint64_t start, uint64_t end);
    // Removes every value below v.
    void removeBelow(uint64_t v) { remove(0, v); }

    bool contains(uint64_t v) const
    {
        // Replay checks ask about the newest packet numbers: the highest range first, inline.
        if (last_ && v >= last_->first)
            return v < last_->second;
        return containsBelowHighest(v);
    }
    // True if all of [start, end) is in the set.
    bool containsRange(uint64_t start, uint64_t end) const;
    bool isEmpty() const { return map_.empty(); }
    int rangeCount() const { return int(map_.size()); }
    std::optional<uint64_t> min() const;
    std::optional<uint64_t> max() const; // largest value contained
    const Map::value_type *highest() const { return last_; } // the highest range, null if empty
    // End of the range that starts at or covers `from`, i.e. the first value >= from not contained.
    uint64_t contiguousEnd(uint64_t from) const;
    uint64_t totalCount() const;
    void clear();

    Map::const_iterator begin() const { return map_.begin(); }
    Map::const_iterator end() const { return map_.end(); }
    Map::const_reverse_iterator rbegin() const { return map_.rbegin(); }
    Map::const_reverse_iterator rend() const { return map_.rend(); }

    // Keeps only the `n` highest ranges (bounds memory of ack state). (The check inline: asked per
    // packet received, rarely with anything to drop.)
    void keepHighest(int n)
    {
        if (int(map_.size()) > n)
            dropLowest(n);
    }

    friend bool operator==(const RangeSet &a, const RangeSet &b) { return a.map_ == b.map_; }

    RangeSet() = default;
    // Copies the ranges, not the spare node.
    RangeSet(const RangeSet &o) : map_(o.map_) { updateLast(); }
    RangeSet &operator=(const RangeSet &o)
    {
        map_ = o.map_;
        updateLast();
        return *this;
    }
    RangeSet(RangeSet &&o) noexcept : map_(std::move(o.map_)), spare_(std::move(o.spare_))
    {
        updateLast();
        o.updateLast();
    }
    RangeSet &operator=(RangeSet &&o) noexcept
    {
        map_ = std::move(o.map_);
        spare_ = std::move(o.spare_);
        updateLast();
        o.updateLast();
        return *this;
    }

private:
    uint64_t insertSlow(uint64_t start, uint64_t end);
    uint64_t insertSlowImpl(uint64_t start, uint64_t end);
    void removeImpl(uint64_t start, uint64_t end);
    void dropLowest(int keep);
    void updateLast() { last_ = map_.empty() ? nullptr : &*std::prev(map_.end()); }
    bool containsBelowHighest(uint64_t v) const;

    Map map_;
    // The common updates (a range trimmed from below, an ACK frame's set cleared and refilled per
    // packet) would otherwise free a node and allocate one.
    SpareNode<Map> spare_;
    // The highest range, which every received packet number asks about and extends: reaching it
    // through the map (std::prev(end())) is a call into libstdc++ each time. Kept up to date by
    // every change that adds or removes a node.
    Map::value_type *last_ = nullptr;
};

} // namespace sss::core
