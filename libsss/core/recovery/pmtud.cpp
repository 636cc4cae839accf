#include "recovery/pmtud.h"

#include "recovery/congestion.h"

#include <algorithm>

namespace sss::core {

PathMtu::PathMtu(qint64 base, qint64 max)
    : base_(qint32(std::clamp<qint64>(base, kMinMaxDatagramSize, kMaxMaxDatagramSize))),
      max_(qint32(std::clamp<qint64>(max, 0, kMaxMaxDatagramSize))), peerLimit_(qint32(kMaxMaxDatagramSize)),
      current_(base_), high_(upper() + 1)
{
    done_ = !enabled();
}

void PathMtu::setPeerLimit(Instant now, qint64 limit)
{
    peerLimit_ = qint32(std::clamp<qint64>(limit, base_, kMaxMaxDatagramSize));
    high_ = std::min(high_, upper() + 1);
    if (current_ > upper())
        current_ = std::max(base_, upper());
    if (!done_)
        finishIfNarrow(now);
}

qint64 PathMtu::candidate() const
{
    // The top first: most paths carry it, and then one probe ends the search.
    if (high_ > upper())
        return upper();
    return (current_ + high_) / 2;
}

qint64 PathMtu::nextProbe(Instant now)
{
    if (inFlight_ != 0)
        return 0;
    if (done_) {
        if (now < raiseAt_ || current_ >= upper())
            return 0;
        // RFC 8899 §5.2: after PMTU_RAISE_TIMER, see whether the path now carries more.
        done_ = false;
        high_ = upper() + 1;
        failures_ = 0;
    }
    return candidate();
}

Instant PathMtu::nextProbeTime() const
{
    return done_ && inFlight_ == 0 ? raiseAt_ : kNever;
}

void PathMtu::onProbeSent(qint64 size)
{
    inFlight_ = qint32(size);
    ++probesSent_;
}

void PathMtu::onProbeAcked(Instant now, qint64 size)
{
    if (size == inFlight_)
        inFlight_ = 0;
    suspiciousBursts_ = 0;
    if (size <= current_ || size > upper())
        return;
    current_ = qint32(size);
    failures_ = 0;
    finishIfNarrow(now);
}

void PathMtu::onProbeLost(Instant now, qint64 size)
{
    if (size == inFlight_)
        inFlight_ = 0;
    ++probesLost_;
    if (done_ || size <= current_ || size >= high_)
        return; // a stale probe (the search moved on, or restarted below it)
    if (++failures_ < kMaxProbes)
        return;
    high_ = qint32(size);
    failures_ = 0;
    finishIfNarrow(now);
}

void PathMtu::finishIfNarrow(Instant now)
{
    if (current_ >= upper() || high_ - current_ <= kSearchGranularity) {
        done_ = true;
        raiseAt_ = current_ < upper() ? now + kRaiseInterval : kNever;
    }
}

void PathMtu::fallBack(Instant now)
{
    ++blackHoles_;
    high_ = current_; // the size that stopped working
    current_ = base_;
    failures_ = 0;
    suspiciousBursts_ = 0;
    done_ = false;
    finishIfNarrow(now);
}

bool PathMtu::onLargeLossBurst(Instant now, Duration rtt)
{
    if (current_ <= base_ || (suspiciousBursts_ > 0 && now - lastBurst_ < rtt))
        return false;
    lastBurst_ = now;
    if (++suspiciousBursts_ < kBlackHoleBursts)
        return false;
    fallBack(now);
    return true;
}

bool PathMtu::onPto(Instant now, int count)
{
    if (current_ <= base_ || count < 2)
        return false;
    fallBack(now);
    return true;
}

void PathMtu::reset()
{
    current_ = base_;
    high_ = upper() + 1;
    inFlight_ = 0;
    failures_ = 0;
    suspiciousBursts_ = 0;
    done_ = !enabled();
    raiseAt_ = kNever;
}

} // namespace sss::core
