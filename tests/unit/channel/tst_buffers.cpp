// Buffer ownership on the data path: the send side refills the caller's Transmit in place, the receive
// side decrypts into shared slabs and hands stream data on as slices of them. Neither may ever write
// into memory that a QByteArray still held elsewhere references.
#include "channel/endpoint.h"
#include "channel/shared.h"
#include "crypto/handshake.h"
#include "crypto/identity.h"

#include <QTest>
#include <cstring>
#include <deque>
#include <random>

using namespace sss;
using namespace sss::core;

namespace {
const QString kSvc = QStringLiteral("svc"), kProto = QStringLiteral("p");

QByteArray seedBytes(char who)
{
    return QByteArray(32, who);
}

// Message i: `size` bytes derived from i, so a message overwritten by another is noticed.
QByteArray message(int i, qsizetype size)
{
    QByteArray m(size, Qt::Uninitialized);
    std::mt19937 prng(quint32(i) * 2654435761u + 1);
    for (char &c : m)
        c = char(prng());
    return m;
}

// A and B exchange packets directly; time advances in fixed steps. Packets in flight are deep copies
// taken when sent, so what the receiver sees does not depend on the sender's buffer reuse.
struct Pair {
    crypto::StaticIdentity idA = crypto::StaticIdentity::fromSeed(seedBytes('a'));
    crypto::StaticIdentity idB = crypto::StaticIdentity::fromSeed(seedBytes('b'));
    std::unique_ptr<Endpoint> a, b;
    SocketAddress addrA {QHostAddress(QHostAddress::LocalHost), 4000};
    SocketAddress addrB {QHostAddress(QHostAddress::LocalHost), 5000};
    Instant now = Instant {} + std::chrono::hours(1);
    std::mt19937_64 rngA {1}, rngB {2};
    StreamHandle tx = 0, rx = 0;
    Transmit scratch; // reused, as the Qt edge does

    explicit Pair(bool aes)
    {
        EndpointConfig cfg;
        cfg.allowAesGcm = aes;
        a = std::make_unique<Endpoint>(idA, cfg);
        b = std::make_unique<Endpoint>(idB, cfg);
        a->setRandomSource([this](uint8_t *o, size_t n) {
            for (size_t i = 0; i < n; ++i)
                o[i] = uint8_t(rngA());
        });
        b->setRandomSource([this](uint8_t *o, size_t n) {
            for (size_t i = 0; i < n; ++i)
                o[i] = uint8_t(rngB());
        });
        b->listen(kSvc, kProto);
        tx = a->connectStream(now, b->peerId(), addrB, kSvc, kProto);
    }

    // Completes the handshake (the server sees the stream) and queues `payload` on it.
    bool connectAndWrite(const QByteArray &payload)
    {
        for (int i = 0; i < 50 && !rx; ++i)
            exchange();
        return rx && a->write(now, tx, payload.constData(), payload.size()) == payload.size();
    }

    // Moves every pending packet both ways once; returns how many moved.
    int exchange()
    {
        int moved = 0;
        std::deque<QByteArray> toB, toA;
        while (a->pollTransmit(now, scratch)) {
            toB.push_back(QByteArray(scratch.bytes.constData(), scratch.bytes.size()));
            ++moved;
        }
        while (b->pollTransmit(now, scratch)) {
            toA.push_back(QByteArray(scratch.bytes.constData(), scratch.bytes.size()));
            ++moved;
        }
        a->afterTransmit();
        b->afterTransmit();
        for (const QByteArray &p : toB)
            b->handleDatagram(now, addrA, p);
        for (const QByteArray &p : toA)
            a->handleDatagram(now, addrB, p);
        while (auto e = b->pollEvent())
            if (e->type == Event::Type::NewConnection)
                rx = e->stream;
        while (a->pollEvent()) { }
        now += std::chrono::milliseconds(1);
        for (Endpoint *ep : {a.get(), b.get()})
            if (ep->nextTimeout() <= now)
                ep->handleTimeout(now);
        return moved;
    }
};
} // namespace

