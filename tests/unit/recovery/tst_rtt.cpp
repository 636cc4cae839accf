// RttEstimator against values hand-computed from the RFC 9002 §5 formulas.
#include "recovery/rtt.h"

#include <QTest>

using namespace sss::core;

namespace {
Duration ms(double v)
{
    return Duration(qint64(v * 1e6));
}
// Integer nanosecond arithmetic may differ from exact fractions by a few ns.
bool near(Duration a, Duration b)
{
    return std::abs((a - b).count()) <= 4;
}
} // namespace

class TestRtt : public QObject
{
    Q_OBJECT
private slots:
    void initialState()
    {
        RttEstimator r;
        QVERIFY(!r.hasSample());
        QCOMPARE(r.smoothed(), Duration(333ms));
        QCOMPARE(r.rttvar(), Duration(166500us));
        QCOMPARE(r.minRtt(), Duration::zero());
        RttEstimator custom(100ms);
        QCOMPARE(custom.smoothed(), Duration(100ms));
        QCOMPARE(custom.rttvar(), Duration(50ms));
        RttEstimator bogus(-5ms); // rejected, default used
        QCOMPARE(bogus.smoothed(), Duration(333ms));
    }

    void samples_data()
    {
        QTest::addColumn<QList<double>>("latest"); // ms
        QTest::addColumn<QList<double>>("ackDelay"); // ms
        QTest::addColumn<bool>("confirmed");
        QTest::addColumn<double>("maxAckDelay");
        QTest::addColumn<double>("smoothed");
        QTest::addColumn<double>("rttvar");
        QTest::addColumn<double>("minRtt");

        // First sample: ack delay ignored, rttvar = sample / 2.
        QTest::newRow("first sample")
            << QList<double> {100} << QList<double> {50} << true << 25.0 << 100.0 << 50.0 << 100.0;
        // rttvar = 3/4*50 + 1/4*100 = 62.5; srtt = 7/8*100 + 1/8*200 = 112.5
        QTest::newRow("second sample")
            << QList<double> {100, 200} << QList<double> {0, 0} << true << 25.0 << 112.5 << 62.5 << 100.0;
        // adjusted = 140 - 20 = 120: rttvar = 37.5 + 5 = 42.5; srtt = 87.5 + 15 = 102.5
        QTest::newRow("ack delay subtracted")
            << QList<double> {100, 140} << QList<double> {0, 20} << true << 25.0 << 102.5 << 42.5 << 100.0;
        // delay 40 clamped to 25: adjusted 135: rttvar = 37.5 + 8.75; srtt = 87.5 + 16.875
        QTest::newRow("ack delay clamped when confirmed")
            << QList<double> {100, 160} << QList<double> {0, 40} << true << 25.0 << 104.375 << 46.25 << 100.0;
        // Not confirmed: the full 40 is subtracted: adjusted 120.
        QTest::newRow("no clamp before confirmation")
            << QList<double> {100, 160} << QList<double> {0, 40} << false << 25.0 << 102.5 << 42.5 << 100.0;
        // 110 < min 100 + delay 20: the delay is not subtracted. rttvar = 37.5 + 2.5; srtt = 87.5 + 13.75
        QTest::newRow("delay not below min_rtt")
            << QList<double> {100, 110} << QList<double> {0, 20} << true << 25.0 << 101.25 << 40.0 << 100.0;
        // min_rtt follows the raw minimum; third: rttvar = 31.875 + 5.625; srtt = 85.3125 + 15
        QTest::newRow("three samples") << QList<double> {100, 80, 120} << QList<double> {0, 0, 0} << true
                                       << 25.0 << 100.3125 << 37.5 << 80.0;
        // Exactly at the boundary latest == min + delay: subtracted. adjusted 100: rttvar 37.5, srtt 100
        QTest::newRow("delay at boundary")
            << QList<double> {100, 120} << QList<double> {0, 20} << true << 25.0 << 100.0 << 37.5 << 100.0;
        // Negative inputs count as zero: sample 0 -> min 0, srtt = 87.5, rttvar = 37.5 + 25
        QTest::newRow("negative sample")
            << QList<double> {100, -5} << QList<double> {0, -3} << true << 25.0 << 87.5 << 62.5 << 0.0;
    }
    void samples()
    {
        QFETCH(QList<double>, latest);
        QFETCH(QList<double>, ackDelay);
        QFETCH(bool, confirmed);
        QFETCH(double, maxAckDelay);
        QFETCH(double, smoothed);
        QFETCH(double, rttvar);
        QFETCH(double, minRtt);
        QCOMPARE(latest.size(), ackDelay.size());
        RttEstimator r;
        for (qsizetype i = 0; i < latest.size(); ++i)
            r.update(ms(latest[i]), ms(ackDelay[i]), confirmed, ms(maxAckDelay));
        QVERIFY(r.hasSample());
        QVERIFY2(near(r.smoothed(), ms(smoothed)), qPrintable(QString::number(r.smoothed().count())));
        QVERIFY2(near(r.rttvar(), ms(rttvar)), qPrintable(QString::number(r.rttvar().count())));
        QVERIFY(near(r.minRtt(), ms(minRtt)));
        QVERIFY(near(r.latest(), ms(std::max(latest.last(), 0.0))));
    }

    void pto_data()
    {
        QTest::addColumn<QList<double>>("latest"); // ms, no ack delay
        QTest::addColumn<double>("maxAckDelay");
        QTest::addColumn<double>("pto");
        QTest::addColumn<double>("lossDelay");
        // 333 + 4 * 166.5; loss delay 9/8 * 333
        QTest::newRow("initial") << QList<double> {} << 0.0 << 999.0 << 374.625;
        QTest::newRow("initial with max ack delay") << QList<double> {} << 25.0 << 1024.0 << 374.625;
        // 100 + 4 * 50 + 25; 9/8 * 100
        QTest::newRow("one sample") << QList<double> {100} << 25.0 << 325.0 << 112.5;
        // latest 200 > srtt 112.5: loss delay 9/8 * 200; pto 112.5 + 4 * 62.5
        QTest::newRow("latest above smoothed") << QList<double> {100, 200} << 0.0 << 362.5 << 225.0;
        // Constant samples drive rttvar to 0: the 1 ms granularity floor applies.
        QTest::newRow("granularity floor") << QList<double>(200, 2.0) << 0.0 << 3.0 << 2.25;
        // Tiny RTT: loss delay floored at 1 ms.
        QTest::newRow("loss delay floor") << QList<double>(200, 0.1) << 0.0 << 1.1 << 1.0;
    }
    void pto()
    {
        QFETCH(QList<double>, latest);
        QFETCH(double, maxAckDelay);
        QFETCH(double, pto);
        QFETCH(double, lossDelay);
        RttEstimator r;
        for (double l : latest)
            r.update(ms(l), Duration::zero(), true, ms(maxAckDelay));
        QVERIFY2(near(r.pto(ms(maxAckDelay)), ms(pto)),
                 qPrintable(QString::number(r.pto(ms(maxAckDelay)).count())));
        QVERIFY2(near(r.lossDelay(), ms(lossDelay)), qPrintable(QString::number(r.lossDelay().count())));
        QCOMPARE(r.persistentCongestionDuration(ms(maxAckDelay)), 3 * r.pto(ms(maxAckDelay)));
    }
};

QTEST_APPLESS_MAIN(TestRtt)
#include "tst_rtt.moc"
