// Path MTU discovery through the simulated network: the size found for links of several MTUs, probe
// losses that are not congestion, a black hole (the MTU shrinks under a running transfer), limits
// that differ per end, and discovery switched off.
#include "coresim.h"
#include "sim/testsupport.h"

#include <QTest>

using namespace sss;
using namespace sss::core;

class tst_CorePmtud : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void discovers_data();
    void discovers();
    void blackHole();
    void raiseTimer();
    void asymmetricLimits();
    void smallTrafficDoesNotProbe();
    void pathChangeSearchesAgain();
};

namespace {
// Two hosts joined by one link each way, on the run's seed (printed if the test fails).
struct Path {
    explicit Path(sim::LinkParams p) : seed(sim::testSeeds(1).value(0)), guard(seed), sim(seed), net(sim)
    {
        ha = net.addHost(QHostAddress(QStringLiteral("10.0.0.1")));
        hb = net.addHost(QHostAddress(QStringLiteral("10.0.0.2")));
        ab = net.addLink(p);
        ba = net.addLink(p);
        net.setRoute(ha, hb, {ab});
        net.setRoute(hb, ha, {ba});
    }
    uint64_t seed;
    sim::SeedGuard guard;
    sim::Simulator sim;
    sim::Network net;
    sim::Host *ha, *hb;
    sim::Link *ab, *ba;
};

sim::LinkParams link(int mtu)
{
    sim::LinkParams p;
    p.bitsPerSecond = 100e6;
    p.delay = 10ms;
    p.queueBytes = 4 << 20; // no queue losses: every loss here is an oversized packet
    p.mtu = mtu;
    return p;
}

struct Run {
    Run(Path &path, qint64 bytes, EndpointConfig ca = {}, EndpointConfig cb = {})
        : a(std::make_unique<test::CoreNode>(path.net, path.ha, 4000, ca)),
          b(std::make_unique<test::CoreNode>(path.net, path.hb, 5000, cb)),
          listening(b->ep->listen(QStringLiteral("bulk"), QStringLiteral("1"))),
          bulk(a.get(), b.get(), QStringLiteral("bulk"), QStringLiteral("1"), bytes)
    { }
    std::unique_ptr<test::CoreNode> a, b;
    bool listening;
    test::BulkTransfer bulk;
};
} // namespace

void tst_CorePmtud::discovers_data()
{
    QTest::addColumn<int>("mtu"); // IP MTU of both links
    QTest::addColumn<int>("maxProbed"); // EndpointConfig::maxProbedDatagramSize of both ends
    QTest::addColumn<int>("lowest"); // the size found lies in [lowest, highest]
    QTest::addColumn<int>("highest");
    // The UDP payload an IPv4 path of MTU m carries is m - 28.
    QTest::newRow("ethernet 1500") << 1500 << 1452 << 1452 << 1452;
    QTest::newRow("tunnel 1400") << 1400 << 1452 << 1372 - 16 << 1372;
    QTest::newRow("1300") << 1300 << 1452 << 1272 - 16 << 1272;
    QTest::newRow("at the base") << 1260 << 1452 << 1232 << 1232;
    QTest::newRow("jumbo, probed to 8000") << 9000 << 8000 << 8000 << 8000;
    QTest::newRow("switched off") << 1500 << 0 << 1232 << 1232;
}