class tst_ChannelBuffers : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void heldSlicesSurviveSlabReuse_data();
    void heldSlicesSurviveSlabReuse();
    void transmitBufferReuse();
    void eventQueueKeepsOrderAndGivesBackBursts();
    void eventQueueFoldsAStreamsFollowingEvents();
    void responseEphemeralsPreparedAndNeverReused();
    void bytesAckedOncePerAck();
    void ackedRunsAcrossLossAndStreams();
    void replaysRejectedAcrossWindows();
    void ackWithRequestAppliedAfterAnswer();
    void smallWritesSurviveSlabReuse();
    void releaseAfterResetAddsNothing();
    void staleHandlesNeverReachReusedSlots();
};

// A responder computes its next ephemeral key in afterTransmit(), off the path of the next
// handshake. Each key must serve one response only: clients connecting one after another (with and
// without afterTransmit() in between) all complete, and no two responses carry the same ephemeral.
void tst_ChannelBuffers::responseEphemeralsPreparedAndNeverReused()
{
    const SocketAddress addrServer {QHostAddress(QHostAddress::LocalHost), 5000};
    Instant now = Instant {} + std::chrono::hours(1);
    std::mt19937_64 rng {7};
    auto random = [&rng](uint8_t *o, size_t n) {
        for (size_t i = 0; i < n; ++i)
            o[i] = uint8_t(rng());
    };
    Endpoint server(crypto::StaticIdentity::fromSeed(seedBytes('s')), EndpointConfig {});
    server.setRandomSource(random);
    server.listen(kSvc, kProto);
    QSet<QByteArray> ephemerals;
    for (int c = 0; c < 6; ++c) {
        Endpoint client(crypto::StaticIdentity::fromSeed(QByteArray(32, char('A' + c))), EndpointConfig {});
        client.setRandomSource(random);
        const SocketAddress addrClient {QHostAddress(QHostAddress::LocalHost), quint16(4000 + c)};
        const StreamHandle s = client.connectStream(now, server.peerId(), addrServer, kSvc, kProto);
        QVERIFY(s);
        client.write(now, s, "x", 1);
        bool connected = false;
        for (int step = 0; step < 20 && !connected; ++step) {
            Transmit t;
            while (client.pollTransmit(now, t))
                server.handleDatagram(now, addrClient, t.bytes);
            while (server.pollTransmit(now, t)) {
                if (!t.bytes.isEmpty() && quint8(t.bytes[0]) == crypto::kTypeResponse)
                    ephemerals.insert(t.bytes.mid(18, 32)); // type, version, two cids, then e
                client.handleDatagram(now, addrServer, t.bytes);
            }
            if (c % 2 == 0) // so every other client finds no key prepared: the inline path
                server.afterTransmit();
            while (auto e = client.pollEvent())
                connected = connected || e->type == Event::Type::Connected;
            while (server.pollEvent()) { }
            now += std::chrono::milliseconds(1);
        }
        QVERIFY2(connected, qPrintable(QStringLiteral("client %1").arg(c)));
        QCOMPARE(ephemerals.size(), c + 1);
    }
}

// The endpoint's event FIFO keeps a small array between turns (no allocation per event) but must
// not hold on to what a burst grew (1,000,000 streams opened at once would keep ~150 MB).
void tst_ChannelBuffers::eventQueueKeepsOrderAndGivesBackBursts()
{
    EventQueue q;
    for (int round = 0; round < 3; ++round) {
        const int n = round == 1 ? 100000 : 10;
        for (int i = 0; i < n; ++i) {
            Event e(Event::Type::Readable);
            e.stream = StreamHandle(i + 1);
            q.push_back(std::move(e));
        }
        QCOMPARE(q.size(), size_t(n));
        for (int i = 0; i < n; ++i) {
            QVERIFY(!q.empty());
            QCOMPARE(q.front().stream, StreamHandle(i + 1));
            q.pop_front();
            // interleave: a consumer that never empties the queue must still see FIFO order
            if (round == 2 && i == 4) {
                Event e(Event::Type::Finished);
                e.stream = 99;
                q.push_back(std::move(e));
            }
        }
        if (round == 2) {
            QCOMPARE(q.front().stream, StreamHandle(99));
            q.pop_front();
        }
        QVERIFY(q.empty());
        QVERIFY2(q.capacity() <= 64, qPrintable(QString::number(q.capacity())));
    }
}

