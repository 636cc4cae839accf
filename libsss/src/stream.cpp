#include "stream_p.h"

#include <QEventLoop>
#include <QTimer>
#include <limits>

namespace sss {

QString errorText(Stream::Error e)
{
    switch (e) {
    case Stream::Error::NoError:
        return QStringLiteral("No error");
    case Stream::Error::ServiceNotFound:
        return QStringLiteral("The peer does not offer this service and protocol");
    case Stream::Error::ResetByPeer:
        return QStringLiteral("The stream was reset by the peer");
    case Stream::Error::SubstreamRefused:
        return QStringLiteral("The peer does not accept substreams on this stream");
    case Stream::Error::ConnectFailed:
        return QStringLiteral("No secure channel to the peer could be established");
    case Stream::Error::PeerAuthenticationFailed:
        return QStringLiteral("The peer could not be authenticated");
    case Stream::Error::ChannelLost:
        return QStringLiteral("The channel to the peer was lost");
    case Stream::Error::ProtocolViolation:
        return QStringLiteral("The peer violated the protocol");
    case Stream::Error::StreamLimitReached:
        return QStringLiteral("Too many streams are open to this peer");
    case Stream::Error::Closed:
        return QStringLiteral("The stream is closed");
    case Stream::Error::InvalidArgument:
        return QStringLiteral("Invalid argument");
    case Stream::Error::Cancelled:
        return QStringLiteral("The stream was reset locally");
    case Stream::Error::InvalidOperation:
        return QStringLiteral("Invalid operation in the stream's current state");
    case Stream::Error::HostNotBound:
        return QStringLiteral("The host is not bound");
    case Stream::Error::HostDestroyed:
        return QStringLiteral("The host was destroyed");
    }
    return QStringLiteral("Unknown error");
}

// ---------------------------------------------------------------- StreamPrivate

void StreamPrivate::attach(core::StreamHandle h, Stream::State initial, const PeerId *knownPeer)
{
    Q_Q(Stream);
    handle = h;
    everAttached = true;
    HostPrivate *hp = hostPrivate();
    hp->registerStream(h, q);
    core::Endpoint *ep = hp->endpoint();
    peer = knownPeer ? *knownPeer : hp->peerIdFor(ep->streamPeerId(h));
    priority = ep->priority(h);
    q->QIODevice::open(QIODevice::ReadWrite | QIODevice::Unbuffered);
    state = initial; // a fresh attach is not a transition anyone could have observed
}

StreamGuard::StreamGuard(Stream *s) : s_(s)
{
    if (s_) {
        StreamPrivate *d = StreamPrivate::get(s_);
        next_ = d->guards;
        d->guards = this;
    }
}

StreamGuard::~StreamGuard()
{
    if (!s_)
        return; // the stream is gone and has forgotten its guards
    for (StreamGuard **g = &StreamPrivate::get(s_)->guards; *g; g = &(*g)->next_) {
        if (*g == this) {
            *g = next_;
            break;
        }
    }
}

void StreamPrivate::detach()
{
    Q_Q(Stream);
    if (handle)
        if (HostPrivate *hp = hostPrivate())
            hp->unregisterStream(handle, q);
    handle = 0;
}

void StreamPrivate::setState(Stream::State s)
{
    Q_Q(Stream);
    if (state == s)
        return;
    const Stream::State old = state;
    state = s;
    StreamGuard guard(q);
    emit q->stateChanged(s);
    if (guard && s == Stream::State::Closed
        && (old == Stream::State::Connected || old == Stream::State::Closing))
        emit q->disconnected();
}

void StreamPrivate::setError(Stream::Error e, const QString &text)
{
    Q_Q(Stream);
    error = e;
    q->setErrorString(text);
    emit q->errorOccurred(e);
}

core::Endpoint *StreamPrivate::unusable(const char *operation)
{
    Q_UNUSED(operation);
    if (!host) {
        if (everAttached || state != Stream::State::Unconnected || error == Stream::Error::HostDestroyed)
            setError(Stream::Error::HostDestroyed, errorText(Stream::Error::HostDestroyed));
        else
            setError(Stream::Error::HostDestroyed, QStringLiteral("The stream has no host"));
        return nullptr;
    }
    core::Endpoint *ep = endpoint();
    if (!ep) {
        setError(Stream::Error::HostNotBound, errorText(Stream::Error::HostNotBound));
        return nullptr;
    }
    if (!handle) {
        if (everAttached)
            setError(Stream::Error::Closed, errorText(Stream::Error::Closed));
        else
            setError(Stream::Error::InvalidOperation, QStringLiteral("The stream is not connected"));
        return nullptr;
    }
    return ep;
}

void StreamPrivate::failFromCore(const char *operation)
{
    Q_UNUSED(operation);
    core::Endpoint *ep = endpoint();
    const core::StreamError e = ep ? ep->lastError() : core::StreamError::Closed;
    const Stream::Error pe
        = e == core::StreamError::NoError ? Stream::Error::Closed : static_cast<Stream::Error>(e);
    const QString text = ep ? ep->lastErrorString() : QString();
    setError(pe, text.isEmpty() ? errorText(pe) : text);
}

void StreamPrivate::updateClosedState()
{
    if (state == Stream::State::Closed)
        return;
    if (writeShut && peerFinished)
        setState(Stream::State::Closed);
    else if (writeShut || peerFinished)
        setState(Stream::State::Closing);
}

void StreamPrivate::hostGone(Stream::Error e, const QString &text, bool emitSignals)
{
    Q_Q(Stream);
    handle = 0;
    if (!emitSignals) {
        // Called from the Host's destructor: no signals, slots could touch the dying Host.
        error = e;
        q->setErrorString(text);
        state = Stream::State::Closed;
        return;
    }
    StreamGuard guard(q);
    if (state != Stream::State::Closed) {
        setError(e, text);
        if (guard)
            setState(Stream::State::Closed);
    }
}

// ---------------------------------------------------------------- Stream

/*!
    \class sss::Stream
    \brief A reliable, ordered byte stream to a peer, with message boundaries, datagrams and
    substreams, as a QIODevice.

    A Stream is either created by the application and connected with connectTo(), obtained from
    Server::nextPendingConnection(), or created with openSubstream()/acceptSubstream(). It is
    opened ReadWrite|Unbuffered at once: data written before the peer accepted is sent as soon as
    the channel is up.

    Deleting a Stream closes it gracefully in the background: queued data is still delivered.
    Misuse (writing after shutdown(), reading a closed stream, connectTo() twice...) sets error()
    and returns -1/false/nullptr.
*/

Stream::Stream(Host *host, QObject *parent)
    : QIODevice(parent), d_impl(std::make_unique<StreamPrivate>(this, host))
{ }

/*! Destroys the stream; an open stream is closed gracefully in the background. */
Stream::~Stream()
{
    Q_D(Stream);
    for (StreamGuard *g = d->guards; g; g = g->next_)
        g->s_ = nullptr;
    d->guards = nullptr;
    if (d->transactions > 0) // nobody is left to report them to
        if (HostPrivate *hp = d->hostPrivate())
            hp->dropTransactions(this);
    if (d->handle) {
        if (HostPrivate *hp = d->hostPrivate(); hp && hp->endpoint()) {
            hp->unregisterStream(d->handle, this);
            // A stream finished both ways leaves nothing to send: no flush, so deleting it costs no
            // event-loop wake-up (request/response servers delete one stream per request).
            if (hp->endpoint()->release(hp->now(), d->handle))
                hp->requestFlush();
        }
        d->handle = 0;
    }
}

/*!
    Opens a top-level stream to \a peer's \a service speaking \a protocol, reaching the peer at
    \a address:\a port. Returns true if the stream was created: it is then open for writing at
    once and state() is Connecting until connected() (or errorOccurred(), e.g. ServiceNotFound).
*/
bool Stream::connectTo(const PeerId &peer, const QString &service, const QString &protocol,
                       const QHostAddress &address, quint16 port)
{
    Q_D(Stream);
    if (d->everAttached || d->state != State::Unconnected) {
        d->setError(Error::InvalidOperation, QStringLiteral("connectTo() was already called on this stream"));
        return false;
    }
    if (!d->host) {
        d->setError(Error::HostDestroyed, errorText(Error::HostDestroyed));
        return false;
    }
    core::Endpoint *ep = d->endpoint();
    if (!ep) {
        d->setError(Error::HostNotBound, errorText(Error::HostNotBound));
        return false;
    }
    if (peer.isNull() || address.isNull() || port == 0 || service.isEmpty()) {
        d->setError(Error::InvalidArgument,
                    peer.isNull() ? QStringLiteral("Invalid PeerId")
                                  : (service.isEmpty() ? QStringLiteral("Empty service name")
                                                       : QStringLiteral("Invalid peer address")));
        return false;
    }
    HostPrivate *hp = d->hostPrivate();
    const core::StreamHandle h
        = ep->connectStream(hp->now(), peer.bytes(), core::SocketAddress {address, port}, service, protocol);
    if (!h) {
        d->failFromCore("connectTo");
        return false;
    }
    const int wantedPriority = d->priority;
    d->attach(h, State::Unconnected);
    if (wantedPriority != 0)
        ep->setPriority(hp->now(), h, wantedPriority);
    d->priority = ep->priority(h);
    d->setState(State::Connecting);
    hp->requestFlush();
    return true;
}

/*! Returns the Host (nullptr once it was destroyed). */
Host *Stream::host() const
{
    return d_func()->host.data();
}

/*! Returns the remote peer's id (null before connectTo()). */
PeerId Stream::peerId() const
{
    return d_func()->peer;
}

Stream::State Stream::state() const
{
    return d_func()->state;
}

Stream::Error Stream::error() const
{
    return d_func()->error;
}

/*! Returns false: a stream is sequential. */
bool Stream::isSequential() const
{
    return true;
}

/*! Returns the bytes readable now (including bytes kept by a QIODevice transaction). */
qint64 Stream::bytesAvailable() const
{
    Q_D(const Stream);
    qint64 n = QIODevice::bytesAvailable();
    if (d->handle)
        if (core::Endpoint *ep = d->endpoint())
            n += std::max<qint64>(0, ep->bytesAvailable(d->handle));
    return n;
}

/*! Returns the bytes written but not yet acknowledged by the peer. */
qint64 Stream::bytesToWrite() const
{
    Q_D(const Stream);
    if (d->handle)
        if (core::Endpoint *ep = d->endpoint())
            return std::max<qint64>(0, ep->bytesToWrite(d->handle));
    return 0;
}

/*!
    Returns true when nothing can be read now (like QAbstractSocket). The peer's end of data is
    signalled by readChannelFinished().
*/
bool Stream::atEnd() const
{
    return bytesAvailable() == 0;
}

/*!
    Closes the device and releases the stream: queued data is still delivered in the background,
    incoming data is discarded. state() becomes Closed.
*/
void Stream::close()
{
    Q_D(Stream);
    if (isOpen())
        QIODevice::close();
    if (d->handle) {
        HostPrivate *hp = d->hostPrivate();
        const core::StreamHandle h = d->handle;
        d->detach();
        if (hp && hp->endpoint()) {
            hp->endpoint()->release(hp->now(), h);
            hp->requestFlush();
        }
    }
    d->setState(State::Closed);
}

qint64 Stream::readData(char *data, qint64 maxSize)
{
    Q_D(Stream);
    if (!d->handle && d->state == State::Closed && d->error == Error::NoError && d->peerFinished)
        return -1; // ended normally and reclaimed: plain end of data
    core::Endpoint *ep = d->usable("read");
    if (!ep)
        return -1;
    const qint64 n = ep->read(d->handle, data, maxSize);
    if (n < 0 && !ep->isValid(d->handle))
        return -1; // reclaimed by the core: end of data (its Finished/Error/Closed events are on their way)
    if (n < 0) {
        d->failFromCore("read");
        return -1;
    }
    if (n > 0)
        d->hostPrivate()->requestFlush(); // window updates
    else if (ep->atEnd(d->handle))
        return -1;
    return n;
}

/*!
    Reads at most \a maxSize bytes like QIODevice::read(qint64) (same results, signals and warnings)
    but without copying them when they lie in one received packet: the returned array shares the
    buffer they were received into (implicit sharing). Bytes spanning several packets are gathered
    into a new array. Message boundaries are treated as by read(char *, qint64): passed over.

    Holding the returned array keeps its receive buffer alive: a block of up to 64 KiB that several
    packets (and other streams) were received into. Copy the bytes (or detach the array) if you keep
    them long. Modifying the array detaches it as usual. The saving is for reads of up to one
    packet's worth; a bulk reader taking everything available is best served by read(char *, qint64)
    into a buffer it reuses.

    Falls back to QIODevice::read(qint64), which copies, while QIODevice holds bytes of its own (after
    peek()), during a read transaction (startTransaction()), in Text mode, and whenever there is
    nothing to read or the device is not readable. Reads made through a QIODevice pointer, and
    readAll(), copy.
*/
QByteArray Stream::read(qint64 maxSize)
{
    Q_D(Stream);
    // Only where QIODevice::read() would call readData() straight into its result: beyond QByteArray's
    // size limit it warns and clamps, which the fallback does.
    constexpr qint64 kMaxSlice = std::numeric_limits<qsizetype>::max() / 2;
    core::Endpoint *ep = d->handle ? d->endpoint() : nullptr;
    if (!ep || maxSize <= 0 || maxSize >= kMaxSlice || (openMode() & (ReadOnly | Text)) != ReadOnly
        || isTransactionStarted() || QIODevice::bytesAvailable() != 0 || ep->bytesAvailable(d->handle) <= 0)
        return QIODevice::read(maxSize);
    QByteArray data = ep->read(d->handle, maxSize);
    d->hostPrivate()->requestFlush(); // window updates, as readData()
    return data;
}

/*!
    Returns true if a complete line (ending in '\\n') can be read. Stream is unbuffered, so this looks
    at the data the library holds for the stream.
*/
bool Stream::canReadLine() const
{
    Q_D(const Stream);
    if (QIODevice::canReadLine())
        return true;
    core::Endpoint *ep = d->endpoint();
    if (!ep || !d->handle)
        return false;
    const qint64 n = ep->bytesAvailable(d->handle);
    if (n <= 0)
        return false;
    QByteArray buf(n, Qt::Uninitialized);
    const qint64 got = ep->peek(d->handle, buf.data(), n);
    return got > 0 && QByteArrayView(buf.constData(), got).contains('\n');
}

// The common tail of every write: checks, the core call `fn(ep, hp)` (bytes accepted or -1), the
// error report and the flush. `checkOpen`: QIODevice::write() already checked the open mode.
template<typename F>
static qint64 queueWrite(Stream *q, StreamPrivate *d, const char *what, bool checkOpen, F &&fn)
{
    if (checkOpen && !q->isWritable()) {
        d->setError(d->everAttached ? Stream::Error::Closed : Stream::Error::InvalidOperation,
                    QStringLiteral("The stream is not open for writing"));
        return -1;
    }
    core::Endpoint *ep = d->usable(what);
    if (!ep)
        return -1;
    if (d->writeShut) {
        d->setError(Stream::Error::Closed, QStringLiteral("Write after shutdown"));
        return -1;
    }
    HostPrivate *hp = d->hostPrivate();
    const qint64 n = fn(ep, hp);
    if (n < 0) {
        d->failFromCore(what);
        return -1;
    }
    hp->requestFlush();
    return n;
}

qint64 Stream::writeData(const char *data, qint64 size)
{
    Q_D(Stream);
    return queueWrite(this, d, "write", false, [&](core::Endpoint *ep, HostPrivate *hp) {
        return ep->write(hp->now(), d->handle, data, size, false);
    });
}

/*!
    Writes \a data like QIODevice::write() but without copying it: the stream keeps a reference to
    \a data's buffer (implicit sharing) until the bytes are acknowledged. Modifying \a data later
    detaches it as usual and does not change what is sent. Returns the bytes accepted (less than
    data.size() when HostConfig::maxSendBufferPerStream is reached), or -1 on error. Writes made
    through a QIODevice pointer use the copying path.
*/
qint64 Stream::write(const QByteArray &data)
{
    Q_D(Stream);
    if (data.isEmpty() && isWritable())
        return 0;
    return queueWrite(this, d, "write", true, [&](core::Endpoint *ep, HostPrivate *hp) {
        return ep->write(hp->now(), d->handle, data, false);
    });
}

/*!
    Writes \a message as one record: the peer reads it whole with readMessage(). Returns the bytes
    queued, or -1 on error.
*/
qint64 Stream::writeMessage(const QByteArray &message)
{
    Q_D(Stream);
    return queueWrite(this, d, "writeMessage", true, [&](core::Endpoint *ep, HostPrivate *hp) {
        return ep->write(hp->now(), d->handle, message, true); // shared, not copied
    });
}

/*! Returns the next complete message, or an empty QByteArray if there is none. */
QByteArray Stream::readMessage()
{
    Q_D(Stream);
    core::Endpoint *ep = d->usable("readMessage");
    if (!ep)
        return {};
    if (!ep->hasPendingMessages(d->handle))
        return {};
    QByteArray m = ep->readMessage(d->handle);
    d->hostPrivate()->requestFlush();
    return m;
}

bool Stream::hasPendingMessages() const
{
    Q_D(const Stream);
    core::Endpoint *ep = d->endpoint();
    return ep && d->handle && ep->hasPendingMessages(d->handle);
}

qint64 Stream::pendingMessageSize() const
{
    Q_D(const Stream);
    core::Endpoint *ep = d->endpoint();
    return ep && d->handle ? ep->pendingMessageSize(d->handle) : -1; // -1 when none
}

/*!
    Opens a substream at once (no round trip) and returns it, writable, parented to this stream.
    Returns nullptr (and sets error()) if this stream is not attached.
*/
Stream *Stream::openSubstream()
{
    Q_D(Stream);
    core::Endpoint *ep = d->usable("openSubstream");
    if (!ep)
        return nullptr;
    HostPrivate *hp = d->hostPrivate();
    const core::StreamHandle h = ep->openSubstream(hp->now(), d->handle);
    if (!h) {
        d->failFromCore("openSubstream");
        return nullptr;
    }
    auto *child = new Stream(d->host.data(), this);
    StreamPrivate::get(child)->attach(h, State::Connected, &d->peer);
    hp->requestFlush();
    return child;
}

/*! Accepts (or refuses) substreams that the peer opens under this stream. */
void Stream::listen(ListenMode mode)
{
    Q_D(Stream);
    core::Endpoint *ep = d->usable("listen");
    if (!ep)
        return;
    ep->setAcceptSubstreams(d->handle, mode != ListenMode::RefuseSubstreams);
    d->acceptRequests = mode == ListenMode::AcceptRequests;
    if (d->acceptRequests && ep->pendingSubstreams(d->handle) > 0) // on the next drive, not here
        d->hostPrivate()->requestCatchUp_.push_back(d->handle);
    d->hostPrivate()->requestFlush();
}

bool Stream::hasPendingSubstreams() const
{
    Q_D(const Stream);
    core::Endpoint *ep = d->endpoint();
    return ep && d->handle && ep->pendingSubstreams(d->handle) > 0;
}

/*! Returns the next substream opened by the peer (parented to this stream), or nullptr. */
Stream *Stream::acceptSubstream()
{
    Q_D(Stream);
    core::Endpoint *ep = d->usable("acceptSubstream");
    if (!ep)
        return nullptr;
    const core::StreamHandle h = ep->acceptSubstream(d->handle);
    if (!h)
        return nullptr;
    auto *child = new Stream(d->host.data(), this);
    StreamPrivate::get(child)->attach(h, State::Connected, &d->peer);
    d->hostPrivate()->postCatchUp(child); // (which requests the drive that runs it)
    return child;
}

/*!
    Sends \a datagram (any size: large ones are fragmented and delivered whole or not at all).
    Returns false (and sets error()) if the stream cannot send.
*/
bool Stream::writeDatagram(const QByteArray &datagram, const DatagramOptions &options)
{
    Q_D(Stream);
    core::Endpoint *ep = d->usable("writeDatagram");
    if (!ep)
        return false;
    HostPrivate *hp = d->hostPrivate();
    const core::Instant now = hp->now();
    core::DatagramOptions o;
    o.reliable = options.reliable;
    if (!options.expiry.isForever())
        o.expiry = now + std::chrono::nanoseconds(std::max<qint64>(0, options.expiry.remainingTimeNSecs()));
    if (!ep->writeDatagram(now, d->handle, datagram, o)) {
        d->failFromCore("writeDatagram");
        return false;
    }
    hp->requestFlush();
    return true;
}

/*! Returns the next datagram, or an empty QByteArray if there is none. */
QByteArray Stream::readDatagram()
{
    Q_D(Stream);
    core::Endpoint *ep = d->usable("readDatagram");
    if (!ep)
        return {};
    auto dg = ep->readDatagram(d->handle);
    return dg ? *dg : QByteArray();
}

bool Stream::hasPendingDatagrams() const
{
    Q_D(const Stream);
    core::Endpoint *ep = d->endpoint();
    return ep && d->handle && ep->hasPendingDatagrams(d->handle);
}

qint64 Stream::pendingDatagramSize() const
{
    Q_D(const Stream);
    core::Endpoint *ep = d->endpoint();
    return ep && d->handle ? ep->pendingDatagramSize(d->handle) : -1; // -1 when none
}

/*!
    Sets the priority: streams with a higher value are served first; equal values share fairly.
    The change is sent to the peer so both directions follow it. May be called before connectTo().
*/
void Stream::setPriority(int priority)
{
    Q_D(Stream);
    if (d->handle) {
        core::Endpoint *ep = d->endpoint();
        if (!ep)
            return;
        HostPrivate *hp = d->hostPrivate();
        if (!ep->setPriority(hp->now(), d->handle, priority)) {
            d->failFromCore("setPriority");
            return;
        }
        hp->requestFlush();
    }
    if (d->priority != priority) {
        d->priority = priority;
        emit priorityChanged(priority);
    }
}

int Stream::priority() const
{
    return d_func()->priority;
}

/*!
    Shuts down one or both directions: Write sends the end of data after the queued bytes (further
    writes fail); Read discards incoming data and asks the peer to stop sending.
*/
bool Stream::shutdown(ShutdownMode mode)
{
    Q_D(Stream);
    core::Endpoint *ep = d->usable("shutdown");
    if (!ep)
        return false;
    HostPrivate *hp = d->hostPrivate();
    bool ok = true;
    if (mode != ShutdownMode::Read && !d->writeShut) {
        ok = ep->shutdownWrite(hp->now(), d->handle);
        if (ok)
            d->writeShut = true;
    }
    if (ok && mode != ShutdownMode::Write) {
        ok = ep->shutdownRead(hp->now(), d->handle);
        if (ok)
            d->peerFinished = true; // nothing more will be delivered
    }
    if (!ok) {
        d->failFromCore("shutdown");
        return false;
    }
    hp->requestFlush();
    d->updateClosedState();
    return true;
}

/*! Aborts the stream: unsent and unread data are discarded at both ends and the peer is told. */
bool Stream::reset()
{
    Q_D(Stream);
    if (!d->handle || d->state == State::Closed) {
        if (d->state != State::Closed && d->state != State::Unconnected)
            d->setState(State::Closed);
        return false;
    }
    if (HostPrivate *hp = d->hostPrivate(); hp && hp->endpoint()) {
        hp->endpoint()->reset(hp->now(), d->handle, core::StreamError::Cancelled);
        hp->requestFlush();
    }
    d->writeShut = true;
    d->setState(State::Closed);
    return true;
}

static bool waitFor(Stream *s, StreamPrivate *d, int msecs, const std::function<bool()> &done,
                    std::initializer_list<void (Stream::*)()> plainSignals, bool onBytesWritten)
{
    if (done())
        return true;
    HostPrivate *hp = d->hostPrivate();
    if (!hp || !hp->isRealTime()) {
        qWarning("sss::Stream: blocking waits need a real-network Host");
        return false;
    }
    QEventLoop loop;
    QTimer timer;
    timer.setSingleShot(true);
    QObject::connect(&timer, &QTimer::timeout, &loop, &QEventLoop::quit);
    for (auto sig : plainSignals)
        QObject::connect(s, sig, &loop, &QEventLoop::quit);
    QObject::connect(s, &Stream::errorOccurred, &loop, &QEventLoop::quit);
    QObject::connect(s, &Stream::stateChanged, &loop, [&](Stream::State st) {
        if (st == Stream::State::Closed)
            loop.quit();
    });
    if (onBytesWritten)
        QObject::connect(s, &QIODevice::bytesWritten, &loop, &QEventLoop::quit);
    QPointer<Stream> guard(s);
    timer.start(msecs < 0 ? std::numeric_limits<int>::max() : msecs);
    loop.exec(QEventLoop::ExcludeUserInputEvents);
    return guard && done();
}

/*! Spins a local event loop until connected (true) or error/timeout (false). Real network only. */
bool Stream::waitForConnected(int msecs)
{
    Q_D(Stream);
    if (d->state == State::Connected)
        return true;
    if (d->state != State::Connecting)
        return false;
    return waitFor(
        this, d, msecs, [d] { return d->state == State::Connected; }, {&Stream::connected}, false);
}

/*! Waits until bytes, a message or a datagram can be read. Real network only. */
bool Stream::waitForReadyRead(int msecs)
{
    Q_D(Stream);
    if (bytesAvailable() > 0 || hasPendingMessages() || hasPendingDatagrams())
        return true;
    if (!d->handle)
        return false;
    return waitFor(
        this, d, msecs,
        [this] { return bytesAvailable() > 0 || hasPendingMessages() || hasPendingDatagrams(); },
        {&QIODevice::readyRead, &Stream::readyReadMessage, &Stream::readyReadDatagram,
         &QIODevice::readChannelFinished},
        false);
}

/*! Waits until some written bytes are acknowledged. Real network only. */
bool Stream::waitForBytesWritten(int msecs)
{
    Q_D(Stream);
    if (!d->handle || bytesToWrite() == 0)
        return false;
    auto written = std::make_shared<bool>(false);
    QObject context;
    connect(this, &QIODevice::bytesWritten, &context, [written] { *written = true; });
    waitFor(
        this, d, msecs, [written] { return *written; }, {}, true);
    return *written;
}

/*!
    \fn void sss::Stream::readyReadMessage()
    Emitted when at least one complete message can be read with readMessage().
*/
/*!
    \fn void sss::Stream::newSubstream()
    Emitted when the peer opened a substream under this stream; take it with acceptSubstream().
*/

} // namespace sss
