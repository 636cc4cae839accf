// NewReno specifics: exact slow start doubling and +1 mss per window of acks in avoidance.
#include "recovery/newreno.h"

#include <QTest>

using namespace sss::core;

namespace {
const Instant t0 = Instant {} + 1000s;
constexpr qint64 kMss = 1200;

RttEstimator rtt100()
{
    RttEstimator r;
    r.update(100ms, Duration::zero(), true, 25ms);
    return r;
}

void ackBytes(NewReno &cc, Instant now, Instant sent, qint64 bytes, const RttEstimator &rtt)
{
    for (qint64 done = 0; done < bytes; done += kMss)
        cc.onPacketAcked(now, AckedPacket {sent, std::min(kMss, bytes - done)}, rtt, false);
}
} // namespace

class TestNewReno : public QObject
{
    Q_OBJECT
private slots:
    void slowStartDoubles_data()
    {
        QTest::addColumn<int>("rounds");
        QTest::addColumn<qint64>("window");
        for (int r = 0; r <= 5; ++r)
            QTest::addRow("%d rounds", r) << r << (qint64(12000) << r);
    }
    void slowStartDoubles()
    {
        QFETCH(int, rounds);
        QFETCH(qint64, window);
        NewReno cc(kMss);
        const RttEstimator rtt = rtt100();
        for (int r = 0; r < rounds; ++r)
            ackBytes(cc, t0 + (r + 1) * 100ms, t0 + r * 100ms, cc.window(), rtt);
        QCOMPARE(cc.window(), window);
        QVERIFY(cc.inSlowStart());
    }

    // After a loss at 12000 the window is 6000; each further window of acks adds exactly one mss.
    void avoidanceAddsOneMssPerWindow_data()
    {
        QTest::addColumn<int>("windows");
        QTest::addColumn<qint64>("window");
        for (int n : {0, 1, 2, 5, 20})
            QTest::addRow("%d windows", n) << n << qint64(6000 + n * kMss);
    }
    void avoidanceAddsOneMssPerWindow()
    {
        QFETCH(int, windows);
        QFETCH(qint64, window);
        NewReno cc(kMss);
        const RttEstimator rtt = rtt100();
        cc.onCongestionEvent(t0, t0 - 50ms);
        QCOMPARE(cc.window(), qint64(6000));
        QCOMPARE(cc.slowStartThreshold(), qint64(6000));
        QVERIFY(!cc.inSlowStart());
        for (int w = 0; w < windows; ++w) {
            const Instant sent = t0 + 1ms + w * 100ms;
            ackBytes(cc, sent + 100ms, sent, cc.window(), rtt);
        }
        QCOMPARE(cc.window(), window);
    }

    void avoidanceNeedsAWholeWindow()
    {
        NewReno cc(kMss);
        const RttEstimator rtt = rtt100();
        cc.onCongestionEvent(t0, t0 - 50ms);
        ackBytes(cc, t0 + 100ms, t0 + 1ms, 6000 - kMss, rtt); // one packet short
        QCOMPARE(cc.window(), qint64(6000));
        ackBytes(cc, t0 + 100ms, t0 + 1ms, kMss, rtt);
        QCOMPARE(cc.window(), qint64(7200));
    }

    // Halving from larger windows, with the 2 mss floor.
    void lossHalves_data()
    {
        QTest::addColumn<qint64>("grownBy");
        QTest::addColumn<qint64>("after");
        QTest::newRow("12000") << qint64(0) << qint64(6000);
        QTest::newRow("24000") << qint64(12000) << qint64(12000);
        QTest::newRow("100800") << qint64(88800) << qint64(50400);
    }
    void lossHalves()
    {
        QFETCH(qint64, grownBy);
        QFETCH(qint64, after);
        NewReno cc(kMss);
        ackBytes(cc, t0, t0 - 100ms, grownBy, rtt100());
        cc.onCongestionEvent(t0 + 1ms, t0);
        QCOMPARE(cc.window(), after);
        QCOMPARE(cc.slowStartThreshold(), after);
    }

    // Slow start after persistent congestion hands over to avoidance at ssthresh.
    void slowStartUpToThreshold()
    {
        NewReno cc(kMss);
        const RttEstimator rtt = rtt100();
        ackBytes(cc, t0, t0 - 100ms, 12000, rtt); // 24000
        cc.onCongestionEvent(t0 + 1ms, t0); // ssthresh 12000
        cc.onPersistentCongestion(t0 + 2s);
        QCOMPARE(cc.window(), qint64(2400));
        Instant sent = t0 + 2s + 1ms;
        while (cc.inSlowStart()) {
            ackBytes(cc, sent + 100ms, sent, kMss, rtt);
            sent += 1ms;
        }
        QCOMPARE(cc.window(), qint64(12000));
        ackBytes(cc, sent + 100ms, sent, kMss, rtt);
        QCOMPARE(cc.window(), qint64(12000)); // now linear
    }
};

QTEST_APPLESS_MAIN(TestNewReno)
#include "tst_newreno.moc"
