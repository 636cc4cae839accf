// A channel: one secure association between two endpoints. Packet protection and key updates, packet
// numbers and the replay window, acknowledgements, RTT, loss detection, congestion control and pacing,
// keepalive and idle timeout, path validation on address change. Stream content belongs to the Session.
#pragma once

#include "channel/session.h"
#include "channel/shared.h"
#include "common/spareblocks.h"
#include "crypto/aead.h"
#include "crypto/handshake.h"
#include "recovery/congestion.h"
#include "recovery/pacer.h"
#include "recovery/pmtud.h"
#include "recovery/rtt.h"

#include <deque>
#include <map>
#include <memory>

namespace sss::core {

// Short-header packet: flags (0x40 | key phase) | destination cid (8) | packet number low 32 bits | AEAD.
constexpr quint8 kShortHeaderFlag = 0x40;
constexpr quint8 kKeyPhaseBit = 0x01;
constexpr int kShortHeaderSize = 1 + 8 + 4;
constexpr int kReplayWindow = 4096;

quint64 reconstructPacketNumber(quint64 largestReceived, quint32 truncated, bool anyReceived);

class Channel
{
public:
    enum class State { Handshaking, Established, Closing, Closed };

    Channel(EndpointShared &ep, Session *session, bool initiator, quint64 localCid, const SocketAddress &peer,
            Instant now);
    ~Channel();

    State state() const { return state_; }
    bool isInitiator() const { return initiator_; }
    // The responder answered our initiation with a valid cookie (it is under load): resend the
    // initiation, now carrying mac2, at once instead of after the retransmission backoff. Once per
    // channel, so forged or replayed cookie replies cannot make us send more than one extra packet.
    void onCookieReply(Instant now)
    {
        if (cookieRetried_)
            return;
        cookieRetried_ = true;
        nextHandshakeSend_ = now;
    }
    quint64 localCid() const { return localCid_; }
    quint64 peerCid() const { return peerCid_; }
    Session *session() const { return session_; }
    void setSession(Session *s);
    const SocketAddress &peerAddress() const { return peer_; }

    // ---- handshake
    std::unique_ptr<crypto::InitiatorHandshake> handshake; // initiator only, until established
    QByteArray cachedResponse; // responder: resent for a retransmitted initiation
    QByteArray initiationEphemeral; // responder: identifies that initiation
    ScheduleSlot sched; // owned by the endpoint
    void establish(Instant now, const crypto::TransportKeys &keys, quint64 peerCid);
    void onHandshakeBytesReceived(qsizetype n) { unvalidatedReceived_ += n; }
    void onHandshakeBytesSent(qsizetype n) { unvalidatedSent_ += n; }
    bool addressValidated() const { return addressValidated_; }

    // ---- I/O
    // Returns false if the packet was dropped (authentication, replay, malformed).
    bool handlePacket(Instant now, const SocketAddress &from, const char *data, qsizetype size);
    void handleTimeout(Instant now);
    bool pollTransmit(Instant now, Transmit &out); // see Endpoint::pollTransmit(now, out)
    // After a packet: false only if another pollTransmit() now would certainly return nothing
    // (nothing queued at all), so the endpoint can drop the channel from its ready list without
    // polling it once more on the way to the send. Conservative: true whenever unsure.
    bool mayHaveMoreToSend() const // (inline: the endpoint asks after every packet sent)
    {
        return state_ != State::Established || ackPending_ || pingQueued_ || probesToSend_ > 0
            || pathChallengePending_ || pathResponse_ || closeFrameQueued_
            || (session_ && session_->hasPendingFrames());
    }
    Instant nextTimeout() const;
    void close(Instant now, quint64 code, const QString &reason);
    bool isDead() const { return state_ == State::Closed; }
    QString closeReason() const { return closeReason_; }
    // The code of the CLOSE the peer sent (kNoPeerClose if none).
    static constexpr quint64 kNoPeerClose = ~quint64(0);
    quint64 peerClosedCode() const { return peerCloseCode_; }
    bool closedByIdle() const { return idleExpired_; }

    Duration smoothedRtt() const { return rtt_.hasSample() ? rtt_.smoothed() : 100ms; }
    // The idle timeout in force: the smaller of ours and the one the peer announced (transport
    // parameter 6), so neither end keeps a channel the other has already dropped.
    Duration idleTimeout() const;
    // Keepalives reach the peer well within that: at most half of it.
    Duration keepAliveInterval() const;
    ChannelStats stats() const;
    LinkStatus linkStatus() const;

    // Everything in flight is handed back to the session as lost (the channel is going away).
    void abandonInFlight();

    // Applies this channel's deferred ACK frame (see deferAck), if any; the endpoint calls it after
    // the turn's packets are sent, before timeouts, and before forgetting the channel.
    void applyDeferredAck();
    void discardDeferredAck() { takeDeferredAck(); }

private:
    struct SentPacket {
        quint64 pn = 0;
        Instant time;
        quint32 bytes = 0;
        bool ackEliciting = false;
        bool inFlight = false;
        bool acked = false;
        bool lost = false;
        quint64 largestAckedInAck = 0; // our ACK frame's largest (for pruning ack ranges), 0 = none
        SentFrames frames;
    };