// A request that arrives whole queues NewSubstream, Readable and Finished for one stream in a row:
// the two that follow share the first one's slot (EventQueue::fold), and the consumer still sees
// the three in order. Nothing folds out of order, across streams, or into events that carry more.
void tst_ChannelBuffers::eventQueueFoldsAStreamsFollowingEvents()
{
    using T = Event::Type;
    EventQueue q;
    QVERIFY(!q.fold(T::Readable, 5, 1)); // (empty)
    Event &n = q.emplace(T::NewSubstream);
    n.stream = 5;
    n.parent = 1;
    QVERIFY(!q.fold(T::Readable, 6, 1)); // another stream
    QVERIFY(!q.fold(T::Readable, 5, 2)); // (another parent)
    QVERIFY(q.fold(T::Readable, 5, 1));
    QVERIFY(!q.fold(T::Readable, 5, 1)); // a second Readable is not coalesced here
    QVERIFY(q.fold(T::Finished, 5, 1));
    QVERIFY(!q.fold(T::Readable, 5, 1)); // would come before the Finished
    QCOMPARE(q.size(), size_t(1));
    Event &r = q.emplace(T::Readable); // another stream's, then its Finished folds into it
    r.stream = 7;
    QVERIFY(q.fold(T::Finished, 7, 0));
    Event &a = q.emplace(T::BytesAcked); // carries a count: nothing folds into it
    a.stream = 7;
    QVERIFY(!q.fold(T::Finished, 7, 0));
    q.emplace(T::Finished).stream = 7;

    const std::vector<std::pair<T, StreamHandle>> expected {
        {T::NewSubstream, 5}, {T::Readable, 5},   {T::Finished, 5}, {T::Readable, 7},
        {T::Finished, 7},     {T::BytesAcked, 7}, {T::Finished, 7}};
    for (const auto &[type, stream] : expected) {
        QVERIFY(!q.empty());
        Event e;
        q.takeFront(e);
        QCOMPARE(int(e.type), int(type));
        QCOMPARE(e.stream, stream);
        QCOMPARE(e.parent, StreamHandle(stream == 5 ? 1 : 0));
    }
    QVERIFY(q.empty());
    // A reused slot starts with nothing folded into it.
    q.emplace(T::NewSubstream).stream = 9;
    QCOMPARE(q.size(), size_t(1));
    q.pop_front();
    QVERIFY(q.empty());
}

void tst_ChannelBuffers::heldSlicesSurviveSlabReuse_data()
{
    QTest::addColumn<qsizetype>("size");
    QTest::addColumn<bool>("aes");
    QTest::newRow("600 B, chacha") << qsizetype(600) << false;
    QTest::newRow("1100 B, aes") << qsizetype(1100) << true;
    QTest::newRow("5000 B, chacha") << qsizetype(5000) << false;
}

// The receiver keeps some messages (slices of the receive slab) and drops the rest, while far more
// than a slab's worth of packets arrives. A slab rewound or a region reused while one of the kept
// slices still points into it would change a kept message.
void tst_ChannelBuffers::heldSlicesSurviveSlabReuse()
{
    QFETCH(qsizetype, size);
    QFETCH(bool, aes);
    Pair p(aes);
    const int count = int(2 * 1024 * 1024 / size); // ~2 MB: many 64 KiB slabs
    int written = 0, read = 0;
    std::vector<std::pair<int, QByteArray>> held;
    for (int round = 0; round < 200000 && read < count; ++round) {
        while (written < count && p.a->writeCapacity(p.tx) >= size) {
            const QByteArray m = message(written, size);
            QCOMPARE(p.a->write(p.now, p.tx, m.constData(), m.size(), true), qint64(size));
            ++written;
        }
        p.exchange();
        if (!p.rx)
            continue;
        for (;;) {
            QByteArray m = p.b->readMessage(p.rx);
            if (m.isEmpty())
                break;
            if (read % 7 == 0 || read % 64 == 1)
                held.emplace_back(read, std::move(m)); // keep: pins its slab
            else
                QCOMPARE(m, message(read, size));
            ++read;
        }
    }
    QCOMPARE(read, count);
    for (const auto &[i, m] : held)
        QVERIFY2(m == message(i, size), qPrintable(QStringLiteral("held message %1 changed").arg(i)));
}

