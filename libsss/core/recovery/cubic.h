// CUBIC (RFC 9438) with the Reno-friendly region, fast convergence and RFC 9002 recovery periods.
// Internally windows are doubles in bytes; the RFC's segment formulas are scaled by the mss.
#pragma once

#include "recovery/congestion.h"

#include <limits>

namespace sss::core {

class Cubic final : public CongestionController
{
public:
    static constexpr double kC = 0.4; // segments / s^3
    static constexpr double kBeta = 0.7; // multiplicative decrease
    // Reno-friendly additive increase per RTT in segments, for the same average rate as Reno (§4.3).
    static constexpr double kAlphaReno = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);

    explicit Cubic(qint64 maxDatagramSize = kDefaultMaxDatagramSize);

    const char *name() const override { return "cubic"; }
    void onPacketSent(Instant now, qint64 bytes, qint64 bytesInFlight) override;
    void onPacketAcked(Instant now, const AckedPacket &p, const RttEstimator &rtt, bool appLimited) override;
    void onCongestionEvent(Instant now, Instant sentTime) override;
    void onPersistentCongestion(Instant now) override;
    void onSpuriousCongestion() override;
    qint64 window() const override { return qint64(cwnd_); }
    qint64 slowStartThreshold() const override { return ssthresh_; }
    bool inSlowStart() const override { return cwnd_ < double(ssthresh_); }
    bool inRecovery(Instant sentTime) const override;
    void setMaxDatagramSize(qint64 bytes) override;

    void setFastConvergence(bool on) { fastConvergence_ = on; }

    // Introspection (tests, statistics).
    double wMax() const { return wMax_; } // bytes
    double kSeconds() const { return k_; } // K of the current epoch
    double renoEstimate() const { return wEst_; } // W_est, bytes
    std::optional<Instant> epochStart() const { return epochStart_; }
    // W_cubic(t) = C * (t - K)^3 + W_max, in bytes, t in seconds since the epoch start.
    double cubicWindow(double tSeconds) const;
    // K = cbrt((W_max - cwnd_epoch) / C), windows in bytes, result in seconds (RFC 9438 §4.2).
    static double computeK(double wMaxBytes, double cwndEpochBytes, qint64 mss);

    static constexpr qint64 kInfiniteThreshold = std::numeric_limits<qint64>::max();

private:
    struct State {
        double cwnd;
        qint64 ssthresh;
        double wMax;
        double k;
        double cwndEpoch;
        double wEst;
        double cwndPrior;
        std::optional<Instant> epochStart;
        std::optional<Instant> recoveryStart;
    };
    State save() const;
    void restore(const State &s);
    void startEpoch(Instant now);

    qint64 mss_;
    double cwnd_;
    qint64 ssthresh_ = kInfiniteThreshold;
    double wMax_ = 0; // window before the last reduction (after fast convergence)
    double k_ = 0; // seconds
    double cwndEpoch_ = 0; // window when the current congestion-avoidance epoch began
    double wEst_ = 0; // Reno-friendly estimate
    double cwndPrior_ = 0; // window just before the last reduction: W_est past it uses alpha 1
    bool fastConvergence_ = true;
    std::optional<Instant> epochStart_;
    std::optional<Instant> lastActivity_; // last moment the epoch clock was known to be running
    std::optional<Instant> recoveryStart_;
    std::optional<State> beforeReduction_;
};

} // namespace sss::core
