#include "flowcontrol.h"

#include <algorithm>

namespace sss::core {

ReceiveWindow::ReceiveWindow(uint64_t initialWindow, uint64_t maxWindow)
    : window_(std::max<uint64_t>(initialWindow, 1)), maxWindow_(std::max(window_, maxWindow)),
      limit_(initialWindow)
{ }

void ReceiveWindow::onConsumed(uint64_t readOffset, Instant now, Duration srtt)
{
    Q_UNUSED(srtt);
    consumed_ = std::max(consumed_, readOffset);
    // The initial window was advertised at setup, which the core does not know: the first
    // consumption is the closest observable reference for the first auto-tune decision.
    if (!lastUpdate_)
        lastUpdate_ = now;
}

bool ReceiveWindow::updateDue() const
{
    const uint64_t remaining = limit_ > consumed_ ? limit_ - consumed_ : 0;
    return remaining < window_ - window_ / 2; // more than half the window consumed
}

std::optional<uint64_t> ReceiveWindow::pollUpdate(Instant now, Duration srtt)
{
    if (!updateDue())
        return std::nullopt;
    if (lastUpdate_ && srtt > Duration::zero() && now - *lastUpdate_ < 2 * srtt)
        window_ = std::min(maxWindow_, window_ > maxWindow_ / 2 ? maxWindow_ : window_ * 2);
    lastUpdate_ = now;
    const uint64_t newLimit = consumed_ + window_;
    if (newLimit <= limit_)
        return std::nullopt;
    limit_ = newLimit;
    return limit_;
}

} // namespace sss::core