void tst_CorePmtud::discovers()
{
    QFETCH(int, mtu);
    QFETCH(int, maxProbed);
    QFETCH(int, lowest);
    QFETCH(int, highest);
    Path path(link(mtu));
    EndpointConfig cfg;
    cfg.maxProbedDatagramSize = maxProbed;
    const qint64 bytes = 8 * 1000 * 1000;
    Run run(path, bytes, cfg, cfg);
    QVERIFY(run.listening);
    QVERIFY2(path.sim.runUntil([&] { return run.bulk.done(); }, 600s),
             qPrintable(QStringLiteral("received %1 of %2").arg(run.bulk.rx.received).arg(bytes)));
    QVERIFY(run.bulk.rx.patternOk);
    QCOMPARE(run.bulk.rx.hash.result(), run.bulk.tx.hash.result());
    const ChannelStats st = run.a->ep->channelStats().value(0);
    qInfo("size %lld after %llu probes (%llu lost); %llu packets for %lld bytes, lost %llu",
          st.maxDatagramSize, st.mtuProbesSent, st.mtuProbesLost, st.packetsSent, bytes, st.packetsLost);
    QVERIFY2(st.maxDatagramSize >= lowest && st.maxDatagramSize <= highest,
             qPrintable(QString::number(st.maxDatagramSize)));
    // Oversized probes were dropped by the link, and nothing else was. (The last probe may still
    // be in flight, or lost but not yet declared so, when the transfer ends.)
    const quint64 dropped = path.ab->stats().droppedMtu;
    QVERIFY2(dropped == st.mtuProbesLost || dropped == st.mtuProbesLost + 1,
             qPrintable(QStringLiteral("%1 dropped, %2 probes lost").arg(dropped).arg(st.mtuProbesLost)));
    QVERIFY(dropped <= st.mtuProbesSent);
    QCOMPARE(path.ab->stats().droppedLoss + path.ab->stats().droppedQueue, 0u);
    // A lost probe is not a lost packet: no retransmission, no congestion response.
    QCOMPARE(st.packetsLost, 0u);
    QCOMPARE(st.retransmittedBytes, 0u);
    if (maxProbed > 0)
        QVERIFY(st.mtuProbesSent >= 1);
    else
        QCOMPARE(st.mtuProbesSent, 0u);
    // The transfer used the size found: its packets average close to it.
    const double avg = double(st.bytesSent) / double(st.packetsSent);
    QVERIFY2(avg > 0.95 * double(st.maxDatagramSize) - 32, qPrintable(QString::number(avg)));
    // The receiving end probes its own direction too, once it has sent 16 base-size packets' worth
    // (only then is a search worth its probes). It sends only ACKs, which are not
    // acknowledged, so each of its lost probes is found by a PTO and its search is slower: within
    // the path's limit, whether finished or not.
    const ChannelStats sb = run.b->ep->channelStats().value(0);
    QVERIFY2(sb.maxDatagramSize >= 1232 && sb.maxDatagramSize <= highest,
             qPrintable(QString::number(sb.maxDatagramSize)));
    if (lowest > 1232 && sb.bytesSent >= 16 * 1232)
        QVERIFY(sb.mtuProbesSent >= 1);
}

void tst_CorePmtud::blackHole()
{
    Path path(link(1500));
    const qint64 bytes = 40 * 1000 * 1000;
    Run run(path, bytes);
    QVERIFY(path.sim.runUntil([&] { return run.bulk.rx.received > bytes / 4; }, 60s));
    QCOMPARE(run.a->ep->channelStats().value(0).maxDatagramSize, 1452);
    // A route change: the forward path now carries 1300-byte IP packets, and says nothing.
    path.ab->setParams(link(1300));
    QVERIFY2(path.sim.runUntil([&] { return run.bulk.done(); }, 600s),
             qPrintable(QStringLiteral("received %1 of %2").arg(run.bulk.rx.received).arg(bytes)));
    QVERIFY(run.bulk.rx.patternOk);
    QCOMPARE(run.bulk.rx.hash.result(), run.bulk.tx.hash.result());
    const ChannelStats st = run.a->ep->channelStats().value(0);
    qInfo("black holes %llu, size now %lld, %llu probes (%llu lost), lost %llu packets", st.mtuBlackHoles,
          st.maxDatagramSize, st.mtuProbesSent, st.mtuProbesLost, st.packetsLost);
    QVERIFY(st.mtuBlackHoles >= 1);
    QVERIFY2(st.maxDatagramSize >= 1232 && st.maxDatagramSize <= 1272,
             qPrintable(QString::number(st.maxDatagramSize)));
    // The way back the ACKs take was not touched.
    QCOMPARE(run.b->ep->channelStats().value(0).maxDatagramSize, 1452);
}

