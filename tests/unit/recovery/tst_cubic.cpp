// CUBIC (RFC 9438): the window follows W_cubic(t) after a loss, K, Reno-friendly region, fast
// convergence, and time that does not count while app-limited or idle.
#include "recovery/cubic.h"

#include <QTest>
#include <cmath>

using namespace sss::core;

namespace {
const Instant t0 = Instant {} + 1000s;
constexpr qint64 kMss = 1200;

RttEstimator rttOf(Duration d)
{
    RttEstimator r;
    r.update(d, Duration::zero(), true, 25ms);
    return r;
}

// Independent W_cubic in segments, per RFC 9438 Figure 1.
double wCubicSegments(double t, double k, double wMaxSegments)
{
    return 0.4 * std::pow(t - k, 3) + wMaxSegments;
}

// Grow a fresh controller to `segments` in slow start, then lose a packet at `lossAt`.
void growAndLose(Cubic &cc, int segments, Instant lossAt)
{
    const RttEstimator rtt = rttOf(100ms);
    while (cc.window() < segments * kMss)
        cc.onPacketAcked(lossAt - 50ms, AckedPacket {lossAt - 150ms, kMss}, rtt, false);
    QCOMPARE(cc.window(), segments * kMss);
    cc.onCongestionEvent(lossAt, lossAt - 10ms);
}

// Drives acks as a fluid: every `step`, ack (cwnd * step / rtt) bytes in mss-sized packets sent one
// RTT earlier, i.e. a sender that always fills its window.
class FluidAcker
{
public:
    FluidAcker(Cubic &cc, Duration rtt, Duration step) : cc_(cc), rtt_(rttOf(rtt)), step_(step) { }
    void runUntil(Instant &now, Instant end)
    {
        while (now < end) {
            now += step_;
            credit_ += double(cc_.window()) * toSeconds(step_) / toSeconds(rtt_.smoothed());
            while (credit_ >= double(kMss)) {
                credit_ -= double(kMss);
                cc_.onPacketAcked(now, AckedPacket {now - rtt_.smoothed(), kMss}, rtt_, false);
            }
        }
    }

private:
    Cubic &cc_;
    RttEstimator rtt_;
    Duration step_;
    double credit_ = 0;
};
} // namespace

class TestCubic : public QObject
{
    Q_OBJECT
private slots:
    void kFormula_data()
    {
        QTest::addColumn<double>("wMax"); // segments
        QTest::addColumn<double>("epoch"); // segments
        QTest::addColumn<double>("k"); // seconds, hand-computed cbrt((wMax - epoch) / 0.4)
        QTest::newRow("100 -> 70") << 100.0 << 70.0 << 4.2171633265;
        QTest::newRow("10 -> 7") << 10.0 << 7.0 << 1.9574338206;
        QTest::newRow("20 -> 14") << 20.0 << 14.0 << 2.4662120743;
        QTest::newRow("equal") << 50.0 << 50.0 << 0.0;
        QTest::newRow("above plateau") << 40.0 << 50.0 << 0.0;
    }
    void kFormula()
    {
        QFETCH(double, wMax);
        QFETCH(double, epoch);
        QFETCH(double, k);
        QVERIFY(std::abs(Cubic::computeK(wMax * kMss, epoch * kMss, kMss) - k) < 1e-9);
    }

    void lossSetsPlateau()
    {
        Cubic cc(kMss);
        growAndLose(cc, 100, t0);
        QCOMPARE(cc.wMax(), 100.0 * kMss);
        QCOMPARE(cc.window(), 70 * kMss);
        QCOMPARE(cc.slowStartThreshold(), 70 * kMss);
        QVERIFY(!cc.epochStart()); // the epoch starts with the first ack after recovery
        const RttEstimator rtt = rttOf(100ms);
        cc.onPacketAcked(t0 + 101ms, AckedPacket {t0 + 1ms, kMss}, rtt, false);
        QCOMPARE(cc.epochStart(), std::optional<Instant>(t0 + 101ms));
        QVERIFY(std::abs(cc.kSeconds() - 4.2171633265) < 1e-9);
    }

    // With a window-filling sender the window tracks C*(t-K)^3 + W_max through the concave region,
    // the plateau and into the convex region.
    void followsCubicCurve_data()
    {
        QTest::addColumn<double>("t"); // seconds since the epoch start
        for (double t : {0.5, 1.0, 2.0, 3.0, 4.0, 4.2171633265, 5.0, 5.5})
            QTest::addRow("t=%.2f", t) << t;
    }
    void followsCubicCurve()
    {
        QFETCH(double, t);
        Cubic cc(kMss);
        growAndLose(cc, 100, t0);
        Instant now = t0 + 100ms; // first ack of a packet sent after the loss: starts the epoch
        cc.onPacketAcked(now, AckedPacket {t0 + 1ms, kMss}, rttOf(100ms), false);
        const Instant epoch = *cc.epochStart();
        FluidAcker acker(cc, 100ms, 1ms);
        acker.runUntil(now, epoch + Duration(qint64(t * 1e9)));

        const double expected = wCubicSegments(t, std::cbrt(75.0), 100.0);
        const double actual = double(cc.window()) / kMss;
        QVERIFY2(std::abs(actual - expected) / expected < 0.01,
                 qPrintable(QStringLiteral("window %1 segments, W_cubic %2").arg(actual).arg(expected)));
        if (t >= 1.0 && t <= 4.0) // here the cubic curve is well above the Reno-friendly estimate
            QVERIFY(cc.window() > cc.renoEstimate() + 3 * kMss);
    }

