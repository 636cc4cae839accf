// Behaviour every controller behind CongestionController must share, run for NewReno and CUBIC.
#include "recovery/congestion.h"

#include <QTest>
#include <cmath>

using namespace sss::core;

Q_DECLARE_METATYPE(CongestionAlgorithm)

namespace {
const Instant t0 = Instant {} + 1000s;
constexpr qint64 kMss = 1200;

RttEstimator rtt100()
{
    RttEstimator r;
    r.update(100ms, Duration::zero(), true, 25ms);
    return r;
}

// Acks `bytes` worth of mss-sized packets, all sent at `sent`, at time `now`.
void ackBytes(CongestionController &cc, Instant now, Instant sent, qint64 bytes, const RttEstimator &rtt,
              bool appLimited = false)
{
    for (qint64 done = 0; done < bytes; done += kMss)
        cc.onPacketAcked(now, AckedPacket {sent, std::min(kMss, bytes - done)}, rtt, appLimited);
}

void addAlgorithms()
{
    QTest::addColumn<CongestionAlgorithm>("algorithm");
    QTest::newRow("newreno") << CongestionAlgorithm::NewReno;
    QTest::newRow("cubic") << CongestionAlgorithm::Cubic;
}
} // namespace

class TestCongestion : public QObject
{
    Q_OBJECT
private slots:
    void names_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("expected"); // -1: rejected
        QTest::newRow("newreno") << "newreno" << int(CongestionAlgorithm::NewReno);
        QTest::newRow("cubic") << "cubic" << int(CongestionAlgorithm::Cubic);
        QTest::newRow("upper case") << "CUBIC" << int(CongestionAlgorithm::Cubic);
        QTest::newRow("mixed, spaces") << " NewReno " << int(CongestionAlgorithm::NewReno);
        QTest::newRow("empty") << "" << -1;
        QTest::newRow("bbr") << "bbr" << -1;
        QTest::newRow("prefix") << "cub" << -1;
        QTest::newRow("suffix") << "cubicx" << -1;
    }
    void names()
    {
        QFETCH(QString, text);
        QFETCH(int, expected);
        const auto parsed = parseCongestionAlgorithm(text);
        if (expected < 0) {
            QVERIFY(!parsed);
            return;
        }
        QVERIFY(parsed);
        QCOMPARE(int(*parsed), expected);
        // Round trip through toString and the controller's own name.
        QCOMPARE(parseCongestionAlgorithm(QString::fromLatin1(toString(*parsed))), parsed);
        QCOMPARE(QByteArray(createCongestionController(*parsed, kMss)->name()),
                 QByteArray(toString(*parsed)));
    }

    void initialWindow_data()
    {
        QTest::addColumn<qint64>("mss");
        QTest::addColumn<qint64>("window");
        QTest::addColumn<qint64>("minimum");
        QTest::newRow("1200") << qint64(1200) << qint64(12000) << qint64(2400);
        QTest::newRow("1472 capped by 14720") << qint64(1472) << qint64(14720) << qint64(2944);
        QTest::newRow("1500") << qint64(1500) << qint64(14720) << qint64(3000);
        QTest::newRow("9000 jumbo: 2 mss") << qint64(9000) << qint64(18000) << qint64(18000);
        QTest::newRow("500 small: 10 mss") << qint64(500) << qint64(5000) << qint64(1000);
    }
    void initialWindow()
    {
        QFETCH(qint64, mss);
        QFETCH(qint64, window);
        QFETCH(qint64, minimum);
        QCOMPARE(initialCongestionWindow(mss), window);
        QCOMPARE(minimumCongestionWindow(mss), minimum);
        for (auto a : {CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic}) {
            auto cc = createCongestionController(a, mss);
            QCOMPARE(cc->window(), window);
            QVERIFY(cc->inSlowStart());
            QVERIFY(cc->slowStartThreshold() > qint64(1) << 60);
            QVERIFY(!cc->inRecovery(t0));
            // Persistent congestion collapses to exactly the minimum window.
            cc->onPersistentCongestion(t0);
            QCOMPARE(cc->window(), minimum);
        }
    }

    void invalidDatagramSize_data() { addAlgorithms(); }
    void invalidDatagramSize()
    {
        QFETCH(CongestionAlgorithm, algorithm);
        for (qint64 bad : {qint64(0), qint64(-1), qint64(10), qint64(1) << 40}) {
            auto cc = createCongestionController(algorithm, bad);
            QCOMPARE(cc->window(), initialCongestionWindow(kDefaultMaxDatagramSize));
            cc->setMaxDatagramSize(bad); // ignored
            cc->onPersistentCongestion(t0);
            QCOMPARE(cc->window(), 2 * kDefaultMaxDatagramSize);
        }
        // A valid change moves the minimum window.
        auto cc = createCongestionController(algorithm, kMss);
        cc->setMaxDatagramSize(1400);
        cc->onPersistentCongestion(t0);
        QCOMPARE(cc->window(), qint64(2800));
    }

    void malformedAcksIgnored_data() { addAlgorithms(); }
    void malformedAcksIgnored()
    {
        QFETCH(CongestionAlgorithm, algorithm);
        auto cc = createCongestionController(algorithm, kMss);
        const RttEstimator rtt = rtt100();
        cc->onPacketAcked(t0, AckedPacket {t0 - 10ms, 0}, rtt, false);
        cc->onPacketAcked(t0, AckedPacket {t0 - 10ms, -5000}, rtt, false);
        QCOMPARE(cc->window(), qint64(12000));
    }

    void slowStartGrowsByAckedBytes_data() { addAlgorithms(); }
    void slowStartGrowsByAckedBytes()
    {
        QFETCH(CongestionAlgorithm, algorithm);
        auto cc = createCongestionController(algorithm, kMss);
        const RttEstimator rtt = rtt100();
        Instant now = t0;
        qint64 expected = 12000;
        for (int round = 0; round < 4; ++round) {
            ackBytes(*cc, now + 100ms, now, cc->window(), rtt);
            now += 100ms;
            expected *= 2;
            QCOMPARE(cc->window(), expected);
        }
    }

    void appLimitedDoesNotGrow_data() { addAlgorithms(); }
    void appLimitedDoesNotGrow()
    {
        QFETCH(CongestionAlgorithm, algorithm);
        auto cc = createCongestionController(algorithm, kMss);
        const RttEstimator rtt = rtt100();
        ackBytes(*cc, t0 + 100ms, t0, 120000, rtt, true);
        QCOMPARE(cc->window(), qint64(12000));
        // Also in congestion avoidance.
        cc->onCongestionEvent(t0 + 200ms, t0 + 150ms);
        const qint64 w = cc->window();
        QVERIFY(!cc->inSlowStart());
        for (int i = 1; i <= 50; ++i)
            ackBytes(*cc, t0 + 200ms + i * 100ms, t0 + 201ms + (i - 1) * 100ms, w, rtt, true);
        QCOMPARE(cc->window(), w);
    }

    // One reduction per recovery period: a loss of a packet sent before (or at) the start of the
    // current recovery is part of the same congestion event.
    void oneReductionPerRecovery_data()
    {
        QTest::addColumn<CongestionAlgorithm>("algorithm");
        QTest::addColumn<int>("secondSentOffsetMs"); // relative to recovery start
        QTest::addColumn<bool>("secondReduces");
        for (auto a : {CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic}) {
            const QByteArray n = toString(a);
            QTest::newRow(n + ": sent before") << a << -50 << false;
            QTest::newRow(n + ": sent at start") << a << 0 << false;
            QTest::newRow(n + ": sent after") << a << 1 << true;
        }
    }
    void oneReductionPerRecovery()
    {
        QFETCH(CongestionAlgorithm, algorithm);
        QFETCH(int, secondSentOffsetMs);
        QFETCH(bool, secondReduces);
        auto cc = createCongestionController(algorithm, kMss);
        const double factor = algorithm == CongestionAlgorithm::NewReno ? 0.5 : 0.7;
        const Instant recoveryStart = t0 + 1s;
        cc->onCongestionEvent(recoveryStart, t0 + 900ms);
        const qint64 afterFirst = cc->window();
        QCOMPARE(afterFirst, std::llround(12000 * factor));
        QCOMPARE(cc->slowStartThreshold(), afterFirst);
        QVERIFY(cc->inRecovery(t0 + 950ms));
        QVERIFY(cc->inRecovery(recoveryStart));
        QVERIFY(!cc->inRecovery(recoveryStart + 1ns));
        // More losses from the same flight do nothing.
        cc->onCongestionEvent(recoveryStart + 10ms, t0 + 901ms);
        QCOMPARE(cc->window(), afterFirst);

        const Instant sent = recoveryStart + std::chrono::milliseconds(secondSentOffsetMs);
        cc->onCongestionEvent(recoveryStart + 200ms, sent);
        if (secondReduces)
            QCOMPARE(cc->window(), std::max(qint64(std::llround(afterFirst * factor)), 2 * kMss));
        else
            QCOMPARE(cc->window(), afterFirst);
    }

    void acksDuringRecoveryDoNotGrow_data() { addAlgorithms(); }
    void acksDuringRecoveryDoNotGrow()
    {
        QFETCH(CongestionAlgorithm, algorithm);
        auto cc = createCongestionController(algorithm, kMss);
        const RttEstimator rtt = rtt100();
        cc->onCongestionEvent(t0 + 1s, t0 + 900ms);
        const qint64 w = cc->window();
        ackBytes(*cc, t0 + 1050ms, t0 + 950ms, 10 * w, rtt); // sent before recovery began
        QCOMPARE(cc->window(), w);
        ackBytes(*cc, t0 + 1150ms, t0 + 1050ms, w, rtt); // sent after: recovery is over
        QVERIFY(cc->window() > w);
    }

    void minimumWindowFloor_data() { addAlgorithms(); }
    void minimumWindowFloor()
    {
        QFETCH(CongestionAlgorithm, algorithm);
        auto cc = createCongestionController(algorithm, kMss);
        for (int i = 0; i < 30; ++i) {
            const Instant now = t0 + i * 1s;
            cc->onCongestionEvent(now, now - 1ms); // always after the previous recovery start
            QVERIFY(cc->window() >= 2 * kMss);
        }
        QCOMPARE(cc->window(), 2 * kMss);
        QCOMPARE(cc->slowStartThreshold(), 2 * kMss);
    }

    void persistentCongestion_data() { addAlgorithms(); }
    void persistentCongestion()
    {
        QFETCH(CongestionAlgorithm, algorithm);
        auto cc = createCongestionController(algorithm, kMss);
        const RttEstimator rtt = rtt100();
        ackBytes(*cc, t0 + 100ms, t0, 48000, rtt); // grow to 60000
        cc->onCongestionEvent(t0 + 200ms, t0 + 150ms);
        const qint64 ssthresh = cc->slowStartThreshold();
        cc->onPersistentCongestion(t0 + 2s);
        QCOMPARE(cc->window(), 2 * kMss);
        QVERIFY(cc->inSlowStart());
        QCOMPARE(cc->slowStartThreshold(), ssthresh);
        QVERIFY(!cc->inRecovery(t0 + 150ms)); // the collapse ends the recovery period
        // Slow start resumes from the minimum window.
        ackBytes(*cc, t0 + 2100ms, t0 + 2001ms, 2 * kMss, rtt);
        QCOMPARE(cc->window(), 4 * kMss);
    }

    void spuriousUndo_data() { addAlgorithms(); }
    void spuriousUndo()
    {
        QFETCH(CongestionAlgorithm, algorithm);
        auto cc = createCongestionController(algorithm, kMss);
        cc->onCongestionEvent(t0 + 1s, t0 + 900ms);
        QVERIFY(cc->window() < 12000);
        cc->onSpuriousCongestion();
        QCOMPARE(cc->window(), qint64(12000));
        QVERIFY(cc->inSlowStart());
        QVERIFY(!cc->inRecovery(t0 + 900ms));
        cc->onSpuriousCongestion(); // nothing left to undo
        QCOMPARE(cc->window(), qint64(12000));
    }
};

QTEST_APPLESS_MAIN(TestCongestion)
#include "tst_congestion.moc"