void tst_CorePmtud::raiseTimer()
{
    // The search ends below the top on a 1300-byte path; the route then widens. Ten minutes later
    // the channel (kept by a long idle timeout, no traffic) probes the top again, and gets it.
    Path path(link(1300));
    EndpointConfig cfg;
    cfg.idleTimeout = 3600s;
    Run run(path, 2 * 1000 * 1000, cfg, cfg);
    QVERIFY(path.sim.runUntil([&] { return run.bulk.done(); }, 600s));
    const Instant transferDone = path.sim.now();
    path.sim.runFor(60s); // the search ends (on an idle channel each lost probe waits for a PTO)
    const qint64 found = run.a->ep->channelStats().value(0).maxDatagramSize;
    QVERIFY2(found > 1272 - 16 && found <= 1272, qPrintable(QString::number(found)));
    path.ab->setParams(link(1500));
    path.ba->setParams(link(1500));
    path.sim.runFor(480s);
    QCOMPARE(run.a->ep->channelStats().value(0).maxDatagramSize, found); // not before the timer
    QVERIFY(
        path.sim.runUntil([&] { return run.a->ep->channelStats().value(0).maxDatagramSize == 1452; }, 200s));
    const Duration after = path.sim.now() - transferDone;
    qInfo("raised to 1452 %.1f s after the transfer", toSeconds(after));
    QVERIFY(after >= 600s);
    QVERIFY(after <= 660s);
}

void tst_CorePmtud::asymmetricLimits()
{
    // Each end probes up to its own limit: the receiver announces that it accepts any datagram, so
    // the sender's 4000 is not capped by the receiver's 1300. (Capping by the peer's announced limit
    // is tst_recovery_pmtud's peerLimitCapsSearch.)
    Path path(link(9000));
    EndpointConfig ca, cb;
    ca.maxProbedDatagramSize = 4000;
    cb.maxProbedDatagramSize = 1300;
    Run run(path, 40 * 1000 * 1000, ca, cb); // (the receiver's ACKs must add up to 16 packets' worth)
    QVERIFY(path.sim.runUntil([&] { return run.bulk.done(); }, 600s));
    QCOMPARE(run.a->ep->channelStats().value(0).maxDatagramSize, 4000); // the receiver takes anything
    QCOMPARE(run.b->ep->channelStats().value(0).maxDatagramSize, 1300);
}

void tst_CorePmtud::smallTrafficDoesNotProbe()
{
    // 12 kB in all: less than 16 base-size packets each way, so neither end spends probes on a
    // channel whose packets are small anyway.
    Path path(link(1500));
    Run run(path, 12 * 1000);
    QVERIFY(path.sim.runUntil([&] { return run.bulk.done(); }, 60s));
    path.sim.runFor(10s);
    for (const auto *node : {run.a.get(), run.b.get()}) {
        const ChannelStats st = node->ep->channelStats().value(0);
        QCOMPARE(st.mtuProbesSent, 0u);
        QCOMPARE(st.maxDatagramSize, 1232);
    }
}

void tst_CorePmtud::pathChangeSearchesAgain()
{
    // The sender moves to a new address mid-transfer: the receiver's channel follows it, drops back
    // to the base size (the new path may carry less) and searches again.
    Path path(link(1500));
    const qint64 bytes = 20 * 1000 * 1000;
    Run run(path, bytes);
    run.b->ep->setTraceEnabled(true);
    QVERIFY(
        path.sim.runUntil([&] { return run.b->ep->channelStats().value(0).maxDatagramSize == 1452; }, 60s));
    QVERIFY(run.bulk.rx.received < bytes / 2);
    while (run.b->ep->pollTrace()) { } // only what follows the move
    QVERIFY(path.ha->setAddress(QHostAddress(QStringLiteral("10.0.0.77"))));
    QVERIFY(path.sim.runUntil([&] { return run.bulk.done(); }, 120s));
    QVERIFY(run.bulk.rx.patternOk);
    QStringList updates;
    bool moved = false;
    while (std::optional<TraceEvent> t = run.b->ep->pollTrace()) {
        moved = moved || t->name == u"connectivity:path_changed";
        if (moved && t->name == u"transport:mtu_updated")
            updates << t->detail.section(u' ', 0, 0);
    }
    QVERIFY(moved);
    QVERIFY2(updates.value(0) == u"size=1232", qPrintable(updates.join(u',')));
    QCOMPARE(run.b->ep->channelStats().value(0).maxDatagramSize, 1452); // found again
}

QTEST_GUILESS_MAIN(tst_CorePmtud)
#include "tst_core_pmtud.moc"
