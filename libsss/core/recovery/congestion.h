// Congestion control behind one interface (RFC 9002 §7), with NewReno and CUBIC (RFC 9438) behind it.
// Windows are in bytes. The channel owns the sent-packet map and loss detection and calls in.
#pragma once

#include "common/types.h"
#include "recovery/rtt.h"

#include <QStringView>
#include <memory>
#include <optional>

namespace sss::core {

constexpr qint64 kDefaultMaxDatagramSize = 1200;
// Accepted range for setMaxDatagramSize(); anything else is ignored.
constexpr qint64 kMinMaxDatagramSize = 64;
constexpr qint64 kMaxMaxDatagramSize = 65527;

// RFC 9002 §7.2: min(10 * mss, max(14720, 2 * mss)).
constexpr qint64 initialCongestionWindow(qint64 mss)
{
    const qint64 floor = 2 * mss > 14720 ? 2 * mss : 14720;
    return 10 * mss < floor ? 10 * mss : floor;
}
constexpr qint64 minimumCongestionWindow(qint64 mss)
{
    return 2 * mss;
}

struct AckedPacket {
    Instant sentTime;
    qint64 bytes;
};

class CongestionController
{
public:
    virtual ~CongestionController() = default;
    virtual const char *name() const = 0;
    // `bytesInFlight` is the amount in flight BEFORE this packet is counted: zero means the
    // sender was idle (CUBIC then moves its epoch so the idle time does not count as growth time).
    virtual void onPacketSent(Instant now, qint64 bytes, qint64 bytesInFlight) = 0;
    // Called once per ACK frame with the newly acked in-flight packets sent outside recovery,
    // aggregated (bytes summed, sentTime the latest); appLimited = sender was not using the window.
    virtual void onPacketAcked(Instant now, const AckedPacket &p, const RttEstimator &rtt, bool appLimited)
        = 0;
    // A loss (or ECN CE) signal for a packet sent at `sentTime`. Events for packets sent before the
    // current recovery period started are ignored (one reduction per round trip).
    virtual void onCongestionEvent(Instant now, Instant sentTime) = 0;
    virtual void onPersistentCongestion(Instant now) = 0; // RFC 9002 §7.6: collapse to minimum window
    // The last reduction was caused by packets later found not lost: restore the state before it.
    virtual void onSpuriousCongestion() { }
    virtual qint64 window() const = 0; // congestion window, bytes
    virtual qint64 slowStartThreshold() const = 0;
    virtual bool inSlowStart() const = 0;
    virtual bool inRecovery(Instant sentTime) const = 0;
    virtual void setMaxDatagramSize(qint64 bytes) = 0;
};

enum class CongestionAlgorithm { NewReno, Cubic };

// An out-of-range maxDatagramSize falls back to kDefaultMaxDatagramSize.
std::unique_ptr<CongestionController> createCongestionController(CongestionAlgorithm algorithm,
                                                                 qint64 maxDatagramSize);

// "newreno" / "cubic".
const char *toString(CongestionAlgorithm algorithm);
// Case-insensitive inverse of toString(); nullopt for anything else.
std::optional<CongestionAlgorithm> parseCongestionAlgorithm(QStringView name);

} // namespace sss::core
