// The sans-IO SSS endpoint: one per Host. Owns the identity, the channels to peers (found by connection id),
// the sessions (stream state per peer, which outlives a channel), and the stateless handshake responder.
//
// Driving it (the Qt edge and the simulator do exactly this):
//   handleDatagram()/handleTimeout()/commands  ->  drain pollTransmit() until empty
//   -> arm ONE timer at nextTimeout() -> drain pollEvent() and turn events into signals.
// Nothing here reads a clock, owns a socket or calls back into the application.
#pragma once

#include "common/types.h"

#include <QString>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <variant>

namespace sss::core {

namespace crypto {
class StaticIdentity;
}

class Session;
class Channel;

// Stable per-endpoint handle of a stream; survives channel re-establishment. 0 is never a valid handle,
// and a handle is never handed out twice (one kept after its stream went names no stream).
using StreamHandle = quint64;

// Error codes shared with the public API (sss::Stream::Error mirrors these values).
enum class StreamError : quint32 {
    NoError = 0,
    ServiceNotFound = 1, // no Server listens on the requested service/protocol
    ResetByPeer = 2, // the peer reset the stream
    SubstreamRefused = 3, // the parent does not accept substreams
    ConnectFailed = 4, // no channel could be established (timeout, unreachable)
    PeerAuthenticationFailed = 5,
    ChannelLost = 6, // the channel died and could not be re-established in time
    ProtocolViolation = 7, // the peer broke the protocol (flow control, bad frame)
    StreamLimitReached = 8,
    Closed = 9, // operation on a stream that is closed/shut down
    InvalidArgument = 10,
    Cancelled = 11, // reset locally by the application
};
const char *toString(StreamError e);

enum class LinkStatus { Down, Connecting, Stalled, Up };

// CLOSE code (outside the StreamError values) meaning "this endpoint is going away": the receiver
// ends the session at once (its streams fail with ChannelLost, nothing waits for a resumption)
// instead of keeping it for sessionLinger.
constexpr quint64 kCloseEndpointShutdown = 0x100;

struct DatagramOptions {
    Instant expiry = kNever; // not sent (and a reliable one is reset) after this time
    bool reliable = false; // force the reliable path (ephemeral substream) whatever the size
};

struct EndpointConfig {
    // Flow control (bytes) and limits. Substreams start with the parent's current receive window.
    quint64 initialStreamWindow = 256 * 1024;
    quint64 maxStreamWindow = 16 * 1024 * 1024;
    quint64 initialConnectionWindow = 1024 * 1024;
    quint64 maxConnectionWindow = 64 * 1024 * 1024;
    quint64 maxIncomingStreams = 4096; // concurrent peer-opened streams per session (raised as they close)
    qint64 maxSendBufferPerStream = 8 * 1024 * 1024; // write() accepts no more than this unacked per stream
    qint64 maxDatagramQueuePerStream = 1024 * 1024; // best-effort datagrams queued; oldest dropped beyond
    qint64 maxDatagramReassembly = 8 * 1024 * 1024;
    qint64 unreliableDatagramLimit
        = 16 * 1024; // larger best-effort datagrams go as reliable ephemeral substreams
    Duration idleTimeout = 30s;
    Duration keepAliveInterval = 10s; // while streams are open
    Duration handshakeTimeout = 10s;
    Duration sessionLinger = 60s; // how long streams wait for a lost channel to come back
    Duration maxAckDelay = 25ms;
    Duration timerGranularity = 1ms; // the edge's timer resolution: pacing releases bursts this long
    quint64 rekeyAfterPackets = quint64(1) << 30;
    Duration rekeyAfterTime = std::chrono::hours(1);
    int congestionAlgorithm = 1; // 0 NewReno, 1 CUBIC
    // UDP payload we emit until path MTU discovery finds more (fits the IPv6 minimum MTU).
    int maxDatagramSize = 1232;
    // Largest UDP payload path MTU discovery probes for (1452: a 1500-byte IPv6 packet); at most
    // maxDatagramSize turns discovery off. The edge must send with "don't fragment" for it to mean
    // anything (the Qt edge turns it off where it cannot).
    int maxProbedDatagramSize = 1452;
    bool allowAesGcm = true;
    bool allowNullCipher = false; // tests and fuzzing only; both ends must allow it
    // Handshakes per second before cookies are required. A responder handshake costs a few hundred
    // microseconds of CPU, so 1000/s is a fraction of one core (WireGuard switches on its queue
    // length instead; QUIC servers typically never send Retry).
    int cookieThreshold = 1000;
    bool forceCookies = false;
    quint64 wallClockOffsetNs = 0; // wall time at Instant{} (ns since Unix epoch), for handshake timestamps
};

// Events the edge turns into signals.
struct Event {
    enum class Type {
        NewConnection, // stream: a top-level stream arrived for a listened (service, protocol)
        NewSubstream, // stream: child arrived; parent = its parent
        Connected, // stream: peer accepted our top-level stream
        Readable, // stream: bytes/messages/FIN became available
        DatagramReadable, // stream: a datagram arrived on it
        BytesAcked, // stream: `count` bytes of ours were acknowledged (QIODevice::bytesWritten)
        Error, // stream: error (reset by peer, service not found, channel lost...)
        PriorityChanged, // stream: the peer changed the priority to `value`
        LinkStatusChanged, // peer: link status `status`
        Finished, // stream: the peer finished its direction (FIN); buffered data may remain
        Closed, // stream: both directions are done; the core reclaimed its state (handle now invalid)
    };
    Event() = default;
    explicit Event(Type t) : type(t) { }
    Type type = Type::Readable;
    StreamHandle stream = 0;
    StreamHandle parent = 0;
    QByteArray peerId; // NewConnection and LinkStatusChanged only (a stream's peer: streamPeerId())
    QString service, protocol;
    StreamError error = StreamError::NoError;
    QString message;
    qint64 count = 0;
    int value = 0;
    LinkStatus status = LinkStatus::Down;
};

struct ChannelStats {
    QByteArray peerId;
    SocketAddress peerAddress;
    LinkStatus status = LinkStatus::Down;
    bool initiator = false;
    QString cipher, congestionAlgorithm;
    Duration srtt {}, rttvar {}, minRtt {};
    qint64 cwnd = 0, bytesInFlight = 0, ssthresh = 0;
    double pacingRate = 0; // bytes/s
    quint64 packetsSent = 0, packetsReceived = 0, bytesSent = 0, bytesReceived = 0;
    quint64 packetsLost = 0, retransmittedBytes = 0, packetsDropped = 0 /* failed auth/replay/malformed */;
    quint64 keyUpdates = 0;
    int streamCount = 0;
    qint64 maxDatagramSize = 0; // UDP payload size in use (path MTU discovery raises it)
    quint64 mtuProbesSent = 0, mtuProbesLost = 0, mtuBlackHoles = 0;
};

struct StreamStats {
    StreamHandle handle = 0, parent = 0;
    quint64 wireId = 0;
    QByteArray peerId;
    int priority = 0;
    QString state;
    QString service, protocol;
    qint64 queuedBytes = 0, inFlightBytes = 0, ackedBytes = 0, receivedBytes = 0, readableBytes = 0;
    quint64 sendWindow = 0, receiveWindow = 0;
    int childCount = 0;
};

// A structured trace record (qlog-like): category:name plus key=value detail.
struct TraceEvent {
    Instant time;
    QString name; // e.g. "transport:packet_sent", "recovery:metrics_updated", "security:handshake_done"
    QString detail; // compact "key=value key=value"
};

class Endpoint
{
public:
    Endpoint(const crypto::StaticIdentity &identity, const EndpointConfig &config = {});
    ~Endpoint();
    Endpoint(const Endpoint &) = delete;
    Endpoint &operator=(const Endpoint &) = delete;

