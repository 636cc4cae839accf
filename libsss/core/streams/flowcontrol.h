// Receiver-driven flow control with window auto-tuning (QUIC MAX_DATA / MAX_STREAM_DATA style).
// Used per stream (offsets = stream offsets) and per connection (offsets = sums over streams).
#pragma once

#include "common/types.h"

#include <algorithm>
#include <cstdint>
#include <optional>

namespace sss::core {

class ReceiveWindow
{
public:
    // (Inline, like the other small members: every stream created and every read goes through
    // here.) maxWindow below initialWindow is raised to it.
    ReceiveWindow(uint64_t initialWindow, uint64_t maxWindow)
        : window_(std::max<uint64_t>(initialWindow, 1)), maxWindow_(std::max(window_, maxWindow)),
          limit_(initialWindow)
    { }

    uint64_t limit() const { return limit_; } // highest offset the peer may send (advertised)
    uint64_t consumed() const { return consumed_; }
    // The app read up to readOffset (decreases are ignored).
    void onConsumed(uint64_t readOffset, Instant now, Duration srtt)
    {
        Q_UNUSED(srtt);
        consumed_ = std::max(consumed_, readOffset);
        // The initial window was advertised at setup, which the core does not know: the first
        // consumption is the closest observable reference for the first auto-tune decision.
        if (!lastUpdate_)
            lastUpdate_ = now;
    }
    // Returns a new limit to advertise once more than half the window was consumed since the
    // last advertisement. Auto-tune: if the previous update was less than 2*srtt ago, the window
    // doubles (up to maxWindow) so that it grows towards the path's bandwidth-delay product.
    std::optional<uint64_t> pollUpdate(Instant now, Duration srtt)
    {
        if (!updateDue())
            return std::nullopt;
        return advance(now, srtt);
    }
    bool updateDue() const
    {
        const uint64_t remaining = limit_ > consumed_ ? limit_ - consumed_ : 0;
        return remaining < window_ - window_ / 2; // more than half the window consumed
    }
    uint64_t windowSize() const { return window_; }
    uint64_t maxWindow() const { return maxWindow_; }

private:
    std::optional<uint64_t> advance(Instant now, Duration srtt);

    uint64_t window_;
    uint64_t maxWindow_;
    uint64_t limit_;
    uint64_t consumed_ = 0;
    std::optional<Instant> lastUpdate_; // previous advertisement (or first consumption)
};

class SendCredit
{
public:
    explicit SendCredit(uint64_t initialLimit) : limit_(initialLimit) { }
    void raise(uint64_t newLimit) // ignores decreases (reordered frames)
    {
        if (newLimit > limit_)
            limit_ = newLimit;
    }
    uint64_t limit() const { return limit_; }
    uint64_t available(uint64_t used) const { return used < limit_ ? limit_ - used : 0; }
    bool isBlocked(uint64_t used) const { return used >= limit_; }

private:
    uint64_t limit_;
};

} // namespace sss::core
