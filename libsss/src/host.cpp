#include "crypto/identity.h"
#include "host_p.h"
#include "sendruns_p.h"
#include "server_p.h"
#include "stream_p.h"
#include "udpplatform_p.h"

#include <QLoggingCategory>

namespace sss {

// ---------------------------------------------------------------- Platform

namespace detail {

Platform::Platform() = default;
Platform::~Platform() = default;

void Platform::deliverDatagram(const core::SocketAddress &from, const char *data, qsizetype size)
{
    if (driver_)
        driver_->onDatagram(from, data, size);
}

void Platform::deliverBatchEnd(core::Instant receivedAt)
{
    if (driver_)
        driver_->onBatchEnd(receivedAt);
}

void Platform::deliverTimeout()
{
    if (driver_)
        driver_->onTimeout();
}

void Platform::deliverIdle()
{
    if (driver_)
        driver_->onIdle();
}

bool bindPlatform(Host *host, std::unique_ptr<Platform> platform)
{
    if (!host || !platform)
        return false;
    return HostPrivate::get(host)->start(std::move(platform));
}

} // namespace detail

// ---------------------------------------------------------------- HostPrivate

HostPrivate::~HostPrivate() = default;

core::EndpointConfig HostPrivate::endpointConfig() const
{
    core::EndpointConfig c;
    c.initialStreamWindow = config.initialStreamWindow;
    c.maxStreamWindow = config.maxStreamWindow;
    c.initialConnectionWindow = config.initialConnectionWindow;
    c.maxConnectionWindow = config.maxConnectionWindow;
    c.maxIncomingStreams = config.maxIncomingStreams;
    c.maxSendBufferPerStream = config.maxSendBufferPerStream;
    c.maxDatagramQueuePerStream = config.maxDatagramQueuePerStream;
    c.unreliableDatagramLimit = config.unreliableDatagramLimit;
    c.idleTimeout = config.idleTimeout;
    c.keepAliveInterval = config.keepAliveInterval;
    c.handshakeTimeout = config.handshakeTimeout;
    c.cookieThreshold = std::max(0, config.cookieThreshold);
    c.forceCookies = config.cookieThreshold <= 0;
    c.sessionLinger = config.sessionLinger;
    c.congestionAlgorithm = config.congestionAlgorithm.compare(u"newreno", Qt::CaseInsensitive) == 0 ? 0 : 1;
    c.maxDatagramSize = config.maxDatagramSize;
    c.maxProbedDatagramSize = config.maxProbedDatagramSize;
    c.allowNullCipher = config.allowNullCipher;
    return c;
}

void HostPrivate::setError(Host::Error e, const QString &text)
{
    Q_Q(Host);
    error = e;
    errorString = text;
    if (e != Host::Error::NoError)
        emit q->errorOccurred(e);
}

bool HostPrivate::start(std::unique_ptr<detail::Platform> platform)
{
    if (endpoint_) {
        setError(Host::Error::AlreadyBound, QStringLiteral("The host is already bound"));
        return false;
    }
    if (identity.isNull())
        identity = Identity::generate(); // ephemeral: documented in Host::bind()
    auto sid = core::crypto::StaticIdentity::fromSecretKey(identity.secretKey());
    if (!sid || !sid->isValid()) {
        setError(Host::Error::InvalidIdentity, QStringLiteral("The host identity is invalid"));
        return false;
    }
    core::EndpointConfig c = endpointConfig();
    c.wallClockOffsetNs = platform->wallClockOffsetNs();
    if (!platform->dontFragment())
        c.maxProbedDatagramSize = 0; // probes would be fragmented, and prove nothing
    platform_ = std::move(platform);
    platform_->driver_ = this;
    platformDefers_ = platform_->canDefer();
    endpoint_ = std::make_unique<core::Endpoint>(*sid, c);
    if (auto random = platform_->randomSource())
        endpoint_->setRandomSource(std::move(random));
    endpoint_->setTraceEnabled(tracing);
    for (auto it = servers_.cbegin(); it != servers_.cend(); ++it)
        endpoint_->listen(it.key().first, it.key().second);
    error = Host::Error::NoError;
    errorString.clear();
    return true;
}

void HostPrivate::stop(bool emitSignals)
{
    // Tell every peer we are leaving (one CLOSE each, sent now): they end our sessions at once
    // instead of holding them until an idle timeout.
    if (endpoint_ && platform_) {
        endpoint_->shutdown(platform_->now());
        transmit();
    }
    // Streams first: they must never reach a dead endpoint.
    QList<QPointer<Stream>> guarded;
    streams_.forEach([&](core::StreamHandle, Stream *s) { guarded.append(s); });
    streams_.clear();
    if (platform_)
        platform_->driver_ = nullptr;
    endpoint_.reset();
    platform_.reset();
    batch_.clear();
    catchUp_.clear();
    requestCatchUp_.clear();
    transactions_.forEach([](core::StreamHandle, const Transaction &t) {
        if (t.owner) // (an ended one waiting for its release has none)
            --StreamPrivate::get(t.owner)->transactions;
    });
    transactions_.clear(); // their owners hear of the host in hostGone()
    endedTransactions_.clear();
    flushPosted_ = false;
    for (const QPointer<Stream> &s : guarded) {
        if (!s)
            continue;
        StreamPrivate::get(s)->hostGone(
            emitSignals ? Stream::Error::HostNotBound : Stream::Error::HostDestroyed,
            emitSignals ? QStringLiteral("The host was closed") : QStringLiteral("The host was destroyed"),
            emitSignals);
    }
}

void HostPrivate::postFlush()
{
    if (!platform_)
        return;
    flushPosted_ = true;
    platform_->post([this] {
        flushPosted_ = false;
        if (flushWanted_ || hasCatchUps())
            drive();
    });
}

void HostPrivate::onDatagram(const core::SocketAddress &from, const char *data, qsizetype size)
{
    ++batchDatagrams_;
    if (endpoint_)
        endpoint_->handleDatagram(platform_->now(), from, data, size);
}

void HostPrivate::onTimeout()
{
    if (!endpoint_)
        return;
    const core::Instant t = platform_->now();
    endpoint_->handleTimeout(t);
    drive(&t);
}

void HostPrivate::drive(const core::Instant *start)
{
    if (!endpoint_)
        return;
    // Events first, transmits second: a slot that answers a request (or writes the next one) then
    // shares a packet with the acknowledgements and credit updates the input produced, instead of
    // those going out alone just before it. Writes made by slots are flushed in this same turn, not
    // a posted one, which would add an event-loop round per hop. Sending can produce new events
    // (bytesWritten), and slots can leave work (catch-ups), so go round again while there is some, a
    // few times at most.
    HostGuard guard(this);
    ++driveDepth_;
    for (int round = 0; round < 4 && endpoint_; ++round) {
        // (The first round goes on at the input's time: a clock read less per request.)
        driveNow_ = round == 0 && start ? *start : platform_->now();
        driveNowValid_ = true;
        flushWanted_ = false;
        if (hasCatchUps() && !runCatchUps())
            return; // a slot deleted the Host
        // A turn woken by a single datagram is a lone request or answer: send what its slots wrote
        // before dispatching anything else (see deliverEvents). Under load, coalesce.
        const bool single = round == 0 && batchDatagrams_ <= 1;
        batchDatagrams_ = 0;
        deliverEvents(single);
        if (!guard)
            return; // a slot deleted the Host
        if (!endpoint_)
            break;
        transmit();
        // After the send, not on a request's critical path: the ACKs that came with the input, the
        // reclaims. Acknowledgements can free window or reveal losses: then go round again.
        if (endpoint_->afterTransmit())
            flushWanted_ = true;
        if (!endedTransactions_.empty() && releaseEndedTransactions())
            flushWanted_ = true;
        if (!endpoint_->hasPendingEvents() && !flushWanted_ && !hasCatchUps())
            break;
    }
    if (endpoint_)
        platform_->armTimer(endpoint_->nextTimeout());
    --driveDepth_;
    // Rounds exhausted with work left: finish it on a later turn rather than starve the event loop.
    if (driveDepth_ == 0 && (flushWanted_ || hasCatchUps()))
        requestFlush();
}

void HostPrivate::transmit()
{
    const core::Instant t = platform_->now();
    driveNow_ = t;
    driveNowValid_ = true;
    // A bulk drive produces thousands of packets: they go to the platform one GSO run at a time
    // (see sendInRuns()). batch_ is kept across turns: the core refills its Transmits in place,
    // reusing their buffers (send() is done with them on return).
    detail::sendInRuns(
        batch_, [&](core::Transmit &tx) { return endpoint_->pollTransmit(t, tx); },
        [&](const core::Transmit *tx, qsizetype n) { platform_->send(tx, n); });
}

void HostPrivate::deliverEvents(bool sendAnswers)
{
    Q_Q(Host);
    // Slots may delete the Host (and this object), close it, or spin a nested event loop that
    // drives again: re-check before every step and never hold iterators across an emit.
    HostGuard guard(this);
    if (tracing) {
        while (endpoint_) {
            auto tr = endpoint_->pollTrace();
            if (!tr)
                break;
            emit q->traceEvent(tr->name, tr->detail);
            if (!guard)
                return;
        }
    }
    core::Event e;
    const bool outer = std::exchange(sendAnswers_, sendAnswers); // (a nested drive has its own)
    while (endpoint_) {
        // The answer a slot just wrote leaves now, before the events that follow it are even polled
        // (the request's readChannelFinished, its end): their slots (deleteLater(), bookkeeping) are
        // then not between the request and its answer. Answers to several streams in one datagram
        // each leave in their own packet; under load (sendAnswers false) they share packets.
        sendAnswer();
        if (!endpoint_->pollEvent(e))
            break;
        dispatch(e);
        if (!guard)
            return;
    }
    sendAnswers_ = outer;
}

static Host::LinkStatus toPublic(core::LinkStatus s)
{
    switch (s) {
    case core::LinkStatus::Down:
        return Host::LinkStatus::Down;
    case core::LinkStatus::Connecting:
        return Host::LinkStatus::Connecting;
    case core::LinkStatus::Stalled:
        return Host::LinkStatus::Stalled;
    case core::LinkStatus::Up:
        return Host::LinkStatus::Up;
    }
    return Host::LinkStatus::Down;
}

void HostPrivate::dispatch(const core::Event &e)
{
    Q_Q(Host);
    using T = core::Event::Type;

    if (e.type == T::LinkStatusChanged) {
        const PeerId peer = peerIdFor(e.peerId);
        const Host::LinkStatus status = toPublic(e.status);
        HostGuard guard(this);
        emit q->linkStatusChanged(peer, status);
        if (!guard)
            return;
        QList<QPointer<Stream>> affected;
        streams_.forEach([&](core::StreamHandle, Stream *s) {
            if (StreamPrivate::get(s)->peer == peer)
                affected.append(s);
        });
        for (const QPointer<Stream> &s : affected) {
            if (s)
                emit s->linkStatusChanged(status);
            if (!guard)
                return;
        }
        return;
    }

    if (e.type == T::NewConnection) {
        Server *server = servers_.value(qMakePair(e.service, e.protocol));
        if (!server) { // unlistened meanwhile: refuse
            endpoint_->reset(platform_->now(), e.stream, core::StreamError::ServiceNotFound);
            endpoint_->release(platform_->now(), e.stream);
            requestFlush();
            return;
        }
        auto *s = new Stream(q, server);
        StreamPrivate::get(s)->attach(e.stream, Stream::State::Connected);
        ServerPrivate::get(server)->pending.append(s);
        emit server->newConnection();
        return;
    }

    if (e.type == T::NewSubstream) {
        // The child waits in the core until the parent's owner calls acceptSubstream(), or is
        // taken at once as a transaction (listen(AcceptRequests)).
        if (Stream *parent = streamFor(e.parent)) {
            if (StreamPrivate::get(parent)->acceptRequests)
                acceptRequests(parent);
            else
                emit parent->newSubstream();
        }
        return;
    }
    if (!transactions_.empty()) {
        if (Transaction *t = transactions_.find(e.stream)) {
            transactionEvent(e, *t);
            return;
        }
    }

    Stream *s = streamFor(e.stream);
    if (!s) {
        // Released by the application (the core finishes it in the background), or not accepted yet.
        if (e.type == T::Closed) {
            early_.remove(e.stream);
        } else if ((e.type == T::Finished || e.type == T::Error || e.type == T::PriorityChanged)
                   && endpoint_->isHeld(e.stream)) { // (released ones get no Closed to end the entry)
            if (early_.size() >= kMaxEarly)
                early_.clear();
            early_[e.stream].append(e);
        }
        return;
    }
    StreamPrivate *sd = StreamPrivate::get(s);
    StreamGuard guard(s);

    switch (e.type) {
    case T::Connected:
        if (sd->state == Stream::State::Connecting) {
            sd->setState(Stream::State::Connected);
            if (guard)
                emit s->connected();
        }
        break;
    case T::Readable:
        if (sd->endpoint() && sd->handle) {
            core::Endpoint *ep = sd->endpoint();
            const bool bytes = ep->bytesAvailable(sd->handle) > 0;
            const bool messages = ep->hasPendingMessages(sd->handle);
            if (bytes)
                emit s->readyRead();
            if (guard && messages)
                emit s->readyReadMessage();
        }
        break;
    case T::DatagramReadable:
        emit s->readyReadDatagram();
        break;
    case T::BytesAcked:
        if (e.count > 0)
            emit s->bytesWritten(e.count);
        break;
    case T::Error:
        sd->setError(static_cast<Stream::Error>(e.error),
                     e.message.isEmpty() ? errorText(static_cast<Stream::Error>(e.error)) : e.message);
        if (guard)
            sd->setState(Stream::State::Closed);
        break;
    case T::PriorityChanged:
        if (sd->priority != e.value) {
            sd->priority = e.value;
            emit s->priorityChanged(e.value);
        }
        break;
    case T::Finished:
        if (!sd->peerFinished) {
            sd->peerFinished = true;
            emit s->readChannelFinished();
            if (guard)
                sd->updateClosedState();
        }
        break;
    case T::Closed:
        sd->detach();
        sd->setState(Stream::State::Closed);
        break;
    case T::LinkStatusChanged:
    case T::NewConnection:
    case T::NewSubstream:
        break;
    }
}

bool HostPrivate::runCatchUps()
{
    HostGuard guard(this);
    while (hasCatchUps()) {
        std::vector<core::StreamHandle> streams;
        streams.swap(catchUp_);
        for (const core::StreamHandle h : streams) {
            catchUp(h);
            if (!guard)
                return false;
        }
        streams.clear();
        streams.swap(requestCatchUp_);
        for (const core::StreamHandle h : streams) {
            Stream *s = streamFor(h);
            if (s && StreamPrivate::get(s)->acceptRequests)
                acceptRequests(s);
            if (!guard)
                return false;
        }
    }
    return true;
}

void HostPrivate::postCatchUp(Stream *s)
{
    if (!platform_)
        return;
    const core::StreamHandle h = StreamPrivate::get(s)->handle;
    if (!h)
        return;
    // Run by the drive (this one's next round, or a posted one): a handle, not a guard, is kept, as
    // streams_ forgets a Stream the moment it is deleted.
    catchUp_.push_back(h);
    requestFlush();
}

void HostPrivate::catchUp(core::StreamHandle h)
{
    Stream *s = streamFor(h);
    if (!s || !endpoint_)
        return;
    StreamGuard guard(s);
    StreamPrivate *sd = StreamPrivate::get(s);
    const QList<core::Event> kept = early_.isEmpty() ? QList<core::Event>() : early_.take(h);
    core::Endpoint *ep = endpoint_.get();
    HostGuard hostGuard(this);
    if (ep->bytesAvailable(h) > 0)
        emit s->readyRead();
    if (guard && hostGuard && sd->handle && ep->hasPendingMessages(h))
        emit s->readyReadMessage();
    if (guard && hostGuard && sd->handle && ep->hasPendingDatagrams(h))
        emit s->readyReadDatagram();
    if (guard && hostGuard && sd->handle && ep->pendingSubstreams(h) > 0) {
        if (sd->acceptRequests)
            acceptRequests(s);
        else
            emit s->newSubstream();
    }
    for (const core::Event &e : kept) {
        if (!guard || !hostGuard || !endpoint_)
            return;
        dispatch(e);
    }
}

bool HostPrivate::registerServer(Server *server, const QString &service, const QString &protocol,
                                 QString *error)
{
    const auto key = qMakePair(service, protocol);
    if (servers_.contains(key)) {
        *error = QStringLiteral("Service \"%1\" (protocol \"%2\") is already served on this host")
                     .arg(service, protocol);
        return false;
    }
    if (endpoint_ && !endpoint_->listen(service, protocol)) {
        *error = endpoint_->lastErrorString();
        if (error->isEmpty())
            *error = QStringLiteral("Cannot listen on service \"%1\"").arg(service);
        return false;
    }
    servers_.insert(key, server);
    return true;
}

void HostPrivate::unregisterServer(Server *server)
{
    for (auto it = servers_.begin(); it != servers_.end();) {
        if (it.value() == server) {
            if (endpoint_)
                endpoint_->unlisten(it.key().first, it.key().second);
            it = servers_.erase(it);
        } else {
            ++it;
        }
    }
}

// ---------------------------------------------------------------- Host

/*!
    \class sss::Host
    \brief The local SSS endpoint: one UDP socket, one identity, the secure channels to all peers.

    A Host is bound once with bind(). All streams and servers created on it run on the Host's
    thread and are driven by its event loop: one timer per Host, and signals are emitted only after
    the protocol core has finished processing an input.

    If no identity was set with setIdentity(), bind() generates an \e ephemeral identity (a new
    PeerId on every run). Applications that need a stable PeerId load or create one explicitly:
    \code
    sss::Identity id = sss::Identity::load(sss::Identity::defaultPath());
    if (id.isNull()) { id = sss::Identity::generate(); id.save(sss::Identity::defaultPath()); }
    host.setIdentity(id);
    \endcode
*/

Host::Host(QObject *parent) : QObject(parent), d_impl(std::make_unique<HostPrivate>(this)) { }

/*!
    Destroys the Host. Its remaining Streams become invalid (error Stream::Error::HostDestroyed)
    but stay safe to use and delete.
*/
Host::~Host()
{
    Q_D(Host);
    // The drive's guards on the stack (a slot is deleting this Host) see it gone.
    for (HostGuard *g = std::exchange(d->guards_, nullptr); g; g = g->next_)
        g->d_ = nullptr;
    const auto servers = d->servers_;
    d->stop(false);
    for (Server *s : servers)
        ServerPrivate::get(s)->listening = false;
}

/*! Returns the identity (null before bind() unless setIdentity() was called). */
Identity Host::identity() const
{
    return d_func()->identity;
}

/*!
    Sets the identity used from the next bind(). Returns false if the Host is bound or \a identity
    is null.
*/
bool Host::setIdentity(const Identity &identity)
{
    Q_D(Host);
    if (d->endpoint()) {
        d->setError(Error::AlreadyBound, QStringLiteral("Cannot change the identity of a bound host"));
        return false;
    }
    if (identity.isNull()) {
        d->setError(Error::InvalidIdentity, QStringLiteral("The identity is null"));
        return false;
    }
    d->identity = identity;
    return true;
}

/*! Returns this Host's PeerId (null before an identity exists). */
PeerId Host::peerId() const
{
    return d_func()->identity.peerId();
}

/*! Sets the configuration; it takes effect at the next bind(). */
void Host::setConfig(const HostConfig &config)
{
    d_func()->config = config;
}

/*! Returns the configuration. */
HostConfig Host::config() const
{
    return d_func()->config;
}

/*!
    Binds the Host's UDP socket to \a address and \a port (0 picks a free port) and starts the
    protocol. Generates an ephemeral identity if none was set. Returns false and sets
    errorString() on failure (already bound, port in use...).
*/
bool Host::bind(const QHostAddress &address, quint16 port)
{
    Q_D(Host);
    if (d->endpoint()) {
        d->setError(Error::AlreadyBound, QStringLiteral("The host is already bound"));
        return false;
    }
    auto platform = std::make_unique<detail::UdpPlatform>();
    QString err;
    if (!platform->bind(address, port, &err)) {
        d->setError(Error::BindFailed, err.isEmpty() ? QStringLiteral("Cannot bind the UDP socket") : err);
        return false;
    }
    return d->start(std::move(platform));
}

/*! Returns true once bind() succeeded (until close()). */
bool Host::isBound() const
{
    return d_func()->endpoint() != nullptr;
}

/*! Returns the bound UDP port, or 0. */
quint16 Host::localPort() const
{
    Q_D(const Host);
    return d->endpoint() ? d->platform_->localAddress().port : 0;
}

/*! Returns the bound address, or a null address. */
QHostAddress Host::localAddress() const
{
    Q_D(const Host);
    return d->endpoint() ? d->platform_->localAddress().host : QHostAddress();
}

/*!
    Closes the socket and drops all channels, after sending each peer one CLOSE that ends its
    session with us (its streams fail with Stream::Error::ChannelLost at once instead of after an
    idle timeout). Every Stream on this Host becomes Closed with error Stream::Error::HostNotBound.
    The Host may be bound again. Destroying a bound Host does the same.
*/
void Host::close()
{
    Q_D(Host);
    d->stop(true);
}

/*! Returns the last error. */
Host::Error Host::error() const
{
    return d_func()->error;
}

/*! Returns a readable description of the last error. */
QString Host::errorString() const
{
    return d_func()->errorString;
}

/*! Returns the status of the channel to \a peer (Down if there is none). */
Host::LinkStatus Host::linkStatus(const PeerId &peer) const
{
    Q_D(const Host);
    if (!d->endpoint() || peer.isNull())
        return LinkStatus::Down;
    return toPublic(d->endpoint()->linkStatus(peer.bytes()));
}

/*! Returns statistics of every channel. */
QList<ChannelInfo> Host::channels() const
{
    Q_D(const Host);
    QList<ChannelInfo> out;
    if (!d->endpoint())
        return out;
    using namespace std::chrono;
    for (const core::ChannelStats &c : d->endpoint()->channelStats()) {
        ChannelInfo i;
        i.peerId = d->peerIdFor(c.peerId);
        i.peerAddress = c.peerAddress.host;
        i.peerPort = c.peerAddress.port;
        i.linkStatus = toPublic(c.status);
        i.initiator = c.initiator;
        i.cipher = c.cipher;
        i.congestionAlgorithm = c.congestionAlgorithm;
        i.srtt = duration_cast<microseconds>(c.srtt);
        i.rttVariance = duration_cast<microseconds>(c.rttvar);
        i.minRtt = duration_cast<microseconds>(c.minRtt);
        i.congestionWindow = c.cwnd;
        i.bytesInFlight = c.bytesInFlight;
        i.slowStartThreshold = c.ssthresh;
        i.pacingRate = c.pacingRate;
        i.packetsSent = c.packetsSent;
        i.packetsReceived = c.packetsReceived;
        i.bytesSent = c.bytesSent;
        i.bytesReceived = c.bytesReceived;
        i.packetsLost = c.packetsLost;
        i.retransmittedBytes = c.retransmittedBytes;
        i.packetsDropped = c.packetsDropped;
        i.keyUpdates = c.keyUpdates;
        i.maxDatagramSize = int(c.maxDatagramSize);
        i.mtuProbesSent = c.mtuProbesSent;
        i.mtuProbesLost = c.mtuProbesLost;
        i.mtuBlackHoles = c.mtuBlackHoles;
        i.streamCount = c.streamCount;
        out.append(i);
    }
    return out;
}

/*! Returns statistics of every stream. */
QList<StreamInfo> Host::streams() const
{
    Q_D(const Host);
    QList<StreamInfo> out;
    if (!d->endpoint())
        return out;
    for (const core::StreamStats &s : d->endpoint()->streamStats(QByteArray())) {
        StreamInfo i;
        i.id = s.handle;
        i.parentId = s.parent;
        i.wireId = s.wireId;
        i.peerId = d->peerIdFor(s.peerId);
        i.priority = s.priority;
        i.state = s.state;
        i.service = s.service;
        i.protocol = s.protocol;
        i.queuedBytes = s.queuedBytes;
        i.inFlightBytes = s.inFlightBytes;
        i.ackedBytes = s.ackedBytes;
        i.receivedBytes = s.receivedBytes;
        i.readableBytes = s.readableBytes;
        i.sendWindow = s.sendWindow;
        i.receiveWindow = s.receiveWindow;
        i.childCount = s.childCount;
        out.append(i);
    }
    return out;
}

/*!
    Enables or disables structured tracing: while enabled, every protocol trace record is emitted
    as traceEvent(name, detail), e.g. ("transport:packet_sent", "pn=3 size=1200").
*/
void Host::setTracingEnabled(bool enabled)
{
    Q_D(Host);
    d->tracing = enabled;
    if (d->endpoint())
        d->endpoint()->setTraceEnabled(enabled);
}

/*! Returns whether tracing is enabled. */
bool Host::isTracingEnabled() const
{
    return d_func()->tracing;
}

/*!
    \fn void sss::Host::linkStatusChanged(const sss::PeerId &peer, sss::Host::LinkStatus status)
    Emitted when the channel to \a peer changes status.
*/

} // namespace sss
