// Security and robustness of the sans-IO core in virtual time: an attacker with full control of the
// network (tamper, truncate, replay, spoof, flood) must not corrupt a transfer, create state or get the
// responder to amplify traffic; an impostor without the key cannot complete a handshake.
#include "channel/channel.h"
#include "channel/session.h"
#include "coresim.h"
#include "crypto/handshake.h"
#include "sim/testsupport.h"

#include <QTest>
#include <optional>
#include <random>

using namespace sss;
using namespace sss::core;

class tst_CoreSecurity : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void tamperedPackets_data() { sim::addSeedRows(3); }
    void tamperedPackets();
    void truncatedPackets_data() { sim::addSeedRows(3); }
    void truncatedPackets();
    void replayedPackets_data() { sim::addSeedRows(3); }
    void replayedPackets();
    void racedCopies_data() { sim::addSeedRows(3); }
    void racedCopies();
    void spoofedPackets_data() { sim::addSeedRows(2); }
    void spoofedPackets();
    void replayedInitiation();
    void initiationFloodForcedCookies();
    void cookieRetryIsImmediate();
    void initiationFloodThreshold();
    void amplificationDuringHandshake();
    void amplificationSpoofedInitiator();
    void amplificationPathSpoof();
    void impersonationFails();
};

namespace {

const QString kService = QStringLiteral("bulk");
const QString kProtocol = QStringLiteral("1");

bool isShort(const QByteArray &b)
{
    return !b.isEmpty() && (quint8(b[0]) & kShortHeaderFlag);
}

quint64 be64(const char *p)
{
    quint64 v = 0;
    for (int i = 0; i < 8; ++i)
        v = (v << 8) | quint8(p[i]);
    return v;
}

core::SocketAddress addr(const char *ip, quint16 port)
{
    return {QHostAddress(QString::fromLatin1(ip)), port};
}

// Bytes per address in both directions, seen by the network tracer: what a node sent to an address
// (its socket's "send") and what reached it from that address ("deliver").
struct Traffic {
    QHash<core::SocketAddress, qint64> sentTo, receivedFrom;
    QHash<core::SocketAddress, QList<qsizetype>> sizesTo;
};

// Two hosts, A (initiator, 10.0.0.1:4000) and B (responder, 10.0.0.2:5000), and a bulk transfer A -> B.
struct World {
    explicit World(uint64_t seed, EndpointConfig cfgB = {}, sim::LinkParams link = {}) : sim(seed), net(sim)
    {
        if (link.delay == Duration {})
            link.delay = 10ms;
        if (link.bitsPerSecond == 0)
            link.bitsPerSecond = 50e6;
        net.setDefaultLink(link);
        ha = net.addHost(QHostAddress(QStringLiteral("10.0.0.1")));
        hb = net.addHost(QHostAddress(QStringLiteral("10.0.0.2")));
        a = std::make_unique<test::CoreNode>(net, ha, 4000);
        b = std::make_unique<test::CoreNode>(net, hb, 5000, cfgB);
        b->ep->listen(kService, kProtocol);
        aToB = net.route(ha, hb).first();
        bToA = net.route(hb, ha).first();
        net.setTracer([this](const char *ev, const sim::Packet &p) {
            if (!qstrcmp(ev, "send") && p.from == b->address()) {
                traffic.sentTo[p.to] += p.bytes.size();
                traffic.sizesTo[p.to].append(p.bytes.size());
            } else if (!qstrcmp(ev, "deliver") && p.to == b->address()) {
                traffic.receivedFrom[p.from] += p.bytes.size();
                if (onDeliverToB)
                    onDeliverToB(p);
            }
            if (!qstrcmp(ev, "send") && p.from == a->address())
                aSentTo[p.to] += p.bytes.size();
            if (!qstrcmp(ev, "deliver") && p.to == a->address())
                aReceivedFrom[p.from] += p.bytes.size();
        });
    }

    void startTransfer(qint64 bytes) { bulk.emplace(a.get(), b.get(), kService, kProtocol, bytes); }
    bool done() const { return bulk && bulk->done(); }
    bool runTransfer(Duration limit = 60s)
    {
        return sim.runUntil([this] { return done() || bulk->error != StreamError::NoError; }, limit)
            && done();
    }
    bool byteExact() const { return bulk && bulk->byteExact(); }
    const test::BulkReceiver &rx() const { return bulk->rx; }
    const test::BulkSender &tx() const { return bulk->tx; }

