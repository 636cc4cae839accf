// Receiver-driven flow control with window auto-tuning (QUIC MAX_DATA / MAX_STREAM_DATA style).
// Used per stream (offsets = stream offsets) and per connection (offsets = sums over streams).
#pragma once

#include "common/types.h"

#include <cstdint>
#include <optional>

namespace sss::core {

class ReceiveWindow
{
public:
    // maxWindow below initialWindow is raised to it.
    ReceiveWindow(uint64_t initialWindow, uint64_t maxWindow);

    uint64_t limit() const { return limit_; } // highest offset the peer may send (advertised)
    uint64_t consumed() const { return consumed_; }
    // The app read up to readOffset (decreases are ignored).
    void onConsumed(uint64_t readOffset, Instant now, Duration srtt);
    // Returns a new limit to advertise once more than half the window was consumed since the
    // last advertisement. Auto-tune: if the previous update was less than 2*srtt ago, the window
    // doubles (up to maxWindow) so that it grows towards the path's bandwidth-delay product.
    std::optional<uint64_t> pollUpdate(Instant now, Duration srtt);
    bool updateDue() const;
    uint64_t windowSize() const { return window_; }
    uint64_t maxWindow() const { return maxWindow_; }

private:
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
