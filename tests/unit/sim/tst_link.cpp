// One simulated link between two hosts: rate, delay, jitter, queue, loss, duplication, reordering,
// MTU, interceptor.
#include "sim/network.h"
#include "sim/testsupport.h"

#include <QTest>
#include <cmath>

using namespace sss;
using namespace std::chrono_literals;
using sim::LinkParams;

namespace {

// A -> B over one link. Payloads carry a sequence number and the send time so the receiver can
// measure one-way delay and order.
struct Pair {
    sim::Simulator s;
    sim::Network net {s};
    sim::Host *a = net.addHost(QHostAddress("10.0.0.1"));
    sim::Host *b = net.addHost(QHostAddress("10.0.0.2"));
    sim::Link *link;
    sim::Socket *sa = a->bind(1000);
    sim::Socket *sb = b->bind(2000);
    struct Rx {
        quint32 seq;
        core::Duration sentAt, delay;
        QByteArray bytes;
    };
    QList<Rx> rx;

    Pair(uint64_t seed, const LinkParams &p) : s(seed), link(net.addLink(p))
    {
        net.setRoute(a, b, {link});
        sb->setReceiver([this](const core::SocketAddress &, const QByteArray &bytes) {
            quint32 seq = 0;
            qint64 sent = 0;
            memcpy(&seq, bytes.constData(), 4);
            memcpy(&sent, bytes.constData() + 4, 8);
            rx.append(Rx {seq, core::Duration(sent), s.elapsed() - core::Duration(sent), bytes});
        });
    }
    void send(quint32 seq, int size)
    {
        QByteArray bytes(std::max(size, 12), 'x');
        const qint64 sent = s.elapsed().count();
        memcpy(bytes.data(), &seq, 4);
        memcpy(bytes.data() + 4, &sent, 8);
        sa->send(sb->localAddress(), bytes);
    }
    // n packets, one every `gap` (0 = all at once).
    void sendPaced(int n, int size, core::Duration gap)
    {
        for (int i = 0; i < n; ++i) {
            if (gap == 0ns)
                send(quint32(i), size);
            else
                s.schedule(s.now() + i * gap, [this, i, size] { send(quint32(i), size); });
        }
    }
    int outOfOrder() const
    {
        int n = 0;
        for (qsizetype i = 1; i < rx.size(); ++i)
            n += rx[i].seq < rx[i - 1].seq;
        return n;
    }
};

// |observed - n p| within 5 standard deviations of a binomial count.
bool withinBinomial(quint64 observed, quint64 n, double p)
{
    const double sigma = std::sqrt(double(n) * p * (1 - p));
    return std::abs(double(observed) - double(n) * p) <= 5 * sigma + 1;
}

} // namespace

class tst_Link : public QObject
{
    Q_OBJECT
private slots:
    void rateAndBusyTime();
    void delayAndJitterBounds_data();
    void delayAndJitterBounds();
    void dropTailExact();
    void dropTailOverload();
    void lossRate_data();
    void lossRate();
    void duplication();
    void reordering();
    void mtu_data();
    void mtu();
    void interceptor();
    void describeParams();
};

void tst_Link::rateAndBusyTime()
{
    LinkParams p;
    p.bitsPerSecond = 10e6;
    p.delay = 10ms;
    p.queueBytes = 2 << 20; // hold the whole burst
    Pair t(1, p);
    t.sendPaced(1000, 1250, 0ns);
    t.s.run();
    QCOMPARE(t.rx.size(), 1000);
    // (1250 + 28) * 8 bits at 10 Mbit/s = 1.0224 ms each, back to back, plus 10 ms propagation.
    const core::Duration perPacket = 1022400ns;
    QCOMPARE(t.rx.first().delay, perPacket + 10ms);
    QCOMPARE(t.rx.last().delay, 1000 * perPacket + 10ms);
    QCOMPARE(t.link->stats().busyTime, 1000 * perPacket);
    QCOMPARE(t.link->stats().packetsDelivered, 1000u);
    QCOMPARE(t.link->stats().bytesDelivered, 1250000u);
    QCOMPARE(t.outOfOrder(), 0);
    QCOMPARE(t.sb->bytesReceived(), 1250000u);
    QCOMPARE(t.sa->bytesSent(), 1250000u);
    // Utilisation from busyTime over the transfer time is 100 %.
    const double util = core::toSeconds(t.link->stats().busyTime) / core::toSeconds(t.rx.last().delay - 10ms);
    QVERIFY(std::abs(util - 1.0) < 1e-9);
}

void tst_Link::delayAndJitterBounds_data()
{
    QTest::addColumn<bool>("inOrder");
    QTest::newRow("jitter may reorder") << false;
    QTest::newRow("noReorderJitter") << true;
}