    ChannelStats statsB() const
    {
        const auto l = b->ep->channelStats();
        return l.size() == 1 ? l.first() : ChannelStats {};
    }
    ChannelStats statsA() const
    {
        const auto l = a->ep->channelStats();
        return l.size() == 1 ? l.first() : ChannelStats {};
    }

    sim::Simulator sim;
    sim::Network net;
    sim::Host *ha, *hb;
    std::unique_ptr<test::CoreNode> a, b;
    sim::Link *aToB, *bToA;
    std::optional<test::BulkTransfer> bulk;
    Traffic traffic;
    QHash<core::SocketAddress, qint64> aSentTo, aReceivedFrom;
    std::function<void(const sim::Packet &)> onDeliverToB;
};

// A well-formed initiation to `responder` from a fresh identity, as any client would send it (valid mac1,
// valid transport parameters): the expensive kind for the responder, unless it is behind the cookie wall.
QByteArray forgeInitiation(std::mt19937_64 &rng, const QByteArray &responder)
{
    QByteArray seed(32, '\0');
    for (char &c : seed)
        c = char(rng());
    const auto id = crypto::StaticIdentity::fromSeed(seed);
    TransportParams tp;
    tp.sessionId = QByteArray(16, '\0');
    for (char &c : tp.sessionId)
        c = char(rng());
    tp.initialMaxData = 1 << 20;
    tp.initialMaxStreamData = 1 << 18;
    tp.initialMaxStreams = 100;
    tp.idleTimeoutMs = 30000;
    tp.maxDatagramSize = 1232;
    QByteArray eph(32, '\0');
    for (char &c : eph)
        c = char(rng());
    crypto::InitiatorHandshake hs(id, responder, rng() | 1, crypto::kSuiteBitChaCha, 1000 + rng() % 1000000,
                                  tp.encode(), eph);
    return hs.initiation();
}

} // namespace

// (a) Flipped bytes: the AEAD rejects every tampered packet (counted), retransmission repairs the stream.
void tst_CoreSecurity::tamperedPackets()
{
    QFETCH(quint64, seed);
    SSS_SEED_GUARD(seed);
    World w(seed);
    std::mt19937_64 rng(seed);
    int tamperedAB = 0, tamperedBA = 0;
    // Keep the flags and cid intact (bytes 0..8) so each tampered packet reaches the channel and must be
    // caught by authentication; header bytes 9..12 (packet number) are authenticated too.
    auto tamper = [&](int &count) {
        return [&, count = &count](sim::Packet &p) {
            if (isShort(p.bytes) && p.bytes.size() > 9 && rng() % 20 == 0) {
                const qsizetype i = 9 + qsizetype(rng() % quint64(p.bytes.size() - 9));
                p.bytes[i] = char(p.bytes[i] ^ char(1 + rng() % 255));
                ++*count;
            }
            return sim::Link::Verdict::Deliver;
        };
    };
    w.aToB->setInterceptor(tamper(tamperedAB));
    w.bToA->setInterceptor(tamper(tamperedBA));
    w.startTransfer(3 << 20);
    QVERIFY(w.runTransfer());
    w.aToB->setInterceptor({});
    w.bToA->setInterceptor({});
    w.sim.runFor(200ms); // let tampered packets still in flight arrive
    QVERIFY(w.byteExact());
    QVERIFY(tamperedAB > 10);
    QVERIFY(tamperedBA > 0);
    QCOMPARE(w.statsB().packetsDropped, quint64(tamperedAB));
    QCOMPARE(w.statsA().packetsDropped, quint64(tamperedBA));
    QCOMPARE(w.b->ep->sessionCount(), quint64(1));
}

// (b) Truncated packets are dropped (counted once they are long enough to reach the channel).
void tst_CoreSecurity::truncatedPackets()
{
    QFETCH(quint64, seed);
    SSS_SEED_GUARD(seed);
    World w(seed);
    std::mt19937_64 rng(seed);
    int reachChannel = 0, truncated = 0;
    w.aToB->setInterceptor([&](sim::Packet &p) {
        if (isShort(p.bytes) && rng() % 20 == 0) {
            const qsizetype n = qsizetype(rng() % quint64(p.bytes.size()));
            p.bytes.truncate(n);
            ++truncated;
            if (n >= kShortHeaderSize) // shorter ones cannot even name a channel
                ++reachChannel;
        }
        return sim::Link::Verdict::Deliver;
    });
    w.startTransfer(3 << 20);
    QVERIFY(w.runTransfer());
    w.aToB->setInterceptor({});
    w.sim.runFor(200ms);
    QVERIFY(w.byteExact());
    QVERIFY(truncated > 10);
    QCOMPARE(w.statsB().packetsDropped, quint64(reachChannel));
}