// pollTransmit(now, Transmit&) reuses the buffer it is given unless someone still shares it; a
// copy taken of a sent packet must never change, and the packets must still be valid.
void tst_ChannelBuffers::transmitBufferReuse()
{
    Pair p(true);
    const QByteArray payload = message(1, 200000);
    QVERIFY(p.connectAndWrite(payload));

    Transmit t;
    QVERIFY(p.a->pollTransmit(p.now, t));
    const QByteArray held = t.bytes; // shared with t
    const QByteArray heldCopy(held.constData(), held.size());
    const char *heldData = held.constData();
    QVERIFY(p.a->pollTransmit(p.now, t));
    QVERIFY(t.bytes.constData() != heldData); // detached: the shared buffer is not written
    QCOMPARE(held, heldCopy);
    const QByteArray second(t.bytes.constData(), t.bytes.size());
    const char *own = t.bytes.constData();
    QVERIFY(p.a->pollTransmit(p.now, t));
    QCOMPARE(t.bytes.constData(), own); // not shared: the same allocation is refilled
    QVERIFY(t.bytes != second); // a new packet (new packet number at least)
    const QByteArray third(t.bytes.constData(), t.bytes.size());

    // All three are valid packets, in order.
    p.b->handleDatagram(p.now, p.addrA, held);
    p.b->handleDatagram(p.now, p.addrA, second);
    p.b->handleDatagram(p.now, p.addrA, third);
    QCOMPARE(p.b->channelStats().value(0).packetsDropped, quint64(0));

    // The old API still works and the whole payload arrives intact.
    QByteArray got;
    char buf[65536];
    for (int i = 0; i < 2000 && got.size() < payload.size(); ++i) {
        while (auto tx = p.a->pollTransmit(p.now))
            p.b->handleDatagram(p.now, p.addrA, tx->bytes);
        p.exchange();
        qint64 r;
        while ((r = p.b->read(p.rx, buf, sizeof buf)) > 0)
            got.append(buf, r);
    }
    QCOMPARE(got, payload);
}

// An ACK frame acknowledging many packets of one stream reports the progress as one BytesAcked
// event (the edge turns each into a signal), not one per packet, and loses no byte.
void tst_ChannelBuffers::bytesAckedOncePerAck()
{
    Pair p(true);
    const QByteArray payload = message(2, 300000);
    QVERIFY(p.connectAndWrite(payload));

    qint64 acked = 0;
    int bigAcks = 0;
    char buf[65536];
    for (int round = 0; round < 2000 && acked < payload.size(); ++round) {
        std::deque<QByteArray> toB, toA;
        while (p.a->pollTransmit(p.now, p.scratch))
            toB.push_back(QByteArray(p.scratch.bytes.constData(), p.scratch.bytes.size()));
        for (const QByteArray &d : toB)
            p.b->handleDatagram(p.now, p.addrA, d);
        while (p.b->read(p.rx, buf, sizeof buf) > 0) { }
        while (p.b->pollEvent()) { }
        while (p.b->pollTransmit(p.now, p.scratch))
            toA.push_back(QByteArray(p.scratch.bytes.constData(), p.scratch.bytes.size()));
        for (const QByteArray &d : toA) {
            p.a->handleDatagram(p.now, p.addrB, d);
            p.a->afterTransmit(); // (applies an ACK held back because its packet carried more)
            int events = 0;
            while (auto e = p.a->pollEvent()) {
                if (e->type != Event::Type::BytesAcked)
                    continue;
                QCOMPARE(e->stream, p.tx);
                ++events;
                acked += e->count;
                if (e->count >= 5 * 1000)
                    ++bigAcks;
            }
            QVERIFY2(events <= 1,
                     qPrintable(QStringLiteral("%1 BytesAcked events for one datagram").arg(events)));
        }
        p.now += std::chrono::milliseconds(1);
        for (Endpoint *ep : {p.a.get(), p.b.get()})
            if (ep->nextTimeout() <= p.now)
                ep->handleTimeout(p.now);
    }
    QCOMPARE(acked, qint64(payload.size()));
    QVERIFY(bigAcks > 0); // some ACK did cover several packets
}

