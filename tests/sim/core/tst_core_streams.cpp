// Stream semantics of the core in virtual time: hereditary substreams, messages, datagrams of any size,
// priorities, flow control, shutdown/reset, mobility and channel re-establishment.
#include "coresim.h"
#include "sim/testsupport.h"

#include <QTest>
#include <map>
#include <set>

using namespace sss;
using namespace sss::core;

class tst_CoreStreams : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void substreamTransactions_data();
    void substreamTransactions();
    void messagesUnderLoss();
    void datagramsAnySize();
    void priorityOrder();
    void priorityChangeFromReceiver();
    void slowReaderDoesNotBlockOthers();
    void resetDiscardsBothEnds();
    void shutdownAndReclaim();
    void releasedInHandlerGetsNoReadable();
    void refusedSubstreams();
    void addressChangeMidTransfer();
    void channelLossAndReattach();
    void channelStateLostMidTransfer_data();
    void channelStateLostMidTransfer();
    void resetBeforeOpenLeavesNothing();
    void resetWhileWaitingForStreamCredit_data();
    void resetWhileWaitingForStreamCredit();
    void discardedDataReleasesConnectionWindow();
    void releaseBeforePeerFinishedIsGraceful();
    void peerLostSessionStartsOver();
};

namespace {
const QString kSvc = QStringLiteral("svc"), kProto = QStringLiteral("p");

struct World {
    explicit World(uint64_t seed, sim::LinkParams link = {}, EndpointConfig cfg = {}) : sim(seed), net(sim)
    {
        if (link.delay == Duration {})
            link.delay = 10ms;
        net.setDefaultLink(link);
        ha = net.addHost(QHostAddress(QStringLiteral("10.0.0.1")));
        hb = net.addHost(QHostAddress(QStringLiteral("10.0.0.2")));
        a = std::make_unique<test::CoreNode>(net, ha, 4000, cfg);
        b = std::make_unique<test::CoreNode>(net, hb, 5000, cfg);
        b->ep->listen(kSvc, kProto);
    }
    StreamHandle connect()
    {
        return a->ep->connectStream(sim.now(), b->peerId(), b->address(), kSvc, kProto);
    }
    sim::Simulator sim;
    sim::Network net;
    sim::Host *ha, *hb;
    std::unique_ptr<test::CoreNode> a, b;
};
} // namespace

void tst_CoreStreams::substreamTransactions_data()
{
    QTest::addColumn<int>("count");
    QTest::addColumn<double>("loss");
    QTest::newRow("10000 substreams") << 10000 << 0.0;
    QTest::newRow("2000 substreams, 5% loss") << 2000 << 0.05;
}

void tst_CoreStreams::substreamTransactions()
{
    QFETCH(int, count);
    QFETCH(double, loss);
    const uint64_t seed = sim::testSeeds(1).value(0);
    sim::SeedGuard guard(seed);
    sim::LinkParams link;
    link.bitsPerSecond = 100e6;
    link.delay = 10ms;
    link.loss = loss;
    World w(seed, link);
    // Server: every substream of an accepted connection answers "resp:<request>" and finishes.
    std::map<StreamHandle, QByteArray> serverIn;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewSubstream) {
            QCOMPARE(w.b->ep->acceptSubstream(e.parent), e.stream);
        }
        if (e.type == Event::Type::Readable || e.type == Event::Type::Finished) {
            serverIn[e.stream] += w.b->readAll(e.stream);
            if (w.b->ep->atEnd(e.stream) && serverIn.count(e.stream)) {
                const QByteArray resp = "resp:" + serverIn[e.stream];
                w.b->ep->write(w.sim.now(), e.stream, resp.constData(), resp.size());
                w.b->ep->shutdownWrite(w.sim.now(), e.stream);
                w.b->ep->release(w.sim.now(), e.stream);
                serverIn.erase(e.stream);
            }
            w.b->kick();
        }
    };
    const StreamHandle top = w.connect();
    w.a->ep->write(w.sim.now(), top, "hi", 2);
    std::map<StreamHandle, int> idx;
    std::map<StreamHandle, QByteArray> clientIn;
    int done = 0;
    int bad = 0;
    const Instant start = w.sim.now();
    for (int i = 0; i < count; ++i) {
        const StreamHandle s = w.a->ep->openSubstream(w.sim.now(), top);
        QVERIFY(s);
        const QByteArray req = QByteArray::number(i);
        QCOMPARE(w.a->ep->write(w.sim.now(), s, req.constData(), req.size()), qint64(req.size()));
        w.a->ep->shutdownWrite(w.sim.now(), s);
        idx[s] = i;
    }
    w.a->onEvent = [&](const Event &e) {
        if ((e.type == Event::Type::Readable || e.type == Event::Type::Finished) && idx.count(e.stream)) {
            clientIn[e.stream] += w.a->readAll(e.stream);
            if (w.a->ep->atEnd(e.stream)) {
                if (clientIn[e.stream] != "resp:" + QByteArray::number(idx[e.stream]))
                    ++bad;
                ++done;
                w.a->ep->release(w.sim.now(), e.stream);
                idx.erase(e.stream);
            }
            w.a->kick();
        }
    };
    w.a->kick();
    QVERIFY2(w.sim.runUntil([&] { return done == count; }, 600s), qPrintable(QString::number(done)));
    QCOMPARE(bad, 0);
    qInfo("%d request/response substreams in %.3f s virtual", count, toSeconds(w.sim.now() - start));
    w.sim.runFor(2s);
    // All transaction state is reclaimed at both ends; only the top-level stream remains.
    QCOMPARE(w.a->ep->streamStats().size(), 1);
    QCOMPARE(w.b->ep->streamStats().size(), 1);
    if (loss == 0) // no serialisation behind each other: far fewer round trips than transactions
        QVERIFY(w.sim.now() - start < 60s);
}

