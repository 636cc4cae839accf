// Channel establishment and basic stream exchange between two sans-IO endpoints in virtual time.
#include "coresim.h"
#include "sim/testsupport.h"

#include <QCryptographicHash>
#include <QTest>

using namespace sss;
using namespace sss::core;

class tst_CoreChannel : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void handshakeAndEcho();
    void handshakeUnderLoss_data();
    void handshakeUnderLoss();
    void serviceNotFound();
    void unreachablePeerFails();
};

namespace {
struct Pair {
    explicit Pair(uint64_t seed, sim::LinkParams link = {}) : sim(seed), net(sim)
    {
        link.delay = link.delay == Duration {} ? 10ms : link.delay;
        net.setDefaultLink(link);
        ha = net.addHost(QHostAddress(QStringLiteral("10.0.0.1")));
        hb = net.addHost(QHostAddress(QStringLiteral("10.0.0.2")));
        a = std::make_unique<test::CoreNode>(net, ha, 4000);
        b = std::make_unique<test::CoreNode>(net, hb, 5000);
    }
    sim::Simulator sim;
    sim::Network net;
    sim::Host *ha, *hb;
    std::unique_ptr<test::CoreNode> a, b;
};
} // namespace

void tst_CoreChannel::handshakeAndEcho()
{
    Pair p(1);
    QVERIFY(p.b->ep->listen(QStringLiteral("echo"), QStringLiteral("v1")));
    QByteArray got;
    bool connected = false;
    p.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewConnection || e.type == Event::Type::Readable) {
            char buf[4096];
            qint64 n;
            while ((n = p.b->ep->read(e.stream, buf, sizeof buf)) > 0)
                p.b->ep->write(p.b->now(), e.stream, buf, n);
            p.b->kick();
        }
    };
    p.a->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::Connected)
            connected = true;
        if (e.type == Event::Type::Readable) {
            char buf[4096];
            qint64 n;
            while ((n = p.a->ep->read(e.stream, buf, sizeof buf)) > 0)
                got.append(buf, n);
        }
    };
    const Instant start = p.sim.now();
    const StreamHandle s = p.a->ep->connectStream(p.sim.now(), p.b->peerId(), p.b->address(),
                                                  QStringLiteral("echo"), QStringLiteral("v1"));
    QVERIFY(s != 0);
    QCOMPARE(p.a->ep->write(p.sim.now(), s, "hello", 5), qint64(5)); // writable at once
    p.a->kick();
    QVERIFY(p.sim.runUntil([&] { return got == "hello"; }, 5s));
    QVERIFY(connected);
    // 1 RTT handshake (20 ms) + 1 RTT for the echo: data arrives after ~2 RTT, not more.
    QVERIFY2(p.sim.now() - start <= 45ms, qPrintable(QString::number(toMicros(p.sim.now() - start))));
    const QList<ChannelStats> st = p.a->ep->channelStats();
    QCOMPARE(st.size(), 1);
    QCOMPARE(st[0].status, LinkStatus::Up);
    QVERIFY(st[0].srtt >= 19ms && st[0].srtt <= 30ms);
}

void tst_CoreChannel::handshakeUnderLoss_data()
{
    QTest::addColumn<uint64_t>("seed");
    for (uint64_t s : sim::testSeeds(20))
        QTest::addRow("seed=%llu", (unsigned long long)s) << s;
}

void tst_CoreChannel::handshakeUnderLoss()
{
    QFETCH(uint64_t, seed);
    sim::SeedGuard guard(seed);
    sim::LinkParams lossy;
    lossy.delay = 20ms;
    lossy.loss = 0.3;
    Pair p(seed, lossy);
    p.b->ep->listen(QStringLiteral("svc"), QStringLiteral("p"));
    bool connected = false;
    p.a->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::Connected)
            connected = true;
    };
    const StreamHandle s = p.a->ep->connectStream(p.sim.now(), p.b->peerId(), p.b->address(),
                                                  QStringLiteral("svc"), QStringLiteral("p"));
    p.a->ep->write(p.sim.now(), s, "x", 1);
    p.a->kick();
    QVERIFY(p.sim.runUntil([&] { return connected; }, 20s));
}

void tst_CoreChannel::serviceNotFound()
{
    Pair p(7);
    StreamError err = StreamError::NoError;
    QString msg;
    p.a->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::Error) {
            err = e.error;
            msg = e.message;
        }
    };
    const StreamHandle s = p.a->ep->connectStream(p.sim.now(), p.b->peerId(), p.b->address(),
                                                  QStringLiteral("nobody"), QStringLiteral("home"));
    p.a->ep->write(p.sim.now(), s, "x", 1);
    p.a->kick();
    QVERIFY(p.sim.runUntil([&] { return err != StreamError::NoError; }, 5s));
    QCOMPARE(err, StreamError::ServiceNotFound);
    QVERIFY(msg.contains(QStringLiteral("nobody")));
    // Both ends reclaim the refused stream.
    p.sim.runFor(2s);
    QCOMPARE(p.b->ep->streamStats().size(), 0);
}

void tst_CoreChannel::unreachablePeerFails()
{
    Pair p(3);
    p.hb->setOnline(false);
    StreamError err = StreamError::NoError;
    p.a->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::Error)
            err = e.error;
    };
    const StreamHandle s = p.a->ep->connectStream(p.sim.now(), p.b->peerId(), p.b->address(),
                                                  QStringLiteral("svc"), QStringLiteral("p"));
    QVERIFY(s);
    p.a->kick();
    QVERIFY(p.sim.runUntil([&] { return err != StreamError::NoError; }, 30s));
    QCOMPARE(err, StreamError::ConnectFailed);
    QCOMPARE(p.a->ep->sessionCount(), quint64(0));
}

QTEST_GUILESS_MAIN(tst_CoreChannel)
#include "tst_core_channel.moc"
