#include "channel.h"

#include "channel/shared.h"
#include "crypto/hkdf.h"

#include <algorithm>
#include <cstring>

namespace sss::core {

using wire::FrameType;

quint64 reconstructPacketNumber(quint64 largestReceived, quint32 truncated, bool anyReceived)
{
    // RFC 9000 §A.3 with a 32-bit window.
    const quint64 expected = anyReceived ? largestReceived + 1 : 0;
    constexpr quint64 win = quint64(1) << 32, half = win / 2, mask = win - 1;
    const quint64 candidate = (expected & ~mask) | truncated;
    if (candidate + half <= expected && candidate + win < (quint64(1) << 62))
        return candidate + win;
    if (candidate > expected + half && candidate >= win)
        return candidate - win;
    return candidate;
}

Channel::Channel(EndpointShared &ep, Session *session, bool initiator, quint64 localCid,
                 const SocketAddress &peer, Instant now)
    : ep_(ep), session_(session), initiator_(initiator), localCid_(localCid), peer_(peer), created_(now),
      lastReceived_(now),
      cc_(createCongestionController(ep.config.congestionAlgorithm == 0 ? CongestionAlgorithm::NewReno
                                                                        : CongestionAlgorithm::Cubic,
                                     ep.config.maxDatagramSize)),
      pacer_(ep.config.maxDatagramSize), pmtu_(ep.config.maxDatagramSize, ep.config.maxProbedDatagramSize),
      nextHandshakeSend_(now)
{
    if (session_)
        session_->referencingChannels.push_back(this);
}

Channel::~Channel()
{
    setSession(nullptr);
}

void Channel::setSession(Session *s)
{
    if (s == session_)
        return;
    if (session_) {
        auto &refs = session_->referencingChannels;
        auto it = std::find(refs.begin(), refs.end(), this);
        *it = refs.back();
        refs.pop_back();
    }
    session_ = s;
    if (session_)
        session_->referencingChannels.push_back(this);
}

void Channel::establish(Instant now, const crypto::TransportKeys &keys, quint64 peerCid)
{
    suite_ = keys.suite;
    sendSecret_ = keys.send.secret;
    recvSecret_ = keys.recv.secret;
    sendKey_ = crypto::PacketProtection::create(suite_, keys.send.key, keys.send.iv);
    recvKey_ = crypto::PacketProtection::create(suite_, keys.recv.key, keys.recv.iv);
    peerCid_ = peerCid;
    state_ = State::Established;
    lastReceived_ = now;
    lastRekey_ = now;
    handshake.reset();
    // The initiator reached the responder at the address it chose and got an authenticated answer.
    addressValidated_ = initiator_;
    ep_.trace(now, "security:handshake_done",
              QStringLiteral("cid=%1 initiator=%2 suite=%3").arg(localCid_).arg(initiator_).arg(int(suite_)));
}

Channel::SentPacket *Channel::sentPacket(quint64 pn)
{
    if (sent_.empty() || pn < sent_.front().pn || pn >= sent_.front().pn + sent_.size())
        return nullptr;
    return &sent_[size_t(pn - sent_.front().pn)];
}

bool Channel::handlePacket(Instant now, const SocketAddress &from, const char *data, qsizetype size)
{
    if (state_ == State::Handshaking || state_ == State::Closed || !recvKey_)
        return false;
    if (size < kShortHeaderSize + crypto::PacketProtection::kTagSize) {
        ++packetsDropped_;
        return false;
    }
    const quint8 flags = quint8(data[0]);
    const bool phase = flags & kKeyPhaseBit;
    const quint32 trunc = (quint32(quint8(data[9])) << 24) | (quint32(quint8(data[10])) << 16)
        | (quint32(quint8(data[11])) << 8) | quint32(quint8(data[12]));
    const quint64 pn = reconstructPacketNumber(largestReceived_, trunc, anyReceived_);
    if (anyReceived_ && pn + kReplayWindow <= largestReceived_) {
        ++packetsDropped_;
        return false; // too old to tell apart from a replay
    }
    if (received_.contains(pn)) {
        ++packetsDropped_;
        return false; // duplicate / replay
    }
    // Pick the key by phase: the current one, the previous one (late packets), or the next one.
    crypto::PacketProtection *key = nullptr;
    bool isNext = false;
    if (phase == recvPhase_) {
        key = recvKey_.get();
    } else if (recvPrev_ && pn < recvPhaseStartPn_) {
        key = recvPrev_.get();
    } else {
        if (!recvNext_) {
            const crypto::DirectionKeys k = crypto::deriveDirection(crypto::nextSecret(recvSecret_));
            recvNext_ = crypto::PacketProtection::create(suite_, k.key, k.iv);
        }
        key = recvNext_.get();
        isNext = true;
    }
    const qsizetype clen = size - kShortHeaderSize;
    // Decrypt into the endpoint's receive slab: stream data is handed on as slices of it, without
    // another copy, and many packets share one allocation.
    char *plain = ep_.rxSlabSpace(clen);
    if (!key->open(pn, reinterpret_cast<const uint8_t *>(data), kShortHeaderSize,
                   reinterpret_cast<const uint8_t *>(data + kShortHeaderSize), size_t(clen),
                   reinterpret_cast<uint8_t *>(plain))) {
        ++packetsDropped_;
        return false;
    }
    const qsizetype plen = clen - crypto::PacketProtection::kTagSize;
    // The space is claimed now, so a later packet never overwrites what a slice may reference.
    ep_.rxSlabUsed += plen;
    // Validate every frame before applying any, so a malformed packet changes nothing. Packets of
    // up to kKeptFrames frames (bulk data, a request with its ACK) are applied from this parse;
    // longer ones are parsed again.
    wire::Frame *kept = ep_.rxFrames;
    const int frameCount = wire::parseFrames(plain, plen, kept, EndpointShared::kKeptFrames, ep_.rxFrame);
    if (frameCount < 0) {
        ++packetsDropped_;
        return false;
    }
    if (isNext) {
        recvSecret_ = crypto::nextSecret(recvSecret_);
        recvPrev_ = std::move(recvKey_);
        recvKey_ = std::move(recvNext_);
        recvPhase_ = phase;
        recvPhaseStartPn_ = pn;
        prevKeyDiscard_ = now + 3 * rtt_.pto(ep_.config.maxAckDelay);
        ++keyUpdates_;
        ep_.trace(now, "security:key_updated", QStringLiteral("direction=recv pn=%1").arg(pn));
    }
    const bool outOfOrder = anyReceived_ && pn != largestReceived_ + 1;
    received_.insert(pn);
    // Numbers below the window are never looked up (such packets are dropped above), so they are
    // trimmed in steps of a quarter window rather than one per packet; 64 ranges bound the memory.
    const quint64 top = std::max<quint64>(largestReceived_, pn);
    if (received_.rangeCount() > 64 || top >= nextReplayTrim_) {
        received_.removeBelow(top > quint64(kReplayWindow) ? top - kReplayWindow : 0);
        nextReplayTrim_ = top + kReplayWindow / 4;
    }
    toAck_.insert(pn);
    toAck_.keepHighest(32);
    const bool newest = !anyReceived_ || pn > largestReceived_;
    if (newest) {
        largestReceived_ = pn;
        largestReceivedTime_ = now;
    }
    anyReceived_ = true;
    lastReceived_ = now;
    ++packetsReceived_;
    bytesReceived_ += quint64(size);

    if (from != peer_) {
        if (newest) {
            // The peer moved (NAT rebinding, mobility). Follow it, but validate the new path before
            // sending more than 3x what it sent us there.
            ep_.trace(now, "connectivity:path_changed",
                      QStringLiteral("from=%1 to=%2").arg(peer_.toString(), from.toString()));
            peer_ = from;
            if (session_)
                session_->lastPeerAddress = from;
            addressValidated_ = false;
            unvalidatedReceived_ = 0;
            unvalidatedSent_ = 0;
            pathChallenge_ = ep_.randomU64();
            pathChallengePending_ = true;
            // A new path may carry less: back to the base size, and search again (RFC 9000 §14.3).
            pmtu_.reset();
            probePn_ = kNoProbe;
            onPathMtuChanged(now);
        }
    } else if (!addressValidated_ && !initiator_ && pathChallenge_ == 0) {
        addressValidated_ = true; // the initiator proved it got our response at this address
    }
    if (!addressValidated_)
        unvalidatedReceived_ += size;

    bool ackEliciting = false;
    bool violation = false;
    bool padded = false; // only path MTU probes are padded
    if (session_)
        session_->setCurrentPacket(&ep_.rxSlab, plain, plen);
    auto apply = [&](const wire::Frame &f) {
        if (violation || state_ == State::Closed)
            return;
        if (wire::isAckEliciting(f.type))
            ackEliciting = true;
        switch (f.type) {
        case FrameType::Ack:
            applyDeferredAck(); // an earlier one held back goes first: ACKs apply in order
            onAckFrame(now, f.ack);
            break;
        case FrameType::Ping:
            break;
        case FrameType::Close:
            closeReason_ = f.close.reason.isEmpty() ? QStringLiteral("closed by peer") : f.close.reason;
            peerCloseCode_ = f.close.code;
            state_ = State::Closed;
            ep_.trace(now, "connectivity:closed_by_peer", closeReason_);
            break;
        case FrameType::PathChallenge:
            pathResponse_ = f.a;
            break;
        case FrameType::PathResponse:
            if (pathChallenge_ && f.a == pathChallenge_) {
                addressValidated_ = true;
                pathChallenge_ = 0;
                pathChallengePending_ = false;
            }
            break;
        default:
            if (session_ && !session_->handleFrame(now, f))
                violation = true;
            break;
        }
    };
    if (frameCount <= EndpointShared::kKeptFrames) {
        // A packet that carries more than acknowledgements (a request, an answer, data) may make us
        // answer at once: its ACK frame waits until that answer is sent (deferAck).
        bool deferAcks = false;
        for (int i = 0; i < frameCount; ++i) {
            deferAcks = deferAcks || wire::isAckEliciting(kept[i].type);
            padded = padded || kept[i].type == FrameType::Padding;
        }
        for (int i = 0; i < frameCount; ++i) {
            if (kept[i].type == FrameType::Padding)
                continue;
            if (deferAcks && kept[i].type == FrameType::Ack && !violation && state_ != State::Closed)
                deferAck(now, kept[i].ack);
            else
                apply(kept[i]);
        }
    } else {
        wire::forEachFrame(plain, plen, apply);
    }
    if (session_)
        session_->setCurrentPacket(nullptr, nullptr, 0);
    if (violation) {
        close(now, quint64(StreamError::ProtocolViolation), QStringLiteral("protocol violation"));
        return true;
    }
    if (ackEliciting) {
        ackPending_ = true;
        ++ackElicitingSinceAck_;
        // A probe is acknowledged at once: the peer's search moves on a round trip per step, and
        // does not hold its record of the probe (and the channel its spare memory) longer.
        if (outOfOrder || ackElicitingSinceAck_ >= 2 || padded)
            ackDeadline_ = now;
        else
            ackDeadline_ = std::min(ackDeadline_, now + ep_.config.maxAckDelay);
    }
    return true;
}

// Processing an ACK (freeing acknowledged data, RTT and congestion updates, loss detection) does
// not change what a request's answer contains, only what is sent after it. Held until the turn's
// packets are out, it is off the round trip's critical path; `now` is kept so RTT samples and loss
// timing are those of the arrival. One per channel: an earlier one is applied first, in order.
void Channel::deferAck(Instant now, wire::AckFrame &ack)
{
    if (ackDeferred_)
        applyDeferredAck();
    ep_.deferredAcks.push_back({this, now, std::move(ack)});
    ackDeferred_ = true;
}

std::optional<EndpointShared::DeferredAck> Channel::takeDeferredAck()
{
    if (!ackDeferred_)
        return std::nullopt;
    auto &list = ep_.deferredAcks;
    auto it = std::find_if(list.begin(), list.end(), [this](const auto &d) { return d.channel == this; });
    EndpointShared::DeferredAck d = std::move(*it);
    list.erase(it);
    ackDeferred_ = false;
    return d;
}

void Channel::applyDeferredAck()
{
    if (auto d = takeDeferredAck(); d && state_ != State::Closed && state_ != State::Handshaking)
        onAckFrame(d->at, d->ack);
}

void Channel::onAckFrame(Instant now, const wire::AckFrame &ack)
{
    const std::optional<quint64> largest = ack.ranges.max();
    if (!largest || *largest >= nextPn_)
        return; // acknowledges something never sent: ignore
    bool newlyAckedEliciting = false;
    SentPacket *largestNew = nullptr;
    std::vector<SentPacket *> &newly = newlyAcked_; // a member: no allocation per ACK
    newly.clear();
    const quint64 base = sent_.empty() ? nextPn_ : sent_.front().pn;
    // Ascending packet numbers: stream data was sent in offset order, so each acknowledged range
    // then extends the send buffer's acked run in place instead of merging into it from above.
    for (const auto &[first, end] : ack.ranges) {
        if (end <= base)
            continue;
        for (quint64 pn = std::max<quint64>(first, base); pn < end; ++pn) {
            SentPacket *p = sentPacket(pn);
            if (!p || p->acked)
                continue;
            newly.push_back(p);
        }
    }
    // Packets we declared lost that arrived after all: that was reordering, not loss.
    if (!lostRecent_.empty()) {
        for (auto it = lostRecent_.lower_bound(*ack.ranges.min());
             it != lostRecent_.end() && it->first <= *largest;) {
            if (ack.ranges.contains(it->first)) {
                ++spuriousLosses_;
                reorderThreshold_ = std::clamp<quint64>(std::max(largestAcked_, *largest) - it->first + 1,
                                                        reorderThreshold_, 256);
                if (session_)
                    session_->onFramesAcked(it->second);
                it = lostRecent_.erase(it);
            } else {
                ++it;
            }
        }
    }
    if (newly.empty()) {
        if (session_)
            session_->onAckDone();
        return;
    }
    if (!anyAcked_ || *largest > largestAcked_) {
        largestAcked_ = *largest;
        anyAcked_ = true;
    }
    if (SentPacket *p = sentPacket(*largest); p && !p->acked)
        largestNew = p;
    const bool appLimited = maxInFlightSinceAck_ < cc_->window() / 2;
    // The congestion controller sees one ACK's in-flight packets as one (bytes summed, latest send
    // time): its growth math then runs once per ACK, not once per packet acknowledged.
    AckedPacket ackedForCc {Instant {}, 0};
    bool largeAcked = false;
    const quint32 mtuBase = quint32(pmtu_.base());
    for (SentPacket *p : newly) {
        if (p->lost)
            continue; // handled through lostRecent_ above
        largeAcked |= p->bytes > mtuBase;
        if (p->ackEliciting) {
            newlyAckedEliciting = true;
            --ackElicitingOutstanding_;
        }
        if (p->inFlight)
            bytesInFlight_ -= p->bytes;
        p->acked = true;
        if (p->inFlight && !cc_->inRecovery(p->time)) {
            ackedForCc.bytes += p->bytes;
            ackedForCc.sentTime = std::max(ackedForCc.sentTime, p->time);
        }
        if (p->largestAckedInAck)
            toAck_.removeBelow(p->largestAckedInAck + 1);
        if (session_)
            session_->onFramesAcked(p->frames);
        // (Its frames are not cleared: nothing reads an acknowledged packet's frames again, and it
        // is destroyed when pruned. QVarLengthArray::clear() is an out-of-line reallocation call.)
    }
    if (session_)
        session_->onAckDone();
    if (largeAcked) {
        if (probePn_ != kNoProbe && ack.ranges.contains(probePn_)) {
            probePn_ = kNoProbe;
            pmtu_.onProbeAcked(now, pmtu_.probeInFlight());
            onPathMtuChanged(now);
        } else {
            pmtu_.onLargePacketAcked();
        }
    }
    if (ackedForCc.bytes > 0)
        cc_->onPacketAcked(now, ackedForCc, rtt_, appLimited);
    if (largestNew && largestNew->ackEliciting) {
        const Duration sample = now - largestNew->time;
        const Duration ackDelay = std::chrono::microseconds(ack.ackDelayMicros);
        rtt_.update(sample, ackDelay, true, ep_.config.maxAckDelay);
    }
    maxInFlightSinceAck_ = bytesInFlight_;
    if (newlyAckedEliciting) {
        ptoCount_ = 0;
        probesToSend_ = 0;
    }
    detectLoss(now);
    pruneSent();
    pacer_.setRate(cc_->window(), rtt_.smoothed(), cc_->inSlowStart());
}

void Channel::detectLoss(Instant now)
{
    lossTime_ = kNever;
    if (!anyAcked_)
        return;
    const Duration lossDelay = rtt_.lossDelay();
    std::vector<SentPacket *> lost;
    for (SentPacket &p : sent_) {
        if (p.pn >= largestAcked_)
            break;
        if (p.acked || p.lost || (!p.inFlight && p.frames.isEmpty()))
            continue;
        if (largestAcked_ - p.pn >= reorderThreshold_ || p.time + lossDelay <= now) {
            lost.push_back(&p);
            continue;
        }
        lossTime_ = p.time + lossDelay;
        break; // later packets were sent later and have higher numbers: not lost either
    }
    if (!lost.empty())
        onPacketsLost(now, lost);
}

void Channel::onPacketsLost(Instant now, std::vector<SentPacket *> &lost)
{
    Instant largestLostTime {};
    Instant firstLost = kNever, lastLost {};
    bool largeLost = false, smallLost = false;
    const quint32 mtuBase = quint32(pmtu_.base());
    for (SentPacket *p : lost) {
        p->lost = true;
        if (p->ackEliciting)
            --ackElicitingOutstanding_;
        if (Q_UNLIKELY(p->pn == probePn_)) {
            // A lost PMTU probe says the path is too narrow for it, not that it is congested
            // (RFC 9000 §14.4): no congestion signal, no retransmission (it carries only PING).
            bytesInFlight_ -= p->bytes;
            probePn_ = kNoProbe;
            pmtu_.onProbeLost(now, pmtu_.probeInFlight());
            p->frames.clear();
            continue;
        }
        if (p->ackEliciting)
            (p->bytes > mtuBase ? largeLost : smallLost) = true;
        if (p->inFlight) {
            bytesInFlight_ -= p->bytes;
            largestLostTime = std::max(largestLostTime, p->time);
        }
        if (p->ackEliciting) {
            firstLost = std::min(firstLost, p->time);
            lastLost = std::max(lastLost, p->time);
        }
        ++packetsLost_;
        for (const SentFrame &f : p->frames)
            if (f.kind == SentFrame::StreamData)
                retransmitted_ += f.length;
        if (session_)
            session_->onFramesLost(p->frames);
        // Keep the frames a while: if the packet turns out to have arrived, its ack releases them.
        lostRecent_.emplace(p->pn, std::move(p->frames));
        p->frames.clear();
    }
    while (lostRecent_.size() > 512)
        lostRecent_.erase(lostRecent_.begin());
    // Only packets above the base size lost, again and again, while none of them gets through: the
    // path's MTU may have shrunk under us (a black hole).
    if (largeLost && !smallLost && pmtu_.onLargeLossBurst(now, rtt_.smoothed()))
        onPathMtuChanged(now);
    if (largestLostTime != Instant {})
        cc_->onCongestionEvent(now, largestLostTime);
    // Persistent congestion (RFC 9002 §7.6): ack-eliciting losses spanning more than 3 PTOs.
    if (rtt_.hasSample() && firstLost != kNever
        && lastLost - firstLost > 3 * rtt_.pto(ep_.config.maxAckDelay)) {
        cc_->onPersistentCongestion(now);
    }
    ep_.trace(now, "recovery:packet_lost",
              QStringLiteral("count=%1 cwnd=%2").arg(lost.size()).arg(cc_->window()));
}

// Hands the frames of the oldest unacknowledged packet sent before the PTO fired (after the one a
// probe repeated last; once all were, the oldest again) back to the session to be sent again. The
// packet is not declared lost and stays in flight: whichever copy is acknowledged first releases the
// data (the send buffer and control frames ignore a second acknowledgement), and the receiver drops
// the duplicate. Returns false if no such packet carries frames.
bool Channel::repeatForProbe()
{
    for (int pass = 0; pass < 2 && !sent_.empty(); ++pass) {
        const quint64 front = sent_.front().pn;
        const quint64 end = std::min<quint64>(probeEnd_, front + sent_.size());
        for (quint64 pn = std::max(probeNext_, front); pn < end; ++pn) {
            const SentPacket &p = sent_[size_t(pn - front)];
            if (!p.ackEliciting || p.acked || p.lost || p.frames.isEmpty())
                continue;
            probeNext_ = pn + 1;
            for (const SentFrame &f : p.frames)
                if (f.kind == SentFrame::StreamData)
                    retransmitted_ += f.length;
            session_->onFramesLost(p.frames);
            return true;
        }
        if (probeNext_ == 0)
            break;
        probeNext_ = 0; // repeating the oldest again still beats a bare PING
    }
    return false;
}

void Channel::pruneSent()
{
    while (!sent_.empty() && (sent_.front().acked || sent_.front().lost || !sent_.front().ackEliciting))
        sent_.pop_front();
}

Instant Channel::ptoDeadline() const
{
    if (lastAckElicitingSent_ == Instant {} || state_ != State::Established || ackElicitingOutstanding_ == 0)
        return kNever;
    const Duration pto = rtt_.pto(ep_.config.maxAckDelay) * (1 << std::min(ptoCount_, 10));
    return lastAckElicitingSent_ + pto;
}

void Channel::handleTimeout(Instant now)
{
    if (state_ == State::Closed)
        return;
    if (state_ == State::Closing) {
        if (now >= closeDeadline_)
            state_ = State::Closed;
        return;
    }
    if (state_ == State::Handshaking) {
        if (now - created_ >= ep_.config.handshakeTimeout) {
            state_ = State::Closed;
            closeReason_ = QStringLiteral("handshake timed out");
        }
        return;
    }
    if (now - lastReceived_ >= idleTimeout()) {
        state_ = State::Closed;
        idleExpired_ = true;
        closeReason_ = QStringLiteral("idle timeout");
        ep_.trace(now, "connectivity:idle_timeout", QStringLiteral("cid=%1").arg(localCid_));
        return;
    }
    if (lossTime_ <= now) {
        detectLoss(now);
        pruneSent();
    } else if (ptoDeadline() <= now) {
        ++ptoCount_;
        if (pmtu_.onPto(now, ptoCount_))
            onPathMtuChanged(now); // the probes below then go out at the base size
        probesToSend_ = 2;
        probeNext_ = 0;
        probeEnd_ = nextPn_;
        ep_.trace(now, "recovery:pto", QStringLiteral("count=%1").arg(ptoCount_));
    }
    // A timer firing with nothing in flight: the channel is quiet, so return the spare nodes its
    // SentPacket records reused while busy (one is kept for its next few packets).
    if (sent_.empty())
        sentBlocks_.trim(1);
    if (prevKeyDiscard_ <= now) {
        recvPrev_.reset();
        prevKeyDiscard_ = kNever;
    }
    // Keepalive: while streams are open, never let the peer's idle timer run out.
    const Duration keepAlive = keepAliveInterval();
    if (session_ && session_->hasOpenStreams() && now - lastAckElicitingSent_ >= keepAlive
        && now - lastReceived_ >= keepAlive / 2)
        pingQueued_ = true;
}

Duration Channel::idleTimeout() const
{
    Duration t = ep_.config.idleTimeout;
    if (const quint64 ms = session_ ? session_->peerIdleTimeoutMs() : 0)
        t = std::min<Duration>(t, std::chrono::milliseconds(ms));
    return t;
}

Duration Channel::keepAliveInterval() const
{
    return std::min<Duration>(ep_.config.keepAliveInterval, idleTimeout() / 2);
}

Instant Channel::nextTimeout() const
{
    switch (state_) {
    case State::Closed:
        return kNever;
    case State::Closing:
        return closeDeadline_;
    case State::Handshaking:
        return std::min(initiator_ ? nextHandshakeSend_ : kNever, created_ + ep_.config.handshakeTimeout);
    case State::Established:
        break;
    }
    Instant t = lastReceived_ + idleTimeout();
    t = std::min(t, lossTime_ != kNever ? lossTime_ : ptoDeadline());
    t = std::min(t, prevKeyDiscard_);
    t = std::min(t, pmtu_.nextProbeTime()); // the raise timer: probe a larger size again
    // While the anti-amplification limit blocks every send, send deadlines (ack, keepalive, pacing)
    // stay in the past until the peer sends more: reporting them would make the driver spin.
    if (amplificationBudget() < kShortHeaderSize + crypto::PacketProtection::kTagSize + 16)
        return t;
    if (ackPending_)
        t = std::min(t, ackDeadline_);
    if (session_ && session_->hasOpenStreams()) {
        const Duration keepAlive = keepAliveInterval();
        t = std::min(t, std::max(lastAckElicitingSent_ + keepAlive, lastReceived_ + keepAlive / 2));
    }
    if (session_ && session_->hasPendingFrames() && bytesInFlight_ + pmtu_.current() <= cc_->window())
        t = std::min(t, pacer_.nextSendTime(ep_.lastNow, pmtu_.current()) - ep_.config.timerGranularity);
    return t;
}

qsizetype Channel::amplificationBudget() const
{
    if (addressValidated_)
        return std::numeric_limits<qsizetype>::max();
    return std::max<qsizetype>(0, 3 * unvalidatedReceived_ - unvalidatedSent_);
}

// The size of the path MTU probe to send now, or 0. Probes go on an established, validated path
// once the peer's limit is known and the channel has sent 16 base-size packets' worth: a channel
// that only ever carries small requests gains nothing from larger packets, and its handshake and
// first answers do not wait behind probes. They are congestion controlled like any packet except
// that one may overshoot the window (else a busy sender would never probe).
qint64 Channel::pmtuProbeDue(Instant now)
{
    if (Q_LIKELY(!pmtu_.mayProbe(now)) || state_ != State::Established || !addressValidated_ || !session_
        || bytesSent_ < quint64(16 * pmtu_.base()))
        return 0;
    const quint64 peerLimit = session_->peerMaxDatagramSize();
    if (peerLimit == 0 || bytesInFlight_ >= cc_->window())
        return 0;
    pmtu_.setPeerLimit(now, qint64(std::min<quint64>(peerLimit, quint64(kMaxMaxDatagramSize))));
    return pmtu_.nextProbe(now);
}

void Channel::onPathMtuChanged(Instant now)
{
    ep_.trace(now, "transport:mtu_updated",
              QStringLiteral("size=%1 black_holes=%2").arg(pmtu_.current()).arg(pmtu_.blackHoles()));
    cc_->setMaxDatagramSize(pmtu_.current());
    pacer_.setMaxDatagramSize(pmtu_.current());
}

bool Channel::canSendData(Instant now, qsizetype size) const
{
    if (probesToSend_ > 0)
        return true;
    if (bytesInFlight_ + size > cc_->window())
        return false;
    // The edge's timer cannot wake us for sub-granularity gaps: release what is due within one tick.
    return pacer_.canSendWithin(now, size, ep_.config.timerGranularity);
}

void Channel::maybeRekey(Instant now)
{
    // (The caller checked that the key is due for an update: that test runs per packet, inline.)
    // One update at a time: the peer must have acknowledged a packet of the current phase first.
    if (!anyAcked_ || largestAcked_ < firstPnInSendPhase_)
        return;
    sendSecret_ = crypto::nextSecret(sendSecret_);
    const crypto::DirectionKeys k = crypto::deriveDirection(sendSecret_);
    sendKey_ = crypto::PacketProtection::create(suite_, k.key, k.iv);
    sendPhase_ = !sendPhase_;
    firstPnInSendPhase_ = nextPn_;
    packetsSinceRekey_ = 0;
    lastRekey_ = now;
    ++keyUpdates_;
    ep_.trace(now, "security:key_updated", QStringLiteral("direction=send pn=%1").arg(nextPn_));
}

void Channel::close(Instant now, quint64 code, const QString &reason)
{
    if (state_ == State::Closed || state_ == State::Closing)
        return;
    if (state_ == State::Handshaking) {
        state_ = State::Closed;
        closeReason_ = reason;
        return;
    }
    closeCode_ = code;
    closeReason_ = reason;
    closeFrameQueued_ = true;
    state_ = State::Closing;
    closeDeadline_ = now + 3 * rtt_.pto(ep_.config.maxAckDelay);
}

void Channel::abandonInFlight()
{
    for (SentPacket &p : sent_) {
        if (!p.acked && !p.lost && session_)
            session_->onFramesLost(p.frames);
        p.lost = true;
    }
    sent_.clear();
    sentBlocks_.trim(1);
    lostRecent_.clear();
    bytesInFlight_ = 0;
    ackElicitingOutstanding_ = 0;
}

bool Channel::pollTransmit(Instant now, Transmit &tx)
{
    if (state_ == State::Closed)
        return false;
    if (state_ == State::Handshaking) {
        if (!initiator_ || !handshake || now < nextHandshakeSend_)
            return false;
        nextHandshakeSend_ = now + handshakeBackoff_;
        handshakeBackoff_ = std::min<Duration>(handshakeBackoff_ * 2, 2s);
        tx.to = peer_;
        tx.bytes = handshake->initiation();
        return true;
    }
    if (state_ == State::Closing && !closeFrameQueued_)
        return false;

    if (Q_UNLIKELY(packetsSinceRekey_ >= ep_.config.rekeyAfterPackets
                   || now - lastRekey_ >= ep_.config.rekeyAfterTime))
        maybeRekey(now);
    const qsizetype maxSize = pmtu_.current();
    const qsizetype budget = amplificationBudget();
    if (budget < kShortHeaderSize + crypto::PacketProtection::kTagSize + 16)
        return false;
    const qsizetype packetSize = std::min(maxSize, budget);
    // A whole number of 16-byte blocks: AES-GCM (libsodium) seals and opens a partial last block
    // ~100 instructions slower, per packet and side. 1,200 instead of 1,203 bytes costs 0.25% payload.
    const qsizetype maxPayload
        = (packetSize - kShortHeaderSize - crypto::PacketProtection::kTagSize) & ~qsizetype(15);

    // Reuse the caller's buffer: resize(0) keeps its capacity unless someone still shares it (then
    // it detaches, leaving their copy intact), so steady sending does not allocate per packet.
    QByteArray &out = tx.bytes;
    if (!out.isDetached() || out.capacity() < packetSize) {
        out = QByteArray();
        out.reserve(packetSize);
    }
    setSize(out, kShortHeaderSize);
    Writer w(out);
    // The record of what the packet carries is filled in place (no SentFrames to move into it),
    // and dropped again if nothing is sent. (Its number is the next one: repeatForProbe() stops
    // below it, sentPacket() is not asked about it before it is sent.)
    Q_ASSERT(sent_.empty() || sent_.back().pn + 1 == nextPn_); // sentPacket() indexes by pn - front.pn
    SentPacket &sp = sent_.emplace_back();
    sp.pn = nextPn_;
    SentFrames &frames = sp.frames;
    bool ackEliciting = false;
    qint64 probeSize = 0;
    quint64 ackLargest = 0;

    if (state_ == State::Closing) {
        wire::writeClose(w, closeCode_, closeReason_);
        closeFrameQueued_ = false;
    } else {
        if (pathResponse_) {
            wire::writePath(w, FrameType::PathResponse, *pathResponse_);
            pathResponse_.reset();
        }
        if (pathChallengePending_) {
            wire::writePath(w, FrameType::PathChallenge, pathChallenge_);
            pathChallengePending_ = false;
            ackEliciting = true;
        }
        // The ACK is written before the data (so data can use the rest of the packet) straight into
        // the packet: no scratch copy. It is cut off again below if it turns out to be alone and
        // not yet due.
        const qsizetype ackAt = out.size();
        if (ackPending_ && !toAck_.isEmpty())
            ackLargest = wire::writeAck(w, toAck_, quint64(toMicros(now - largestReceivedTime_)), 32);
        const qsizetype ackSize = out.size() - ackAt;
        const bool ackDue = ackPending_ && ackDeadline_ <= now;
        const qsizetype room = maxPayload - (out.size() - kShortHeaderSize);
        if (session_ && canSendData(now, packetSize) && room > 0) {
            const qsizetype before = out.size();
            session_->fill(now, w, room, frames, ackEliciting);
            // A probe with no new data to carry repeats unacknowledged data (RFC 9002 §6.2.4): a lost
            // request, answer or ACCEPT that was the last packet in flight then arrives one PTO late,
            // not one PTO plus the round trip a PING's ACK takes to prove the loss. Two tries: the
            // frames of a packet may all have gone stale (a stream reset since, say).
            for (int i = 0; i < 2 && probesToSend_ > 0 && out.size() == before && repeatForProbe(); ++i)
                session_->fill(now, w, room, frames, ackEliciting);
        }
        if (!ackEliciting && (pingQueued_ || probesToSend_ > 0)) {
            w.varint(quint64(FrameType::Ping));
            ackEliciting = true;
        }
        pingQueued_ = false;
        const bool anyFrames = out.size() - ackSize > kShortHeaderSize;
        if (ackSize > 0 && (ackDue || anyFrames)) {
            ackPending_ = false;
            ackElicitingSinceAck_ = 0;
            ackDeadline_ = kNever;
        } else {
            // Nothing else was written: the ACK is the whole payload.
            if (ackSize > 0)
                setSize(out, ackAt);
            ackLargest = 0;
        }
        if (out.size() == kShortHeaderSize) {
            // Nothing else to send: room for a path MTU probe, a PING padded to the size tried.
            probeSize = pmtuProbeDue(now);
            if (Q_LIKELY(probeSize == 0) || probeSize > budget) {
                setSize(out, 0);
                sent_.pop_back();
                return false;
            }
            w.varint(quint64(FrameType::Ping));
            w.zeros(probeSize - kShortHeaderSize - crypto::PacketProtection::kTagSize - 1);
            ackEliciting = true;
        }
    }

    // Header, then seal in place.
    const quint64 pn = nextPn_++;
    const qsizetype plen = out.size() - kShortHeaderSize;
    setSize(out, out.size() + crypto::PacketProtection::kTagSize);
    // (Detached above, so no detach check: data() would call QByteArray::detach() once per packet.)
    Q_ASSERT(out.isDetached());
    char *hdr = const_cast<char *>(out.constData());
    hdr[0] = char(kShortHeaderFlag | (sendPhase_ ? kKeyPhaseBit : 0));
    qToBigEndian<quint64>(peerCid_, hdr + 1);
    qToBigEndian<quint32>(quint32(pn), hdr + 9);
    uint8_t *p = reinterpret_cast<uint8_t *>(hdr);
    sendKey_->seal(pn, p, kShortHeaderSize, p + kShortHeaderSize, size_t(plen), p + kShortHeaderSize);

    sp.time = now;
    sp.bytes = quint32(out.size());
    sp.ackEliciting = ackEliciting;
    sp.inFlight = ackEliciting;
    sp.largestAckedInAck = ackLargest;
    if (ackEliciting) {
        cc_->onPacketSent(now, out.size(), bytesInFlight_);
        bytesInFlight_ += out.size();
        maxInFlightSinceAck_ = std::max(maxInFlightSinceAck_, bytesInFlight_);
        lastAckElicitingSent_ = now;
        ++ackElicitingOutstanding_;
        pacer_.onSent(now, out.size());
        if (probesToSend_ > 0)
            --probesToSend_;
    }
    if (Q_UNLIKELY(probeSize != 0)) {
        probePn_ = pn;
        pmtu_.onProbeSent(probeSize);
        ep_.trace(now, "transport:mtu_probe", QStringLiteral("size=%1 pn=%2").arg(probeSize).arg(pn));
    }
    if (!addressValidated_)
        unvalidatedSent_ += out.size();
    ++packetsSent_;
    ++packetsSinceRekey_;
    bytesSent_ += quint64(out.size());
    tx.to = peer_;
    return true;
}

LinkStatus Channel::linkStatus() const
{
    switch (state_) {
    case State::Handshaking:
        return LinkStatus::Connecting;
    case State::Established:
        return ptoCount_ >= 3 ? LinkStatus::Stalled : LinkStatus::Up;
    default:
        return LinkStatus::Down;
    }
}

ChannelStats Channel::stats() const
{
    ChannelStats s;
    s.peerId = session_ ? session_->peerId() : QByteArray();
    s.peerAddress = peer_;
    s.status = linkStatus();
    s.initiator = initiator_;
    s.cipher = suite_ == crypto::CipherSuite::Aes256Gcm ? QStringLiteral("AES-256-GCM")
        : suite_ == crypto::CipherSuite::Null           ? QStringLiteral("NULL")
                                                        : QStringLiteral("ChaCha20-Poly1305");
    s.congestionAlgorithm = QString::fromLatin1(cc_->name());
    s.srtt = rtt_.smoothed();
    s.rttvar = rtt_.rttvar();
    s.minRtt = rtt_.hasSample() ? rtt_.minRtt() : Duration {};
    s.cwnd = cc_->window();
    s.ssthresh = cc_->slowStartThreshold();
    s.bytesInFlight = bytesInFlight_;
    s.pacingRate = pacer_.rateBytesPerSecond();
    s.packetsSent = packetsSent_;
    s.packetsReceived = packetsReceived_;
    s.bytesSent = bytesSent_;
    s.bytesReceived = bytesReceived_;
    s.packetsLost = packetsLost_;
    s.retransmittedBytes = retransmitted_;
    s.packetsDropped = packetsDropped_;
    s.keyUpdates = keyUpdates_;
    s.streamCount = session_ ? session_->streamCount() : 0;
    s.maxDatagramSize = pmtu_.current();
    s.mtuProbesSent = pmtu_.probesSent();
    s.mtuProbesLost = pmtu_.probesLost();
    s.mtuBlackHoles = pmtu_.blackHoles();
    return s;
}

} // namespace sss::core
