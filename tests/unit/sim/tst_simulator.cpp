// Event queue semantics of sim::Simulator: ordering, cancellation, clock, RNG, Timer, speed.
#include "sim/simulator.h"
#include "sim/testsupport.h"

#include <QTest>
#include <ctime>

using namespace sss;
using namespace std::chrono_literals;
using sim::Simulator;

class tst_Simulator : public QObject
{
    Q_OBJECT
private slots:
    void clockStartsAtEpoch();
    void orderByTimeThenFifo();
    void postRunsAfterQueuedAtNow();
    void pastIsClampedToNow();
    void cancel();
    void cancelStaleIdDoesNotHitReusedSlot();
    void cancelFromInsideEvents();
    void runForIncludesEndAndSetsClock();
    void runUntil();
    void runDrains();
    void rngIsSeeded();
    void uniformHelpers();
    void timerRearm();
    void rearmedTimerDoesNotGrowQueue();
    void seedHelpers();
    void millionEvents();
};

void tst_Simulator::clockStartsAtEpoch()
{
    Simulator s(1);
    QCOMPARE(s.seed(), 1u);
    QVERIFY(s.now() != core::Instant {});
    QCOMPARE(s.now(), Simulator::kEpoch);
    QCOMPARE(s.elapsed(), core::Duration::zero());
    QVERIFY(!s.step());
    QCOMPARE(s.eventsProcessed(), 0u);
}

void tst_Simulator::orderByTimeThenFifo()
{
    Simulator s(1);
    QList<int> order;
    const auto t0 = s.now();
    s.schedule(t0 + 3ms, [&] { order << 30; });
    s.schedule(t0 + 1ms, [&] { order << 10; });
    s.schedule(t0 + 2ms, [&] { order << 20; });
    s.schedule(t0 + 1ms, [&] { order << 11; });
    s.schedule(t0 + 1ms, [&] { order << 12; });
    s.schedule(t0 + 3ms, [&] { order << 31; });
    QCOMPARE(s.pendingEvents(), 6u);
    QVERIFY(s.step());
    QCOMPARE(s.now(), t0 + 1ms);
    s.run();
    QCOMPARE(order, (QList<int> {10, 11, 12, 20, 30, 31}));
    QCOMPARE(s.now(), t0 + 3ms);
    QCOMPARE(s.eventsProcessed(), 6u);
    QCOMPARE(s.pendingEvents(), 0u);
}

void tst_Simulator::postRunsAfterQueuedAtNow()
{
    Simulator s(1);
    QList<int> order;
    const auto t0 = s.now();
    s.schedule(t0 + 1ms, [&] {
        order << 1;
        s.post([&] { order << 3; });
        s.schedule(s.now(), [&] { order << 4; });
    });
    s.schedule(t0 + 1ms, [&] { order << 2; });
    s.schedule(t0 + 2ms, [&] { order << 5; });
    s.run();
    QCOMPARE(order, (QList<int> {1, 2, 3, 4, 5}));
}

void tst_Simulator::pastIsClampedToNow()
{
    Simulator s(1);
    s.runFor(10ms);
    const auto t = s.now();
    bool ran = false;
    s.schedule(t - 5ms, [&] {
        ran = true;
        QCOMPARE(s.now(), t);
    });
    QVERIFY(s.step());
    QVERIFY(ran);
    QCOMPARE(s.now(), t);
}

void tst_Simulator::cancel()
{
    Simulator s(1);
    QList<int> order;
    const auto a = s.scheduleAfter(1ms, [&] { order << 1; });
    const auto b = s.scheduleAfter(2ms, [&] { order << 2; });
    const auto c = s.scheduleAfter(3ms, [&] { order << 3; });
    QVERIFY(a != Simulator::kNoEvent && b != a && c != b);
    QVERIFY(s.isPending(b));
    s.cancel(b);
    QVERIFY(!s.isPending(b));
    QCOMPARE(s.pendingEvents(), 2u);
    s.cancel(b); // twice: no-op
    s.cancel(Simulator::kNoEvent);
    s.cancel(0xdeadbeef12345678ull); // unknown
    QCOMPARE(s.pendingEvents(), 2u);
    s.run();
    QCOMPARE(order, (QList<int> {1, 3}));
    s.cancel(a); // already fired
    QCOMPARE(s.eventsProcessed(), 2u);
    // Cancelling the only event leaves an empty queue: step() reports it and time does not move.
    const auto t = s.now();
    const auto d = s.scheduleAfter(1s, [&] { order << 4; });
    s.cancel(d);
    QCOMPARE(s.nextEventTime(), core::kNever);
    QVERIFY(!s.step());
    QCOMPARE(s.now(), t);
}

