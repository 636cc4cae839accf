// Pacer: rate = N * cwnd / srtt, even spacing, burst limit, bounded credit after idle.
#include "recovery/pacer.h"

#include <QTest>
#include <cmath>

using namespace sss::core;

namespace {
const Instant t0 = Instant {} + 1000s;
constexpr qint64 kMss = 1200;

// Sends mss-sized datagrams at `now` for as long as the pacer allows; returns how many.
int drainNow(Pacer &p, Instant now)
{
    int n = 0;
    while (p.nextSendTime(now, kMss) == now && n < 10000) {
        p.onSent(now, kMss);
        ++n;
    }
    return n;
}
} // namespace

class TestPacer : public QObject
{
    Q_OBJECT
private slots:
    void rate_data()
    {
        QTest::addColumn<qint64>("cwnd");
        QTest::addColumn<int>("srttMs");
        QTest::addColumn<bool>("slowStart");
        QTest::addColumn<double>("rate"); // bytes/s; inf = unlimited
        QTest::newRow("slow start 2x") << qint64(12000) << 100 << true << 240000.0;
        QTest::newRow("avoidance 1.25x") << qint64(12000) << 100 << false << 150000.0;
        QTest::newRow("large window") << qint64(120000) << 40 << false << 3750000.0;
        QTest::newRow("zero srtt") << qint64(12000) << 0 << true << qInf();
        QTest::newRow("zero cwnd") << qint64(0) << 100 << false << qInf();
    }
    void rate()
    {
        QFETCH(qint64, cwnd);
        QFETCH(int, srttMs);
        QFETCH(bool, slowStart);
        QFETCH(double, rate);
        Pacer p(kMss);
        QVERIFY(std::isinf(p.rateBytesPerSecond())); // unlimited until configured
        p.setRate(cwnd, std::chrono::milliseconds(srttMs), slowStart);
        if (std::isinf(rate)) {
            QVERIFY(std::isinf(p.rateBytesPerSecond()));
            QCOMPARE(drainNow(p, t0), 10000); // never holds anything back
        } else {
            QVERIFY(std::abs(p.rateBytesPerSecond() - rate) < 1e-6 * rate);
        }
    }

    // After the initial burst, datagrams leave every mss / rate.
    void spacing_data()
    {
        QTest::addColumn<qint64>("cwnd");
        QTest::addColumn<int>("srttMs");
        QTest::addColumn<bool>("slowStart");
        QTest::addColumn<qint64>("intervalNs");
        QTest::newRow("150 kB/s: 8 ms") << qint64(12000) << 100 << false << qint64(8000000);
        QTest::newRow("240 kB/s: 5 ms") << qint64(12000) << 100 << true << qint64(5000000);
        QTest::newRow("3.75 MB/s: 320 us") << qint64(120000) << 40 << false << qint64(320000);
    }
    void spacing()
    {
        QFETCH(qint64, cwnd);
        QFETCH(int, srttMs);
        QFETCH(bool, slowStart);
        QFETCH(qint64, intervalNs);
        Pacer p(kMss);
        p.setRate(cwnd, std::chrono::milliseconds(srttMs), slowStart);
        QCOMPARE(drainNow(p, t0), Pacer::kDefaultBurstPackets);
        Instant now = t0;
        for (int i = 0; i < 200; ++i) {
            const Instant next = p.nextSendTime(now, kMss);
            QVERIFY(next > now);
            const qint64 gap = (next - now).count();
            QVERIFY2(std::abs(gap - intervalNs) <= 2, qPrintable(QString::number(gap)));
            now = next;
            QCOMPARE(p.nextSendTime(now, kMss), now); // waiting is always enough
            p.onSent(now, kMss);
        }
        // 200 datagrams after the burst took 200 intervals: the long-run rate is the set rate.
        QVERIFY(std::abs((now - t0).count() - 200 * intervalNs) <= 400);
    }

    void burstLimit_data()
    {
        QTest::addColumn<int>("burst");
        QTest::addColumn<int>("expected");
        QTest::newRow("1") << 1 << 1;
        QTest::newRow("4") << 4 << 4;
        QTest::newRow("10") << 10 << 10;
        QTest::newRow("32") << 32 << 32;
        QTest::newRow("0 is clamped to 1") << 0 << 1;
        QTest::newRow("negative clamped") << -3 << 1;
    }
    void burstLimit()
    {
        QFETCH(int, burst);
        QFETCH(int, expected);
        Pacer p(kMss, burst);
        p.setRate(12000, 100ms, false);
        QCOMPARE(p.burstPackets(), expected);
        QCOMPARE(p.capacityBytes(), expected * kMss);
        QCOMPARE(drainNow(p, t0), expected);
        // Reconfiguring the burst later also trims existing credit.
        Pacer q(kMss);
        q.setRate(12000, 100ms, false);
        q.setBurstPackets(burst);
        QCOMPARE(drainNow(q, t0), expected);
    }

