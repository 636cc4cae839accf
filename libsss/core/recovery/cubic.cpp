#include "recovery/cubic.h"

#include <algorithm>
#include <cmath>

namespace sss::core {

Cubic::Cubic(qint64 maxDatagramSize)
    : mss_(maxDatagramSize), cwnd_(double(initialCongestionWindow(maxDatagramSize)))
{ }

double Cubic::computeK(double wMaxBytes, double cwndEpochBytes, qint64 mss)
{
    if (mss <= 0 || wMaxBytes <= cwndEpochBytes)
        return 0;
    return std::cbrt((wMaxBytes - cwndEpochBytes) / (kC * double(mss)));
}

double Cubic::cubicWindow(double t) const
{
    const double d = t - k_;
    return kC * double(mss_) * d * d * d + wMax_;
}

bool Cubic::inRecovery(Instant sentTime) const
{
    return recoveryStart_ && sentTime <= *recoveryStart_;
}

void Cubic::onPacketSent(Instant now, qint64, qint64 bytesInFlight)
{
    // RFC 9438 §5.8: leaving idle must not be rewarded with the growth the idle time would imply,
    // so the epoch start moves forward by the idle period.
    if (bytesInFlight == 0 && epochStart_ && lastActivity_ && now > *lastActivity_) {
        *epochStart_ += now - *lastActivity_;
        lastActivity_ = now;
    }
}

void Cubic::startEpoch(Instant now)
{
    epochStart_ = now;
    lastActivity_ = now;
    cwndEpoch_ = cwnd_;
    wEst_ = cwnd_;
    if (wMax_ < cwnd_) {
        // Entered avoidance without a reduction (slow start hit ssthresh, or after a collapse):
        // the plateau is where we are now (§4.2, §4.8).
        wMax_ = cwnd_;
        k_ = 0;
    } else {
        k_ = computeK(wMax_, cwndEpoch_, mss_);
    }
}

void Cubic::onPacketAcked(Instant now, const AckedPacket &p, const RttEstimator &rtt, bool appLimited)
{
    if (p.bytes <= 0 || inRecovery(p.sentTime))
        return;
    if (appLimited) {
        // Neither grow nor let the time spent app-limited count towards t (§5.8).
        if (epochStart_ && lastActivity_ && now > *lastActivity_)
            *epochStart_ += now - *lastActivity_;
        if (epochStart_)
            lastActivity_ = now;
        return;
    }
    if (inSlowStart()) {
        cwnd_ += double(p.bytes);
        return;
    }
    if (!epochStart_)
        startEpoch(now);
    lastActivity_ = now;

    const double bytes = double(p.bytes);
    const double t = toSeconds(now - *epochStart_);

    // Reno-friendly estimate (§4.3): alpha_cubic until W_est reaches the pre-reduction window.
    const double alpha = wEst_ >= cwndPrior_ ? 1.0 : kAlphaReno;
    wEst_ += alpha * double(mss_) * bytes / cwnd_;

    if (cubicWindow(t) < wEst_) {
        cwnd_ = std::max(cwnd_, wEst_);
        return;
    }
    // Concave/convex regions (§4.4, §4.5): aim at where the curve will be one RTT from now,
    // limited to 1.5x growth per RTT.
    const double target = std::clamp(cubicWindow(t + toSeconds(rtt.smoothed())), cwnd_, 1.5 * cwnd_);
    cwnd_ += (target - cwnd_) * bytes / cwnd_;
}

Cubic::State Cubic::save() const
{
    return State {cwnd_, ssthresh_, wMax_, k_, cwndEpoch_, wEst_, cwndPrior_, epochStart_, recoveryStart_};
}

void Cubic::restore(const State &s)
{
    cwnd_ = std::max(cwnd_, s.cwnd);
    ssthresh_ = s.ssthresh;
    wMax_ = s.wMax;
    k_ = s.k;
    cwndEpoch_ = s.cwndEpoch;
    wEst_ = s.wEst;
    cwndPrior_ = s.cwndPrior;
    epochStart_ = s.epochStart;
    recoveryStart_ = s.recoveryStart;
}

void Cubic::onCongestionEvent(Instant now, Instant sentTime)
{
    if (inRecovery(sentTime))
        return;
    beforeReduction_ = save();
    recoveryStart_ = now;
    // Fast convergence (§4.7): a plateau lower than the last one suggests a new flow joined, so
    // release bandwidth by aiming below the point of loss.
    if (fastConvergence_ && cwnd_ < wMax_)
        wMax_ = cwnd_ * (1.0 + kBeta) / 2.0;
    else
        wMax_ = cwnd_;
    cwndPrior_ = cwnd_;
    const double minimum = double(minimumCongestionWindow(mss_));
    cwnd_ = std::max(cwnd_ * kBeta, minimum);
    ssthresh_ = std::llround(cwnd_); // 0.7 * x is rarely exact in binary
    cwnd_ = double(ssthresh_); // keep window() and the double in step
    epochStart_.reset(); // the next epoch begins with the first ack after recovery
    lastActivity_.reset();
}

void Cubic::onPersistentCongestion(Instant)
{
    // §4.8: after a timeout W_max and K restart from the window at the next avoidance epoch.
    cwnd_ = double(minimumCongestionWindow(mss_));
    wMax_ = 0;
    k_ = 0;
    cwndPrior_ = 0;
    epochStart_.reset();
    lastActivity_.reset();
    recoveryStart_.reset();
    beforeReduction_.reset();
}

void Cubic::onSpuriousCongestion()
{
    if (!beforeReduction_)
        return;
    restore(*beforeReduction_);
    beforeReduction_.reset();
}

void Cubic::setMaxDatagramSize(qint64 bytes)
{
    if (bytes < kMinMaxDatagramSize || bytes > kMaxMaxDatagramSize)
        return;
    mss_ = bytes;
    const double minimum = double(minimumCongestionWindow(mss_));
    cwnd_ = std::max(cwnd_, minimum);
    if (ssthresh_ != kInfiniteThreshold)
        ssthresh_ = std::max(ssthresh_, qint64(minimum));
}

} // namespace sss::core