// (c) Copies of packets B already received, re-injected later (from the real and from another source
// address), are dropped by the replay window: no duplicate delivery, no path change, nothing sent to the
// other address.
void tst_CoreSecurity::replayedPackets()
{
    QFETCH(quint64, seed);
    SSS_SEED_GUARD(seed);
    World w(seed);
    std::mt19937_64 rng(seed);
    int replayed = 0;
    const core::SocketAddress elsewhere = addr("10.0.0.66", 4000);
    w.onDeliverToB = [&](const sim::Packet &p) {
        if (p.from == w.a->address() && isShort(p.bytes) && rng() % 10 == 0) {
            sim::Packet copy = p;
            if (rng() % 2)
                copy.from = elsewhere;
            w.sim.scheduleAfter(std::chrono::milliseconds(1 + rng() % 400), [&w, &replayed, copy] {
                w.net.inject(copy);
                ++replayed;
            });
        }
    };
    w.startTransfer(3 << 20);
    QVERIFY(w.runTransfer());
    w.onDeliverToB = nullptr;
    w.sim.runFor(1s); // every scheduled replay has been injected and delivered
    QVERIFY(w.byteExact());
    QVERIFY(replayed > 20);
    QCOMPARE(w.statsB().packetsDropped, quint64(replayed));
    QCOMPARE(w.statsB().peerAddress, w.a->address());
    QCOMPARE(w.traffic.sentTo.value(elsewhere), qint64(0));
}

// (c') Copies sent from another address at once can overtake the originals (the attacker's path is
// faster than A's queue). A copy that wins the race is authentic and newest, so B follows it like a NAT
// rebinding, as QUIC does; but it must send that address at most 3x what came from there, return to A,
// and deliver the stream exactly once.
void tst_CoreSecurity::racedCopies()
{
    QFETCH(quint64, seed);
    SSS_SEED_GUARD(seed);
    World w(seed);
    std::mt19937_64 rng(seed);
    bool injecting = false;
    int copies = 0;
    const core::SocketAddress elsewhere = addr("10.0.0.66", 4000);
    w.aToB->setInterceptor([&](sim::Packet &p) {
        if (!injecting && isShort(p.bytes) && rng() % 20 == 0) {
            sim::Packet copy = p;
            copy.from = elsewhere;
            injecting = true;
            w.net.inject(copy); // over a separate, unqueued link: may arrive first
            injecting = false;
            ++copies;
        }
        return sim::Link::Verdict::Deliver;
    });
    w.startTransfer(3 << 20);
    QVERIFY(w.runTransfer());
    w.aToB->setInterceptor({});
    w.sim.runFor(1s);
    QVERIFY(w.byteExact());
    QVERIFY(copies > 10);
    const qint64 in = w.traffic.receivedFrom.value(elsewhere), out = w.traffic.sentTo.value(elsewhere);
    QVERIFY2(out <= 3 * in, qPrintable(QStringLiteral("in %1 out %2").arg(in).arg(out)));
    QCOMPARE(w.statsB().peerAddress, w.a->address());
    // Each copy is dropped at B, either as the late duplicate or because the original came second.
    QCOMPARE(w.statsB().packetsDropped, quint64(copies));
}

