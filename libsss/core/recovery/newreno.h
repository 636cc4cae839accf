// NewReno as specified for QUIC in RFC 9002 §7 and Appendix B.
#pragma once

#include "recovery/congestion.h"

#include <limits>

namespace sss::core {

class NewReno final : public CongestionController
{
public:
    explicit NewReno(qint64 maxDatagramSize = kDefaultMaxDatagramSize);

    const char *name() const override { return "newreno"; }
    void onPacketSent(Instant now, qint64 bytes, qint64 bytesInFlight) override;
    void onPacketAcked(Instant now, const AckedPacket &p, const RttEstimator &rtt, bool appLimited) override;
    void onCongestionEvent(Instant now, Instant sentTime) override;
    void onPersistentCongestion(Instant now) override;
    void onSpuriousCongestion() override;
    qint64 window() const override { return cwnd_; }
    qint64 slowStartThreshold() const override { return ssthresh_; }
    bool inSlowStart() const override { return cwnd_ < ssthresh_; }
    bool inRecovery(Instant sentTime) const override;
    void setMaxDatagramSize(qint64 bytes) override;

    qint64 maxDatagramSize() const { return mss_; }

    static constexpr qint64 kInfiniteThreshold = std::numeric_limits<qint64>::max();

private:
    struct Saved {
        qint64 cwnd;
        qint64 ssthresh;
        qint64 ackedInAvoidance;
        std::optional<Instant> recoveryStart;
    };

    qint64 mss_;
    qint64 cwnd_;
    qint64 ssthresh_ = kInfiniteThreshold;
    // Bytes acked since the last +1 mss step in congestion avoidance (exact "one mss per window").
    qint64 ackedInAvoidance_ = 0;
    std::optional<Instant> recoveryStart_;
    std::optional<Saved> beforeReduction_; // for onSpuriousCongestion()
};

} // namespace sss::core