    // Deterministic randomness for simulation (connection ids, session ids, ephemeral keys).
    void setRandomSource(std::function<void(uint8_t *out, size_t len)> random);

    QByteArray peerId() const; // our own PeerId (32-byte Ed25519 public key)
    const EndpointConfig &config() const;

    // ---- inputs
    void handleDatagram(Instant now, const SocketAddress &from, const char *data, qsizetype size);
    void handleDatagram(Instant now, const SocketAddress &from, const QByteArray &bytes)
    {
        handleDatagram(now, from, bytes.constData(), bytes.size());
    }
    void handleTimeout(Instant now);

    // ---- outputs
    std::optional<Transmit> pollTransmit(Instant now);
    // Same, into `out`, reusing the capacity of out.bytes when nobody else shares it (the edge keeps
    // its batch of Transmits across turns, so steady sending allocates nothing). False if nothing
    // to send (out is then left empty).
    bool pollTransmit(Instant now, Transmit &out);
    // Work that can wait until the packets of a turn are handed to the network, so that it is not
    // between a request arriving and its answer leaving: applies the ACK frames that arrived in
    // packets carrying more than acknowledgements (held back so an answer does not wait for them),
    // frees the state of streams that finished both ways since the last call (their Closed events
    // follow), and, on an endpoint that answers handshakes, computes the next response's ephemeral
    // key. Drivers call it after each send. Returns true if that left something to send (freed
    // window, detected losses): poll again. Without it, held-back ACKs are applied at the next
    // handleTimeout() (nextTimeout() is then now), finished streams are freed in batches of 256 per
    // session (an explicit release() frees at once) and responses compute their ephemeral key inline.
    bool afterTransmit();
    Instant nextTimeout() const; // kNever if nothing is scheduled
    std::optional<Event> pollEvent();
    bool pollEvent(Event &out); // same, into a reused Event; false if none
    // (A Readable queued before the application released its stream is not delivered.)
    bool hasPendingEvents() const;

