#include "recovery/pacer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sss::core {

namespace {
constexpr double kInfinity = std::numeric_limits<double>::infinity();
// Floating-point slack so that waiting until nextSendTime() always makes the send possible.
constexpr double kEpsilonBytes = 1e-6;
} // namespace

Pacer::Pacer(qint64 maxDatagramSize, int burstPackets)
    : mss_(maxDatagramSize >= kMinMaxDatagramSize && maxDatagramSize <= kMaxMaxDatagramSize
               ? maxDatagramSize
               : kDefaultMaxDatagramSize),
      burstPackets_(std::max(burstPackets, 1)), rate_(kInfinity), tokens_(double(capacityBytes()))
{ }

void Pacer::setRate(qint64 cwnd, Duration smoothedRtt, bool inSlowStart)
{
    if (cwnd <= 0 || smoothedRtt <= Duration::zero()) {
        rate_ = kInfinity;
        return;
    }
    const double gain = inSlowStart ? kSlowStartGain : kAvoidanceGain;
    rate_ = gain * double(cwnd) / toSeconds(smoothedRtt);
}

void Pacer::setBurstPackets(int packets)
{
    burstPackets_ = std::max(packets, 1);
    tokens_ = std::min(tokens_, double(capacityBytes()));
}

void Pacer::setMaxDatagramSize(qint64 bytes)
{
    if (bytes < kMinMaxDatagramSize || bytes > kMaxMaxDatagramSize)
        return;
    mss_ = bytes;
    tokens_ = std::min(tokens_, double(capacityBytes()));
}

double Pacer::tokens(Instant now) const
{
    const double capacity = double(capacityBytes());
    if (!lastUpdate_ || std::isinf(rate_))
        return capacity;
    if (now <= *lastUpdate_)
        return tokens_;
    // The cap is what stops an idle period from banking a huge burst.
    return std::min(capacity, tokens_ + rate_ * toSeconds(now - *lastUpdate_));
}

double Pacer::shortfall(Instant now, qint64 bytes) const
{
    if (std::isinf(rate_) || rate_ <= 0)
        return 0;
    const double need = double(std::min(std::max(bytes, qint64(0)), capacityBytes()));
    const double have = tokens(now);
    return have + kEpsilonBytes >= need ? 0 : need - have;
}

Instant Pacer::nextSendTime(Instant now, qint64 bytes) const
{
    const double missing = shortfall(now, bytes);
    if (missing <= 0)
        return now;
    return now + Duration(qint64(std::ceil(missing / rate_ * 1e9)));
}

bool Pacer::canSendWithin(Instant now, qint64 bytes, Duration slack) const
{
    // The bucket only fills with time (tokens(now) >= tokens_, which never exceeds the capacity):
    // if the credit already banked covers the packet, skip the refill arithmetic.
    if (tokens_ + kEpsilonBytes >= double(std::min(std::max(bytes, qint64(0)), capacityBytes())))
        return true;
    // nextSendTime waits ceil(missing / rate) ns; that is within slack (whole ns) exactly when
    // missing / rate <= slack.
    const double missing = shortfall(now, bytes);
    return missing <= 0 || missing <= rate_ * toSeconds(slack);
}

void Pacer::onSent(Instant now, qint64 bytes)
{
    if (bytes <= 0)
        return;
    double current = tokens(now);
    if (lastUpdate_ && now < *lastUpdate_)
        now = *lastUpdate_; // time never runs backwards for the bucket
    const double capacity = double(capacityBytes());
    tokens_ = std::max(current - double(bytes), -capacity);
    lastUpdate_ = now;
}

} // namespace sss::core
