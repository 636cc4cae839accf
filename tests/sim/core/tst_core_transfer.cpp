// Bulk transfer through a channel: exactness under loss/reordering/duplication, link utilisation,
// fairness between channels sharing a bottleneck.
#include "coresim.h"
#include "sim/testsupport.h"

#include <QTest>

using namespace sss;
using namespace sss::core;

class tst_CoreTransfer : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void exactUnderImpairment_data();
    void exactUnderImpairment();
    void utilisation();
    void fairness();
    void keyUpdateMidTransfer();
};

namespace {
struct Transfer {
    Transfer(sim::Network &net, sim::Host *ha, sim::Host *hb, qint64 bytes, EndpointConfig cfg = {})
        : a(std::make_unique<test::CoreNode>(net, ha, 4000, cfg)),
          b(std::make_unique<test::CoreNode>(net, hb, 5000, cfg)),
          listening(b->ep->listen(QStringLiteral("bulk"), QStringLiteral("1"))),
          bulk(a.get(), b.get(), QStringLiteral("bulk"), QStringLiteral("1"), bytes), tx(bulk.tx), rx(bulk.rx)
    { }
    bool done() const { return bulk.done(); }
    std::unique_ptr<test::CoreNode> a, b;
    bool listening;
    test::BulkTransfer bulk;
    test::BulkSender &tx;
    test::BulkReceiver &rx;
};
} // namespace

void tst_CoreTransfer::exactUnderImpairment_data()
{
    QTest::addColumn<uint64_t>("seed");
    QTest::addColumn<qint64>("bytes");
    const QList<uint64_t> seeds = sim::testSeeds(8);
    // One long transfer (100 MB) and several shorter ones on other seeds.
    QTest::addRow("100MB seed=%llu", (unsigned long long)seeds[0]) << seeds[0] << qint64(100) * 1000 * 1000;
    for (int i = 1; i < seeds.size(); ++i)
        QTest::addRow("8MB seed=%llu", (unsigned long long)seeds[i]) << seeds[i] << qint64(8) * 1000 * 1000;
}

void tst_CoreTransfer::exactUnderImpairment()
{
    QFETCH(uint64_t, seed);
    QFETCH(qint64, bytes);
    sim::SeedGuard guard(seed);
    sim::Simulator sim(seed);
    sim::Network net(sim);
    sim::LinkParams p;
    p.bitsPerSecond = 200e6;
    p.delay = 10ms;
    p.jitter = 1ms;
    p.loss = 0.05;
    p.reorder = 0.02;
    p.reorderDelay = 3ms;
    p.duplicate = 0.01;
    p.queueBytes = 2 << 20;
    net.setDefaultLink(p);
    sim::Host *ha = net.addHost(QHostAddress(QStringLiteral("10.0.0.1")));
    sim::Host *hb = net.addHost(QHostAddress(QStringLiteral("10.0.0.2")));
    Transfer t(net, ha, hb, bytes);
    QVERIFY2(sim.runUntil([&] { return t.done(); }, 3600s),
             qPrintable(QStringLiteral("received %1 of %2").arg(t.rx.received).arg(bytes)));
    QVERIFY(t.rx.patternOk);
    QCOMPARE(t.rx.hash.result(), t.tx.hash.result());
    const ChannelStats st = t.a->ep->channelStats().value(0);
    QVERIFY(st.packetsLost > 0); // the impairment really happened
    qInfo("%lld bytes in %.1f s virtual, lost %llu packets, retransmitted %llu bytes, cwnd %lld", bytes,
          toSeconds(sim.elapsed()), st.packetsLost, st.retransmittedBytes, st.cwnd);
}