// The sender applies acknowledged data of consecutive packets as one range per stream and ACK.
// Two streams interleaved, a lost packet in every seven and neighbours swapped: the ranges then
// have gaps, switch streams and arrive out of order (retransmissions), and still every byte must
// be reported acked once and arrive intact.
void tst_ChannelBuffers::ackedRunsAcrossLossAndStreams()
{
    Pair p(true);
    QVERIFY(p.connectAndWrite(QByteArray()));
    const StreamHandle sub = p.a->openSubstream(p.now, p.tx);
    QVERIFY(sub);
    const QByteArray payloads[2] = {message(3, 200000), message(4, 150000)};
    const StreamHandle senders[2] = {p.tx, sub};
    StreamHandle receivers[2] = {p.rx, 0};
    qint64 written[2] = {}, acked[2] = {};
    QByteArray got[2];
    char buf[65536];
    int sent = 0;
    for (int round = 0; round < 5000
         && (got[0].size() < payloads[0].size() || got[1].size() < payloads[1].size()
             || acked[0] < payloads[0].size() || acked[1] < payloads[1].size());
         ++round) {
        for (int i = 0; i < 2; ++i) {
            const qint64 n = std::min(p.a->writeCapacity(senders[i]), payloads[i].size() - written[i]);
            if (n > 0)
                written[i] += p.a->write(p.now, senders[i], payloads[i].constData() + written[i], n);
        }
        std::deque<QByteArray> toB, toA;
        while (p.a->pollTransmit(p.now, p.scratch)) {
            if (++sent % 7 == 0)
                continue; // lost
            toB.push_back(QByteArray(p.scratch.bytes.constData(), p.scratch.bytes.size()));
        }
        for (size_t i = 1; i < toB.size(); i += 3)
            std::swap(toB[i - 1], toB[i]);
        for (const QByteArray &d : toB)
            p.b->handleDatagram(p.now, p.addrA, d);
        if (!receivers[1])
            receivers[1] = p.b->acceptSubstream(p.rx);
        for (int i = 0; i < 2; ++i) {
            qint64 r;
            while (receivers[i] && (r = p.b->read(receivers[i], buf, sizeof buf)) > 0)
                got[i].append(buf, r);
        }
        while (p.b->pollEvent()) { }
        while (p.b->pollTransmit(p.now, p.scratch))
            toA.push_back(QByteArray(p.scratch.bytes.constData(), p.scratch.bytes.size()));
        for (const QByteArray &d : toA)
            p.a->handleDatagram(p.now, p.addrB, d);
        while (auto e = p.a->pollEvent()) {
            if (e->type != Event::Type::BytesAcked)
                continue;
            QVERIFY(e->stream == p.tx || e->stream == sub);
            acked[e->stream == sub] += e->count;
        }
        p.now += std::chrono::milliseconds(1);
        for (Endpoint *ep : {p.a.get(), p.b.get()})
            if (ep->nextTimeout() <= p.now)
                ep->handleTimeout(p.now);
    }
    for (int i = 0; i < 2; ++i) {
        QCOMPARE(got[i], payloads[i]);
        QCOMPARE(acked[i], qint64(payloads[i].size()));
    }
    QVERIFY(p.a->channelStats().value(0).packetsLost > 0);
}

