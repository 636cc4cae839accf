// Token-bucket pacer (RFC 9002 §7.7): spreads a window's worth of datagrams over a round trip.
#pragma once

#include "common/types.h"
#include "recovery/congestion.h"

namespace sss::core {

class Pacer
{
public:
    static constexpr int kDefaultBurstPackets = 10;
    static constexpr double kSlowStartGain = 2.0;
    static constexpr double kAvoidanceGain = 1.25;

    // Until setRate() is called the pacer does not limit (rate is infinite).
    explicit Pacer(qint64 maxDatagramSize = kDefaultMaxDatagramSize, int burstPackets = kDefaultBurstPackets);

    // rate = N * cwnd / srtt, N = 2 in slow start, 1.25 otherwise. A non-positive srtt or cwnd
    // leaves the pacer unlimited. The new rate also applies to credit not yet collected.
    void setRate(qint64 cwnd, Duration smoothedRtt, bool inSlowStart);
    // Bucket capacity in datagrams (>= 1). Existing credit is trimmed to the new capacity.
    void setBurstPackets(int packets);
    void setMaxDatagramSize(qint64 bytes);

    // Earliest time `bytes` may be sent: `now` if it may be sent now. A datagram larger than the
    // bucket waits for a full bucket.
    Instant nextSendTime(Instant now, qint64 bytes) const;
    // nextSendTime(now, bytes) <= now + slack, without the division and rounding (checked per packet).
    bool canSendWithin(Instant now, qint64 bytes, Duration slack) const;
    // Consumes credit. Sending ahead of nextSendTime() (e.g. an ack-only packet) is allowed and
    // puts the bucket into debt, bounded by one bucket.
    void onSent(Instant now, qint64 bytes);

    double rateBytesPerSecond() const { return rate_; }
    qint64 capacityBytes() const { return qint64(burstPackets_) * mss_; }
    int burstPackets() const { return burstPackets_; }
    // Credit available at `now`, bytes (may be negative while in debt).
    double tokens(Instant now) const;
    double shortfall(Instant now, qint64 bytes) const; // bytes of credit still missing (0: none)

private:
    qint64 mss_;
    int burstPackets_;
    double rate_; // bytes per second; +inf when unlimited
    double tokens_;
    std::optional<Instant> lastUpdate_;
};

} // namespace sss::core
