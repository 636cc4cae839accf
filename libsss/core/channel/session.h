// A session: the stream state shared by two hosts. It outlives any one channel (crypto + packet numbers),
// so streams survive address changes and channel re-establishment: when a channel dies, everything it had
// in flight is handed back here as lost and resent on the next channel.
#pragma once

#include "channel/endpoint.h"
#include "common/idtable.h"
#include "common/sparenode.h"
#include "streams/datagrams.h"
#include "streams/flowcontrol.h"
#include "streams/recvbuffer.h"
#include "streams/scheduler.h"
#include "streams/sendbuffer.h"
#include "wire/frames.h"

#include <QVarLengthArray>
#include <deque>
#include <memory>
#include <set>
#include <unordered_map>

namespace sss::core {

class Channel;
struct EndpointShared;

// The endpoint's scheduling bookkeeping for a channel or session (Endpoint::Private): which timer
// deadline it is filed under, and whether it waits in the ready or recompute lists. Per object, so
// a drive costs what it touched, not the number of channels.
struct ScheduleSlot {
    Instant filed = kNever; // the deadline it is filed under (kNever: not filed)
    quint64 tie = 0; // orders equal deadlines deterministically (channels: cid; sessions: creation)
    bool dirty = false; // its deadline is to be recomputed
    bool ready = false; // channels: in the ready list (may have something to send)
};

// What a sent packet carried that needs action when it is acknowledged or lost.
struct SentFrame {
    enum Kind : quint8 {
        StreamData, // stream, offset, length, flags (fin, open)
        ResetStream, // stream
        StopSending, // stream
        MaxStreamData, // stream
        MaxData,
        MaxStreams,
        Priority, // stream, offset = version
        Accept, // stream
        EndUnseen, // stream: RESET_STREAM(0, 0) answering the reset of a peer stream never seen open
    };
    Kind kind;
    quint8 flags = 0; // kFin / kOpen for StreamData
    quint32 length = 0;
    quint64 stream = 0;
    quint64 offset = 0;
    static constexpr quint8 kFin = 1, kOpen = 2;
};
using SentFrames = QVarLengthArray<SentFrame, 3>;

struct TransportParams {
    QByteArray sessionId; // 16 bytes, chosen by the session initiator
    bool resume = false; // initiator: please re-attach; responder: re-attached
    quint64 initialMaxData = 0;
    quint64 initialMaxStreamData = 0;
    quint64 initialMaxStreams = 0;
    quint64 idleTimeoutMs = 0;
    quint64 maxDatagramSize = 0;
    QByteArray encode() const;
    static std::optional<TransportParams> decode(const QByteArray &b);
};

struct OutDatagram {
    QByteArray data;
    quint64 id = 0;
    qsizetype sent = 0; // bytes of it already fragmented into packets
    Instant expiry = kNever;
};

struct StreamState;
// A stream's place in its session's scheduler (linked while it may have something to send).
struct StreamNode : PriorityScheduler::Node {
    StreamState *stream = nullptr; // set by Session::initStream
};

struct StreamState {
    // (Members are grouped by size, flags last, so that padding does not grow the memory per idle
    // stream; sss-bench-scale reports it.)
    StreamHandle handle = 0;
    quint64 wireId = 0;
    StreamHandle parent = 0; // 0 for top-level
    quint64 parentWireId = 0;
    QString service, protocol;
    quint64 priorityVersion = 0;
    StreamNode sched; // removed from the scheduler before the state is recycled or freed

    // send direction
    SendBuffer send;
    SendCredit credit {0};
    quint64 resetCode = 0;
    quint64 creditedSent = 0; // highest offset counted against the peer's connection window
    QByteArray datagramBuf; // datagram carriers: content accumulated as it arrives
    quint64 ackedTotal = 0;

    // receive direction
    RecvBuffer recv;
    ReceiveWindow window {0, 0};
    quint64 stopCode = 0;
    quint64 creditedReceive = 0; // highest offset counted against the connection window
    quint64 creditedConsumed = 0; // bytes of this stream counted as consumed at connection level