// The replay window is trimmed lazily (in steps, not per packet): over a transfer many windows long,
// copies of packets from 1 to ~3 windows ago must all still be dropped, and the data arrive intact.
void tst_ChannelBuffers::replaysRejectedAcrossWindows()
{
    Pair p(true);
    for (int i = 0; i < 50 && !p.rx; ++i)
        p.exchange();
    QVERIFY(p.rx);
    const quint64 droppedBefore = p.b->channelStats().value(0).packetsDropped;
    const qint64 total = 30 * 1000 * 1000; // ~25,000 packets: several 4096-packet windows
    qint64 written = 0, got = 0;
    std::vector<QByteArray> history; // every short packet A sent, in order
    std::mt19937 rng(11);
    int replayed = 0;
    char buf[65536];
    const QByteArray chunk = message(3, 256 * 1024);
    for (int round = 0; round < 100000 && got < total; ++round) {
        while (written < total && p.a->writeCapacity(p.tx) > 0) {
            const qint64 n = std::min<qint64>({p.a->writeCapacity(p.tx), total - written, chunk.size()});
            QCOMPARE(p.a->write(p.now, p.tx, chunk.constData(), n), n);
            written += n;
        }
        std::deque<QByteArray> toB, toA;
        while (p.a->pollTransmit(p.now, p.scratch)) {
            toB.push_back(QByteArray(p.scratch.bytes.constData(), p.scratch.bytes.size()));
            history.push_back(toB.back());
        }
        while (p.b->pollTransmit(p.now, p.scratch))
            toA.push_back(QByteArray(p.scratch.bytes.constData(), p.scratch.bytes.size()));
        for (const QByteArray &d : toB)
            p.b->handleDatagram(p.now, p.addrA, d);
        // Replay a few earlier packets, from just sent to ~3 windows back.
        for (size_t k = 0; k < toB.size() / 8 + 1 && history.size() > 10; ++k) {
            const size_t back = 1 + rng() % std::min<size_t>(history.size() - 1, 12000);
            p.b->handleDatagram(p.now, p.addrA, history[history.size() - 1 - back]);
            ++replayed;
        }
        for (const QByteArray &d : toA)
            p.a->handleDatagram(p.now, p.addrB, d);
        qint64 r;
        while ((r = p.b->read(p.rx, buf, sizeof buf)) > 0)
            got += r;
        while (p.a->pollEvent()) { }
        while (p.b->pollEvent()) { }
        p.now += std::chrono::milliseconds(1);
        for (Endpoint *ep : {p.a.get(), p.b.get()})
            if (ep->nextTimeout() <= p.now)
                ep->handleTimeout(p.now);
    }
    QCOMPARE(got, total);
    QVERIFY(history.size() > 5 * 4096);
    QVERIFY(replayed > 1000);
    QCOMPARE(p.b->channelStats().value(0).packetsDropped - droppedBefore, quint64(replayed));
}