void tst_CoreTransfer::utilisation()
{
    const uint64_t seed = sim::testSeeds(1).value(0);
    sim::SeedGuard guard(seed);
    sim::Simulator sim(seed);
    sim::Network net(sim);
    sim::Host *ha = net.addHost(QHostAddress(QStringLiteral("10.0.0.1")));
    sim::Host *hb = net.addHost(QHostAddress(QStringLiteral("10.0.0.2")));
    sim::LinkParams fwd;
    fwd.bitsPerSecond = 10e6;
    fwd.delay = 25ms; // 50 ms round trip
    fwd.queueBytes = 10e6 / 8 * 0.05; // one BDP of buffer
    sim::LinkParams rev = fwd;
    rev.queueBytes = 1 << 20;
    sim::Link *ab = net.addLink(fwd);
    sim::Link *ba = net.addLink(rev);
    net.setRoute(ha, hb, {ab});
    net.setRoute(hb, ha, {ba});
    Transfer t(net, ha, hb, qint64(1) << 40);
    sim.runFor(10s); // slow start and first losses
    const quint64 before = t.rx.received;
    sim.runFor(20s);
    const double goodput = double(t.rx.received - before) * 8 / 20;
    const double util = goodput / 10e6;
    qInfo("goodput %.2f Mbit/s = %.1f%% of the link (payload only)", goodput / 1e6, util * 100);
    QVERIFY2(util >= 0.90, qPrintable(QString::number(util)));
}

void tst_CoreTransfer::fairness()
{
    const uint64_t seed = sim::testSeeds(1).value(0);
    sim::SeedGuard guard(seed);
    sim::Simulator sim(seed);
    sim::Network net(sim);
    sim::Host *c1 = net.addHost(QHostAddress(QStringLiteral("10.0.0.1")));
    sim::Host *c2 = net.addHost(QHostAddress(QStringLiteral("10.0.0.2")));
    sim::Host *srv1 = net.addHost(QHostAddress(QStringLiteral("10.0.1.1")));
    sim::Host *srv2 = net.addHost(QHostAddress(QStringLiteral("10.0.1.2")));
    sim::LinkParams bottleneck;
    bottleneck.bitsPerSecond = 20e6;
    bottleneck.delay = 15ms;
    bottleneck.queueBytes = 20e6 / 8 * 0.04;
    sim::Link *shared = net.addLink(bottleneck);
    sim::LinkParams access;
    access.delay = 5ms;
    sim::Link *back1 = net.addLink(access), *back2 = net.addLink(access);
    net.setRoute(c1, srv1, {shared});
    net.setRoute(c2, srv2, {shared});
    net.setRoute(srv1, c1, {back1});
    net.setRoute(srv2, c2, {back2});
    Transfer t1(net, c1, srv1, qint64(1) << 40);
    sim.runFor(2s);
    Transfer t2(net, c2, srv2, qint64(1) << 40); // joins late: must still get its share
    sim.runFor(20s);
    const quint64 b1 = t1.rx.received, b2 = t2.rx.received;
    sim.runFor(30s);
    const QList<double> x {double(t1.rx.received - b1), double(t2.rx.received - b2)};
    const double j = test::jainIndex(x);
    qInfo("throughputs %.2f / %.2f Mbit/s, Jain index %.3f", x[0] * 8 / 30e6, x[1] * 8 / 30e6, j);
    QVERIFY2(j >= 0.9, qPrintable(QString::number(j)));
    QVERIFY((x[0] + x[1]) * 8 / 30 >= 0.8 * 20e6);
}

void tst_CoreTransfer::keyUpdateMidTransfer()
{
    const uint64_t seed = sim::testSeeds(1).value(0);
    sim::SeedGuard guard(seed);
    sim::Simulator sim(seed);
    sim::Network net(sim);
    sim::LinkParams p;
    p.bitsPerSecond = 100e6;
    p.delay = 5ms;
    p.loss = 0.01;
    p.reorder = 0.01;
    net.setDefaultLink(p);
    sim::Host *ha = net.addHost(QHostAddress(QStringLiteral("10.0.0.1")));
    sim::Host *hb = net.addHost(QHostAddress(QStringLiteral("10.0.0.2")));
    EndpointConfig cfg;
    cfg.rekeyAfterPackets = 500;
    Transfer t(net, ha, hb, 5 * 1000 * 1000, cfg);
    QVERIFY(sim.runUntil([&] { return t.done(); }, 600s));
    QCOMPARE(t.rx.hash.result(), t.tx.hash.result());
    const ChannelStats sa = t.a->ep->channelStats().value(0), sb = t.b->ep->channelStats().value(0);
    QVERIFY2(sa.keyUpdates >= 5, qPrintable(QString::number(sa.keyUpdates)));
    QVERIFY(sb.keyUpdates >= 5);
}

QTEST_GUILESS_MAIN(tst_CoreTransfer)
#include "tst_core_transfer.moc"