void tst_CoreStreams::messagesUnderLoss()
{
    const uint64_t seed = sim::testSeeds(1).value(0);
    sim::SeedGuard guard(seed);
    sim::LinkParams link;
    link.bitsPerSecond = 50e6;
    link.delay = 5ms;
    link.loss = 0.05;
    link.reorder = 0.05;
    World w(seed, link);
    QList<QByteArray> sent, got;
    StreamHandle srv = 0;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewConnection)
            srv = e.stream;
        if (e.stream == srv) {
            while (w.b->ep->hasPendingMessages(srv))
                got.append(w.b->ep->readMessage(srv));
            w.b->kick();
        }
    };
    const StreamHandle s = w.connect();
    int next = 0;
    auto pump = [&] {
        while (next < 300) {
            const int size = 1 + (next * 7919) % 70000;
            QByteArray m(size, '\0');
            test::fillPattern(m.data(), next * 100000, size, 7);
            const qint64 n = w.a->ep->write(w.sim.now(), s, m.constData(), m.size(), true);
            if (n == 0)
                break; // a message is accepted whole or not at all
            QCOMPARE(n, qint64(m.size()));
            sent.append(m);
            ++next;
        }
        w.a->kick();
    };
    w.a->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::BytesAcked)
            pump();
    };
    pump();
    QVERIFY(w.sim.runUntil([&] { return got.size() == 300; }, 600s));
    QCOMPARE(got, sent);
}

void tst_CoreStreams::datagramsAnySize()
{
    const uint64_t seed = sim::testSeeds(1).value(0);
    sim::SeedGuard guard(seed);
    sim::LinkParams link;
    link.bitsPerSecond = 100e6;
    link.delay = 10ms;
    link.loss = 0.02;
    World w(seed, link);
    StreamHandle srv = 0;
    QList<QByteArray> got;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewConnection)
            srv = e.stream;
        if (e.type == Event::Type::DatagramReadable)
            while (auto d = w.b->ep->readDatagram(e.stream))
                got.append(*d);
    };
    const StreamHandle s = w.connect();
    w.a->ep->write(w.sim.now(), s, "x", 1);
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return srv != 0; }, 5s));
    // Sizes from 1 byte to 4 MiB, doubling, three of each.
    std::map<QByteArray, int> expected;
    int large = 0;
    for (qint64 size = 1; size <= 4 * 1024 * 1024; size *= 2) {
        for (int k = 0; k < 3; ++k) {
            QByteArray d(size, '\0');
            test::fillPattern(d.data(), size * 10 + k, size, 99);
            d[0] = char(k);
            QVERIFY(w.a->ep->writeDatagram(w.sim.now(), s, d));
            ++expected[d];
            if (size > w.a->ep->config().unreliableDatagramLimit)
                ++large;
        }
        w.a->kick();
        w.sim.runFor(50ms);
    }
    w.sim.runFor(120s);
    // Every delivered datagram is one that was sent, whole; none twice.
    int deliveredLarge = 0;
    for (const QByteArray &d : got) {
        QVERIFY2(expected.count(d) && expected[d] > 0, "a datagram arrived corrupted, partial or duplicated");
        --expected[d];
        if (d.size() > w.a->ep->config().unreliableDatagramLimit)
            ++deliveredLarge;
    }
    QCOMPARE(deliveredLarge, large); // large ones take the reliable path
    QVERIFY2(got.size() >= 40, qPrintable(QString::number(got.size()))); // of 69; small ones may be lost
    qInfo("%lld datagrams delivered of 69 (all %d large ones)", qint64(got.size()), large);
}

