#include "recovery/rtt.h"

#include <algorithm>

namespace sss::core {

RttEstimator::RttEstimator(Duration initialRtt)
    : initial_(initialRtt > Duration::zero() ? initialRtt : 333ms), smoothed_(initial_), rttvar_(initial_ / 2)
{ }

void RttEstimator::update(Duration latestRtt, Duration ackDelay, bool handshakeConfirmed,
                          Duration maxAckDelay)
{
    latestRtt = std::max(latestRtt, Duration::zero());
    ackDelay = std::max(ackDelay, Duration::zero());
    latest_ = latestRtt;

    if (!hasSample_) {
        // First sample: ack delay is ignored, the variance starts at half the sample.
        hasSample_ = true;
        minRtt_ = latestRtt;
        smoothed_ = latestRtt;
        rttvar_ = latestRtt / 2;
        return;
    }

    minRtt_ = std::min(minRtt_, latestRtt);
    // Before confirmation the peer may not yet honour max_ack_delay, so its report is trusted as is.
    if (handshakeConfirmed)
        ackDelay = std::min(ackDelay, std::max(maxAckDelay, Duration::zero()));

    // Never let the ack delay push the sample below the path minimum: that would be a lie.
    Duration adjusted = latestRtt;
    if (latestRtt >= minRtt_ + ackDelay)
        adjusted = latestRtt - ackDelay;

    const Duration deviation = smoothed_ > adjusted ? smoothed_ - adjusted : adjusted - smoothed_;
    rttvar_ = (3 * rttvar_ + deviation) / 4;
    smoothed_ = (7 * smoothed_ + adjusted) / 8;
}

Duration RttEstimator::pto(Duration maxAckDelay) const
{
    return smoothed_ + std::max(4 * rttvar_, kTimerGranularity) + std::max(maxAckDelay, Duration::zero());
}

Duration RttEstimator::lossDelay() const
{
    const Duration base = std::max(smoothed_, latest_);
    return std::max(base + base / 8, kTimerGranularity);
}

} // namespace sss::core
