// PathMtu: the search (top first, then halving), MAX_PROBES, the raise timer, the peer's limit,
// black-hole fallback from loss bursts and PTOs, and reset on a path change.
#include "recovery/pmtud.h"

#include <QTest>

using namespace sss::core;

namespace {
const Instant t0 = Instant {} + 1000s;

// Runs the search against a path that carries datagrams up to `pathLimit` bytes: every probe at
// most that size is acknowledged, every larger one lost. Returns the number of probes sent.
int search(PathMtu &m, qint64 pathLimit, Instant now = t0)
{
    int probes = 0;
    while (qint64 size = m.nextProbe(now)) {
        if (++probes > 100)
            break;
        m.onProbeSent(size);
        if (m.nextProbe(now) != 0)
            return -1; // one probe in flight at a time
        if (size <= pathLimit)
            m.onProbeAcked(now, size);
        else
            m.onProbeLost(now, size);
    }
    return probes;
}
} // namespace

class TestPathMtu : public QObject
{
    Q_OBJECT
private slots:
    void disabledWhenMaxNotAboveBase()
    {
        PathMtu m(1232, 1232);
        QVERIFY(!m.enabled());
        QCOMPARE(m.nextProbe(t0), 0);
        QCOMPARE(m.nextProbeTime(), kNever);
        QCOMPARE(m.current(), 1232);
        PathMtu off(1232, 0);
        QVERIFY(!off.enabled());
        QCOMPARE(off.nextProbe(t0 + 3600s), 0);
    }

    void topFirstOneProbe()
    {
        PathMtu m(1232, 1452);
        QCOMPARE(m.nextProbe(t0), 1452);
        QCOMPARE(search(m, 1500), 1);
        QCOMPARE(m.current(), 1452);
        QVERIFY(m.searchDone());
        QCOMPARE(m.nextProbeTime(), kNever); // at the top: nothing to raise
        QCOMPARE(m.nextProbe(t0 + 3600s), 0);
    }

    void binarySearchFindsPathLimit_data()
    {
        QTest::addColumn<qint64>("pathLimit");
        QTest::newRow("1400 (tunnel)") << qint64(1400);
        QTest::newRow("1280") << qint64(1280);
        QTest::newRow("1300") << qint64(1300);
        QTest::newRow("1440") << qint64(1440);
        QTest::newRow("base only") << qint64(1240);
    }
    void binarySearchFindsPathLimit()
    {
        QFETCH(qint64, pathLimit);
        PathMtu m(1232, 1452);
        const int probes = search(m, pathLimit);
        QVERIFY(probes > 0);
        QVERIFY(m.searchDone());
        QVERIFY2(m.current() <= pathLimit, qPrintable(QString::number(m.current())));
        QVERIFY2(m.current() > pathLimit - PathMtu::kSearchGranularity || m.current() == 1232,
                 qPrintable(QString::number(m.current())));
        // Each size that fails costs MAX_PROBES probes; halving 220 bytes to 16 takes ~4 steps.
        QVERIFY2(probes <= 6 * PathMtu::kMaxProbes, qPrintable(QString::number(probes)));
        QVERIFY(m.probesLost() >= quint64(PathMtu::kMaxProbes)); // the top was lost 3 times at least
    }

    void oneLossIsNotEnough()
    {
        PathMtu m(1232, 1452);
        QCOMPARE(m.nextProbe(t0), 1452);
        m.onProbeSent(1452);
        m.onProbeLost(t0, 1452); // e.g. congestion
        QCOMPARE(m.nextProbe(t0), 1452); // the same size again
        m.onProbeSent(1452);
        m.onProbeLost(t0, 1452);
        QCOMPARE(m.nextProbe(t0), 1452);
        m.onProbeSent(1452);
        m.onProbeAcked(t0, 1452);
        QCOMPARE(m.current(), 1452);
        QVERIFY(m.searchDone());
    }