void tst_CoreStreams::priorityOrder()
{
    const uint64_t seed = sim::testSeeds(1).value(0);
    sim::SeedGuard guard(seed);
    sim::LinkParams link;
    link.bitsPerSecond = 10e6;
    link.delay = 10ms;
    link.queueBytes = 64 * 1024;
    World w(seed, link);
    std::map<StreamHandle, qint64> got;
    std::map<QByteArray, Instant> finished; // by first byte tag
    std::map<StreamHandle, QByteArray> tag;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewConnection)
            got[e.stream] = 0;
        if (e.type == Event::Type::NewSubstream)
            w.b->ep->acceptSubstream(e.parent);
        if (e.type == Event::Type::Readable || e.type == Event::Type::Finished) {
            const QByteArray d = w.b->readAll(e.stream);
            if (!tag.count(e.stream) && !d.isEmpty())
                tag[e.stream] = d.left(1);
            got[e.stream] += d.size();
            if (w.b->ep->atEnd(e.stream) && tag.count(e.stream) && !finished.count(tag[e.stream]))
                finished[tag[e.stream]] = w.sim.now();
            w.b->kick();
        }
    };
    const StreamHandle top = w.connect();
    w.a->ep->write(w.sim.now(), top, "t", 1);
    const qint64 size = 1000 * 1000;
    auto start = [&](char t, int prio) {
        const StreamHandle s = w.a->ep->openSubstream(w.sim.now(), top);
        w.a->ep->setPriority(w.sim.now(), s, prio);
        QByteArray d(size, t);
        w.a->ep->write(w.sim.now(), s, d.constData(), d.size());
        w.a->ep->shutdownWrite(w.sim.now(), s);
        return s;
    };
    const Instant t0 = w.sim.now();
    start('L', 0);
    start('M', 5);
    const StreamHandle high = start('H', 10);
    Q_UNUSED(high);
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return finished.size() == 3; }, 120s));
    QVERIFY(finished["H"] < finished["M"]);
    QVERIFY(finished["M"] < finished["L"]);
    // Strict: the high-priority stream took (nearly) the whole link: ~0.8 s for 1 MB at 10 Mbit/s,
    // plus the handshake; and the others finished one after the other, not interleaved.
    QVERIFY2(finished["H"] - t0 <= 1200ms, qPrintable(QString::number(toMicros(finished["H"] - t0))));
    QVERIFY(finished["M"] - t0 <= 2200ms);
    QVERIFY(finished["L"] - finished["M"] >= 700ms);
}

void tst_CoreStreams::priorityChangeFromReceiver()
{
    // Two equal transfers; mid-way the *receiver* raises one of them. The sender must follow within
    // about a round trip, and that stream must finish first.
    const uint64_t seed = sim::testSeeds(1).value(0);
    sim::SeedGuard guard(seed);
    sim::LinkParams link;
    link.bitsPerSecond = 10e6;
    link.delay = 20ms;
    link.queueBytes = 64 * 1024;
    World w(seed, link);
    std::map<StreamHandle, qint64> got;
    std::map<StreamHandle, Instant> done;
    StreamHandle second = 0; // the receiver's handle of the stream carrying 'b'
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewSubstream)
            w.b->ep->acceptSubstream(e.parent);
        if (e.type == Event::Type::Readable || e.type == Event::Type::Finished) {
            const QByteArray d = w.b->readAll(e.stream);
            if (!second && d.startsWith('b'))
                second = e.stream;
            got[e.stream] += d.size();
            if (w.b->ep->atEnd(e.stream) && !done.count(e.stream))
                done[e.stream] = w.sim.now();
            w.b->kick();
        }
    };
    const StreamHandle top = w.connect();
    w.a->ep->write(w.sim.now(), top, "t", 1);
    std::vector<StreamHandle> subs;
    int changedOnSender = 0;
    w.a->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::PriorityChanged) {
            QCOMPARE(e.value, 7);
            ++changedOnSender;
        }
    };
    for (int i = 0; i < 2; ++i) {
        const StreamHandle s = w.a->ep->openSubstream(w.sim.now(), top);
        QByteArray d(2 * 1000 * 1000, char('a' + i));
        w.a->ep->write(w.sim.now(), s, d.constData(), d.size());
        w.a->ep->shutdownWrite(w.sim.now(), s);
        subs.push_back(s);
    }
    w.a->kick();
    w.sim.runFor(1s);
    QVERIFY(second != 0);
    const qint64 before = got[second];
    w.b->ep->setPriority(w.sim.now(), second, 7);
    w.b->kick();
    w.sim.runFor(100ms); // ~2 RTT
    QCOMPARE(changedOnSender, 1);
    QCOMPARE(w.a->ep->priority(subs[1]), 7);
    QVERIFY(w.sim.runUntil([&] { return done.size() == 2; }, 120s));
    StreamHandle first = 0;
    for (auto &[h, t] : done)
        if (h != second)
            first = h;
    QVERIFY2(done[second] < done[first], "the raised stream did not overtake");
    QVERIFY(before > 0);
}

void tst_CoreStreams::slowReaderDoesNotBlockOthers()
{
    const uint64_t seed = sim::testSeeds(1).value(0);
    sim::SeedGuard guard(seed);
    sim::LinkParams link;
    link.bitsPerSecond = 50e6;
    link.delay = 10ms;
    EndpointConfig cfg;
    cfg.initialStreamWindow = 64 * 1024;
    cfg.maxStreamWindow = 256 * 1024;
    World w(seed, link, cfg);
    StreamHandle slow = 0, fast = 0;
    qint64 fastGot = 0, slowGot = 0;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewSubstream) {
            const StreamHandle s = w.b->ep->acceptSubstream(e.parent);
            (slow ? fast : slow) = s;
        }
        if (e.type == Event::Type::Readable && e.stream == fast) {
            fastGot += w.b->readAll(fast).size();
            w.b->kick();
        }
    };
    const StreamHandle top = w.connect();
    w.a->ep->write(w.sim.now(), top, "t", 1);
    const StreamHandle s1 = w.a->ep->openSubstream(w.sim.now(), top);
    QByteArray big(4 * 1000 * 1000, 's');
    const qint64 accepted = w.a->ep->write(w.sim.now(), s1, big.constData(), big.size());
    QVERIFY(accepted > 0);
    w.a->kick();
    w.sim.runFor(500ms);
    const StreamHandle s2 = w.a->ep->openSubstream(w.sim.now(), top);
    test::BulkSender tx;
    tx.node = w.a.get();
    tx.stream = s2;
    tx.total = 20 * 1000 * 1000;
    w.a->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::BytesAcked && e.stream == s2)
            tx.pump();
    };
    tx.pump();
    // The slow reader reads 10 KB every 100 ms.
    sim::Timer reader(w.sim, [&] {});
    std::function<void()> tick = [&] {
        if (slow) {
            char buf[10000];
            const qint64 n = w.b->ep->read(slow, buf, sizeof buf);
            slowGot += std::max<qint64>(n, 0);
            w.b->kick();
        }
        reader.start(w.sim.now() + 100ms);
    };
    reader.setCallback(tick);
    reader.start(w.sim.now() + 100ms);
    w.sim.runFor(10s);
    // The fast stream is not held back by the slow one (~50 Mbit/s link: >= 15 MB in 10 s).
    QVERIFY2(fastGot >= 15 * 1000 * 1000, qPrintable(QString::number(fastGot)));
    // The slow stream's sender is held back by flow control: at most window + what was read.
    const auto st = w.a->ep->streamStats(s1);
    QVERIFY(st);
    QVERIFY2(st->ackedBytes <= slowGot + qint64(cfg.maxStreamWindow),
             qPrintable(QStringLiteral("%1 acked, %2 read").arg(st->ackedBytes).arg(slowGot)));
    QVERIFY(slowGot > 0);
}

