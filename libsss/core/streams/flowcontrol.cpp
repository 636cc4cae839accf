#include "flowcontrol.h"

#include <algorithm>

namespace sss::core {

std::optional<uint64_t> ReceiveWindow::advance(Instant now, Duration srtt)
{
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