// The ACK frame riding in a request's packet is applied after the answer is sent (afterTransmit),
// not while the request is handled, and with its arrival time: a driver that applies it late (here
// at a timeout 200 ms on, without afterTransmit) gets the true RTT, not one inflated by the wait.
// A packet of acknowledgements only is applied at once: it is what frees the sender's window.
void tst_ChannelBuffers::ackWithRequestAppliedAfterAnswer()
{
    Pair p(true);
    QVERIFY(p.connectAndWrite("hello"));
    for (int i = 0; i < 100; ++i) // (past the delayed-ACK timers: nothing in flight)
        p.exchange();
    auto inFlight = [&p] { return p.b->channelStats().value(0).bytesInFlight; };
    auto sendAll = [&p](Endpoint *from) {
        std::deque<QByteArray> out;
        while (from->pollTransmit(p.now, p.scratch))
            out.push_back(QByteArray(p.scratch.bytes.constData(), p.scratch.bytes.size()));
        return out;
    };
    QCOMPARE(inFlight(), 0);

    // B answers; A gets it and writes its next request at once: one packet, ACK + STREAM.
    QCOMPARE(p.b->write(p.now, p.rx, "answer", 6), 6);
    const std::deque<QByteArray> answer = sendAll(p.b.get());
    QCOMPARE(answer.size(), size_t(1));
    QVERIFY(inFlight() > 0);
    p.now += std::chrono::milliseconds(2); // the answer's round trip
    p.a->handleDatagram(p.now, p.addrB, answer.front());
    QCOMPARE(p.a->write(p.now, p.tx, "request", 7), 7);
    const std::deque<QByteArray> request = sendAll(p.a.get());
    QCOMPARE(request.size(), size_t(1));

    const qint64 before = inFlight();
    p.b->handleDatagram(p.now, p.addrA, request.front());
    QCOMPARE(inFlight(), before); // held back
    QCOMPARE(p.b->nextTimeout(), p.now); // a driver that skips afterTransmit() is called back
    p.now += std::chrono::milliseconds(200);
    p.b->handleTimeout(p.now);
    QCOMPARE(inFlight(), 0);
    const ChannelStats st = p.b->channelStats().value(0);
    QVERIFY2(st.minRtt <= std::chrono::milliseconds(3),
             qPrintable(QStringLiteral("min RTT %1 us: the ACK was timed at its application, not its arrival")
                            .arg(std::chrono::duration_cast<std::chrono::microseconds>(st.minRtt).count())));

    // An ACK-only packet: applied while it is handled.
    QCOMPARE(p.b->write(p.now, p.rx, "more", 4), 4);
    const std::deque<QByteArray> more = sendAll(p.b.get());
    QVERIFY(inFlight() > 0);
    p.a->handleDatagram(p.now, p.addrB, more.front());
    p.now += std::chrono::milliseconds(50); // past the delayed-ACK timer
    p.a->handleTimeout(p.now);
    const std::deque<QByteArray> ackOnly = sendAll(p.a.get());
    QCOMPARE(ackOnly.size(), size_t(1));
    p.b->handleDatagram(p.now, p.addrA, ackOnly.front());
    QCOMPARE(inFlight(), 0);
}

// Small writes are queued as slices of a shared slab (EndpointShared::copySmallWrite). With a tenth
// of the packets lost, some slices wait for retransmission while the slab is filled, replaced and
// rewound hundreds of times: every message must still arrive as written.
void tst_ChannelBuffers::smallWritesSurviveSlabReuse()
{
    Pair p(true);
    for (int i = 0; i < 50 && !p.rx; ++i)
        p.exchange();
    QVERIFY(p.rx);
    std::mt19937 rng(5);
    const int count = 12000; // ~770 KB in 1..128-byte messages: ~380 slabs of 2 KiB
    auto sizeOf = [](int i) { return qsizetype(1 + (i * 37) % 128); };
    int written = 0, read = 0, lost = 0;
    for (int round = 0; round < 200000 && read < count; ++round) {
        std::deque<QByteArray> toB, toA;
        auto send = [&] {
            while (p.a->pollTransmit(p.now, p.scratch)) {
                if (rng() % 10 == 0)
                    ++lost;
                else
                    toB.push_back(QByteArray(p.scratch.bytes.constData(), p.scratch.bytes.size()));
            }
        };
        // Each message sent before the next is written (so it is a slice of its own, not coalesced
        // into the tail), ~2 slabs' worth per round: the lost ones wait past several slab turns.
        for (int k = 0; k < 64 && written < count; ++k) {
            const QByteArray m = message(written, sizeOf(written));
            QCOMPARE(p.a->write(p.now, p.tx, m.constData(), m.size(), true), m.size());
            ++written;
            send();
        }
        send(); // (retransmissions)
        while (p.b->pollTransmit(p.now, p.scratch))
            toA.push_back(QByteArray(p.scratch.bytes.constData(), p.scratch.bytes.size()));
        p.a->afterTransmit();
        p.b->afterTransmit();
        for (const QByteArray &d : toB)
            p.b->handleDatagram(p.now, p.addrA, d);
        for (const QByteArray &d : toA)
            p.a->handleDatagram(p.now, p.addrB, d);
        while (p.a->pollEvent()) { }
        while (p.b->pollEvent()) { }
        for (;;) {
            const QByteArray m = p.b->readMessage(p.rx);
            if (m.isEmpty())
                break;
            QVERIFY2(m == message(read, sizeOf(read)),
                     qPrintable(QStringLiteral("message %1 changed").arg(read)));
            ++read;
        }
        p.now += std::chrono::milliseconds(1);
        for (Endpoint *ep : {p.a.get(), p.b.get()})
            if (ep->nextTimeout() <= p.now)
                ep->handleTimeout(p.now);
    }
    QCOMPARE(read, count);
    QVERIFY(lost > 50); // (~100: packets carry several messages)
}