void tst_CoreStreams::resetDiscardsBothEnds()
{
    World w(11);
    StreamHandle srv = 0;
    StreamError srvErr = StreamError::NoError;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewConnection)
            srv = e.stream;
        if (e.type == Event::Type::Error && e.stream == srv)
            srvErr = e.error;
    };
    const StreamHandle s = w.connect();
    QByteArray d(500000, 'r');
    w.a->ep->write(w.sim.now(), s, d.constData(), d.size());
    w.a->kick();
    w.sim.runFor(50ms);
    QVERIFY(srv);
    QVERIFY(w.a->ep->reset(w.sim.now(), s));
    // Local end: writing after reset fails with an error, never a crash.
    QCOMPARE(w.a->ep->write(w.sim.now(), s, "x", 1), qint64(-1));
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return srvErr != StreamError::NoError; }, 5s));
    QCOMPARE(srvErr, StreamError::ResetByPeer);
    QCOMPARE(w.b->ep->bytesAvailable(srv), qint64(0)); // discarded
    w.a->ep->release(w.sim.now(), s);
    w.b->ep->release(w.sim.now(), srv);
    w.a->kick();
    w.b->kick();
    w.sim.runFor(2s);
    QCOMPARE(w.a->ep->streamStats().size(), 0);
    QCOMPARE(w.b->ep->streamStats().size(), 0);
}

void tst_CoreStreams::shutdownAndReclaim()
{
    World w(12);
    StreamHandle srv = 0;
    bool srvFin = false, cliFin = false, cliClosed = false;
    QByteArray srvGot, cliGot;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewConnection)
            srv = e.stream;
        if (e.stream == srv && (e.type == Event::Type::Readable || e.type == Event::Type::Finished)) {
            srvGot += w.b->readAll(srv);
            if (e.type == Event::Type::Finished)
                srvFin = true;
        }
    };
    const StreamHandle s = w.connect();
    w.a->onEvent = [&](const Event &e) {
        if (e.stream != s)
            return;
        if (e.type == Event::Type::Readable || e.type == Event::Type::Finished)
            cliGot += w.a->readAll(s);
        if (e.type == Event::Type::Finished)
            cliFin = true;
        if (e.type == Event::Type::Closed)
            cliClosed = true;
    };
    w.a->ep->write(w.sim.now(), s, "ping", 4);
    w.a->ep->shutdownWrite(w.sim.now(), s);
    QCOMPARE(w.a->ep->write(w.sim.now(), s, "more", 4), qint64(-1)); // write after shutdown: error
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return srvFin; }, 5s));
    QCOMPARE(srvGot, QByteArray("ping"));
    w.b->ep->write(w.sim.now(), srv, "pong", 4);
    w.b->ep->shutdownWrite(w.sim.now(), srv);
    w.b->kick();
    QVERIFY(w.sim.runUntil([&] { return cliFin && cliClosed; }, 5s));
    QCOMPARE(cliGot, QByteArray("pong"));
    QVERIFY(!w.a->ep->isValid(s)); // reclaimed: handle is gone, calls fail cleanly
    QCOMPARE(w.a->ep->read(s, nullptr, 10), qint64(-1));
}