    // application side
    QList<StreamHandle> pendingChildren;
    QList<QByteArray> inDatagrams;
    QList<OutDatagram> outDatagrams; // QList: no allocation while empty (memory per idle stream)
    qint64 outDatagramBytes = 0;
    Instant expiry = kNever; // ephemeral datagram carriers: reset if not delivered by then
    int priority = 0;
    int childCount = 0;
    StreamError error = StreamError::NoError;
    wire::StreamKind kind = wire::StreamKind::Stream;

    bool local = false; // opened by us
    bool topLevel = false;
    bool priorityQueued = false;
    // send direction
    bool openAcked = false; // the peer has acknowledged a frame carrying our open information
    bool openSent = false;
    bool blockedByStreamLimit = false;
    bool resetQueued = false, resetSent = false, resetAcked = false;
    bool sendShut = false; // shutdownWrite or reset done by the app
    // receive direction
    bool maxStreamDataQueued = false;
    bool stopQueued = false, stopSent = false;
    bool discarding = false; // shutdownRead / released: incoming data is thrown away
    bool resetReceived = false;
    bool finReported = false;
    // application side
    bool released = false;
    bool acceptSubstreams = true;
    bool connected = false; // client: ACCEPT received
    bool readableEventQueued = false;
    bool datagramEventQueued = false;
    bool reclaimQueued = false; // in Session::reclaimQueue_

    bool sendDone() const
    {
        // A cleared (reset) send buffer reports everything acked: only the reset's own ack counts then.
        return resetAcked || (!resetQueued && send.isFinished() && send.allAcked() && (openAcked || !local));
    }
    bool readAtEnd() const { return recv.atEnd() || resetReceived; } // what the application sees
    bool recvDone() const { return readAtEnd() || (discarding && recv.finReceived()); }
    // Back to a new stream's state for reuse, dropping the data it still references (slices pin
    // receive slabs) but keeping the send and receive lists' storage.
    void recycle()
    {
        SendBuffer keptSend = std::move(send);
        RecvBuffer keptRecv = std::move(recv);
        keptSend.recycle();
        keptRecv.recycle();
        *this = StreamState();
        send = std::move(keptSend);
        recv = std::move(keptRecv);
    }
};

class Session
{
public:
    Session(EndpointShared &ep, const QByteArray &peerId, const QByteArray &sessionId, bool initiator);
    ~Session();

    const QByteArray &peerId() const { return peerId_; }
    const QByteArray &sessionId() const { return sessionId_; }
    bool isInitiator() const { return initiator_; }

    void setPeerParams(const TransportParams &p);
    TransportParams localParams(bool resume) const;

    // The channel this session currently rides on (may be null while (re)connecting).
    Channel *channel() const { return channel_; }
    void attachChannel(Channel *c);
    // The channel died: everything it had in flight comes back as lost.
    void detachChannel();
    SocketAddress lastPeerAddress;
    Channel *handshaking = nullptr; // initiator: the channel whose handshake is in progress
    bool everConnected = false;
    LinkStatus reportedStatus = LinkStatus::Down;
    Instant channelLostAt = kNever;
    Instant nextReconnect = kNever;
    int reconnectAttempts = 0;
    ScheduleSlot sched; // owned by the endpoint
    // The channels whose session() is this one (the current one, one handshaking, ones it
    // replaced; kept by Channel): ending the session visits these, not every channel of the host.
    std::vector<Channel *> referencingChannels;

    // ---- packet assembly (called by the channel) and acknowledgement feedback
    bool hasPendingFrames() const // (inline: asked after every packet sent)
    {
        return !control_.empty() || maxDataQueued_ || maxStreamsQueued_ || !scheduler_.isEmpty();
    }
    // Writes control frames then stream data by priority into w while at most `space` bytes are used.
    void fill(Instant now, Writer &w, qsizetype space, SentFrames &records, bool &ackEliciting);
    void onFramesAcked(const SentFrames &frames);
    // Ends one ACK frame's feedback: applies the acked runs and reports the BytesAcked progress
    // onFramesAcked deferred.
    void onAckDone()
    {
        flushAckedRuns();
        flushBytesAcked();
    }
    void onFramesLost(const SentFrames &frames);
    // Applies one validated frame from the peer. Returns false on a protocol violation.
    bool handleFrame(Instant now, const wire::Frame &f);