void tst_Link::delayAndJitterBounds()
{
    QFETCH(bool, inOrder);
    LinkParams p;
    p.delay = 20ms;
    p.jitter = 5ms;
    p.noReorderJitter = inOrder;
    Pair t(2, p);
    SSS_SEED_GUARD(t.s.seed());
    t.sendPaced(5000, 100, 1ms);
    t.s.run();
    QCOMPARE(t.rx.size(), 5000);
    core::Duration lo = 1h, hi = 0ns, sum = 0ns;
    for (const auto &r : t.rx) {
        lo = std::min(lo, r.delay);
        hi = std::max(hi, r.delay);
        sum += r.delay;
    }
    QVERIFY(lo >= 20ms);
    QVERIFY(lo < 20ms + 50us);
    if (!inOrder) {
        QVERIFY(hi <= 25ms);
        QVERIFY(hi > 25ms - 50us);
        const double meanMs = core::toSeconds(sum / 5000) * 1e3;
        QVERIFY2(std::abs(meanMs - 22.5) < 0.15, qPrintable(QString::number(meanMs)));
        QVERIFY(t.outOfOrder() > 100); // 1 ms spacing vs 5 ms jitter reorders a lot
    } else {
        // Clamping never delivers before the previous packet; extra wait is bounded by the jitter.
        QVERIFY(hi <= 25ms);
        QCOMPARE(t.outOfOrder(), 0);
    }
}

void tst_Link::dropTailExact()
{
    LinkParams p;
    p.bitsPerSecond = 10e6;
    p.queueBytes = 100 * (1250 + sim::kIpUdpOverhead);
    Pair t(3, p);
    t.sendPaced(1000, 1250, 0ns);
    QCOMPARE(t.link->queuedBytes(t.s.now()), p.queueBytes);
    t.s.run();
    QCOMPARE(t.rx.size(), 100);
    QCOMPARE(t.link->stats().droppedQueue, 900u);
    QCOMPARE(t.link->stats().packetsIn, 1000u);
    QCOMPARE(t.link->queuedBytes(t.s.now()), 0);
    // Drop-tail: the first 100 got through.
    QCOMPARE(t.rx.last().seq, 99u);
}

void tst_Link::dropTailOverload()
{
    // Offer 20 Mbit/s to a 10 Mbit/s link for 2 s: about half is dropped at the tail.
    LinkParams p;
    p.bitsPerSecond = 10e6;
    p.queueBytes = 64 << 10;
    Pair t(4, p);
    const core::Duration gap = 511200ns; // 1278 B * 8 / 20 Mbit/s
    t.sendPaced(3912, 1250, gap);
    t.s.run();
    const auto &st = t.link->stats();
    QCOMPARE(st.packetsIn, 3912u);
    QCOMPARE(st.packetsDelivered + st.droppedQueue, 3912u);
    const double delivered = double(st.packetsDelivered) / 3912;
    QVERIFY2(delivered > 0.49 && delivered < 0.53, qPrintable(QString::number(delivered)));
    // The queue never held more than its limit: the worst delay is the queue drain time.
    core::Duration worst = 0ns;
    for (const auto &r : t.rx)
        worst = std::max(worst, r.delay);
    QVERIFY(worst <= core::Duration(int64_t(p.queueBytes * 8 / 10e6 * 1e9)) + 2ms);
}

void tst_Link::lossRate_data()
{
    QTest::addColumn<double>("loss");
    QTest::newRow("1%") << 0.01;
    QTest::newRow("10%") << 0.1;
    QTest::newRow("50%") << 0.5;
}

void tst_Link::lossRate()
{
    QFETCH(double, loss);
    LinkParams p;
    p.loss = loss;
    p.delay = 1ms;
    Pair t(5, p);
    SSS_SEED_GUARD(t.s.seed());
    const int n = 100000;
    t.sendPaced(n, 20, 0ns);
    t.s.run();
    const auto &st = t.link->stats();
    QCOMPARE(st.droppedLoss + st.packetsDelivered, quint64(n));
    QCOMPARE(quint64(t.rx.size()), st.packetsDelivered);
    QVERIFY2(withinBinomial(st.droppedLoss, n, loss), qPrintable(QString::number(st.droppedLoss)));
}

void tst_Link::duplication()
{
    LinkParams p;
    p.duplicate = 0.05;
    p.delay = 2ms;
    p.jitter = 1ms;
    Pair t(6, p);
    SSS_SEED_GUARD(t.s.seed());
    const int n = 20000;
    t.sendPaced(n, 30, 100us);
    t.s.run();
    const auto &st = t.link->stats();
    QVERIFY(withinBinomial(st.duplicated, n, 0.05));
    QCOMPARE(quint64(t.rx.size()), n + st.duplicated);
    QCOMPARE(st.packetsDelivered, n + st.duplicated);
    // Every sequence number arrives once or twice, with identical bytes.
    QHash<quint32, QByteArray> seen;
    quint64 twice = 0;
    for (const auto &r : t.rx) {
        auto it = seen.find(r.seq);
        if (it == seen.end()) {
            seen.insert(r.seq, r.bytes);
        } else {
            QCOMPARE(*it, r.bytes);
            ++twice;
        }
    }
    QCOMPARE(seen.size(), n);
    QCOMPARE(twice, st.duplicated);
}