// A request answered and released in the NewSubstream handler (the transaction API's way): the
// Readable queued with it is not delivered for the released handle; the answer still goes out.
void tst_CoreStreams::releasedInHandlerGetsNoReadable()
{
    World w(14);
    int readableAfterRelease = 0;
    QList<StreamHandle> released;
    QByteArray request;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewSubstream) {
            QCOMPARE(w.b->ep->acceptSubstream(e.parent), e.stream);
            // Data and FIN came in the same packet as the open: Endpoint::readAll takes it whole
            // (and reads nothing if it is larger than allowed).
            QByteArray none;
            bool end = true;
            QCOMPARE(w.b->ep->readAll(e.stream, 3, none, end), qint64(4));
            QVERIFY(none.isNull() && !end);
            QCOMPARE(w.b->ep->readAll(e.stream, 4, request, end), qint64(4));
            QVERIFY(end);
            QVERIFY(w.b->ep->atEnd(e.stream));
            w.b->ep->write(w.sim.now(), e.stream, "pong", 4);
            w.b->ep->shutdownWrite(w.sim.now(), e.stream);
            w.b->ep->release(w.sim.now(), e.stream);
            released.append(e.stream);
            w.b->kick();
        } else if (e.type == Event::Type::Readable && released.contains(e.stream)) {
            ++readableAfterRelease;
        }
    };
    const StreamHandle top = w.connect();
    const StreamHandle s = w.a->ep->openSubstream(w.sim.now(), top);
    QByteArray answer;
    bool answered = false;
    w.a->onEvent = [&](const Event &e) {
        if (e.stream == s && (e.type == Event::Type::Readable || e.type == Event::Type::Finished)) {
            answer += w.a->readAll(s);
            answered = w.a->ep->atEnd(s);
        }
    };
    w.a->ep->write(w.sim.now(), s, "ping", 4);
    w.a->ep->shutdownWrite(w.sim.now(), s);
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return answered; }, 5s));
    QCOMPARE(request, QByteArray("ping"));
    QCOMPARE(answer, QByteArray("pong"));
    QCOMPARE(released.size(), 1);
    QCOMPARE(readableAfterRelease, 0);
}

void tst_CoreStreams::refusedSubstreams()
{
    World w(13);
    StreamHandle srv = 0;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewConnection) {
            srv = e.stream;
            w.b->ep->setAcceptSubstreams(srv, false);
        }
    };
    const StreamHandle top = w.connect();
    w.a->ep->write(w.sim.now(), top, "t", 1);
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return srv != 0; }, 5s));
    StreamError err = StreamError::NoError;
    const StreamHandle child = w.a->ep->openSubstream(w.sim.now(), top);
    w.a->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::Error && e.stream == child)
            err = e.error;
    };
    w.a->ep->write(w.sim.now(), child, "c", 1);
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return err != StreamError::NoError; }, 5s));
    QCOMPARE(err, StreamError::SubstreamRefused);
}

void tst_CoreStreams::addressChangeMidTransfer()
{
    const uint64_t seed = sim::testSeeds(1).value(0);
    sim::SeedGuard guard(seed);
    sim::LinkParams link;
    link.bitsPerSecond = 20e6;
    link.delay = 10ms;
    World w(seed, link);
    test::BulkTransfer t(w.a.get(), w.b.get(), kSvc, kProto, 10 * 1000 * 1000);
    w.sim.runFor(1s);
    QVERIFY(t.rx.received > 0 && t.rx.received < t.tx.total);
    QVERIFY(w.ha->setAddress(QHostAddress(QStringLiteral("10.0.0.77")))); // the client moves
    QVERIFY(w.sim.runUntil([&] { return t.done(); }, 120s));
    QVERIFY(t.byteExact());
    QCOMPARE(t.error, StreamError::NoError);
    const ChannelStats sb = w.b->ep->channelStats().value(0);
    QCOMPARE(sb.peerAddress.host, QHostAddress(QStringLiteral("10.0.0.77")));
    QCOMPARE(w.b->ep->sessionCount(), quint64(1));
}

namespace {
// 20 Mbit/s, 10 ms; channels die after 2 s of silence and sessions wait 30 s for a new one.
World reattachWorld(uint64_t seed)
{
    sim::LinkParams link;
    link.bitsPerSecond = 20e6;
    link.delay = 10ms;
    EndpointConfig cfg;
    cfg.idleTimeout = 2s;
    cfg.keepAliveInterval = 500ms;
    cfg.sessionLinger = 30s;
    return World(seed, link, cfg);
}
} // namespace

void tst_CoreStreams::channelLossAndReattach()
{
    const uint64_t seed = sim::testSeeds(1).value(0);
    sim::SeedGuard guard(seed);
    World w = reattachWorld(seed);
    test::BulkTransfer t(w.a.get(), w.b.get(), kSvc, kProto, 10 * 1000 * 1000);
    int downs = 0;
    t.onA = [&](const Event &e) {
        if (e.type == Event::Type::LinkStatusChanged && e.status != LinkStatus::Up)
            ++downs;
    };
    w.sim.runFor(1s);
    const qint64 mid = t.rx.received;
    QVERIFY(mid > 0 && mid < t.tx.total);
    w.hb->setOnline(false); // outage longer than the idle timeout: the channel dies
    w.sim.runFor(5s);
    QVERIFY(downs >= 1); // the link left the Up state (stalled, reconnecting)
    QVERIFY(w.a->ep->channelStats().isEmpty() || w.a->ep->linkStatus(w.b->peerId()) != LinkStatus::Up);
    w.hb->setOnline(true);
    QVERIFY(w.sim.runUntil([&] { return t.done(); }, 120s));
    QVERIFY(t.byteExact()); // nothing lost, nothing duplicated
    QCOMPARE(t.error, StreamError::NoError);
    QCOMPARE(w.b->ep->sessionCount(), quint64(1));
}

void tst_CoreStreams::channelStateLostMidTransfer_data()
{
    QTest::addColumn<bool>("sender");
    QTest::newRow("sender forgets its channel") << true;
    QTest::newRow("receiver forgets its channel") << false;
}

