// Host: the local SSS endpoint. One UDP socket, one identity, the channels to every peer.
#pragma once

#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QString>
#include <chrono>
#include <memory>
#include <sss/identity.h>
#include <sss/peerid.h>

namespace sss {

class HostPrivate;
class Server;
class Stream;

// Tunables of a Host, applied at bind(). Defaults suit the Internet.
struct SSS_EXPORT HostConfig {
    quint64 initialStreamWindow = 256 * 1024; // receive window of a new stream (bytes)
    quint64 maxStreamWindow = 16 * 1024 * 1024; // auto-tuning ceiling per stream
    quint64 initialConnectionWindow = 1024 * 1024; // receive window of a channel
    quint64 maxConnectionWindow = 64 * 1024 * 1024;
    quint64 maxIncomingStreams = 4096; // concurrent streams a peer may open
    qint64 maxSendBufferPerStream = 8 * 1024 * 1024; // write() accepts no more unacknowledged bytes
    qint64 maxDatagramQueuePerStream = 1024 * 1024;
    qint64 unreliableDatagramLimit = 16 * 1024; // larger best-effort datagrams go reliably
    std::chrono::milliseconds idleTimeout {30000}; // a channel uses the smaller of this and the peer's
    std::chrono::milliseconds keepAliveInterval {10000}; // at most half the idle timeout in force
    std::chrono::milliseconds handshakeTimeout {10000};
    std::chrono::milliseconds sessionLinger {60000}; // how long streams wait for a lost channel
    QString congestionAlgorithm = QStringLiteral("cubic"); // "cubic" or "newreno"
    int maxDatagramSize = 1232; // UDP payload size we emit until path MTU discovery finds more
    // Path MTU discovery probes up to this UDP payload size (1452: 1500-byte IPv6 packets); at most
    // maxDatagramSize turns it off. Off on platforms that cannot send with "don't fragment".
    int maxProbedDatagramSize = 1452;
    bool allowNullCipher = false; // testing only: both ends must allow it
    // Handshakes per second answered at once; beyond that a client must first prove its address
    // with a cookie (one more round trip), so a spoofed flood creates no state. 0 = always.
    int cookieThreshold = 1000;
    // Largest request or reply of a transaction (Stream::sendRequest): a bigger incoming one is
    // reset and reported as failed, since it is buffered whole before delivery.
    qint64 maxTransactionSize = 16 * 1024 * 1024;
};

struct ChannelInfo;
struct StreamInfo;

class SSS_EXPORT Host : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Host)
public:
    enum class LinkStatus { Down, Connecting, Stalled, Up };
    Q_ENUM(LinkStatus)

    enum class Error { NoError, AlreadyBound, BindFailed, InvalidIdentity, NotBound };
    Q_ENUM(Error)

    explicit Host(QObject *parent = nullptr);
    ~Host() override;

    Identity identity() const;
    bool setIdentity(const Identity &identity); // only before bind(); false otherwise
    PeerId peerId() const;

    void setConfig(const HostConfig &config); // takes effect at the next bind()
    HostConfig config() const;

    bool bind(const QHostAddress &address = QHostAddress::Any, quint16 port = 0);
    bool isBound() const;
    quint16 localPort() const;
    QHostAddress localAddress() const;
    void close();

    Error error() const;
    QString errorString() const;

    LinkStatus linkStatus(const PeerId &peer) const;
    QList<ChannelInfo> channels() const;
    QList<StreamInfo> streams() const;
    void setTracingEnabled(bool enabled);
    bool isTracingEnabled() const;

Q_SIGNALS:
    void linkStatusChanged(const sss::PeerId &peer, sss::Host::LinkStatus status);
    void errorOccurred(sss::Host::Error error);
    void traceEvent(const QString &name, const QString &detail);

private:
    Q_DECLARE_PRIVATE_D(d_impl, Host)
    std::unique_ptr<HostPrivate> d_impl;
    friend class HostPrivate;
    friend class Server;
    friend class Stream;
    friend class StreamPrivate;
};

// Statistics of one channel (the secure connection to one peer).
struct SSS_EXPORT ChannelInfo {
    PeerId peerId;
    QHostAddress peerAddress;
    quint16 peerPort = 0;
    Host::LinkStatus linkStatus = Host::LinkStatus::Down;
    bool initiator = false;
    QString cipher;
    QString congestionAlgorithm;
    std::chrono::microseconds srtt {}, rttVariance {}, minRtt {};
    qint64 congestionWindow = 0, bytesInFlight = 0, slowStartThreshold = 0;
    double pacingRate = 0; // bytes per second
    quint64 packetsSent = 0, packetsReceived = 0, bytesSent = 0, bytesReceived = 0;
    quint64 packetsLost = 0, retransmittedBytes = 0, packetsDropped = 0;
    quint64 keyUpdates = 0;
    int streamCount = 0;
    int maxDatagramSize = 0; // UDP payload size in use (path MTU discovery raises it)
    quint64 mtuProbesSent = 0, mtuProbesLost = 0, mtuBlackHoles = 0; // path MTU discovery
};

// Statistics of one stream.
struct SSS_EXPORT StreamInfo {
    quint64 id = 0; // Host-local handle
    quint64 parentId = 0; // 0 for a top-level stream
    quint64 wireId = 0;
    PeerId peerId;
    int priority = 0;
    QString state;
    QString service, protocol;
    qint64 queuedBytes = 0, inFlightBytes = 0, ackedBytes = 0, receivedBytes = 0, readableBytes = 0;
    quint64 sendWindow = 0, receiveWindow = 0;
    int childCount = 0;
};

} // namespace sss

Q_DECLARE_METATYPE(sss::ChannelInfo)
Q_DECLARE_METATYPE(sss::StreamInfo)
