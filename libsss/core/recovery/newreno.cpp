#include "recovery/newreno.h"

#include <algorithm>

namespace sss::core {

NewReno::NewReno(qint64 maxDatagramSize)
    : mss_(maxDatagramSize), cwnd_(initialCongestionWindow(maxDatagramSize))
{ }

void NewReno::onPacketSent(Instant, qint64, qint64)
{
    // NewReno keeps no per-send state; app-limitation is reported with each ack.
}

bool NewReno::inRecovery(Instant sentTime) const
{
    return recoveryStart_ && sentTime <= *recoveryStart_;
}

void NewReno::onPacketAcked(Instant, const AckedPacket &p, const RttEstimator &, bool appLimited)
{
    if (p.bytes <= 0 || inRecovery(p.sentTime))
        return;
    // RFC 9002 §7.8: an under-used window says nothing about the path, so it must not grow.
    if (appLimited)
        return;

    if (inSlowStart()) {
        cwnd_ += p.bytes;
        return;
    }
    ackedInAvoidance_ += p.bytes;
    if (ackedInAvoidance_ >= cwnd_) {
        ackedInAvoidance_ -= cwnd_;
        cwnd_ += mss_;
    }
}

void NewReno::onCongestionEvent(Instant now, Instant sentTime)
{
    if (inRecovery(sentTime))
        return;
    beforeReduction_ = Saved {cwnd_, ssthresh_, ackedInAvoidance_, recoveryStart_};
    // Recovery starts now: anything already in flight was sent under the old window.
    recoveryStart_ = now;
    ssthresh_ = std::max(cwnd_ / 2, minimumCongestionWindow(mss_));
    cwnd_ = ssthresh_;
    ackedInAvoidance_ = 0;
}

void NewReno::onPersistentCongestion(Instant)
{
    cwnd_ = minimumCongestionWindow(mss_);
    ackedInAvoidance_ = 0;
    recoveryStart_.reset();
    beforeReduction_.reset(); // a collapse is not undone by a single spurious report
}

void NewReno::onSpuriousCongestion()
{
    if (!beforeReduction_)
        return;
    cwnd_ = std::max(cwnd_, beforeReduction_->cwnd);
    ssthresh_ = beforeReduction_->ssthresh;
    ackedInAvoidance_ = beforeReduction_->ackedInAvoidance;
    recoveryStart_ = beforeReduction_->recoveryStart;
    beforeReduction_.reset();
}

void NewReno::setMaxDatagramSize(qint64 bytes)
{
    if (bytes < kMinMaxDatagramSize || bytes > kMaxMaxDatagramSize)
        return;
    mss_ = bytes;
    cwnd_ = std::max(cwnd_, minimumCongestionWindow(mss_));
    if (ssthresh_ != kInfiniteThreshold)
        ssthresh_ = std::max(ssthresh_, minimumCongestionWindow(mss_));
}

} // namespace sss::core