// (d) Spoofed traffic during a transfer: random bytes, valid-looking short headers with the live connection
// id (from a stranger and from A's own address), forged handshake messages. All dropped, nothing answered.
void tst_CoreSecurity::spoofedPackets()
{
    QFETCH(quint64, seed);
    SSS_SEED_GUARD(seed);
    World w(seed);
    std::mt19937_64 rng(seed);
    quint64 cidAtB = 0, cidAtA = 0;
    w.aToB->setInterceptor([&](sim::Packet &p) {
        if (isShort(p.bytes) && p.bytes.size() >= 9)
            cidAtB = be64(p.bytes.constData() + 1);
        return sim::Link::Verdict::Deliver;
    });
    w.bToA->setInterceptor([&](sim::Packet &p) {
        if (isShort(p.bytes) && p.bytes.size() >= 9)
            cidAtA = be64(p.bytes.constData() + 1);
        return sim::Link::Verdict::Deliver;
    });
    const core::SocketAddress stranger = addr("203.0.113.5", 6000);
    const auto otherId = crypto::StaticIdentity::fromSeed(QByteArray(32, '\x5a'));
    auto randomBytes = [&](qsizetype n) {
        QByteArray b(n, '\0');
        for (char &c : b)
            c = char(rng());
        return b;
    };
    auto putCid = [](QByteArray &b, int at, quint64 cid) {
        for (int i = 7; i >= 0; --i, cid >>= 8)
            b[at + i] = char(cid & 0xff);
    };
    int expectDropB = 0, sent = 0;
    std::function<void()> attack = [&] {
        if (w.done())
            return;
        w.sim.scheduleAfter(3ms, attack);
        if (!cidAtB || !cidAtA)
            return;
        ++sent;
        const int kind = int(rng() % 8);
        QByteArray b;
        core::SocketAddress from = stranger, to = w.b->address();
        switch (kind) {
        case 0: // noise
            b = randomBytes(qsizetype(rng() % 1400));
            break;
        case 1: // short header, live cid, from a stranger
        case 2: // same, spoofing A's address
            b = randomBytes(kShortHeaderSize + qsizetype(rng() % 1200));
            b[0] = char(kShortHeaderFlag | (rng() & 1));
            putCid(b, 1, cidAtB);
            if (kind == 2)
                from = w.a->address();
            ++expectDropB;
            break;
        case 3: // initiation for a different responder key: mac1 is wrong for B
            b = crypto::InitiatorHandshake(otherId, w.a->peerId(), rng() | 1, crypto::kSuiteBitChaCha, 1, {})
                    .initiation();
            break;
        case 4: // initiation-shaped garbage
            b = randomBytes(crypto::kInitiationSize);
            b[0] = char(crypto::kTypeInitiation);
            b[1] = char(crypto::kHandshakeVersion);
            break;
        case 5: // forged response addressed to A's live channel
            b = randomBytes(crypto::kResponseMinSize + qsizetype(rng() % 200));
            b[0] = char(crypto::kTypeResponse);
            b[1] = char(crypto::kHandshakeVersion);
            putCid(b, 10, cidAtA);
            to = w.a->address();
            from = w.b->address();
            break;
        case 6: // forged cookie reply for A's channel
            b = randomBytes(crypto::kCookieReplySize);
            b[0] = char(crypto::kTypeCookieReply);
            b[1] = char(crypto::kHandshakeVersion);
            putCid(b, 2, cidAtA);
            to = w.a->address();
            from = w.b->address();
            break;
        default: // cookie reply / response garbage to B
            b = randomBytes(crypto::kCookieReplySize);
            b[0] = char(2 + rng() % 2);
            b[1] = char(crypto::kHandshakeVersion);
            break;
        }
        w.net.inject(sim::Packet {from, to, b});
    };
    w.sim.post(attack);
    w.startTransfer(3 << 20);
    QVERIFY(w.runTransfer());
    w.sim.runFor(100ms);
    QVERIFY(w.byteExact());
    QVERIFY(sent > 100);
    QCOMPARE(w.statsB().packetsDropped, quint64(expectDropB));
    QCOMPARE(w.statsA().packetsDropped, quint64(0)); // A saw only forged handshake messages: ignored
    QCOMPARE(w.statsB().peerAddress, w.a->address());
    QCOMPARE(w.statsA().peerAddress, w.b->address());
    QCOMPARE(w.b->ep->sessionCount(), quint64(1));
    QCOMPARE(w.b->ep->handshakeStateCount(), quint64(1));
    QCOMPARE(w.a->ep->channelStats().size(), 1);
    QCOMPARE(w.traffic.sentTo.value(stranger), qint64(0)); // garbage is never answered
}

