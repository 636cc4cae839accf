// Path MTU discovery for a datagram transport (DPLPMTUD, RFC 8899, as QUIC uses it: RFC 9000 §14.3).
//
// The channel starts at a base size every IP path carries (1232 bytes of UDP payload fits the IPv6
// minimum MTU) and probes larger sizes with padded PING packets sent with "don't fragment". An
// acknowledged probe raises the size in use; a size whose probe is lost kMaxProbes times in a row is
// taken as too big. The search tries the upper bound first (most paths carry 1500-byte IP packets),
// then halves the interval. Losses of probes are not congestion: the channel does not tell its
// congestion controller about them. Black holes (the path's MTU shrank below the size in use) are
// detected from losses of large packets while none of them is acknowledged, and from repeated
// PTOs; the size then falls back to the base and the search starts again below the failed size.
//
// Pure state: no packets, no clock. The channel asks nextProbe() when it has nothing else to send,
// tells it what happened to the probe, and reads current().
#pragma once

#include "common/types.h"

namespace sss::core {

class PathMtu
{
public:
    static constexpr int kMaxProbes = 3; // RFC 8899 MAX_PROBES
    static constexpr qint64 kSearchGranularity = 16; // sizes closer than this are not told apart
    static constexpr int kBlackHoleBursts = 3; // loss bursts of only large packets before falling back
    static constexpr Duration kRaiseInterval = std::chrono::seconds(600); // RFC 8899 PMTU_RAISE_TIMER

    // `base`: the size in use until a probe succeeds; `max`: the largest size to probe (no probing
    // if max <= base).
    PathMtu(qint64 base, qint64 max);

    qint64 current() const { return current_; }
    qint64 base() const { return base_; }
    // The peer accepts datagrams up to `limit` bytes (its transport parameter): never probe beyond.
    void setPeerLimit(Instant now, qint64 limit);
    bool enabled() const { return upper() > base_; }

    // Size of the probe to send now, or 0 if none is due (one in flight, search done and the raise
    // timer not expired, or discovery disabled).
    qint64 nextProbe(Instant now);
    // Cheap test before nextProbe(), for the send path: false means nextProbe(now) returns 0.
    bool mayProbe(Instant now) const { return inFlight_ == 0 && (!done_ || now >= raiseAt_); }
    // When nextProbe() will next return a size without any other event (the raise timer), or kNever.
    Instant nextProbeTime() const;
    void onProbeSent(qint64 size);
    void onProbeAcked(Instant now, qint64 size);
    void onProbeLost(Instant now, qint64 size);

    // Black-hole detection. A non-probe packet larger than the base was acknowledged: the size in
    // use works.
    void onLargePacketAcked() { suspiciousBursts_ = 0; }
    // A loss burst (one loss detection pass) whose lost non-probe packets were all larger than the
    // base. Bursts closer together than `rtt` count as one (the loss timer can declare the tail of
    // one loss event in several passes). Returns true if this made the size fall back to the base.
    bool onLargeLossBurst(Instant now, Duration rtt);
    // `count` PTOs in a row with nothing acknowledged: from the second one, a size above the base is
    // the suspect (a real outage then only costs a new search). Returns true if the size fell back.
    bool onPto(Instant now, int count);
    // The path changed (the peer's address moved): back to the base, search again.
    void reset();

    quint64 probesSent() const { return probesSent_; }
    quint64 probesLost() const { return probesLost_; }
    quint64 blackHoles() const { return blackHoles_; }
    bool searchDone() const { return done_; }
    qint64 probeInFlight() const { return inFlight_; } // its size, 0 = none

private:
    qint32 upper() const { return peerLimit_ < max_ ? peerLimit_ : max_; }
    qint64 candidate() const;
    void fallBack(Instant now);
    void finishIfNarrow(Instant now);

    // A channel carries one of these: sizes fit 32 bits (at most 65527).
    qint32 base_, max_;
    qint32 peerLimit_;
    qint32 current_; // the largest size known to work
    qint32 high_; // smallest size taken as too big; upper() + 1 while untested
    qint32 inFlight_ = 0; // size of the probe in flight, 0 = none
    quint8 failures_ = 0; // consecutive losses of probes of candidate()
    quint8 suspiciousBursts_ = 0;
    bool done_ = false;
    Instant raiseAt_ = kNever;
    Instant lastBurst_ {};
    quint32 probesSent_ = 0, probesLost_ = 0, blackHoles_ = 0;
};

} // namespace sss::core