    bool canSendData(Instant now, qsizetype size) const;
    qint64 pmtuProbeDue(Instant now);
    void onPathMtuChanged(Instant now);
    void onAckFrame(Instant now, const wire::AckFrame &ack);
    void deferAck(Instant now, wire::AckFrame &ack);
    std::optional<EndpointShared::DeferredAck> takeDeferredAck();
    void detectLoss(Instant now);
    void onPacketsLost(Instant now, std::vector<SentPacket *> &lost);
    bool repeatForProbe();
    void setLossTimer(Instant now);
    Instant ptoDeadline() const;
    void pruneSent();
    void maybeRekey(Instant now); // (called when the key is due for an update)
    SentPacket *sentPacket(quint64 pn);
    qsizetype amplificationBudget() const;

    EndpointShared &ep_;
    Session *session_;
    bool initiator_;
    State state_ = State::Handshaking;
    quint64 localCid_, peerCid_ = 0;
    SocketAddress peer_;
    Instant created_, lastReceived_, lastAckElicitingSent_ {};
    QString closeReason_;
    bool idleExpired_ = false;

    // keys
    crypto::CipherSuite suite_ = crypto::CipherSuite::ChaCha20Poly1305;
    QByteArray sendSecret_, recvSecret_;
    std::unique_ptr<crypto::PacketProtection> sendKey_, recvKey_, recvNext_, recvPrev_;
    bool sendPhase_ = false, recvPhase_ = false;
    quint64 recvPhaseStartPn_ = 0;
    Instant prevKeyDiscard_ = kNever;
    quint64 packetsSinceRekey_ = 0;
    Instant lastRekey_ {};
    quint64 keyUpdates_ = 0;

    // packet numbers, acks
    quint64 nextPn_ = 0;
    quint64 largestReceived_ = 0;
    bool anyReceived_ = false;
    RangeSet received_; // replay window
    quint64 nextReplayTrim_ = 0; // largest pn at which received_ is trimmed next
    RangeSet toAck_; // ranges to report in ACK frames
    bool ackPending_ = false;
    int ackElicitingSinceAck_ = 0;
    Instant ackDeadline_ = kNever;
    Instant largestReceivedTime_ {};

    // recovery
    // Contiguous by pn starting at sent_.front().pn. Its nodes are reused (see SpareBlocks; trimmed
    // in handleTimeout when nothing is in flight).
    SpareBlocks sentBlocks_;
    std::deque<SentPacket, SpareBlockAllocator<SentPacket>> sent_ {
        SpareBlockAllocator<SentPacket>(sentBlocks_)};
    std::map<quint64, SentFrames> lostRecent_; // declared lost, kept briefly to detect spurious losses
    quint64 ackElicitingOutstanding_ = 0;
    quint64 largestAcked_ = 0;
    bool anyAcked_ = false;
    RttEstimator rtt_;
    std::unique_ptr<CongestionController> cc_;
    Pacer pacer_;
    qint64 bytesInFlight_ = 0;
    Instant lossTime_ = kNever;
    int ptoCount_ = 0;
    quint64 reorderThreshold_ = 3; // packets; grows when a loss turns out spurious (RACK-style)
    quint64 spuriousLosses_ = 0;
    int probesToSend_ = 0;
    // Packets a PTO probe may repeat (repeatForProbe): those sent before the PTO fired, below
    // probeEnd_, and from probeNext_ on (the next one not repeated yet).
    quint64 probeNext_ = 0, probeEnd_ = 0;
    bool pingQueued_ = false;

    // path MTU discovery: one probe (a padded PING) in flight at a time, at packet number probePn_
    static constexpr quint64 kNoProbe = ~quint64(0);
    PathMtu pmtu_;
    quint64 probePn_ = kNoProbe;

    // paths and anti-amplification
    bool addressValidated_ = false;
    qint64 unvalidatedReceived_ = 0, unvalidatedSent_ = 0;
    quint64 pathChallenge_ = 0;
    bool pathChallengePending_ = false;
    std::optional<quint64> pathResponse_;
    Instant nextHandshakeSend_ {};
    Duration handshakeBackoff_ = 250ms;
    bool cookieRetried_ = false;
    quint64 firstPnInSendPhase_ = 0;
    qint64 maxInFlightSinceAck_ = 0;
    Instant closeDeadline_ = kNever;
    bool closeFrameQueued_ = false;
    quint64 closeCode_ = 0;
    quint64 peerCloseCode_ = kNoPeerClose;

    std::vector<SentPacket *> newlyAcked_; // onAckFrame's scratch list, reused across ACKs
    bool ackDeferred_ = false; // an entry in ep_.deferredAcks

    // statistics
    quint64 packetsSent_ = 0, packetsReceived_ = 0, bytesSent_ = 0, bytesReceived_ = 0;
    quint64 packetsLost_ = 0, retransmitted_ = 0, packetsDropped_ = 0;
};

} // namespace sss::core
