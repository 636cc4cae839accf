#include "rangeset.h"

#include <iterator>

namespace sss::core {

void RangeSet::clear()
{
    if (!map_.empty())
        spare_.erase(map_, map_.begin());
    map_.clear();
    last_ = nullptr;
}

uint64_t RangeSet::insertSlow(uint64_t start, uint64_t end)
{
    const uint64_t added = insertSlowImpl(start, end);
    updateLast();
    return added;
}

uint64_t RangeSet::insertSlowImpl(uint64_t start, uint64_t end)
{
    if (start >= end)
        return 0;
    uint64_t added = end - start;
    // [start, end) touches the highest range without extending it (insert() took the extending case).
    if (last_ && start >= last_->first && start <= last_->second && end <= last_->second)
        return 0;
    // First range that could touch [start, end): the one starting at or before start.
    auto it = map_.upper_bound(start);
    // Fast path (in-order packet numbers and stream offsets): extend the preceding range in place
    // when the new values do not reach the following range. No node is allocated or freed.
    if (it != map_.begin()) {
        auto prev = std::prev(it);
        if (prev->second >= start && prev->second < end && (it == map_.end() || it->first > end)) {
            added = end - prev->second;
            prev->second = end;
            return added;
        }
    }
    if (it != map_.begin()) {
        auto prev = std::prev(it);
        if (prev->second >= start) {
            if (prev->second >= end)
                return 0;
            added -= prev->second - start;
            start = prev->first;
            it = spare_.erase(map_, prev);
        }
    }
    while (it != map_.end() && it->first <= end) {
        const uint64_t s = it->first, e = it->second;
        const uint64_t overlapStart = s, overlapEnd = e < end ? e : end;
        if (overlapEnd > overlapStart)
            added -= overlapEnd - overlapStart;
        if (e > end)
            end = e;
        it = spare_.erase(map_, it);
    }
    spare_.insert(map_, start, end);
    return added;
}

void RangeSet::remove(uint64_t start, uint64_t end)
{
    removeImpl(start, end);
    updateLast();
}

void RangeSet::removeImpl(uint64_t start, uint64_t end)
{
    if (start >= end)
        return;
    // Ranges are cut in place (a node's end, or its key through extract/insert) rather than
    // erased and re-created: trimming the oldest packet numbers runs for every packet received.
    auto it = map_.upper_bound(start);
    if (it != map_.begin()) {
        auto prev = std::prev(it);
        if (prev->second > start) {
            if (prev->first < start) {
                const uint64_t pe = prev->second;
                prev->second = start;
                if (pe > end) {
                    map_.emplace_hint(it, end, pe);
                    return;
                }
            } else {
                it = prev; // starts at `start`: the loop cuts it
            }
        }
    }
    while (it != map_.end() && it->first < end) {
        if (it->second > end) {
            // Keep the part above `end`: the new key stays between its neighbours.
            auto next = std::next(it);
            auto node = map_.extract(it);
            node.key() = end;
            map_.insert(next, std::move(node));
            return;
        }
        it = spare_.erase(map_, it);
    }
}

bool RangeSet::containsBelowHighest(uint64_t v) const
{
    auto it = map_.upper_bound(v);
    if (it == map_.begin())
        return false;
    --it;
    return v < it->second;
}

bool RangeSet::containsRange(uint64_t start, uint64_t end) const
{
    if (start >= end)
        return true;
    auto it = map_.upper_bound(start);
    if (it == map_.begin())
        return false;
    --it;
    return it->first <= start && end <= it->second;
}

std::optional<uint64_t> RangeSet::min() const
{
    if (map_.empty())
        return std::nullopt;
    return map_.begin()->first;
}

std::optional<uint64_t> RangeSet::max() const
{
    if (!last_)
        return std::nullopt;
    return last_->second - 1;
}

uint64_t RangeSet::contiguousEnd(uint64_t from) const
{
    auto it = map_.upper_bound(from);
    if (it == map_.begin())
        return from;
    --it;
    return from < it->second ? it->second : from;
}

uint64_t RangeSet::totalCount() const
{
    uint64_t n = 0;
    for (const auto &[s, e] : map_)
        n += e - s;
    return n;
}

void RangeSet::dropLowest(int n)
{
    while (int(map_.size()) > n)
        spare_.erase(map_, map_.begin());
    if (map_.empty()) // (erasing from below leaves the highest range where it is otherwise)
        last_ = nullptr;
}

} // namespace sss::core