void tst_Simulator::cancelStaleIdDoesNotHitReusedSlot()
{
    Simulator s(1);
    int fired = 0;
    const auto first = s.post([&] { ++fired; });
    s.run();
    // The freed slot is reused by the next event; the stale id must not cancel it.
    const auto second = s.post([&] { ++fired; });
    QVERIFY(second != first);
    s.cancel(first);
    QVERIFY(s.isPending(second));
    s.run();
    QCOMPARE(fired, 2);
}

void tst_Simulator::cancelFromInsideEvents()
{
    Simulator s(1);
    QList<int> order;
    Simulator::EventId later = 0, sibling = 0, self = 0;
    self = s.scheduleAfter(1ms, [&] {
        order << 1;
        s.cancel(later); // a future event
        s.cancel(sibling); // an event due at the same instant, queued after this one
        s.post([&] { order << 5; }); // likely reuses this event's slot...
        s.cancel(self); // ...so cancelling the running (already fired) id must not touch it
    });
    sibling = s.scheduleAfter(1ms, [&] { order << 2; });
    later = s.scheduleAfter(2ms, [&] { order << 3; });
    s.scheduleAfter(3ms, [&] { order << 4; });
    s.run();
    QCOMPARE(order, (QList<int> {1, 5, 4}));
}

void tst_Simulator::runForIncludesEndAndSetsClock()
{
    Simulator s(1);
    const auto t0 = s.now();
    QList<int> order;
    s.schedule(t0 + 10ms, [&] { order << 1; });
    s.schedule(t0 + 20ms, [&] { order << 2; });
    s.schedule(t0 + 20ms + 1ns, [&] { order << 3; });
    s.runFor(20ms);
    QCOMPARE(order, (QList<int> {1, 2}));
    QCOMPARE(s.now(), t0 + 20ms);
    s.runFor(1s);
    QCOMPARE(order, (QList<int> {1, 2, 3}));
    QCOMPARE(s.now(), t0 + 1020ms);
    s.runFor(0ms);
    QCOMPARE(s.now(), t0 + 1020ms);
}

void tst_Simulator::runUntil()
{
    Simulator s(1);
    const auto t0 = s.now();
    int count = 0;
    std::function<void()> tick = [&] {
        ++count;
        s.scheduleAfter(10ms, tick);
    };
    s.post(tick);
    QVERIFY(s.runUntil([&] { return count == 5; }, 1s));
    QCOMPARE(count, 5);
    QCOMPARE(s.now(), t0 + 40ms); // stops right after the event that made it true
    QVERIFY(!s.runUntil([&] { return count == 1000; }, 100ms));
    QCOMPARE(s.now(), t0 + 140ms);
    QCOMPARE(count, 15);
    // Already true: no event runs.
    const auto processed = s.eventsProcessed();
    QVERIFY(s.runUntil([] { return true; }, 1s));
    QCOMPARE(s.eventsProcessed(), processed);
    // Empty queue: the clock advances to the limit and the result is false.
    Simulator idle(2);
    QVERIFY(!idle.runUntil([] { return false; }, 5s));
    QCOMPARE(idle.elapsed(), core::Duration(5s));
    // Unbounded limits terminate when the queue drains and leave the clock at the last event.
    idle.scheduleAfter(2s, [] {});
    QVERIFY(!idle.runUntil([] { return false; }, core::Duration::max()));
    QCOMPARE(idle.elapsed(), core::Duration(7s));
    idle.scheduleAfter(1s, [] {});
    idle.runFor(core::Duration::max());
    QCOMPARE(idle.elapsed(), core::Duration(8s));
    QCOMPARE(idle.pendingEvents(), 0u);
}

void tst_Simulator::runDrains()
{
    Simulator s(1);
    int n = 0;
    std::function<void()> loop = [&] {
        ++n;
        s.post(loop);
    };
    s.post(loop);
    QVERIFY(!s.run(1000)); // a self-rescheduling loop is cut by the guard
    QCOMPARE(n, 1000);
}

void tst_Simulator::rngIsSeeded()
{
    Simulator a(42), b(42), c(43);
    QList<quint64> va, vb, vc;
    for (int i = 0; i < 16; ++i) {
        va << a.rng()();
        vb << b.rng()();
        vc << c.rng()();
    }
    QCOMPARE(va, vb);
    QVERIFY(va != vc);
}

