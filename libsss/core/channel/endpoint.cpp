#include "endpoint.h"

#include "channel/channel.h"
#include "channel/session.h"
#include "channel/shared.h"
#include "crypto/handshake.h"
#include "crypto/identity.h"
#include "crypto/noise.h"

#include <QtEndian>
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace sss::core {

const char *toString(StreamError e)
{
    switch (e) {
    case StreamError::NoError:
        return "no error";
    case StreamError::ServiceNotFound:
        return "no service is listening on the requested service/protocol";
    case StreamError::ResetByPeer:
        return "the stream was reset by the peer";
    case StreamError::SubstreamRefused:
        return "the peer refused the substream";
    case StreamError::ConnectFailed:
        return "could not establish a channel to the peer";
    case StreamError::PeerAuthenticationFailed:
        return "the peer could not be authenticated";
    case StreamError::ChannelLost:
        return "the channel to the peer was lost";
    case StreamError::ProtocolViolation:
        return "the peer violated the protocol";
    case StreamError::StreamLimitReached:
        return "stream limit reached";
    case StreamError::Closed:
        return "the stream is closed";
    case StreamError::InvalidArgument:
        return "invalid argument";
    case StreamError::Cancelled:
        return "the stream was reset locally";
    }
    return "unknown error";
}

namespace {
quint64 be64(const char *p)
{
    return qFromBigEndian<quint64>(p); // (one load and a byte swap; a byte loop is not folded into one)
}
} // namespace

struct Endpoint::Private {
    Private(const crypto::StaticIdentity &id, const EndpointConfig &cfg)
        : identity(id), responder(std::make_unique<crypto::Responder>(id))
    {
        shared.config = cfg;
        shared.random = crypto::systemRandom();
    }

    QByteArray randomBytes(int n)
    {
        QByteArray b(n, '\0');
        shared.random(reinterpret_cast<uint8_t *>(b.data()), size_t(n));
        return b;
    }

    crypto::StaticIdentity identity;
    std::unique_ptr<crypto::Responder> responder;
    // The ephemeral key pair of the next handshake response, computed by afterTransmit() once this
    // endpoint has answered an initiation (pure clients never pay for it). Used once, then wiped.
    QByteArray nextEphSecret, nextEphPublic;
    bool answersInitiations = false;
    EndpointShared shared;
    std::unordered_map<quint64, std::unique_ptr<Channel>> channels;
    std::map<QByteArray, std::unique_ptr<Session>> sessions; // by session id
    QHash<QByteArray, Session *> peerSessions; // preferred session per peer
    QHash<QByteArray, quint64> lastTimestamp; // handshake replay protection per peer
    quint64 lastOwnTimestamp = 0;
    std::deque<Transmit> out; // handshake replies
    std::deque<Instant> recentHandshakes;
    // Scheduling, so that a drive costs what it touched rather than the number of channels (a host
    // with 10,000 idle channels must not scan them per packet). Whatever can change a channel's
    // sendability or deadline touches it: its packets, its timeouts, the application's commands on
    // its session, handshake messages. Touched channels wait in `ready` until pollTransmit finds
    // nothing to send on them; touched channels and sessions have their deadlines recomputed and
    // refiled (ordered sets: earliest first, ties by cid / creation order) before the next
    // nextTimeout() or handleTimeout(). Every entry is removed before its object is destroyed
    // (forget()).
    std::vector<Channel *> ready;
    size_t readyIndex = 0; // round robin: stays on a channel while it has a burst
    std::vector<Channel *> dirtyChannels;
    std::vector<Session *> dirtySessions;
    std::set<std::tuple<Instant, quint64, Channel *>> channelDeadlines; // (deadline, tie, object)
    std::set<std::tuple<Instant, quint64, Session *>> sessionDeadlines;
    quint64 nextSessionTie = 0;
    quint64 visits = 0; // schedulingVisits()
    QHash<QByteArray, Channel *> byInitiationEphemeral; // responder channels, for retransmitted initiations
    // The channel of the last short-header packet (a receive batch is mostly one channel's): saves
    // the hash lookup per datagram.
    quint64 lastRxCid = 0;
    Channel *lastRx = nullptr;

    void markDirty(Channel *ch)
    {
        if (!ch->sched.dirty) {
            ch->sched.dirty = true;
            dirtyChannels.push_back(ch);
        }
    }
    void markDirty(Session *s)
    {
        if (!s->sched.dirty) {
            s->sched.dirty = true;
            dirtySessions.push_back(s);
        }
    }
    void touch(Channel *ch)
    {
        if (!ch->sched.ready) {
            ch->sched.ready = true;
            ready.push_back(ch);
        }
        markDirty(ch);
        if (Session *s = ch->session())
            markDirty(s);
    }
    void touch(Session *s)
    {
        // Every command resolves its stream through here: the common case (already touched in
        // this drive) is a few compares, the rest is out of line.
        const Channel *c = s->channel();
        if (s->sched.dirty && c && c->sched.ready && c->sched.dirty && !s->handshaking)
            return;
        touchAll(s);
    }
    [[gnu::noinline]] void touchAll(Session *s)
    {
        markDirty(s);
        if (Channel *c = s->channel())
            touch(c);
        if (s->handshaking)
            touch(s->handshaking);
    }
    template<typename T> using DeadlineSet = std::set<std::tuple<Instant, quint64, T *>>;
    // Takes a channel or session out of its deadline set and recompute list.
    template<typename T> static void unschedule(DeadlineSet<T> &index, std::vector<T *> &dirty, T *x)
    {
        if (x->sched.filed != kNever)
            index.erase({x->sched.filed, x->sched.tie, x});
        if (x->sched.dirty)
            dirty.erase(std::find(dirty.begin(), dirty.end(), x));
    }
    // Before a channel is destroyed: no list or index may keep it.
    void forget(Channel *ch)
    {
        ch->discardDeferredAck(); // it is dead or abandoned: its in-flight frames count as lost
        unschedule(channelDeadlines, dirtyChannels, ch);
        if (ch->sched.ready) {
            ready.erase(std::find(ready.begin(), ready.end(), ch));
            readyIndex = 0;
        }
        if (!ch->initiationEphemeral.isEmpty() && byInitiationEphemeral.value(ch->initiationEphemeral) == ch)
            byInitiationEphemeral.remove(ch->initiationEphemeral);
        if (lastRx == ch)
            lastRx = nullptr;
    }
    void forget(Session *s) { unschedule(sessionDeadlines, dirtySessions, s); }
    template<typename T> static void file(DeadlineSet<T> &index, T *x, Instant t)
    {
        if (t == x->sched.filed)
            return;
        if (x->sched.filed == kNever) {
            index.insert({t, x->sched.tie, x});
        } else {
            auto node = index.extract({x->sched.filed, x->sched.tie, x}); // refiled without an allocation
            if (t != kNever) {
                std::get<0>(node.value()) = t;
                index.insert(std::move(node));
            }
        }
        x->sched.filed = t;
    }
    // Takes what is due by `now` off a deadline set (earliest first), unfiled, and hands it to fn.
    template<typename T, typename F> static void takeDue(DeadlineSet<T> &index, Instant now, F &&fn)
    {
        while (!index.empty() && std::get<0>(*index.begin()) <= now) {
            T *x = std::get<2>(*index.begin());
            index.erase(index.begin());
            x->sched.filed = kNever;
            fn(x);
        }
    }
    // A session's own timers, plus the endpoint's for it while it has no channel: reconnecting,
    // giving up after the linger time, or (nothing left open) removal at once.
    Instant sessionDeadline(const Session *s) const
    {
        Instant t = s->nextTimeout();
        if (!s->channel() && !s->handshaking) {
            if (!s->hasOpenStreams())
                return shared.lastNow;
            if (s->isInitiator())
                t = std::min(t, s->nextReconnect);
            if (s->channelLostAt != kNever)
                t = std::min(t, s->channelLostAt + cfg().sessionLinger);
        }
        return t;
    }
    void refreshDeadlines()
    {
        visits += dirtyChannels.size() + dirtySessions.size();
        for (Channel *ch : dirtyChannels) {
            ch->sched.dirty = false;
            // A dead channel is due at once: the timeout's sweep retires it.
            file(channelDeadlines, ch, ch->isDead() ? shared.lastNow : ch->nextTimeout());
        }
        dirtyChannels.clear();
        for (Session *s : dirtySessions) {
            s->sched.dirty = false;
            file(sessionDeadlines, s, sessionDeadline(s));
        }
        dirtySessions.clear();
    }
    StreamError lastError = StreamError::NoError;
    QString lastErrorString;

    const EndpointConfig &cfg() const { return shared.config; }

    void fail(StreamError e, const QString &msg = {})
    {
        lastError = e;
        lastErrorString = msg.isEmpty() ? QString::fromLatin1(toString(e)) : msg;
    }

    quint64 newCid()
    {
        for (;;) {
            const quint64 c = shared.randomU64();
            if (c != 0 && !channels.count(c))
                return c;
        }
    }

    uint8_t offeredSuites() const
    {
        uint8_t m = crypto::suiteMaskLocal();
        if (!cfg().allowAesGcm)
            m &= uint8_t(~crypto::suiteBit(crypto::CipherSuite::Aes256Gcm));
        if (cfg().allowNullCipher)
            m |= crypto::kSuiteBitNull;
        return m;
    }

    quint64 timestamp(Instant now)
    {
        const quint64 wall = cfg().wallClockOffsetNs
            + quint64(std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
        lastOwnTimestamp = std::max(lastOwnTimestamp + 1, wall);
        return lastOwnTimestamp;
    }

    // With `session` (the commands): the session is touched, its channel may have something to send.
    StreamState *resolve(StreamHandle h, Session **session = nullptr)
    {
        HandleRef *r = shared.handles.find(h);
        if (!r)
            return nullptr;
        if (session) {
            *session = r->session;
            touch(*session);
        }
        return r->stream;
    }

    // A write through `fn(session, stream)`; -1 (with the error recorded) if the direction is closed.
    template<typename F> qint64 writeTo(StreamHandle h, F &&fn)
    {
        Session *s = nullptr;
        StreamState *st = resolve(h, &s);
        if (!st) {
            fail(StreamError::Closed);
            return -1;
        }
        const qint64 n = fn(*s, *st);
        if (n < 0)
            fail(st->error != StreamError::NoError ? st->error : StreamError::Closed,
                 QStringLiteral("cannot write: the stream's write direction is closed"));
        return n;
    }

    void closeChannels(Instant now, quint64 code, const QString &reason)
    {
        std::vector<quint64> cids;
        for (auto &[cid, ch] : channels) {
            ch->close(now, code, reason);
            touch(ch.get()); // a CLOSE frame to send, or (handshaking) dead already
            cids.push_back(cid);
        }
        std::vector<QByteArray> ids;
        sweep(now, cids, ids);
    }

    Channel *addChannel(std::unique_ptr<Channel> c)
    {
        Channel *raw = c.get();
        raw->sched.tie = raw->localCid();
        channels.emplace(raw->localCid(), std::move(c));
        touch(raw);
        return raw;
    }
    void eraseChannel(Channel *ch)
    {
        forget(ch);
        channels.erase(ch->localCid());
    }

    void startHandshake(Instant now, Session *s, const SocketAddress &to, bool resume)
    {
        const quint64 cid = newCid();
        auto ch = std::make_unique<Channel>(shared, s, true, cid, to, now);
        ch->handshake = std::make_unique<crypto::InitiatorHandshake>(
            identity, s->peerId(), cid, offeredSuites(), timestamp(now), s->localParams(resume).encode(),
            randomBytes(32));
        s->handshaking = addChannel(std::move(ch));
        s->lastPeerAddress = to;
        shared.trace(now, "security:handshake_started",
                     QStringLiteral("peer=%1 to=%2 resume=%3")
                         .arg(QString::fromLatin1(s->peerId().toHex().left(16)), to.toString())
                         .arg(resume));
    }

    Session *newSession(const QByteArray &peerId, const QByteArray &sessionId, bool initiator)
    {
        auto s = std::make_unique<Session>(shared, peerId, sessionId, initiator);
        Session *raw = s.get();
        raw->sched.tie = ++nextSessionTie;
        markDirty(raw);
        sessions[sessionId] = std::move(s);
        peerSessions[peerId] = raw;
        return raw;
    }

    void removeSession(Session *s)
    {
        if (peerSessions.value(s->peerId()) == s)
            peerSessions.remove(s->peerId());
        // Channels that replaced each other may still point at it.
        while (!s->referencingChannels.empty()) {
            ++visits;
            s->referencingChannels.back()->setSession(nullptr);
        }
        forget(s);
        sessions.erase(s->sessionId());
    }

    void handleInitiation(Instant now, const SocketAddress &from, const QByteArray &pkt)
    {
        while (!recentHandshakes.empty() && now - recentHandshakes.front() > 1s)
            recentHandshakes.pop_front();
        const bool underLoad = cfg().forceCookies || int(recentHandshakes.size()) >= cfg().cookieThreshold;
        switch (responder->checkMacs(pkt, from, underLoad, now)) {
        case crypto::Responder::MacCheck::Invalid:
            return;
        case crypto::Responder::MacCheck::NeedCookie: {
            // Stateless: answer with a cookie and forget the initiation.
            const QByteArray reply = responder->makeCookieReply(pkt, from, now);
            if (!reply.isEmpty())
                out.push_back(Transmit {from, reply});
            return;
        }
        case crypto::Responder::MacCheck::Valid:
            break;
        }
        recentHandshakes.push_back(now);
        const QByteArray ephemeral = pkt.mid(crypto::kInitiationEphemeralOffset, 32);
        // A retransmitted initiation (our response was lost): answer again with the same bytes.
        if (Channel *ch = byInitiationEphemeral.value(ephemeral)) {
            if (ch->peerAddress() == from && !ch->cachedResponse.isEmpty()) {
                ch->onHandshakeBytesReceived(pkt.size());
                ch->onHandshakeBytesSent(ch->cachedResponse.size());
                touch(ch); // its amplification budget changed
                out.push_back(Transmit {from, ch->cachedResponse});
            }
            return;
        }
        std::optional<crypto::Responder::Incoming> in = responder->consumeInitiation(pkt);
        if (!in)
            return;
        if (in->timestamp <= lastTimestamp.value(in->initiatorPeerId, 0)) {
            shared.trace(now, "security:replay_rejected", QString());
            return; // replayed or stale initiation
        }
        std::optional<TransportParams> params = TransportParams::decode(in->appPayload);
        if (!params)
            return;
        const std::optional<crypto::CipherSuite> suite
            = crypto::chooseSuite(in->offeredSuites, offeredSuites());
        if (!suite)
            return;
        Session *session = nullptr;
        bool resumed = false;
        auto sit = sessions.find(params->sessionId);
        if (sit != sessions.end()) {
            if (sit->second->peerId() != in->initiatorPeerId || sit->second->isInitiator())
                return; // someone else's session id: refuse
            if (params->resume) {
                session = sit->second.get();
                resumed = true;
            } else {
                sit->second->failAll(StreamError::ChannelLost,
                                     QStringLiteral("the peer restarted the session"));
                dropSessionChannels(sit->second.get());
                removeSession(sit->second.get());
            }
        }
        if (!session)
            session = newSession(in->initiatorPeerId, params->sessionId, false);
        if (resumed)
            dropSessionChannels(session);
        const quint64 cid = newCid();
        answersInitiations = true;
        QByteArray ephSecret, ephPublic;
        if (nextEphSecret.size() == 32) {
            ephSecret.swap(nextEphSecret);
            ephPublic.swap(nextEphPublic);
        } else {
            ephSecret = randomBytes(32);
        }
        std::optional<crypto::Responder::Reply> reply = responder->makeResponse(
            *in, cid, *suite, session->localParams(resumed).encode(), ephSecret, ephPublic);
        crypto::secureWipe(ephSecret);
        if (!reply) {
            if (!resumed)
                removeSession(session);
            return;
        }
        lastTimestamp[in->initiatorPeerId] = in->timestamp;
        auto ch = std::make_unique<Channel>(shared, session, false, cid, from, now);
        ch->establish(now, reply->keys, in->initiatorCid);
        ch->cachedResponse = reply->packet;
        ch->initiationEphemeral = ephemeral;
        ch->onHandshakeBytesReceived(pkt.size());
        ch->onHandshakeBytesSent(reply->packet.size());
        Channel *raw = addChannel(std::move(ch));
        byInitiationEphemeral.insert(ephemeral, raw);
        session->setPeerParams(*params);
        session->lastPeerAddress = from;
        session->everConnected = true;
        session->attachChannel(raw);
        peerSessions[session->peerId()] = session;
        out.push_back(Transmit {from, reply->packet});
        sweepChannel(now, raw); // (addChannel touched it)
    }

    // Detaches and forgets every channel of a session (its in-flight frames return to the session).
    void dropSessionChannels(Session *s)
    {
        while (!s->referencingChannels.empty()) { // (destroying a channel takes it off the list)
            Channel *ch = s->referencingChannels.back();
            ++visits;
            if (s->channel() == ch) {
                ch->abandonInFlight();
                s->detachChannel();
            }
            if (s->handshaking == ch)
                s->handshaking = nullptr;
            eraseChannel(ch);
            markDirty(s);
        }
    }

    void handleResponse(Instant now, const QByteArray &pkt)
    {
        const std::optional<quint64> cid = crypto::peekResponseReceiverCid(pkt);
        if (!cid)
            return;
        auto it = channels.find(*cid);
        if (it == channels.end() || it->second->state() != Channel::State::Handshaking
            || !it->second->handshake)
            return;
        Channel *ch = it->second.get();
        std::optional<crypto::InitiatorHandshake::Result> r = ch->handshake->consumeResponse(pkt);
        if (!r)
            return;
        std::optional<TransportParams> params = TransportParams::decode(r->appPayload);
        Session *s = ch->session();
        if (!params || !s || params->sessionId != s->sessionId()) {
            ch->close(now, quint64(StreamError::ProtocolViolation),
                      QStringLiteral("bad transport parameters"));
            touch(ch);
            sweepChannel(now, ch);
            return;
        }
        if (s->everConnected && !params->resume) {
            // The responder no longer knows our session: what was in flight is gone.
            s->failAll(StreamError::ChannelLost, QStringLiteral("the peer lost the session state"));
        }
        ch->establish(now, r->keys, r->peerCid);
        Channel *old = nullptr;
        if (s->channel() && s->channel() != ch) {
            old = s->channel();
            old->abandonInFlight();
            s->detachChannel();
            old->close(now, 0, QStringLiteral("replaced"));
            touch(old);
        }
        s->handshaking = nullptr;
        s->setPeerParams(*params);
        s->everConnected = true;
        s->attachChannel(ch);
        peerSessions[s->peerId()] = s;
        touch(ch);
        if (old)
            sweepChannel(now, old);
        sweepChannel(now, ch);
    }

    void handleCookieReply(Instant now, const QByteArray &pkt)
    {
        const std::optional<quint64> cid = crypto::peekCid(pkt);
        if (!cid)
            return;
        auto it = channels.find(*cid);
        if (it == channels.end() || !it->second->handshake)
            return;
        if (it->second->handshake->consumeCookieReply(pkt)) {
            shared.trace(now, "security:cookie_received", QString());
            it->second->onCookieReply(now);
            touch(it->second.get());
        }
    }

    // Retires a dead channel: its session either waits for a new one (reconnecting if it is the
    // initiator) or gives up. Returns true if the channel was removed.
    void retire(Instant now, Channel *ch)
    {
        Session *s = ch->session();
        // The peer is going away for good: end the session now rather than linger for it.
        if (s && s->channel() == ch && ch->peerClosedCode() == kCloseEndpointShutdown)
            s->failAll(StreamError::ChannelLost, ch->closeReason());
        if (s) {
            if (s->channel() == ch) {
                ch->abandonInFlight();
                s->detachChannel();
                s->channelLostAt = now;
                if (s->isInitiator() && s->hasOpenStreams())
                    s->nextReconnect = now;
            }
            if (s->handshaking == ch) {
                s->handshaking = nullptr;
                if (!s->everConnected) {
                    s->failAll(StreamError::ConnectFailed, ch->closeReason());
                    s->channelLostAt = now - cfg().sessionLinger; // removed by updateSession()
                } else {
                    s->nextReconnect
                        = now + std::min<Duration>(1s * (1 << std::min(s->reconnectAttempts, 4)), 10s);
                    ++s->reconnectAttempts;
                }
            }
        }
        eraseChannel(ch);
        if (s) {
            markDirty(s);
            updateSession(now, s);
        }
    }

    // Reconnects, gives up or reports the link status of one session. Returns false if it was removed.
    bool updateSession(Instant now, Session *s)
    {
        if (!s->channel() && !s->handshaking) {
            const bool lingerOver
                = s->channelLostAt != kNever && now - s->channelLostAt >= cfg().sessionLinger;
            if (!s->hasOpenStreams() || lingerOver) {
                if (s->hasOpenStreams())
                    s->failAll(StreamError::ChannelLost, QStringLiteral("the channel to the peer was lost"));
                if (s->reportedStatus != LinkStatus::Down) {
                    Event e {Event::Type::LinkStatusChanged};
                    e.peerId = s->peerId();
                    e.status = LinkStatus::Down;
                    shared.events.push_back(std::move(e));
                }
                removeSession(s);
                return false;
            }
            if (s->isInitiator() && s->nextReconnect <= now)
                startHandshake(now, s, s->lastPeerAddress, true);
        }
        const LinkStatus st = s->channel() ? s->channel()->linkStatus()
            : s->handshaking               ? LinkStatus::Connecting
                                           : LinkStatus::Down;
        if (st != s->reportedStatus) {
            s->reportedStatus = st;
            Event e {Event::Type::LinkStatusChanged};
            e.peerId = s->peerId();
            e.status = st;
            shared.events.push_back(std::move(e));
        }
        return true;
    }

    // After a datagram: only the channel it touched can have changed state.
    // Applies the ACK frames held back during the turn (Channel::deferAck), oldest first. Applying
    // one can retire its channel or change its session (sweepChannel), which may forget others.
    void applyDeferredAcks()
    {
        while (!shared.deferredAcks.empty()) {
            Channel *ch = shared.deferredAcks.front().channel;
            ch->applyDeferredAck();
            touch(ch); // freed window or detected losses: maybe something to send
            sweepChannel(shared.lastNow, ch);
        }
    }

    void sweepChannel(Instant now, Channel *ch)
    {
        if (ch->isDead())
            retire(now, ch);
        else if (Session *s = ch->session())
            updateSession(now, s);
    }

    // After timeouts: retire the given channels if dead, then update the given sessions and those
    // of the channels. By cid and session id: retiring or updating one may remove another.
    void sweep(Instant now, const std::vector<quint64> &cids, std::vector<QByteArray> &sessionIds)
    {
        for (quint64 cid : cids) {
            auto it = channels.find(cid);
            if (it == channels.end())
                continue;
            if (it->second->isDead())
                retire(now, it->second.get());
            else if (Session *s = it->second->session())
                sessionIds.push_back(s->sessionId());
        }
        for (const QByteArray &id : sessionIds) {
            auto it = sessions.find(id);
            if (it != sessions.end())
                updateSession(now, it->second.get()); // (touched by the caller or by retire())
        }
    }
};

Endpoint::Endpoint(const crypto::StaticIdentity &identity, const EndpointConfig &config)
    : d(std::make_unique<Private>(identity, config))
{ }

Endpoint::~Endpoint()
{
    crypto::secureWipe(d->nextEphSecret);
    // Sessions reference channels and vice versa: drop channels first. (The scheduling lists go
    // with Private.)
    d->channels.clear();
    d->sessions.clear();
}

void Endpoint::setRandomSource(std::function<void(uint8_t *, size_t)> random)
{
    d->shared.random = random;
    d->responder = std::make_unique<crypto::Responder>(d->identity, std::move(random));
}

QByteArray Endpoint::peerId() const
{
    return d->identity.publicKey();
}
const EndpointConfig &Endpoint::config() const
{
    return d->shared.config;
}

void Endpoint::handleDatagram(Instant now, const SocketAddress &from, const char *data, qsizetype size)
{
    d->shared.lastNow = now;
    if (size < 1)
        return;
    const quint8 t = quint8(data[0]);
    if (t & kShortHeaderFlag) {
        if (size < kShortHeaderSize)
            return;
        const quint64 cid = be64(data + 1);
        Channel *ch = d->lastRx && d->lastRxCid == cid ? d->lastRx : nullptr;
        if (!ch) {
            auto it = d->channels.find(cid);
            if (it == d->channels.end())
                return;
            ch = it->second.get();
            d->lastRxCid = cid;
            d->lastRx = ch;
        }
        ch->handlePacket(now, from, data, size);
        d->touch(ch);
        d->sweepChannel(now, ch);
        return;
    } else if (t == crypto::kTypeInitiation) {
        d->handleInitiation(now, from, QByteArray(data, size));
    } else if (t == crypto::kTypeResponse) {
        d->handleResponse(now, QByteArray(data, size));
    } else if (t == crypto::kTypeCookieReply) {
        d->handleCookieReply(now, QByteArray(data, size));
    }
    // (Each handshake handler touches and sweeps the channels it changed.)
}

void Endpoint::handleTimeout(Instant now)
{
    d->shared.lastNow = now;
    d->shared.releaseRxSlab();
    d->shared.releaseTxSlab();
    d->applyDeferredAcks(); // timers must see every acknowledgement that arrived before them
    d->refreshDeadlines();
    // Only what is due (each is touched, so refiled at the next refresh).
    std::vector<quint64> cids;
    Private::takeDue(d->channelDeadlines, now, [&](Channel *ch) {
        cids.push_back(ch->localCid());
        if (ch->nextTimeout() <= now)
            ch->handleTimeout(now);
        d->touch(ch);
    });
    std::vector<QByteArray> ids;
    Private::takeDue(d->sessionDeadlines, now, [&](Session *s) {
        ids.push_back(s->sessionId());
        if (s->nextTimeout() <= now)
            s->handleTimeout(now);
        d->touch(s);
    });
    d->sweep(now, cids, ids);
}

std::optional<Transmit> Endpoint::pollTransmit(Instant now)
{
    Transmit t;
    if (!pollTransmit(now, t))
        return std::nullopt;
    return t;
}

bool Endpoint::pollTransmit(Instant now, Transmit &out)
{
    d->shared.lastNow = now;
    if (!d->out.empty()) {
        out = std::move(d->out.front());
        d->out.pop_front();
        return true;
    }
    // Only touched channels can have something to send. Stay on a channel while it has a burst
    // (fairness comes from pacing and the cwnd); one with nothing leaves the list until touched.
    std::vector<Channel *> &ready = d->ready;
    while (!ready.empty()) {
        if (d->readyIndex >= ready.size())
            d->readyIndex = 0;
        Channel *ch = ready[d->readyIndex];
        ++d->visits;
        const bool sent = ch->pollTransmit(now, out);
        if (sent)
            d->markDirty(ch); // sending arms its loss and keepalive timers
        // A channel with nothing left leaves the list until touched; after a packet, ask it rather
        // than poll it once more (a lone answer then goes to the socket without that poll).
        if (!sent || !ch->mayHaveMoreToSend()) {
            ch->sched.ready = false;
            ready[d->readyIndex] = ready.back();
            ready.pop_back();
        }
        if (sent)
            return true;
    }
    d->readyIndex = 0;
    // (A Transmit never filled has no buffer: resizing it would allocate, or fail to, every time.)
    if (!out.bytes.isEmpty())
        setSize(out.bytes, 0);
    return false;
}

bool Endpoint::afterTransmit()
{
    d->applyDeferredAcks();
    while (!d->shared.reclaimPending.empty()) {
        Session *s = d->shared.reclaimPending.back();
        s->sweepReclaims();
        d->touch(s); // reclaiming can grant stream credit (a frame to send) and end open streams
    }
    // The next response's ephemeral key (an X25519 base multiplication, ~70 us here), now rather
    // than while an initiator waits for the response.
    if (d->answersInitiations && d->nextEphSecret.isEmpty()) {
        d->nextEphSecret = d->randomBytes(32);
        d->nextEphPublic = QByteArray(32, '\0');
        crypto::noise::dhPublic(reinterpret_cast<uint8_t *>(d->nextEphPublic.data()),
                                reinterpret_cast<const uint8_t *>(d->nextEphSecret.constData()));
    }
    return !d->ready.empty() || !d->out.empty();
}

Instant Endpoint::nextTimeout() const
{
    // Something to send or to apply (a driver that skipped afterTransmit()): come back at once.
    if (!d->out.empty() || !d->ready.empty() || !d->shared.deferredAcks.empty())
        return d->shared.lastNow;
    d->refreshDeadlines();
    Instant t = kNever;
    if (!d->channelDeadlines.empty())
        t = std::get<0>(*d->channelDeadlines.begin());
    if (!d->sessionDeadlines.empty())
        t = std::min(t, std::get<0>(*d->sessionDeadlines.begin()));
    return t;
}

bool Endpoint::hasPendingEvents() const
{
    return !d->shared.events.empty();
}

std::optional<Event> Endpoint::pollEvent()
{
    Event e;
    if (!pollEvent(e))
        return std::nullopt;
    return e;
}

bool Endpoint::pollEvent(Event &out)
{
    EventQueue &events = d->shared.events;
    for (; !events.empty(); events.pop_front()) {
        Event &e = events.front();
        if (e.type == Event::Type::Readable || e.type == Event::Type::DatagramReadable) {
            if (StreamState *s = d->resolve(e.stream)) {
                // Per-stream coalescing flags: the next change after the app saw this event emits again.
                if (e.type == Event::Type::Readable)
                    s->readableEventQueued = false;
                else
                    s->datagramEventQueued = false;
                // Released since it was queued (a request answered in the NewSubstream handler):
                // the application dropped the handle, news of its data has no reader (as
                // noteReadable() sends none for a released stream).
                if (s->released && e.type == Event::Type::Readable)
                    continue;
            }
        }
        events.takeFront(out);
        return true;
    }
    return false;
}

bool Endpoint::listen(const QString &service, const QString &protocol)
{
    const auto key = qMakePair(service, protocol);
    if (d->shared.listeners.contains(key)) {
        d->fail(StreamError::InvalidArgument,
                QStringLiteral("%1/%2 is already listened on").arg(service, protocol));
        return false;
    }
    d->shared.listeners.insert(key);
    return true;
}

void Endpoint::unlisten(const QString &service, const QString &protocol)
{
    d->shared.listeners.remove(qMakePair(service, protocol));
}

StreamHandle Endpoint::connectStream(Instant now, const QByteArray &peerId, const SocketAddress &hint,
                                     const QString &service, const QString &protocol)
{
    d->shared.lastNow = now;
    if (!crypto::isValidPeerId(peerId)) {
        d->fail(StreamError::InvalidArgument, QStringLiteral("invalid PeerId"));
        return 0;
    }
    if (peerId == this->peerId()) {
        d->fail(StreamError::InvalidArgument, QStringLiteral("cannot connect to our own PeerId"));
        return 0;
    }
    if (service.toUtf8().size() > 255 || protocol.toUtf8().size() > 255) {
        d->fail(StreamError::InvalidArgument, QStringLiteral("service or protocol name too long"));
        return 0;
    }
    Session *s = d->peerSessions.value(peerId);
    if (!s) {
        if (hint.port == 0 || hint.host.isNull()) {
            d->fail(StreamError::InvalidArgument, QStringLiteral("no address known for this peer"));
            return 0;
        }
        QByteArray sid(16, '\0');
        d->shared.random(reinterpret_cast<uint8_t *>(sid.data()), size_t(sid.size()));
        s = d->newSession(peerId, sid, true);
        d->startHandshake(now, s, hint, false);
    }
    d->touch(s);
    return s->openTopLevel(now, service, protocol);
}

StreamHandle Endpoint::openSubstream(Instant now, StreamHandle parent)
{
    Session *s = nullptr;
    StreamState *p = d->resolve(parent, &s);
    if (!p || p->resetQueued || p->error != StreamError::NoError) {
        d->fail(StreamError::Closed);
        return 0;
    }
    return s->openSubstream(now, *p);
}

StreamHandle Endpoint::acceptSubstream(StreamHandle parent)
{
    StreamState *p = d->resolve(parent);
    if (!p || p->pendingChildren.isEmpty())
        return 0;
    return p->pendingChildren.takeFirst();
}

int Endpoint::pendingSubstreams(StreamHandle parent) const
{
    StreamState *p = d->resolve(parent);
    return p ? int(p->pendingChildren.size()) : 0;
}

void Endpoint::setAcceptSubstreams(StreamHandle stream, bool accept)
{
    if (StreamState *p = d->resolve(stream))
        p->acceptSubstreams = accept;
}

qint64 Endpoint::write(Instant now, StreamHandle h, const char *data, qint64 size, bool endOfMessage)
{
    return d->writeTo(
        h, [&](Session &s, StreamState &st) { return s.write(now, st, data, size, endOfMessage); });
}

qint64 Endpoint::write(Instant now, StreamHandle h, const QByteArray &data, bool endOfMessage)
{
    return d->writeTo(h, [&](Session &s, StreamState &st) { return s.write(now, st, data, endOfMessage); });
}

qint64 Endpoint::writeFinal(Instant now, StreamHandle h, const QByteArray &data)
{
    return d->writeTo(h, [&](Session &s, StreamState &st) {
        const qint64 n = data.isEmpty() ? 0 : s.write(now, st, data, false);
        if (n == data.size())
            s.shutdownWrite(st);
        return n;
    });
}

qint64 Endpoint::read(StreamHandle h, char *data, qint64 maxSize)
{
    Session *s = nullptr;
    StreamState *st = d->resolve(h, &s);
    if (!st) {
        d->fail(StreamError::Closed);
        return -1;
    }
    return s->read(d->shared.lastNow, *st, data, maxSize);
}

QByteArray Endpoint::read(StreamHandle h, qint64 maxSize)
{
    Session *s = nullptr;
    StreamState *st = d->resolve(h, &s);
    if (!st) {
        d->fail(StreamError::Closed);
        return QByteArray();
    }
    return s->read(d->shared.lastNow, *st, maxSize);
}

qint64 Endpoint::readAll(StreamHandle h, qint64 maxSize, QByteArray &out, bool &atEnd)
{
    Session *s = nullptr;
    StreamState *st = d->resolve(h, &s);
    if (!st) {
        atEnd = true;
        return 0;
    }
    const qint64 avail = st->recv.bytesAvailable();
    if (avail > 0 && avail <= maxSize)
        out = s->read(d->shared.lastNow, *st, avail);
    atEnd = st->readAtEnd();
    return avail;
}

qint64 Endpoint::peek(StreamHandle h, char *data, qint64 maxSize) const
{
    StreamState *st = d->resolve(h);
    return st ? st->recv.peek(data, maxSize) : -1;
}

qint64 Endpoint::bytesAvailable(StreamHandle h) const
{
    StreamState *st = d->resolve(h);
    return st ? st->recv.bytesAvailable() : 0;
}

qint64 Endpoint::bytesToWrite(StreamHandle h) const
{
    StreamState *st = d->resolve(h);
    return st ? st->send.unackedBytes() : 0;
}

qint64 Endpoint::writeCapacity(StreamHandle h) const
{
    StreamState *st = d->resolve(h);
    if (!st || st->sendShut || st->resetQueued)
        return 0;
    return std::max<qint64>(0, d->cfg().maxSendBufferPerStream - st->send.unackedBytes());
}

QByteArray Endpoint::readMessage(StreamHandle h)
{
    Session *s = nullptr;
    StreamState *st = d->resolve(h, &s);
    if (!st || !st->recv.hasMessage())
        return {};
    return s->readMessage(d->shared.lastNow, *st);
}

bool Endpoint::hasPendingMessages(StreamHandle h) const
{
    StreamState *st = d->resolve(h);
    return st && st->recv.hasMessage();
}

qint64 Endpoint::pendingMessageSize(StreamHandle h) const
{
    StreamState *st = d->resolve(h);
    return st ? st->recv.nextMessageSize() : -1;
}

bool Endpoint::atEnd(StreamHandle h) const
{
    StreamState *st = d->resolve(h);
    return !st || st->readAtEnd();
}

bool Endpoint::writeDatagram(Instant now, StreamHandle h, const QByteArray &data, const DatagramOptions &opts)
{
    Session *s = nullptr;
    StreamState *st = d->resolve(h, &s);
    if (!st) {
        d->fail(StreamError::Closed);
        return false;
    }
    if (data.isEmpty()) {
        d->fail(StreamError::InvalidArgument, QStringLiteral("empty datagram"));
        return false;
    }
    if (!s->writeDatagram(now, *st, data, opts)) {
        d->fail(StreamError::Closed,
                QStringLiteral("cannot send a datagram: the stream's write direction is closed"));
        return false;
    }
    return true;
}

std::optional<QByteArray> Endpoint::readDatagram(StreamHandle h)
{
    StreamState *st = d->resolve(h);
    if (!st || st->inDatagrams.isEmpty())
        return std::nullopt;
    QByteArray b = st->inDatagrams.takeFirst();
    d->shared.handles.find(h)->session->maybeReclaim(*st);
    return b;
}

bool Endpoint::hasPendingDatagrams(StreamHandle h) const
{
    StreamState *st = d->resolve(h);
    return st && !st->inDatagrams.isEmpty();
}

qint64 Endpoint::pendingDatagramSize(StreamHandle h) const
{
    StreamState *st = d->resolve(h);
    return st && !st->inDatagrams.isEmpty() ? st->inDatagrams.first().size() : -1;
}

bool Endpoint::setPriority(Instant, StreamHandle h, int priority)
{
    Session *s = nullptr;
    StreamState *st = d->resolve(h, &s);
    if (!st) {
        d->fail(StreamError::Closed);
        return false;
    }
    s->setPriority(*st, priority);
    return true;
}

int Endpoint::priority(StreamHandle h) const
{
    StreamState *st = d->resolve(h);
    return st ? st->priority : 0;
}

bool Endpoint::shutdownWrite(Instant, StreamHandle h)
{
    Session *s = nullptr;
    StreamState *st = d->resolve(h, &s);
    if (!st) {
        d->fail(StreamError::Closed);
        return false;
    }
    s->shutdownWrite(*st);
    return true;
}

bool Endpoint::shutdownRead(Instant, StreamHandle h)
{
    Session *s = nullptr;
    StreamState *st = d->resolve(h, &s);
    if (!st) {
        d->fail(StreamError::Closed);
        return false;
    }
    s->shutdownRead(*st);
    return true;
}

bool Endpoint::reset(Instant, StreamHandle h, StreamError code)
{
    Session *s = nullptr;
    StreamState *st = d->resolve(h, &s);
    if (!st) {
        d->fail(StreamError::Closed);
        return false;
    }
    s->reset(*st, code, true);
    return true;
}

bool Endpoint::release(Instant, StreamHandle h)
{
    Session *s = nullptr;
    StreamState *st = d->resolve(h, &s);
    if (!st)
        return false;
    s->release(*st);
    s->sweepReclaims(); // an explicit release frees at once
    return s->hasPendingFrames();
}

bool Endpoint::isValid(StreamHandle h) const
{
    return d->resolve(h) != nullptr;
}

bool Endpoint::isHeld(StreamHandle h) const
{
    const StreamState *st = d->resolve(h);
    return st && !st->released;
}

QByteArray Endpoint::streamPeerId(StreamHandle h) const
{
    Session *s = nullptr;
    return d->resolve(h, &s) ? s->peerId() : QByteArray();
}

StreamError Endpoint::streamError(StreamHandle h) const
{
    StreamState *st = d->resolve(h);
    return st ? st->error : StreamError::Closed;
}

LinkStatus Endpoint::linkStatus(const QByteArray &peerId) const
{
    Session *s = d->peerSessions.value(peerId);
    if (!s)
        return LinkStatus::Down;
    if (s->channel())
        return s->channel()->linkStatus();
    return s->handshaking ? LinkStatus::Connecting : LinkStatus::Down;
}

StreamError Endpoint::lastError() const
{
    return d->lastError;
}
QString Endpoint::lastErrorString() const
{
    return d->lastErrorString;
}

QList<ChannelStats> Endpoint::channelStats() const
{
    QList<ChannelStats> out;
    for (const auto &[cid, ch] : d->channels)
        out.append(ch->stats());
    return out;
}

static StreamStats makeStats(const Session &s, const StreamState &st)
{
    StreamStats r;
    r.handle = st.handle;
    r.parent = st.parent;
    r.wireId = st.wireId;
    r.peerId = s.peerId();
    r.priority = st.priority;
    r.service = st.service;
    r.protocol = st.protocol;
    r.state = st.resetQueued || st.resetReceived        ? QStringLiteral("reset")
        : st.send.isFinished() && st.recv.finReceived() ? QStringLiteral("closing")
        : st.send.isFinished()                          ? QStringLiteral("write-closed")
        : st.recv.finReceived()                         ? QStringLiteral("read-closed")
                                                        : QStringLiteral("open");
    r.queuedBytes = st.send.queuedBytes();
    r.inFlightBytes = st.send.inFlightBytes();
    r.ackedBytes = qint64(st.send.ackedPrefix());
    r.receivedBytes = qint64(st.recv.receivedContiguous());
    r.readableBytes = st.recv.bytesAvailable();
    r.sendWindow = st.credit.limit();
    r.receiveWindow = st.window.windowSize();
    r.childCount = st.childCount;
    return r;
}

QList<StreamStats> Endpoint::streamStats(const QByteArray &peerId) const
{
    QList<StreamStats> out;
    for (const auto &[id, s] : d->sessions) {
        if (!peerId.isEmpty() && s->peerId() != peerId)
            continue;
        s->forEachStream([&](const StreamState &st) {
            if (st.kind == wire::StreamKind::Stream)
                out.append(makeStats(*s, st));
        });
    }
    return out;
}

std::optional<StreamStats> Endpoint::streamStats(StreamHandle h) const
{
    Session *s = nullptr;
    StreamState *st = d->resolve(h, &s);
    if (!st)
        return std::nullopt;
    return makeStats(*s, *st);
}

void Endpoint::setTraceEnabled(bool on)
{
    d->shared.tracing = on;
}

std::optional<TraceEvent> Endpoint::pollTrace()
{
    if (d->shared.traces.empty())
        return std::nullopt;
    TraceEvent t = std::move(d->shared.traces.front());
    d->shared.traces.pop_front();
    return t;
}

quint64 Endpoint::handshakeStateCount() const
{
    quint64 n = 0;
    for (const auto &[cid, ch] : d->channels)
        if (!ch->isInitiator() && ch->state() != Channel::State::Closed)
            ++n;
    return n;
}

quint64 Endpoint::sessionCount() const
{
    return d->sessions.size();
}

quint64 Endpoint::schedulingVisits() const
{
    return d->visits;
}

void Endpoint::shutdown(Instant now)
{
    d->shared.lastNow = now;
    d->closeChannels(now, kCloseEndpointShutdown, QStringLiteral("the peer host closed"));
}

void Endpoint::closeAllChannels(Instant now)
{
    d->closeChannels(now, 0, QStringLiteral("closed by application"));
}

void Endpoint::dropChannels()
{
    for (auto &[id, s] : d->sessions) {
        if (Channel *c = s->channel()) {
            c->abandonInFlight();
            s->detachChannel();
            s->channelLostAt = d->shared.lastNow;
            s->nextReconnect = d->shared.lastNow;
        }
        s->handshaking = nullptr;
        d->markDirty(s.get());
    }
    for (auto &[cid, ch] : d->channels)
        d->forget(ch.get());
    d->channels.clear();
}

} // namespace sss::core
