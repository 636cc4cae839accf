#include "streams/flowcontrol.h"

#include <QTest>

using namespace sss::core;

class TestFlowControl : public QObject
{
    Q_OBJECT
private slots:
    void updateOnlyAfterHalfWindow();
    void autoTune_data();
    void autoTune();
    void consumedNeverDecreases();
    void sendCredit();
};

void TestFlowControl::updateOnlyAfterHalfWindow()
{
    ReceiveWindow w(1000, 1000);
    const Instant t0 {};
    QCOMPARE(w.limit(), uint64_t(1000));
    QVERIFY(!w.pollUpdate(t0, 10ms));
    w.onConsumed(500, t0, 10ms);
    QVERIFY(!w.pollUpdate(t0, 10ms)); // exactly half: not yet
    w.onConsumed(501, t0, 10ms);
    QCOMPARE(w.pollUpdate(t0 + 1s, 10ms), std::optional<uint64_t>(1501));
    QCOMPARE(w.limit(), uint64_t(1501));
    QVERIFY(!w.pollUpdate(t0 + 1s, 10ms)); // nothing new consumed
    QCOMPARE(w.windowSize(), uint64_t(1000)); // capped at max
}

void TestFlowControl::autoTune_data()
{
    QTest::addColumn<qint64>("stepMicros"); // time between consumption steps
    QTest::addColumn<qint64>("srttMicros");
    QTest::addColumn<quint64>("initial");
    QTest::addColumn<quint64>("max");
    QTest::addColumn<quint64>("expectedWindow");
    // Fast reader: each update comes well within 2*srtt, so the window doubles up to the max.
    QTest::newRow("fast grows to max")
        << qint64(100) << qint64(50000) << quint64(16384) << quint64(1 << 20) << quint64(1 << 20);
    QTest::newRow("max not power of two")
        << qint64(100) << qint64(50000) << quint64(10000) << quint64(100000) << quint64(100000);
    // Slow reader: updates further apart than 2*srtt, the window stays.
    QTest::newRow("slow stays") << qint64(200000) << qint64(10000) << quint64(16384) << quint64(1 << 20)
                                << quint64(16384);
    QTest::newRow("unknown rtt stays")
        << qint64(100) << qint64(0) << quint64(16384) << quint64(1 << 20) << quint64(16384);
    QTest::newRow("max below initial")
        << qint64(100) << qint64(50000) << quint64(4096) << quint64(1000) << quint64(4096);
}

void TestFlowControl::autoTune()
{
    QFETCH(qint64, stepMicros);
    QFETCH(qint64, srttMicros);
    QFETCH(quint64, initial);
    QFETCH(quint64, max);
    QFETCH(quint64, expectedWindow);
    ReceiveWindow w(initial, max);
    const Duration srtt = std::chrono::microseconds(srttMicros);
    Instant now {};
    uint64_t consumed = 0;
    uint64_t lastLimit = w.limit();
    int updates = 0;
    // The reader consumes everything the sender may send, in steps of a quarter window.
    for (int i = 0; i < 400; ++i) {
        now += std::chrono::microseconds(stepMicros);
        consumed = std::min(w.limit(), consumed + w.windowSize() / 4 + 1);
        w.onConsumed(consumed, now, srtt);
        if (auto l = w.pollUpdate(now, srtt)) {
            ++updates;
            QVERIFY(*l > lastLimit);
            QCOMPARE(*l, consumed + w.windowSize());
            lastLimit = *l;
        }
        QVERIFY(w.windowSize() <= std::max(initial, max));
        QVERIFY(w.limit() >= consumed);
    }
    QVERIFY(updates > 10);
    QCOMPARE(w.windowSize(), expectedWindow);
}

void TestFlowControl::consumedNeverDecreases()
{
    ReceiveWindow w(100, 100);
    w.onConsumed(80, Instant {}, 1ms);
    w.onConsumed(10, Instant {}, 1ms);
    QCOMPARE(w.consumed(), uint64_t(80));
    QCOMPARE(w.pollUpdate(Instant {} + 1s, 1ms), std::optional<uint64_t>(180));
}

void TestFlowControl::sendCredit()
{
    SendCredit c(1000);
    QCOMPARE(c.limit(), uint64_t(1000));
    QCOMPARE(c.available(400), uint64_t(600));
    QCOMPARE(c.available(1000), uint64_t(0));
    QCOMPARE(c.available(5000), uint64_t(0));
    QVERIFY(c.isBlocked(1000));
    c.raise(900); // reordered older update
    QCOMPARE(c.limit(), uint64_t(1000));
    c.raise(3000);
    QCOMPARE(c.limit(), uint64_t(3000));
    QVERIFY(!c.isBlocked(1000));
}

QTEST_APPLESS_MAIN(TestFlowControl)
#include "tst_flowcontrol.moc"