    // Small window and 1 ms RTT: Reno's per-RTT growth outpaces the cubic curve, and the
    // Reno-friendly estimate (alpha = 3(1-beta)/(1+beta) segments per RTT) sets the window.
    void renoFriendlyDominates_data()
    {
        QTest::addColumn<int>("rtts");
        QTest::newRow("5 rtts") << 5;
        QTest::newRow("10 rtts") << 10;
    }
    void renoFriendlyDominates()
    {
        QFETCH(int, rtts);
        Cubic cc(kMss);
        growAndLose(cc, 20, t0);
        QCOMPARE(cc.window(), 14 * kMss);
        Instant now = t0 + 1ms;
        cc.onPacketAcked(now, AckedPacket {t0 + 1ns, 1}, rttOf(1ms), false); // start the epoch
        const Instant epoch = *cc.epochStart();
        FluidAcker acker(cc, 1ms, 10us);
        acker.runUntil(now, epoch + rtts * 1ms);

        const double alpha = 3 * 0.3 / 1.7;
        const double renoSegments = 14 + alpha * rtts; // hand-computed: below cwnd_prior 20, alpha applies
        const double cubicSegments = wCubicSegments(toSeconds(now - epoch), std::cbrt(15.0), 20.0);
        const double actual = double(cc.window()) / kMss;
        QVERIFY2(std::abs(actual - renoSegments) / renoSegments < 0.01,
                 qPrintable(QStringLiteral("window %1, reno estimate %2").arg(actual).arg(renoSegments)));
        QVERIFY(actual > cubicSegments + 0.5 * alpha * rtts);
    }

    void fastConvergence_data()
    {
        QTest::addColumn<bool>("enabled");
        QTest::addColumn<double>("wMax"); // segments after the second loss
        // Second loss at 70 < W_max 100: W_max = 70 * (1 + 0.7) / 2 = 59.5 with fast convergence.
        QTest::newRow("on") << true << 59.5;
        QTest::newRow("off") << false << 70.0;
    }
    void fastConvergence()
    {
        QFETCH(bool, enabled);
        QFETCH(double, wMax);
        Cubic cc(kMss);
        cc.setFastConvergence(enabled);
        growAndLose(cc, 100, t0);
        cc.onCongestionEvent(t0 + 200ms, t0 + 100ms); // a packet sent after the first recovery began
        QVERIFY(std::abs(cc.wMax() - wMax * kMss) < 1e-6);
        QCOMPARE(cc.window(), 49 * kMss);
        // The lower plateau shortens K: cbrt((W_max - 49) / 0.4).
        cc.onPacketAcked(t0 + 301ms, AckedPacket {t0 + 201ms, kMss}, rttOf(100ms), false);
        QVERIFY(std::abs(cc.kSeconds() - std::cbrt((wMax - 49) / 0.4)) < 1e-9);
    }

    // Time spent app-limited does not count towards t, so leaving it does not cause a jump.
    void appLimitedTimeDoesNotCount()
    {
        Cubic cc(kMss);
        growAndLose(cc, 100, t0);
        const RttEstimator rtt = rttOf(100ms);
        cc.onPacketAcked(t0 + 101ms, AckedPacket {t0 + 1ms, kMss}, rtt, false);
        const Instant epoch = *cc.epochStart();
        const qint64 w = cc.window();
        for (int i = 1; i <= 50; ++i)
            cc.onPacketAcked(epoch + i * 100ms, AckedPacket {epoch + (i - 1) * 100ms, kMss}, rtt, true);
        QCOMPARE(cc.window(), w);
        QCOMPARE(*cc.epochStart(), epoch + 5s);
        cc.onPacketAcked(epoch + 5s + 1ms, AckedPacket {epoch + 4s, kMss}, rtt, false);
        QVERIFY(cc.window() - w < kMss); // not the ~30 segments a 5 s jump would give
    }

    void idleTimeDoesNotCount()
    {
        Cubic cc(kMss);
        growAndLose(cc, 100, t0);
        const RttEstimator rtt = rttOf(100ms);
        cc.onPacketAcked(t0 + 101ms, AckedPacket {t0 + 1ms, kMss}, rtt, false);
        const Instant epoch = *cc.epochStart();
        cc.onPacketSent(epoch + 10ms, kMss, 5 * kMss); // not idle: no shift
        QCOMPARE(*cc.epochStart(), epoch);
        cc.onPacketSent(epoch + 3s, kMss, 0); // idle since the last ack
        QCOMPARE(*cc.epochStart(), epoch + 3s);
    }

    // After persistent congestion the next epoch starts with K = 0 and W_max = cwnd (§4.8).
    void afterPersistentCongestion()
    {
        Cubic cc(kMss);
        growAndLose(cc, 100, t0);
        cc.onPersistentCongestion(t0 + 3s);
        QCOMPARE(cc.window(), 2 * kMss);
        const RttEstimator rtt = rttOf(100ms);
        Instant sent = t0 + 3s + 1ms;
        while (cc.inSlowStart()) {
            cc.onPacketAcked(sent + 100ms, AckedPacket {sent, kMss}, rtt, false);
            sent += 1ms;
        }
        QCOMPARE(cc.window(), 70 * kMss);
        cc.onPacketAcked(sent + 100ms, AckedPacket {sent, kMss}, rtt, false);
        QCOMPARE(cc.kSeconds(), 0.0);
        QVERIFY(std::abs(cc.wMax() - 70.0 * kMss) < 1e-6);
    }
};

QTEST_APPLESS_MAIN(TestCubic)
#include "tst_cubic.moc"