void tst_CoreStreams::channelStateLostMidTransfer()
{
    // One end silently forgets its channel (Endpoint::dropChannels: state loss, no CLOSE) in the
    // middle of a transfer. Its session, left without a channel, must be scheduled again (the
    // initiator reconnects and resumes; the responder waits for that), and the other end's dead
    // channel must time out: the transfer then completes byte-exact on the new channel.
    QFETCH(bool, sender);
    const uint64_t seed = sim::testSeeds(1).value(0);
    sim::SeedGuard guard(seed);
    World w = reattachWorld(seed);
    test::BulkTransfer t(w.a.get(), w.b.get(), kSvc, kProto, 10 * 1000 * 1000);
    w.sim.runFor(1s);
    QVERIFY(t.rx.received > 0 && t.rx.received < t.tx.total);
    test::CoreNode &forgets = sender ? *w.a : *w.b;
    forgets.ep->dropChannels();
    QVERIFY(forgets.ep->channelStats().isEmpty());
    QCOMPARE(forgets.ep->sessionCount(), quint64(1));
    forgets.kick();
    QVERIFY(w.sim.runUntil([&] { return t.done(); }, 120s));
    QVERIFY(t.byteExact());
    QCOMPARE(t.error, StreamError::NoError);
    QCOMPARE(w.a->ep->sessionCount(), quint64(1));
    QCOMPARE(w.b->ep->sessionCount(), quint64(1));
    w.sim.runFor(10s); // the replaced channels are gone; one live channel each
    QCOMPARE(w.a->ep->channelStats().size(), 1);
    QCOMPARE(w.b->ep->channelStats().size(), 1);
}

void tst_CoreStreams::resetBeforeOpenLeavesNothing()
{
    // Substreams reset before their open ever left (and so never seen by the peer): the peer takes
    // each RESET as open-and-ended, gives the stream credit back and answers RESET(0), so neither
    // end keeps state and later substreams are not starved of credit (16 allowed at a time here,
    // 100 reset this way).
    EndpointConfig cfg;
    cfg.maxIncomingStreams = 16;
    World w(33, {}, cfg);
    int accepted = 0;
    QByteArray got;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewSubstream) {
            while (const StreamHandle s = w.b->ep->acceptSubstream(e.parent)) {
                ++accepted;
                got += w.b->readAll(s);
            }
        }
        if (e.type == Event::Type::Readable)
            got += w.b->readAll(e.stream);
        if (e.type == Event::Type::NewConnection)
            w.b->readAll(e.stream);
        w.b->kick();
    };
    const StreamHandle top = w.connect();
    w.a->ep->write(w.sim.now(), top, "t", 1);
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return w.b->ep->channelStats().value(0).streamCount == 1; }, 5s));
    for (int i = 0; i < 100; ++i) {
        const StreamHandle s = w.a->ep->openSubstream(w.sim.now(), top);
        QVERIFY(s != 0);
        w.a->ep->write(w.sim.now(), s, "x", 1);
        QVERIFY(w.a->ep->reset(w.sim.now(), s, StreamError::Cancelled));
        QVERIFY(w.a->ep->release(w.sim.now(), s));
        if (i % 10 == 9) { // in batches, each sent before the next: credit must keep coming back
            w.a->kick();
            w.sim.runFor(200ms);
        }
    }
    w.sim.runFor(2s);
    QCOMPARE(accepted, 0);
    QCOMPARE(w.a->ep->channelStats().value(0).streamCount, 1); // only the top-level stream
    QCOMPARE(w.b->ep->channelStats().value(0).streamCount, 1);
    const StreamHandle last = w.a->ep->openSubstream(w.sim.now(), top);
    w.a->ep->write(w.sim.now(), last, "y", 1);
    w.a->ep->shutdownWrite(w.sim.now(), last);
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return got == "y"; }, 5s));
    QCOMPARE(accepted, 1);
}

void tst_CoreStreams::resetWhileWaitingForStreamCredit_data()
{
    QTest::addColumn<double>("loss");
    QTest::newRow("no loss") << 0.0;
    QTest::newRow("5% loss") << 0.05;
}