    // ---- application commands
    StreamHandle openTopLevel(Instant now, const QString &service, const QString &protocol);
    StreamHandle openSubstream(Instant now, StreamState &parent,
                               wire::StreamKind kind = wire::StreamKind::Stream);
    qint64 write(Instant now, StreamState &s, const char *data, qint64 size, bool eom);
    // The same without a copy: the send buffer shares `data` (or a slice of it).
    qint64 write(Instant now, StreamState &s, const QByteArray &data, bool eom);
    qint64 read(Instant now, StreamState &s, char *data, qint64 maxSize);
    QByteArray read(Instant now, StreamState &s, qint64 maxSize);
    QByteArray readMessage(Instant now, StreamState &s);
    bool writeDatagram(Instant now, StreamState &s, const QByteArray &data, const DatagramOptions &o);
    void setPriority(StreamState &s, int priority);
    void shutdownWrite(StreamState &s);
    void shutdownRead(StreamState &s);
    void reset(StreamState &s, StreamError code, bool notifyApp);
    void release(StreamState &s);
    void failAll(StreamError code, const QString &message); // every stream errors out (session is going away)
    void handleTimeout(Instant now);
    Instant nextTimeout() const;

    StreamState *stream(quint64 wireId);
    // The decrypted packet whose frames are being applied ([data, data + size) inside `slab`), so
    // stream data can be kept as slices of the slab. (No per-packet view of it: most packets carry
    // no segment large enough to be kept as a slice.)
    void setCurrentPacket(const QByteArray *slab, const char *data, qsizetype size)
    {
        currentSlab_ = slab;
        currentPacket_ = data;
        currentPacketEnd_ = data + size;
    }
    int streamCount() const { return int(streams_.size()); }
    size_t streamTableMaxProbe() const { return streams_.maxProbe(); } // (tests)
    template<class Fn> void forEachStream(Fn &&fn) const
    {
        streams_.forEach([&](quint64, const std::unique_ptr<StreamState> &s) { fn(*s); });
    }
    quint64 sendCreditLimit() const { return connCredit_.limit(); }
    quint64 receiveLimit() const { return connWindow_.limit(); }
    bool hasOpenStreams() const { return !streams_.empty(); }
    quint64 peerIdleTimeoutMs() const { return peer_.idleTimeoutMs; } // 0: not known or none
    // Largest UDP payload the peer accepts (transport parameter 7); 0 until its parameters arrive.
    quint64 peerMaxDatagramSize() const { return peer_.maxDatagramSize; }
    // Queues a stream whose life is over (both directions done) for reclaiming. The reclaim itself
    // waits for sweepReclaims(), which Endpoint::afterTransmit() calls once the turn's packets are
    // sent: freeing the state is then not on the path between a request and its answer.
    void maybeReclaim(StreamState &s);
    void sweepReclaims();

private:
    template<typename Chunk> qint64 queueWrite(StreamState &s, qint64 size, bool eom, Chunk &&chunk);
    friend class Channel;
    StreamState &createStream(quint64 wireId, bool local);
    void initStream(StreamState &s, quint64 wireId, bool local);
    void activate(StreamState &s);
    bool hasSendable(const StreamState &s) const;
    quint64 connAvailable() const // (inline: asked two or three times per packet filled)
    {
        return connCredit_.limit() > connSent_ ? connCredit_.limit() - connSent_ : 0;
    }
    void queueControl(SentFrame::Kind k, quint64 stream);
    bool writeControl(Writer &w, qsizetype space, SentFrames &records, const SentFrame &c);
    bool handleStreamFrame(Instant now, const wire::StreamFrame &f);
    StreamState *incomingStream(Instant now, quint64 id, const wire::OpenInfo *open, bool &violation);
    void deliverReliableDatagram(StreamState &carrier);
    void adoptChild(StreamState &parent, StreamState &child);
    void afterRead(Instant now, StreamState &s);
    void afterConsume(Instant now, StreamState &s, qint64 n); // after read()/readMessage()
    void consumeConnection(Instant now, qint64 n);
    // Input that will never be read (reset, stop-sending): count it received and consumed so the
    // connection-level window does not shrink for good.
    void discardInput(StreamState &s, quint64 upTo);
    bool endUnseenPeerStream(quint64 id, quint64 finalSize);
    // A frame naming a peer stream beyond the credit we gave (a correct peer sends none): ignored, traced.
    bool beyondStreamLimit(quint64 id) const { return !isLocalId(id) && (id >> 1) >= localMaxStreams_; }
    void traceBeyondStreamLimit(Instant now, wire::FrameType type, quint64 id);
    void peerStreamEnded(); // a peer stream is gone: its stream credit comes back (MAX_STREAMS)
    void noteReadable(StreamState &s);
    void noteBytesAcked(StreamState &s);
    void flushBytesAcked();
    void flushAckedRuns();
    void applyStreamAck(StreamState &s, quint64 offset, quint64 length, bool fin); // one acked range
    void emitStreamEvent(Event::Type t, StreamState &s, StreamError e = StreamError::NoError,
                         const QString &msg = {});
    void queueStreamEvent(Event::Type t, StreamState &s); // Readable or Finished: folded if it can be
    void reclaim(StreamState &s);
    quint64 localSide() const { return initiator_ ? 0 : 1; }
    bool isLocalId(quint64 id) const { return (id & 1) == localSide(); }