void tst_Link::reordering()
{
    LinkParams p;
    p.reorder = 0.1;
    p.reorderDelay = 5ms;
    p.delay = 10ms;
    Pair t(7, p);
    SSS_SEED_GUARD(t.s.seed());
    const int n = 20000;
    t.sendPaced(n, 30, 1ms);
    t.s.run();
    const auto &st = t.link->stats();
    QCOMPARE(t.rx.size(), n);
    QVERIFY(withinBinomial(st.reordered, n, 0.1));
    int held = 0;
    for (const auto &r : t.rx) {
        QVERIFY(r.delay == 10ms || r.delay == 15ms);
        held += r.delay == 15ms;
    }
    QCOMPARE(quint64(held), st.reordered);
    // A held packet is overtaken by the ones sent in the next 5 ms (unless they were held too).
    QVERIFY(t.outOfOrder() > int(st.reordered) / 2);
    QVERIFY(t.outOfOrder() <= int(st.reordered));
}

void tst_Link::mtu_data()
{
    QTest::addColumn<int>("mtu");
    QTest::addColumn<int>("payload");
    QTest::addColumn<bool>("delivered");
    QTest::newRow("1500: 1472 fits") << 1500 << 1472 << true;
    QTest::newRow("1500: 1473 dropped") << 1500 << 1473 << false;
    QTest::newRow("1280: 1252 fits") << 1280 << 1252 << true;
    QTest::newRow("1280: 1253 dropped") << 1280 << 1253 << false;
    QTest::newRow("9000: 8000 fits") << 9000 << 8000 << true;
}

void tst_Link::mtu()
{
    QFETCH(int, mtu);
    QFETCH(int, payload);
    QFETCH(bool, delivered);
    LinkParams p;
    p.mtu = mtu;
    p.bitsPerSecond = 1e6;
    Pair t(8, p);
    t.send(1, payload);
    t.send(2, 100);
    t.s.run();
    QCOMPARE(t.link->stats().droppedMtu, delivered ? 0u : 1u);
    QCOMPARE(t.rx.size(), delivered ? 2 : 1);
    // A dropped datagram does not occupy the serialiser.
    const core::Duration small = core::Duration(int64_t(std::llround(128 * 8 / 1e6 * 1e9)));
    if (!delivered)
        QCOMPARE(t.link->stats().busyTime, small);
}

void tst_Link::interceptor()
{
    Pair t(9, LinkParams {});
    QList<QByteArray> seen;
    t.link->setInterceptor([&](sim::Packet &p) {
        seen << p.bytes;
        quint32 seq = 0;
        memcpy(&seq, p.bytes.constData(), 4);
        if (seq == 1)
            return sim::Link::Verdict::Drop;
        if (seq == 2)
            p.bytes[20] = 'T'; // tamper
        if (seq == 3)
            p.bytes.truncate(12);
        return sim::Link::Verdict::Deliver;
    });
    for (quint32 i = 0; i < 4; ++i)
        t.send(i, 40);
    t.s.run();
    QCOMPARE(seen.size(), 4);
    QCOMPARE(t.link->stats().droppedIntercept, 1u);
    QCOMPARE(t.rx.size(), 3);
    QCOMPARE(t.rx[0].bytes.size(), 40);
    QCOMPARE(t.rx[1].seq, 2u);
    QCOMPARE(t.rx[1].bytes[20], 'T');
    QCOMPARE(t.rx[2].bytes.size(), 12);
}

void tst_Link::describeParams()
{
    LinkParams p;
    p.bitsPerSecond = 10e6;
    p.delay = 20ms;
    p.jitter = 5ms;
    p.loss = 0.01;
    p.mtu = 1280;
    const QString d = sim::describe(p);
    QVERIFY2(d.contains("10 Mbit/s") && d.contains("20 ms") && d.contains("5 ms") && d.contains("loss 1%")
                 && d.contains("mtu 1280"),
             qPrintable(d));
    QCOMPARE(sim::describe(LinkParams {}), QStringLiteral("unlimited rate, 0 us"));
    QVERIFY(sim::describe(LinkParams::satellite()).contains("300 ms"));
}

QTEST_APPLESS_MAIN(tst_Link)
#include "tst_link.moc"