// (e) A captured initiation replayed while the channel lives (same or other address), and again after A
// reconnected with a newer timestamp, creates no session and does not disturb the live channel.
void tst_CoreSecurity::replayedInitiation()
{
    sim::LinkParams slow;
    slow.bitsPerSecond = 10e6;
    World w(11, {}, slow);
    QByteArray initiation;
    w.aToB->setInterceptor([&](sim::Packet &p) {
        if (!p.bytes.isEmpty() && p.bytes[0] == char(crypto::kTypeInitiation) && initiation.isEmpty())
            initiation = p.bytes;
        return sim::Link::Verdict::Deliver;
    });
    w.b->ep->setTraceEnabled(true);
    int replayRejected = 0, handshakesDone = 0;
    auto drainTrace = [&] {
        while (auto t = w.b->ep->pollTrace()) {
            if (qEnvironmentVariableIsSet("SSS_TRACE"))
                qDebug() << toMicros(w.sim.elapsed()) << t->name << t->detail;
            if (t->name == QLatin1String("security:replay_rejected"))
                ++replayRejected;
            if (t->name == QLatin1String("security:handshake_done"))
                ++handshakesDone;
        }
    };
    w.startTransfer(12 << 20);
    QVERIFY(w.sim.runUntil([&] { return w.rx().received > (1 << 20); }, 30s));
    QVERIFY(!initiation.isEmpty());
    drainTrace();
    QCOMPARE(handshakesDone, 1);
    const core::SocketAddress other = addr("10.0.0.77", 4000);
    w.net.inject({w.a->address(), w.b->address(), initiation});
    w.net.inject({other, w.b->address(), initiation});
    w.sim.runFor(1s); // the copy from A's address waits behind A's queue
    drainTrace();
    QCOMPARE(handshakesDone, 1);
    QCOMPARE(w.b->ep->sessionCount(), quint64(1));
    QCOMPARE(w.b->ep->handshakeStateCount(), quint64(1));
    QCOMPARE(w.traffic.sentTo.value(other), qint64(0));
    QCOMPARE(w.statsB().peerAddress, w.a->address());

    // A re-handshakes (new ephemeral, newer timestamp); the old initiation is now stale.
    w.a->ep->closeAllChannels(w.a->now());
    w.a->kick();
    QVERIFY(w.sim.runUntil(
        [&] {
            drainTrace();
            return handshakesDone == 2;
        },
        10s));
    w.sim.runFor(2s); // the closed channel is gone at B
    const qint64 received = w.rx().received;
    w.net.inject({w.a->address(), w.b->address(), initiation});
    w.sim.runFor(1s); // behind A's queue (up to 0.8 s at 10 Mbit/s)
    drainTrace();
    QCOMPARE(replayRejected, 1);
    QCOMPARE(handshakesDone, 2);
    QCOMPARE(w.b->ep->sessionCount(), quint64(1));
    QVERIFY(w.rx().received < w.tx().total); // the replays hit a live transfer
    QVERIFY(w.rx().received > received);
    QVERIFY(w.runTransfer());
    QVERIFY(w.byteExact());
}

namespace {
// Floods B with `count` initiations from distinct spoofed addresses, spread over `span`; returns them.
QList<core::SocketAddress> flood(World &w, std::mt19937_64 &rng, int count, Duration span)
{
    QList<core::SocketAddress> from;
    for (int i = 0; i < count; ++i) {
        const core::SocketAddress src {QHostAddress(quint32(0xC6120000u + 1 + i)),
                                       quint16(1024 + rng() % 60000)};
        from.append(src);
        const QByteArray ini = forgeInitiation(rng, w.b->peerId());
        w.sim.scheduleAfter(span * i / count, [&w, src, ini] { w.net.inject({src, w.b->address(), ini}); });
    }
    return from;
}

// Every address got only 66-byte cookie replies, one per initiation, within 3x of what it sent.
void checkCookieReplies(const World &w, const QList<core::SocketAddress> &spoofed, int firstCookie)
{
    for (int i = firstCookie; i < spoofed.size(); ++i) {
        const auto &a = spoofed[i];
        const QList<qsizetype> sizes = w.traffic.sizesTo.value(a);
        QVERIFY2(sizes == QList<qsizetype> {crypto::kCookieReplySize},
                 qPrintable(a.toString() + QStringLiteral(" %1 %2").arg(sizes.size()).arg(sizes.value(0))));
        QVERIFY(w.traffic.sentTo.value(a) <= 3 * w.traffic.receivedFrom.value(a));
        QCOMPARE(w.traffic.receivedFrom.value(a), qint64(crypto::kInitiationSize));
    }
}
} // namespace

