// Stream: one reliable, ordered, flow-controlled byte stream (with optional message boundaries,
// datagrams and substreams) to a peer, as a QIODevice.
#pragma once

#include <QByteArray>
#include <QDeadlineTimer>
#include <QHostAddress>
#include <QIODevice>
#include <QString>
#include <memory>
#include <sss/host.h>
#include <sss/peerid.h>

namespace sss {

class StreamPrivate;

// How a datagram is sent.
struct SSS_EXPORT DatagramOptions {
    // Not sent after this deadline (a stale datagram is dropped rather than delivered late).
    QDeadlineTimer expiry {QDeadlineTimer::Forever};
    // Deliver reliably (retransmitted until acknowledged or expired), whatever the size.
    bool reliable = false;

    static DatagramOptions expiringIn(qint64 msecs)
    {
        DatagramOptions o;
        o.expiry = QDeadlineTimer(msecs);
        return o;
    }
};

class SSS_EXPORT Stream : public QIODevice
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Stream)
    Q_PROPERTY(int priority READ priority WRITE setPriority NOTIFY priorityChanged)
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
public:
    enum class State {
        Unconnected, // not attached to a stream yet
        Connecting, // connectTo() called, waiting for the peer to accept
        Connected, // both directions open (a substream is Connected at once)
        Closing, // one direction finished (shutdown() or the peer's end of data)
        Closed // both directions done, reset, failed, or close()d
    };
    Q_ENUM(State)

    // The values 0..11 are those of the protocol core (sss::core::StreamError).
    enum class Error {
        NoError = 0,
        ServiceNotFound = 1,
        ResetByPeer = 2,
        SubstreamRefused = 3,
        ConnectFailed = 4,
        PeerAuthenticationFailed = 5,
        ChannelLost = 6,
        ProtocolViolation = 7,
        StreamLimitReached = 8,
        Closed = 9,
        InvalidArgument = 10,
        Cancelled = 11,
        InvalidOperation = 100, // e.g. connectTo() twice, openSubstream() on an unattached stream
        HostNotBound = 101,
        HostDestroyed = 102,
    };
    Q_ENUM(Error)

    enum class ShutdownMode { Read, Write, ReadWrite };
    Q_ENUM(ShutdownMode)
    // AcceptRequests: the peer's substreams are transactions (requestReceived), not Streams.
    enum class ListenMode { AcceptSubstreams, RefuseSubstreams, AcceptRequests };
    Q_ENUM(ListenMode)

    explicit Stream(Host *host, QObject *parent = nullptr);
    ~Stream() override;

    // Opens a top-level stream to `peer`'s `service`. The stream is open for writing at once; data
    // is sent when the channel is up. `address`/`port` locate the peer.
    bool connectTo(const PeerId &peer, const QString &service, const QString &protocol,
                   const QHostAddress &address, quint16 port);

    Host *host() const;
    PeerId peerId() const;
    State state() const;
    Error error() const;

    // QIODevice::write() copies; this overload shares `data` with the send buffer instead (implicit
    // sharing: the caller may keep using or modifying its copy).
    using QIODevice::write;
    qint64 write(const QByteArray &data);
    // QIODevice::read() copies; this overload returns bytes that lie in one received packet without
    // a copy (the array shares, and so keeps alive, the buffer they were received into).
    using QIODevice::read;
    QByteArray read(qint64 maxSize);

    // Messages: bytes with record boundaries on the same stream.
    qint64 writeMessage(const QByteArray &message);
    QByteArray readMessage();
    bool hasPendingMessages() const;
    qint64 pendingMessageSize() const; // -1 if none

    // Substreams.
    Stream *openSubstream();
    void listen(ListenMode mode = ListenMode::AcceptSubstreams);
    bool hasPendingSubstreams() const;
    Stream *acceptSubstream();

    // Transactions: a request and its reply, each delivered whole, on a fresh substream of this
    // stream, without a Stream object per transaction. The id is unique for the Host's lifetime;
    // 0 means the request could not be sent (see error()).
    quint64 sendRequest(const QByteArray &request);
    bool sendReply(quint64 requestId, const QByteArray &reply);
    bool cancelRequest(quint64 requestId);

    // Datagrams of any size, delivered whole or not at all.
    bool writeDatagram(const QByteArray &datagram, const DatagramOptions &options = {});
    QByteArray readDatagram();
    bool hasPendingDatagrams() const;
    qint64 pendingDatagramSize() const; // -1 if none

    // Higher values are served first.
    void setPriority(int priority);
    int priority() const;

    bool shutdown(ShutdownMode mode = ShutdownMode::Write);
    // Aborts the stream (this is not a seek: a stream is sequential). Returns false if there was nothing to
    // reset.
    bool reset() override;

    bool waitForConnected(int msecs = 30000);
    bool waitForReadyRead(int msecs = 30000) override;
    bool waitForBytesWritten(int msecs = 30000) override;

    // QIODevice
    bool isSequential() const override;
    qint64 bytesAvailable() const override;
    qint64 bytesToWrite() const override;
    bool atEnd() const override;
    bool canReadLine() const override;
    void close() override;

Q_SIGNALS:
    void connected();
    void disconnected();
    void stateChanged(sss::Stream::State state);
    void errorOccurred(sss::Stream::Error error);
    void readyReadMessage();
    void readyReadDatagram();
    void newSubstream();
    void requestReceived(quint64 requestId, const QByteArray &request);
    void replyReceived(quint64 requestId, const QByteArray &reply);
    void requestFailed(quint64 requestId, sss::Stream::Error error);
    void priorityChanged(int priority);
    void linkStatusChanged(sss::Host::LinkStatus status);

protected:
    qint64 readData(char *data, qint64 maxSize) override;
    qint64 writeData(const char *data, qint64 size) override;

private:
    Q_DECLARE_PRIVATE_D(d_impl, Stream)
    std::unique_ptr<StreamPrivate> d_impl;
    friend class HostPrivate;
};

} // namespace sss