    void raiseTimerProbesAgain()
    {
        PathMtu m(1232, 1452);
        search(m, 1350);
        const qint64 found = m.current();
        QVERIFY(found < 1452);
        QCOMPARE(m.nextProbeTime(), t0 + PathMtu::kRaiseInterval);
        QCOMPARE(m.nextProbe(t0 + 599s), 0);
        QVERIFY(!m.mayProbe(t0 + 599s));
        // The path got wider meanwhile.
        const Instant later = t0 + PathMtu::kRaiseInterval;
        QVERIFY(m.mayProbe(later));
        QCOMPARE(m.nextProbe(later), 1452);
        QCOMPARE(search(m, 1500, later), 1);
        QCOMPARE(m.current(), 1452);
    }

    void peerLimitCapsSearch()
    {
        PathMtu m(1232, 1452);
        m.setPeerLimit(t0, 1300);
        QCOMPARE(m.nextProbe(t0), 1300);
        search(m, 9000);
        QCOMPARE(m.current(), 1300);
        QVERIFY(m.searchDone());
        // A peer limit at or below the base turns discovery off.
        PathMtu n(1232, 1452);
        n.setPeerLimit(t0, 1200);
        QVERIFY(!n.enabled());
        QCOMPARE(n.nextProbe(t0), 0);
        QCOMPARE(n.current(), 1232);
    }

    void staleProbeResultsIgnored()
    {
        PathMtu m(1232, 1452);
        search(m, 1500);
        QCOMPARE(m.current(), 1452);
        m.onProbeLost(t0, 1300); // late loss of a probe below the size in use
        QCOMPARE(m.current(), 1452);
        m.onProbeAcked(t0, 9000); // beyond what we probe: ignored
        QCOMPARE(m.current(), 1452);
    }

    void blackHoleFromLossBursts()
    {
        PathMtu m(1232, 1452);
        search(m, 1500);
        QCOMPARE(m.current(), 1452);
        const Duration rtt = 20ms;
        QVERIFY(!m.onLargeLossBurst(t0, rtt));
        QVERIFY(!m.onLargeLossBurst(t0 + 30ms, rtt));
        m.onLargePacketAcked(); // large packets still get through: congestion, not a black hole
        QVERIFY(!m.onLargeLossBurst(t0 + 60ms, rtt));
        QVERIFY(!m.onLargeLossBurst(t0 + 90ms, rtt));
        QCOMPARE(m.current(), 1452);
        // The tail of the same loss event, declared by the loss timer within a round trip: one burst.
        QVERIFY(!m.onLargeLossBurst(t0 + 95ms, rtt));
        QVERIFY(!m.onLargeLossBurst(t0 + 100ms, rtt));
        QCOMPARE(m.current(), 1452);
        QVERIFY(m.onLargeLossBurst(t0 + 120ms, rtt)); // the third, a round trip apart
        QCOMPARE(m.current(), 1232);
        QCOMPARE(m.blackHoles(), 1u);
        // The search starts again below the size that failed, and finds the new limit.
        QVERIFY(m.nextProbe(t0) < 1452);
        search(m, 1350);
        QVERIFY(m.current() <= 1350 && m.current() > 1350 - PathMtu::kSearchGranularity);
        // At the base there is nothing to fall back from.
        PathMtu b(1232, 1452);
        for (int i = 0; i < 10; ++i)
            QVERIFY(!b.onLargeLossBurst(t0 + i * 1s, rtt));
    }

    void blackHoleFromPtos()
    {
        PathMtu m(1232, 1452);
        search(m, 1500);
        QVERIFY(!m.onPto(t0, 1));
        QCOMPARE(m.current(), 1452);
        QVERIFY(m.onPto(t0, 2));
        QCOMPARE(m.current(), 1232);
        QVERIFY(!m.onPto(t0, 3)); // already at the base
    }

    void resetOnPathChange()
    {
        PathMtu m(1232, 1452);
        m.nextProbe(t0);
        m.onProbeSent(1452);
        m.reset();
        QCOMPARE(m.current(), 1232);
        QCOMPARE(m.nextProbe(t0), 1452); // the probe of the old path no longer blocks
        search(m, 1500);
        QCOMPARE(m.current(), 1452);
        m.reset();
        QCOMPARE(m.current(), 1232);
        QVERIFY(!m.searchDone());
    }
};

QTEST_APPLESS_MAIN(TestPathMtu)
#include "tst_pmtud.moc"