// (f) forceCookies: a flood of valid initiations from spoofed addresses gets only stateless cookie replies;
// a real initiator gets its cookie, retries with mac2 and connects.
void tst_CoreSecurity::initiationFloodForcedCookies()
{
    EndpointConfig cfg;
    cfg.forceCookies = true;
    World w(21, cfg);
    std::mt19937_64 rng(21);
    const QList<core::SocketAddress> spoofed = flood(w, rng, 400, 2s);
    w.sim.runFor(100ms);
    w.startTransfer(256 * 1024);
    quint64 maxState = 0;
    QVERIFY(w.sim.runUntil(
        [&] {
            maxState = std::max(maxState, w.b->ep->handshakeStateCount() + w.b->ep->sessionCount());
            return w.done();
        },
        10s));
    w.sim.runFor(3s);
    QVERIFY(w.byteExact());
    QVERIFY(maxState <= 2); // A's session + channel only
    QCOMPARE(w.b->ep->sessionCount(), quint64(1));
    QCOMPARE(w.b->ep->handshakeStateCount(), quint64(1));
    checkCookieReplies(w, spoofed, 0);
    // A itself was sent a cookie first (its retry carried a valid mac2).
    QVERIFY(w.traffic.sizesTo.value(w.a->address()).value(0) == crypto::kCookieReplySize);
}

// (f'') Under the cookie wall a real initiator connects in two round trips (initiation -> cookie,
// initiation with mac2 -> response), not after its 250 ms retransmission backoff.
void tst_CoreSecurity::cookieRetryIsImmediate()
{
    EndpointConfig cfg;
    cfg.forceCookies = true;
    World w(23, cfg); // 10 ms one way: a round trip is 20 ms
    w.startTransfer(1024);
    const Instant start = w.sim.now();
    QVERIFY(w.runTransfer(10s));
    QVERIFY(w.byteExact());
    QVERIFY(w.traffic.sizesTo.value(w.a->address()).value(0) == crypto::kCookieReplySize);
    // Cookie round trip + handshake round trip + the data's round trip, with margin: well under the
    // 250 ms a backoff-driven retry would take.
    const Duration took = w.sim.now() - start;
    QVERIFY2(took < 120ms, qPrintable(QString::number(toMicros(took))));
}

// (f') Load-triggered cookies: once cookieThreshold handshakes arrived within a second, the rest of a flood
// creates no state; the real initiator still gets through.
void tst_CoreSecurity::initiationFloodThreshold()
{
    EndpointConfig cfg;
    cfg.cookieThreshold = 8;
    World w(22, cfg);
    std::mt19937_64 rng(22);
    const QList<core::SocketAddress> spoofed = flood(w, rng, 300, 300ms);
    w.sim.runFor(30ms);
    const quint64 sessionsAtLoad = w.b->ep->sessionCount();
    QCOMPARE(sessionsAtLoad, quint64(cfg.cookieThreshold)); // the first 8 were accepted (not yet loaded)
    w.startTransfer(256 * 1024);
    QVERIFY(w.sim.runUntil([&] { return w.done(); }, 10s));
    QVERIFY(w.byteExact());
    QVERIFY(w.sim.elapsed() < 1s); // all within the load window
    w.sim.runFor(400ms); // A is done before the 300 ms flood is (its cookie retry is immediate)
    QCOMPARE(w.b->ep->sessionCount(), quint64(cfg.cookieThreshold) + 1);
    // The first `threshold` got full responses (never larger than the initiation), the rest cookies.
    for (int i = 0; i < cfg.cookieThreshold; ++i) {
        QCOMPARE(w.traffic.sizesTo.value(spoofed[i]).size(), 1);
        QVERIFY(w.traffic.sentTo.value(spoofed[i]) <= crypto::kInitiationSize);
    }
    checkCookieReplies(w, spoofed, cfg.cookieThreshold);
    QCOMPARE(w.traffic.sizesTo.value(w.a->address()).value(0), qsizetype(crypto::kCookieReplySize));
}

// (g) While B's responses are lost, A retransmits its initiation; B answers each copy at most once, never
// exceeding 3x what A sent, until A's first protected packet validates its address.
void tst_CoreSecurity::amplificationDuringHandshake()
{
    World w(31);
    bool block = true;
    w.bToA->setInterceptor([&](sim::Packet &p) {
        return block && !isShort(p.bytes) ? sim::Link::Verdict::Drop : sim::Link::Verdict::Deliver;
    });
    w.startTransfer(1 << 20);
    w.sim.runFor(3s);
    const qint64 in = w.traffic.receivedFrom.value(w.a->address());
    const qint64 out = w.traffic.sentTo.value(w.a->address());
    QVERIFY(in >= 3 * crypto::kInitiationSize); // several retransmissions
    QVERIFY2(out <= 3 * in, qPrintable(QStringLiteral("in %1 out %2").arg(in).arg(out)));
    QVERIFY(out > 0);
    block = false;
    QVERIFY(w.runTransfer());
    QVERIFY(w.byteExact());
}

