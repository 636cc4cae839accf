// Round-trip time estimation per RFC 9002 §5: min_rtt, smoothed_rtt and rttvar from ACK samples.
#pragma once

#include "common/types.h"

namespace sss::core {

// Timer granularity assumed by RFC 9002 (kGranularity).
constexpr Duration kTimerGranularity = 1ms;

class RttEstimator
{
public:
    // Before the first sample smoothed() = initialRtt and rttvar() = initialRtt / 2 (RFC 9002 §6.2.2).
    explicit RttEstimator(Duration initialRtt = 333ms);

    // Feeds one RTT sample. `ackDelay` is the peer-reported delay; it is ignored for the first
    // sample, clamped to `maxAckDelay` once the handshake is confirmed, and only subtracted when
    // that does not take the sample below min_rtt (RFC 9002 §5.3). Negative inputs count as zero.
    void update(Duration latestRtt, Duration ackDelay, bool handshakeConfirmed, Duration maxAckDelay);

    Duration smoothed() const { return smoothed_; }
    Duration rttvar() const { return rttvar_; }
    // Minimum sample seen, without ack-delay adjustment; zero before the first sample.
    Duration minRtt() const { return minRtt_; }
    // Most recent raw sample; zero before the first sample.
    Duration latest() const { return latest_; }
    bool hasSample() const { return hasSample_; }

    // smoothed + max(4 * rttvar, granularity) + maxAckDelay (RFC 9002 §6.2.1). Callers pass zero as
    // maxAckDelay for packets where the peer does not delay acks (handshake).
    Duration pto(Duration maxAckDelay) const;
    // Time threshold for loss: 9/8 * max(smoothed, latest), at least the granularity (§6.1.2).
    Duration lossDelay() const;
    // Persistent congestion duration: 3 * pto(maxAckDelay) (RFC 9002 §7.6.1).
    Duration persistentCongestionDuration(Duration maxAckDelay) const { return 3 * pto(maxAckDelay); }

private:
    Duration initial_;
    Duration smoothed_;
    Duration rttvar_;
    Duration minRtt_ {0};
    Duration latest_ {0};
    bool hasSample_ = false;
};

} // namespace sss::core