void tst_CoreStreams::resetWhileWaitingForStreamCredit()
{
    // 100 substreams opened at once against a peer limit of 16: most wait locally for stream
    // credit. Some are reset while they wait, before any credit came back and later, once it is
    // coming back. Nothing may name them before the peer's limit covers them (a frame beyond the
    // limit is ignored: the opener's state and the id's credit used to stay forever, starving the
    // later substreams); then the RESET opens and ends them at the peer. In the end neither side
    // keeps state for them, every other substream got through and a new one still does.
    QFETCH(double, loss);
    EndpointConfig cfg;
    cfg.maxIncomingStreams = 16;
    sim::LinkParams link;
    link.loss = loss;
    World w(34, link, cfg);
    w.b->ep->setTraceEnabled(true);
    std::map<StreamHandle, QByteArray> partial; // at B, per substream
    std::set<QByteArray> got; // at B, complete payloads
    int accepted = 0;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewSubstream) {
            while (const StreamHandle s = w.b->ep->acceptSubstream(e.parent)) {
                ++accepted;
                w.b->ep->shutdownWrite(w.sim.now(), s); // B has nothing to say
                partial[s] += w.b->readAll(s);
            }
        }
        if (e.type == Event::Type::Readable || e.type == Event::Type::NewConnection)
            partial[e.stream] += w.b->readAll(e.stream);
        if (e.type == Event::Type::Finished) {
            got.insert(partial[e.stream] + w.b->readAll(e.stream));
            partial.erase(e.stream);
        }
        w.b->kick();
    };
    const StreamHandle top = w.connect();
    w.a->ep->write(w.sim.now(), top, "t", 1);
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return w.b->ep->channelStats().value(0).streamCount == 1; }, 5s));

    // Substream i has sequence number i + 2 (the top-level stream has 1): i < 14 is within credit.
    QList<StreamHandle> subs;
    std::set<QByteArray> expected;
    for (int i = 0; i < 100; ++i) {
        const StreamHandle s = w.a->ep->openSubstream(w.sim.now(), top);
        QVERIFY(s != 0);
        const QByteArray payload = "p" + QByteArray::number(i);
        QCOMPARE(w.a->ep->write(w.sim.now(), s, payload.constData(), payload.size()), qint64(payload.size()));
        QVERIFY(w.a->ep->shutdownWrite(w.sim.now(), s));
        subs.append(s);
        expected.insert(payload);
    }
    int resetCount = 0;
    auto resetUnsent = [&](int i) {
        // Nothing of it has left yet (for i >= 14: it waits for stream credit).
        const std::optional<StreamStats> st = w.a->ep->streamStats(subs[i]);
        if (!st || st->inFlightBytes != 0 || st->ackedBytes != 0)
            return false;
        expected.erase("p" + QByteArray::number(i));
        ++resetCount;
        if (!w.a->ep->reset(w.sim.now(), subs[i], StreamError::Cancelled))
            return false;
        w.a->ep->release(w.sim.now(), subs[i]); // (returns whether frames wait to be sent)
        return true;
    };
    QVERIFY(resetUnsent(3)); // within credit, never sent (as in resetBeforeOpenLeavesNothing)
    for (int i = 14; i < 100; i += 5) // held back, before any credit came back
        QVERIFY(resetUnsent(i));
    w.a->kick();
    // Until credit starts coming back: substream 15 (sequence number 17) leaves.
    QVERIFY(w.sim.runUntil(
        [&] {
            const std::optional<StreamStats> st = w.a->ep->streamStats(subs[15]);
            return !st || st->inFlightBytes > 0 || st->ackedBytes > 0;
        },
        5s));
    for (int i = 72; i < 100; i += 5) // still held back while credit is coming back
        QVERIFY2(resetUnsent(i), qPrintable(QString::number(i)));
    QCOMPARE(resetCount, 25); // more than the limit: leaked credit would starve the rest
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return got == expected; }, 10s));
    w.sim.runFor(2s);
    QCOMPARE(accepted, int(expected.size())); // the reset ones never surfaced at B
    QCOMPARE(w.a->ep->channelStats().value(0).streamCount, 1); // only the top-level stream
    QCOMPARE(w.b->ep->channelStats().value(0).streamCount, 1);

    const StreamHandle last = w.a->ep->openSubstream(w.sim.now(), top);
    w.a->ep->write(w.sim.now(), last, "last", 4);
    w.a->ep->shutdownWrite(w.sim.now(), last);
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return got.count("last") == 1; }, 5s));
    w.sim.runFor(1s);
    QCOMPARE(w.a->ep->channelStats().value(0).streamCount, 1);
    QCOMPARE(w.b->ep->channelStats().value(0).streamCount, 1);
    while (const std::optional<TraceEvent> t = w.b->ep->pollTrace())
        QVERIFY2(t->name != QLatin1String("transport:beyond_stream_limit"), qPrintable(t->detail));
}

void tst_CoreStreams::discardedDataReleasesConnectionWindow()
{
    // Data a receiver throws away (shutdown of its read side) must still count as consumed for the
    // connection-level window, or the whole channel would stall after enough discarded bytes.
    EndpointConfig cfg;
    cfg.initialConnectionWindow = 256 * 1024;
    cfg.maxConnectionWindow = 256 * 1024;
    World w(21, {}, cfg);
    int discarded = 0;
    StreamHandle keep = 0;
    qint64 kept = 0;
    QList<StreamHandle> unread;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewSubstream) {
            const StreamHandle s = w.b->ep->acceptSubstream(e.parent);
            if (unread.size() < 10)
                unread.append(s); // buffered, never read, then thrown away below
            else
                keep = s;
        }
        if (e.type == Event::Type::Readable && e.stream == keep)
            kept += w.b->readAll(keep).size();
        w.b->kick();
    };
    const StreamHandle top = w.connect();
    w.a->ep->write(w.sim.now(), top, "t", 1);
    QByteArray chunk(100 * 1024, 'd');
    for (int i = 0; i < 10; ++i) {
        const StreamHandle s = w.a->ep->openSubstream(w.sim.now(), top);
        w.a->ep->write(w.sim.now(), s, chunk.constData(), chunk.size());
        w.a->ep->shutdownWrite(w.sim.now(), s);
    }
    w.a->kick();
    w.sim.runFor(2s);
    QCOMPARE(unread.size(), 10);
    qint64 buffered = 0;
    for (StreamHandle s : unread)
        buffered += w.b->ep->bytesAvailable(s);
    QVERIFY(buffered >= 200 * 1024); // the connection window is (nearly) used up by unread data
    for (StreamHandle s : unread) {
        w.b->ep->shutdownRead(w.sim.now(), s);
        ++discarded;
    }
    w.b->kick();
    const StreamHandle last = w.a->ep->openSubstream(w.sim.now(), top);
    QByteArray big(1000 * 1000, 'k');
    QCOMPARE(w.a->ep->write(w.sim.now(), last, big.constData(), big.size()), qint64(big.size()));
    w.a->kick();
    QVERIFY2(w.sim.runUntil([&] { return kept == big.size(); }, 60s), qPrintable(QString::number(kept)));
}