    void noCreditBuildUpWhenIdle_data()
    {
        QTest::addColumn<int>("idleMs");
        QTest::newRow("100 ms") << 100;
        QTest::newRow("10 s") << 10000;
        QTest::newRow("1 hour") << 3600000;
    }
    void noCreditBuildUpWhenIdle()
    {
        QFETCH(int, idleMs);
        Pacer p(kMss);
        p.setRate(12000, 100ms, false); // 8 ms per datagram
        QCOMPARE(drainNow(p, t0), 10);
        const Instant later = t0 + std::chrono::milliseconds(idleMs);
        QVERIFY(p.tokens(later) <= double(p.capacityBytes()));
        QCOMPARE(drainNow(p, later), 10);
        QCOMPARE(p.nextSendTime(later, kMss), later + 8ms);
    }

    void partialCredit()
    {
        Pacer p(kMss);
        p.setRate(12000, 100ms, false);
        drainNow(p, t0);
        // After 4 ms half a datagram's credit exists: the wait is the other 4 ms.
        QCOMPARE(p.nextSendTime(t0 + 4ms, kMss), t0 + 8ms);
        // Smaller datagrams need less.
        QCOMPARE(p.nextSendTime(t0 + 4ms, kMss / 2), t0 + 4ms);
    }

    // A datagram larger than the bucket waits for a full bucket, never forever.
    void oversizedDatagram()
    {
        Pacer p(kMss, 1);
        p.setRate(12000, 100ms, false);
        p.onSent(t0, kMss);
        QCOMPARE(p.nextSendTime(t0, 5000), t0 + 8ms);
    }

    // Sending ahead of the schedule creates a debt bounded by one bucket.
    void debtIsBounded()
    {
        Pacer p(kMss);
        p.setRate(12000, 100ms, false);
        p.onSent(t0, qint64(1) << 40);
        QCOMPARE(p.tokens(t0), -double(p.capacityBytes()));
        // From -12000 to +1200 at 150 kB/s: 88 ms.
        QCOMPARE(p.nextSendTime(t0, kMss), t0 + 88ms);
        p.onSent(t0, 0); // ignored
        p.onSent(t0, -5); // ignored
        QCOMPARE(p.tokens(t0), -double(p.capacityBytes()));
    }

    void datagramSize()
    {
        Pacer p(kMss);
        p.setMaxDatagramSize(1400);
        QCOMPARE(p.capacityBytes(), qint64(14000));
        for (qint64 bad : {qint64(0), qint64(-1), qint64(1) << 20})
            p.setMaxDatagramSize(bad); // ignored
        QCOMPARE(p.capacityBytes(), qint64(14000));
        QCOMPARE(Pacer(0).capacityBytes(), 10 * kDefaultMaxDatagramSize);
        // Shrinking trims credit to the new bucket.
        p.setRate(12000, 100ms, false);
        p.setMaxDatagramSize(1000);
        QCOMPARE(p.tokens(t0), 10000.0);
    }

    // A clock step backwards must not mint credit.
    void timeGoingBackwards()
    {
        Pacer p(kMss);
        p.setRate(12000, 100ms, false);
        drainNow(p, t0 + 1s);
        QCOMPARE(drainNow(p, t0), 0);
        QCOMPARE(p.nextSendTime(t0 + 1s, kMss), t0 + 1s + 8ms);
    }

    // The per-packet check the channel uses agrees with nextSendTime() <= now + slack, in debt,
    // with partial credit and unlimited.
    void canSendWithinMatchesNextSendTime()
    {
        for (const qint64 cwnd : {qint64(0), qint64(12000), qint64(1'000'000), qint64(17'000'000)}) {
            Pacer p(kMss);
            p.setRate(cwnd, 2ms, false);
            Instant now = t0;
            for (int i = 0; i < 3000; ++i) {
                for (const Duration slack : {Duration::zero(), Duration(1ms), Duration(37us)}) {
                    const bool expect = p.nextSendTime(now, kMss) <= now + slack;
                    QCOMPARE(p.canSendWithin(now, kMss, slack), expect);
                }
                if (i % 3 != 2)
                    p.onSent(now, kMss);
                now += Duration((i * 7919) % 3001); // irregular steps, some zero
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestPacer)
#include "tst_pacer.moc"