// (g') An attacker with its own key spoofs a victim's address in a valid initiation: B answers once and then
// sends the victim at most 3x what "it" sent, however long it waits.
void tst_CoreSecurity::amplificationSpoofedInitiator()
{
    World w(32);
    std::mt19937_64 rng(32);
    const core::SocketAddress victim = addr("198.51.100.9", 443);
    w.net.inject({victim, w.b->address(), forgeInitiation(rng, w.b->peerId())});
    w.sim.runFor(60s);
    const qint64 in = w.traffic.receivedFrom.value(victim);
    const qint64 out = w.traffic.sentTo.value(victim);
    QCOMPARE(in, qint64(crypto::kInitiationSize));
    QVERIFY(out > 0);
    QVERIFY2(out <= 3 * in, qPrintable(QStringLiteral("in %1 out %2").arg(in).arg(out)));
}

// (g'') An on-path attacker rewrites the source of one of B's packets to a victim: A follows the "move"
// but sends the victim at most 3x what came from there, then returns to B and the transfer completes.
void tst_CoreSecurity::amplificationPathSpoof()
{
    World w(33);
    const core::SocketAddress victim = addr("198.51.100.10", 5000);
    int rewritten = 0;
    w.bToA->setInterceptor([&](sim::Packet &p) {
        if (isShort(p.bytes) && w.rx().received > (1 << 20) && rewritten == 0) {
            p.from = victim;
            ++rewritten;
        }
        return sim::Link::Verdict::Deliver;
    });
    w.startTransfer(4 << 20);
    QVERIFY(w.runTransfer());
    QCOMPARE(rewritten, 1);
    const qint64 in = w.aReceivedFrom.value(victim);
    const qint64 out = w.aSentTo.value(victim);
    QVERIFY(in > 0);
    QVERIFY2(out <= 3 * in, qPrintable(QStringLiteral("in %1 out %2").arg(in).arg(out)));
    QVERIFY(w.byteExact());
    QCOMPARE(w.statsA().peerAddress, w.b->address());
}

// (h) C does not own B's key: asked for B's PeerId at C's address, it cannot answer (it cannot even check
// mac1, let alone decrypt), and A's connect fails with ConnectFailed.
void tst_CoreSecurity::impersonationFails()
{
    World w(41);
    sim::Host *hc = w.net.addHost(QHostAddress(QStringLiteral("10.0.0.3")));
    test::CoreNode c(w.net, hc, 5000);
    c.ep->listen(kService, kProtocol);
    QByteArray captured;
    w.net.route(w.ha, hc).first()->setInterceptor([&](sim::Packet &p) {
        if (!p.bytes.isEmpty() && p.bytes[0] == char(crypto::kTypeInitiation))
            captured = p.bytes;
        return sim::Link::Verdict::Deliver;
    });
    StreamError err = StreamError::NoError;
    w.a->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::Error)
            err = e.error;
    };
    const StreamHandle s
        = w.a->ep->connectStream(w.a->now(), w.b->peerId(), c.address(), kService, kProtocol);
    QVERIFY(s);
    w.a->ep->write(w.a->now(), s, "secret", 6);
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return err != StreamError::NoError; }, 30s));
    QCOMPARE(err, StreamError::ConnectFailed);
    QCOMPARE(c.ep->sessionCount(), quint64(0));
    QCOMPARE(c.ep->handshakeStateCount(), quint64(0));
    QCOMPARE(c.transmits, quint64(0)); // nothing to answer with
    // Even a responder built with C's key that skips the mac checks cannot open the initiation.
    QVERIFY(!captured.isEmpty());
    crypto::Responder impostor(crypto::StaticIdentity::fromSeed(QByteArray(32, '\x77')));
    QVERIFY(!impostor.consumeInitiation(captured));
    QCOMPARE(w.a->ep->sessionCount(), quint64(0));
}

QTEST_GUILESS_MAIN(tst_CoreSecurity)
#include "tst_core_security.moc"