void tst_CoreStreams::releaseBeforePeerFinishedIsGraceful()
{
    // The server answers and drops its handle while the client's direction is still open: the answer
    // must still arrive, and neither application sees an error.
    World w(22);
    int errors = 0;
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::Readable) {
            w.b->readAll(e.stream);
            w.b->ep->write(w.sim.now(), e.stream, "answer", 6);
            w.b->ep->release(w.sim.now(), e.stream);
            w.b->kick();
        }
        if (e.type == Event::Type::Error)
            ++errors;
    };
    const StreamHandle s = w.connect();
    QByteArray got;
    bool fin = false;
    w.a->onEvent = [&](const Event &e) {
        if (e.stream == s && (e.type == Event::Type::Readable || e.type == Event::Type::Finished))
            got += w.a->readAll(s);
        if (e.stream == s && e.type == Event::Type::Finished)
            fin = true;
        if (e.type == Event::Type::Error)
            ++errors;
    };
    w.a->ep->write(w.sim.now(), s, "question", 8); // no shutdownWrite
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return fin; }, 5s));
    QCOMPARE(got, QByteArray("answer"));
    QCOMPARE(errors, 0);
    w.a->ep->release(w.sim.now(), s);
    w.a->kick();
    w.sim.runFor(2s);
    QCOMPARE(w.a->ep->streamStats().size(), 0);
    QCOMPARE(w.b->ep->streamStats().size(), 0);
}

void tst_CoreStreams::peerLostSessionStartsOver()
{
    // The server restarts (same identity, state lost) while the client has streams open. The client's
    // channel dies, it reconnects asking to resume, the server does not know the session: the old
    // streams fail with ChannelLost, and new streams work from a clean slate (ids, limits, windows).
    EndpointConfig cfg;
    cfg.idleTimeout = 1s;
    cfg.keepAliveInterval = 300ms;
    cfg.maxIncomingStreams = 64;
    World w(23, {}, cfg);
    const QByteArray serverSeed(32, 's');
    w.b.reset();
    w.b = std::make_unique<test::CoreNode>(w.net, w.hb, 5000, cfg, serverSeed);
    w.b->ep->listen(kSvc, kProto);
    // Use more stream ids than the server's limit allows at once, then keep one stream open.
    int served = 0;
    auto serve = [&](test::CoreNode &node) {
        node.onEvent = [&](const Event &e) {
            if (e.type == Event::Type::NewSubstream)
                node.ep->acceptSubstream(e.parent);
            if (e.type == Event::Type::Finished) {
                node.ep->shutdownWrite(w.sim.now(), e.stream);
                node.ep->release(w.sim.now(), e.stream);
                ++served;
            }
            node.kick();
        };
    };
    serve(*w.b);
    const StreamHandle top = w.connect();
    w.a->ep->write(w.sim.now(), top, "t", 1);
    for (int i = 0; i < 200; ++i) {
        const StreamHandle c = w.a->ep->openSubstream(w.sim.now(), top);
        w.a->ep->shutdownWrite(w.sim.now(), c);
    }
    StreamError topError = StreamError::NoError;
    w.a->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::Error && e.stream == top)
            topError = e.error;
        if (e.type == Event::Type::Finished || e.type == Event::Type::Readable)
            w.a->readAll(e.stream);
        if (e.type == Event::Type::Finished)
            w.a->ep->release(w.sim.now(), e.stream);
    };
    w.a->kick();
    QVERIFY(w.sim.runUntil([&] { return served == 200; }, 30s));
    // The server loses everything.
    w.b.reset();
    w.sim.runFor(100ms);
    w.b = std::make_unique<test::CoreNode>(w.net, w.hb, 5000, cfg, serverSeed);
    w.b->ep->listen(kSvc, kProto);
    served = 0;
    serve(*w.b);
    QVERIFY(w.sim.runUntil([&] { return topError != StreamError::NoError; }, 30s));
    QCOMPARE(topError, StreamError::ChannelLost);
    // A fresh top-level stream and 200 substreams work again on the restarted session.
    const StreamHandle top2 = w.connect();
    QVERIFY(top2);
    w.a->ep->write(w.sim.now(), top2, "t", 1);
    for (int i = 0; i < 200; ++i) {
        const StreamHandle c = w.a->ep->openSubstream(w.sim.now(), top2);
        w.a->ep->shutdownWrite(w.sim.now(), c);
    }
    w.a->kick();
    QVERIFY2(w.sim.runUntil([&] { return served == 200; }, 30s), qPrintable(QString::number(served)));
}

QTEST_GUILESS_MAIN(tst_CoreStreams)
#include "tst_core_streams.moc"