    // ---- services
    bool listen(const QString &service, const QString &protocol); // false if already listened
    void unlisten(const QString &service, const QString &protocol);

    // ---- streams (every call is valid in any state; failures return 0/false/-1 and set lastError())
    StreamHandle connectStream(Instant now, const QByteArray &peerId, const SocketAddress &hint,
                               const QString &service, const QString &protocol);
    StreamHandle openSubstream(Instant now, StreamHandle parent);
    StreamHandle acceptSubstream(StreamHandle parent); // next pending child, or 0
    int pendingSubstreams(StreamHandle parent) const;
    void setAcceptSubstreams(StreamHandle stream, bool accept);
    qint64 write(Instant now, StreamHandle s, const char *data, qint64 size, bool endOfMessage = false);
    // Zero-copy: the stream keeps a reference to `data` (implicit sharing) instead of copying it.
    qint64 write(Instant now, StreamHandle s, const QByteArray &data, bool endOfMessage = false);
    // write() and, if that took all of data, shutdownWrite(): a whole message (a request, a reply)
    // and its FIN in one call. Returns what write() would (0 for empty data, which only finishes).
    qint64 writeFinal(Instant now, StreamHandle s, const QByteArray &data);
    qint64 read(StreamHandle s, char *data, qint64 maxSize);
    // Up to maxSize bytes as a slice of the received packet when they lie in one (no copy; the
    // slice keeps that receive buffer alive while it is held), else a copy.
    QByteArray read(StreamHandle s, qint64 maxSize);
    // Everything available, if that is at most maxSize bytes (else nothing is read), and whether
    // the stream is then atEnd(). Returns bytesAvailable() as it was before the read. One handle
    // lookup for what a whole-message reader (a transaction) would ask with three calls.
    qint64 readAll(StreamHandle s, qint64 maxSize, QByteArray &out, bool &atEnd);
    qint64 peek(StreamHandle s, char *data, qint64 maxSize) const;
    qint64 bytesAvailable(StreamHandle s) const;
    qint64 bytesToWrite(StreamHandle s) const;
    qint64 writeCapacity(StreamHandle s) const; // how much write() accepts now
    QByteArray readMessage(StreamHandle s);
    bool hasPendingMessages(StreamHandle s) const;
    qint64 pendingMessageSize(StreamHandle s) const;
    bool atEnd(StreamHandle s) const; // FIN received and all read
    bool writeDatagram(Instant now, StreamHandle s, const QByteArray &data, const DatagramOptions &opts = {});
    std::optional<QByteArray> readDatagram(StreamHandle s);
    bool hasPendingDatagrams(StreamHandle s) const;
    qint64 pendingDatagramSize(StreamHandle s) const;
    bool setPriority(Instant now, StreamHandle s, int priority);
    int priority(StreamHandle s) const;
    bool shutdownWrite(Instant now, StreamHandle s); // FIN after queued data
    bool shutdownRead(Instant now, StreamHandle s); // discard incoming; asks peer to stop
    bool reset(Instant now, StreamHandle s, StreamError code = StreamError::Cancelled);
    // The app dropped its handle: close gracefully in the background. Returns true if that left the
    // stream's session with frames to send (the caller should flush), false if there is nothing new.
    bool release(Instant now, StreamHandle s);
    bool isValid(StreamHandle s) const;
    // Valid and still the application's: not release()d (nor reclaimed).
    bool isHeld(StreamHandle s) const;
    QByteArray streamPeerId(StreamHandle s) const;
    StreamError streamError(StreamHandle s) const;
    LinkStatus linkStatus(const QByteArray &peerId) const;

    StreamError lastError() const;
    QString lastErrorString() const;

    // ---- observability
    QList<ChannelStats> channelStats() const;
    QList<StreamStats> streamStats(const QByteArray &peerId = {}) const;
    std::optional<StreamStats> streamStats(StreamHandle s) const;
    void setTraceEnabled(bool on);
    std::optional<TraceEvent> pollTrace();
    quint64 handshakeStateCount() const; // per-handshake state held (for DoS tests)
    quint64 sessionCount() const;
    // Diagnostic: how many times the endpoint has asked a channel or session for a transmit or a
    // timer deadline. It grows with what the drives touched, not with the number of channels held
    // (a host with 10,000 idle channels pays nothing per packet for them); tests check that.
    quint64 schedulingVisits() const;

    // The application is closing the endpoint: every established channel queues one CLOSE
    // (kCloseEndpointShutdown), which the next pollTransmit() calls send. Best effort, like QUIC's
    // immediate close: peers that miss it find out by idle timeout.
    void shutdown(Instant now);

    // ---- test hooks
    void closeAllChannels(Instant now); // graceful CLOSE of every channel (streams then re-attach)
    void dropChannels(); // forget channels silently (simulates state loss / outage)

    struct Private;

private:
    std::unique_ptr<Private> d;
};

} // namespace sss::core