// release() after reset() (an aborted stream then deleted, a cancelled transaction) has nothing left
// to tell the peer: the same packets go out as after reset() alone. (It used to queue a second
// STOP_SENDING.) Two identical, deterministic pairs, one with the release.
void tst_ChannelBuffers::releaseAfterResetAddsNothing()
{
    auto sent = [](bool release) {
        Pair p(true);
        if (!p.connectAndWrite("hello"))
            return QList<qsizetype>();
        for (int i = 0; i < 100; ++i)
            p.exchange();
        p.a->reset(p.now, p.tx, StreamError::Cancelled); // our read side is still open
        if (release)
            p.a->release(p.now, p.tx);
        QList<qsizetype> sizes;
        while (p.a->pollTransmit(p.now, p.scratch))
            sizes.append(p.scratch.bytes.size());
        return sizes;
    };
    const QList<qsizetype> resetOnly = sent(false);
    QVERIFY(!resetOnly.isEmpty());
    QCOMPARE(sent(true), resetOnly);
}

// Stream handles name a slot of the endpoint's handle table, reused by the next stream: a handle
// kept after its stream went (the application's stale copy) must find nothing, never the stream
// that took the slot.
void tst_ChannelBuffers::staleHandlesNeverReachReusedSlots()
{
    SlotTable<int> t;
    QVERIFY(!t.find(0));
    QVERIFY(!t.find(1));
    const SlotTable<int>::Handle a = t.add(1), b = t.add(2);
    QVERIFY(a != 0 && b != 0 && a != b);
    QCOMPARE(*t.find(a), 1);
    QCOMPARE(*t.find(b), 2);
    QSet<SlotTable<int>::Handle> seen {a, b};
    SlotTable<int>::Handle last = a;
    for (int i = 0; i < 1000; ++i) { // one stream per request: the same slot over and over
        t.remove(last);
        QVERIFY(!t.find(last));
        const SlotTable<int>::Handle next = t.add(3 + i);
        QCOMPARE(quint32(next), quint32(a)); // (the slot is reused...)
        QVERIFY(!seen.contains(next)); // (...under a handle never handed out before)
        seen.insert(next);
        QVERIFY(!t.find(last));
        QCOMPARE(*t.find(next), 3 + i);
        last = next;
    }
    t.remove(last);
    t.remove(last); // (twice: nothing)
    QCOMPARE(t.size(), size_t(1));
    QCOMPARE(*t.find(b), 2);
    QVERIFY(!t.find(b + (quint64(1) << 32))); // a later generation of b's slot
    QVERIFY(!t.find(quint64(7) << 32 | 1000)); // a slot that does not exist

    // Through the endpoint: a finished stream's handle, once its slot serves the next stream.
    Pair p(true);
    QVERIFY(p.connectAndWrite("x"));
    const StreamHandle first = p.a->openSubstream(p.now, p.tx);
    QVERIFY(first && p.a->isValid(first));
    QCOMPARE(p.a->writeFinal(p.now, first, "ping"), qint64(4));
    p.a->release(p.now, first);
    for (int i = 0; i < 50 && p.a->isValid(first); ++i) {
        p.exchange();
        while (StreamHandle c = p.b->acceptSubstream(p.rx))
            p.b->release(p.now, c);
    }
    QVERIFY(!p.a->isValid(first)); // reclaimed
    const StreamHandle second = p.a->openSubstream(p.now, p.tx);
    QCOMPARE(quint32(second), quint32(first));
    QVERIFY(second != first);
    QVERIFY(p.a->isValid(second));
    QVERIFY(!p.a->isValid(first));
    QCOMPARE(p.a->write(p.now, first, "y", 1), qint64(-1));
    QCOMPARE(p.a->bytesToWrite(second), qint64(0));
}

QTEST_GUILESS_MAIN(tst_ChannelBuffers)
#include "tst_buffers.moc"