void tst_Simulator::uniformHelpers()
{
    Simulator s(7);
    double sum = 0;
    const int n = 100000;
    for (int i = 0; i < n; ++i) {
        const double u = s.uniform();
        QVERIFY(u >= 0 && u < 1);
        sum += u;
    }
    QVERIFY(qAbs(sum / n - 0.5) < 0.01);
    // Degenerate probabilities draw nothing, so they do not shift other random choices.
    Simulator x(9), y(9);
    QVERIFY(!x.chance(0));
    QVERIFY(x.chance(1));
    QCOMPARE(x.rng()(), y.rng()());
    core::Duration lo = 1h, hi = 0ns;
    for (int i = 0; i < 10000; ++i) {
        const auto d = s.uniformDuration(3us);
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    QCOMPARE(lo, core::Duration(0ns));
    QVERIFY(hi <= 3us && hi > 2900ns);
    QCOMPARE(s.uniformDuration(0ns), core::Duration(0ns));
}

void tst_Simulator::timerRearm()
{
    Simulator s(1);
    QList<core::Duration> fired;
    sim::Timer t(s, [&] { fired << s.elapsed(); });
    QVERIFY(!t.isActive());
    t.start(s.now() + 50ms);
    t.start(s.now() + 20ms); // re-arm earlier: the 50 ms deadline is gone
    QCOMPARE(t.deadline(), s.now() + 20ms);
    s.runFor(100ms);
    QCOMPARE(fired, (QList<core::Duration> {20ms}));
    QVERIFY(!t.isActive());
    t.start(s.now() + 10ms);
    t.stop();
    t.start(core::kNever);
    QVERIFY(!t.isActive());
    s.runFor(100ms);
    QCOMPARE(fired.size(), 1);
    {
        sim::Timer scoped(s, [&] { fired << 0ns; });
        scoped.start(s.now() + 1ms);
    } // destroyed before firing: must not run
    s.runFor(10ms);
    QCOMPARE(fired.size(), 1);
    QCOMPARE(s.pendingEvents(), 0u);
}

void tst_Simulator::rearmedTimerDoesNotGrowQueue()
{
    Simulator s(1);
    int fired = 0;
    sim::Timer t(s, [&] { ++fired; });
    for (int i = 0; i < 200000; ++i)
        t.start(s.now() + 1s + core::Duration(i));
    QCOMPARE(s.pendingEvents(), 1u);
    s.run();
    QCOMPARE(fired, 1);
    QCOMPARE(s.elapsed(), core::Duration(1s) + core::Duration(199999));
}

void tst_Simulator::seedHelpers()
{
    // Independent of the environment only when neither variable is set.
    if (!qgetenv("SSS_SEED").isEmpty() || !qgetenv("SSS_SEEDS").isEmpty())
        QSKIP("SSS_SEED/SSS_SEEDS set");
    const auto seeds = sim::testSeeds(5);
    QCOMPARE(seeds.size(), 5);
    QCOMPARE(QSet<uint64_t>(seeds.begin(), seeds.end()).size(), 5);
    QCOMPARE(sim::testSeeds(5), seeds); // stable
    qputenv("SSS_SEEDS", "3");
    QCOMPARE(sim::testSeeds(5), seeds.mid(0, 3));
    qputenv("SSS_SEED", "12345");
    QCOMPARE(sim::testSeeds(5), (QList<uint64_t> {12345}));
    qunsetenv("SSS_SEED");
    qunsetenv("SSS_SEEDS");
}

// The speed bound only means something in an optimised, uninstrumented build; elsewhere a tenth of
// the events still exercises the same code without making the test slow.
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
static constexpr bool kTimed = false;
static constexpr int kHalf = 50000;
#else
static constexpr bool kTimed = true;
static constexpr int kHalf = 500000;
#endif

void tst_Simulator::millionEvents()
{
    // Micro-check: 1e6 events (a self-rescheduling chain plus a bulk of random times).
    Simulator s(3);
    // CPU time rather than wall time: the test machines are shared and often overloaded.
    const std::clock_t cpu0 = std::clock();
    int chain = 0;
    std::function<void()> next = [&] {
        if (++chain < kHalf)
            s.scheduleAfter(1us, next);
    };
    s.post(next);
    quint64 bulk = 0;
    for (int i = 0; i < kHalf; ++i)
        s.schedule(s.now() + core::Duration(s.rng()() % 1000000000), [&bulk] { ++bulk; });
    s.run();
    const qint64 ms = qint64(double(std::clock() - cpu0) * 1000 / CLOCKS_PER_SEC);
    QCOMPARE(chain, kHalf);
    QCOMPARE(bulk, quint64(kHalf));
    QCOMPARE(s.eventsProcessed(), quint64(2 * kHalf));
    qInfo("%d events in %lld ms of CPU time", 2 * kHalf, ms);
    if (kTimed)
        QVERIFY2(ms < 2000, qPrintable(QStringLiteral("1e6 events took %1 ms of CPU").arg(ms)));
}

QTEST_APPLESS_MAIN(tst_Simulator)
#include "tst_simulator.moc"