    EndpointShared &ep_;
    const QByteArray *currentSlab_ = nullptr;
    const char *currentPacket_ = nullptr, *currentPacketEnd_ = nullptr;
    QByteArray peerId_, sessionId_;
    bool initiator_;
    Channel *channel_ = nullptr;
    TransportParams peer_;

    // By wire id (never 0). The StreamStates stay put while the table's entries move. A small
    // first table: an idle session holds none or a few streams (memory per idle channel). Keyed
    // with a random key of this session's: the peer picks which ids it opens.
    IdTable<std::unique_ptr<StreamState>, 4, true> streams_;
    std::unique_ptr<StreamState> spareStream_; // kept by reclaim() for the next stream
    quint64 lastStreamId_ = 0; // stream()'s one-entry cache (0 = empty); reset when a stream goes
    StreamState *lastStream_ = nullptr;
    PriorityScheduler scheduler_;
    std::deque<SentFrame> control_;
    // Control frames for our streams still waiting for stream credit: nothing may name an id beyond
    // the peer's limit (it would ignore the frame), so they wait with the stream (setPeerParams).
    std::vector<SentFrame> heldControl_;
    quint64 bytesAckedPending_ = 0; // wire id whose BytesAcked waits for onAckDone(), 0 = none
    // Acked data frames of one stream that continue each other (consecutive packets of a bulk
    // transfer), applied to the send buffer as one range per ACK frame: ackedRun_.stream 0 = none.
    // Streams sent side by side take turns packet by packet, so the runs of the others wait in
    // otherRuns_ (at most kMaxAckedRuns in all) instead of being applied, and their BytesAcked
    // reported, once per packet. ackedRun_ is the one the last frame extended.
    struct AckedRun {
        quint64 stream = 0, start = 0, end = 0;
    } ackedRun_;
    std::vector<AckedRun> otherRuns_;
    static constexpr size_t kMaxAckedRuns = 64;
    quint64 nextLocalSeq_ = 1;
    quint64 peerMaxStreams_ = 0; // we may open seqs < this
    quint64 localMaxStreams_ = 0; // the peer may open seqs < this (advertised)
    quint64 reclaimedPeerStreams_ = 0;
    quint64 liveIncoming_ = 0; // peer-opened streams not yet reclaimed
    bool maxStreamsQueued_ = false;
    std::vector<quint64> reclaimQueue_; // wire ids, see maybeReclaim()
    std::set<std::pair<Instant, quint64>> expiring_; // datagram carriers with a deadline
    std::unordered_multimap<quint64, quint64> orphans_; // parent wire id -> children that arrived first
    RangeSet peerSeqsSeen_; // every peer stream seq ever seen (closed ones are absent from streams_)
    std::deque<quint64> blockedOpens_; // local wire ids waiting for MAX_STREAMS credit
    SendCredit connCredit_ {0};
    quint64 connSent_ = 0; // new stream bytes sent (connection flow control)
    ReceiveWindow connWindow_ {0, 0};
    quint64 connReceived_ = 0; // sum of highest offsets received over streams
    quint64 connConsumed_ = 0;
    bool maxDataQueued_ = false;
    quint64 priorityClock_ = 0;
    quint64 nextDatagramId_ = 1;
    DatagramReassembler reassembler_;
};

} // namespace sss::core
