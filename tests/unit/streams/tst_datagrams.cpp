#include "streams/datagrams.h"

#include <QRandomGenerator>
#include <QTest>
#include <algorithm>

using namespace sss::core;

namespace {
QByteArray payload(qsizetype n, int seed)
{
    QByteArray b(n, Qt::Uninitialized);
    for (qsizetype i = 0; i < n; ++i)
        b[i] = char((i * 31 + seed) & 0xff);
    return b;
}
const Instant t0 {};
} // namespace

class TestDatagrams : public QObject
{
    Q_OBJECT
private slots:
    void fragmentation_data();
    void fragmentation();
    void singleFragmentIsImmediate();
    void duplicates();
    void inconsistentAndMalformed_data();
    void inconsistentAndMalformed();
    void timeout();
    void memoryBoundEvictsOldest();
    void tooLargeNeverBuffered();
    void randomOrderManyDatagrams();
};

void TestDatagrams::fragmentation_data()
{
    QTest::addColumn<int>("size");
    QTest::addColumn<int>("fragment");
    QTest::addColumn<int>("fragments");
    QTest::newRow("empty") << 0 << 100 << 1;
    QTest::newRow("one byte") << 1 << 100 << 1;
    QTest::newRow("exact") << 300 << 100 << 3;
    QTest::newRow("remainder") << 301 << 100 << 4;
    QTest::newRow("large") << 65536 << 1150 << 57;
}

void TestDatagrams::fragmentation()
{
    QFETCH(int, size);
    QFETCH(int, fragment);
    QFETCH(int, fragments);
    const QByteArray d = payload(size, 1);
    auto frags = fragmentDatagram(42, d, fragment);
    QCOMPARE(int(frags.size()), fragments);
    DatagramReassembler r(1 << 20, 1s);
    std::reverse(frags.begin(), frags.end()); // out of order
    std::optional<QByteArray> got;
    for (size_t i = 0; i < frags.size(); ++i) {
        QCOMPARE(frags[i].totalSize, uint64_t(size));
        QVERIFY(frags[i].data.size() <= fragment);
        auto res = r.insert(frags[i], t0);
        QCOMPARE(res.has_value(), i + 1 == frags.size()); // whole or nothing
        if (res)
            got = res;
    }
    QVERIFY(got);
    QCOMPARE(*got, d);
    QCOMPARE(r.bufferedBytes(), 0);
    QCOMPARE(r.droppedDatagrams(), quint64(0));
}

void TestDatagrams::singleFragmentIsImmediate()
{
    DatagramReassembler r(1000, 1s);
    const QByteArray d = payload(500, 2);
    auto res = r.insert({7, 500, 0, d}, t0);
    QVERIFY(res);
    QCOMPARE(res->constData(), d.constData()); // no copy
    QVERIFY(!r.insert({7, 500, 0, d}, t0)); // network duplicate: not delivered twice
    QCOMPARE(r.bufferedBytes(), 0);
}

void TestDatagrams::duplicates()
{
    DatagramReassembler r(10000, 1s);
    const QByteArray d = payload(3000, 3);
    auto f = fragmentDatagram(1, d, 1000);
    QVERIFY(!r.insert(f[0], t0));
    QVERIFY(!r.insert(f[0], t0));
    QVERIFY(!r.insert(f[2], t0));
    QVERIFY(!r.insert(f[2], t0));
    QCOMPARE(r.bufferedBytes(), 3000);
    auto res = r.insert(f[1], t0);
    QVERIFY(res);
    QCOMPARE(*res, d);
    for (const auto &x : f)
        QVERIFY(!r.insert(x, t0)); // late duplicates after delivery
    QCOMPARE(r.pendingDatagrams(), 0);
    QCOMPARE(r.bufferedBytes(), 0);
    // Overlapping fragments of different sizes still reassemble exactly.
    QVERIFY(!r.insert({2, 10, 0, d.left(6)}, t0));
    QVERIFY(!r.insert({2, 10, 3, d.mid(3, 4)}, t0));
    auto res2 = r.insert({2, 10, 5, d.mid(5, 5)}, t0);
    QVERIFY(res2);
    QCOMPARE(*res2, d.left(10));
}

void TestDatagrams::inconsistentAndMalformed_data()
{
    QTest::addColumn<quint64>("total");
    QTest::addColumn<quint64>("offset");
    QTest::addColumn<int>("len");
    QTest::newRow("total differs") << quint64(3001) << quint64(1000) << 1000;
    QTest::newRow("beyond total") << quint64(3000) << quint64(2500) << 1000;
    QTest::newRow("offset overflow") << quint64(3000) << quint64(UINT64_MAX - 10) << 100;
    QTest::newRow("empty fragment") << quint64(3000) << quint64(100) << 0;
    QTest::newRow("len > total") << quint64(10) << quint64(0) << 100;
}

void TestDatagrams::inconsistentAndMalformed()
{
    QFETCH(quint64, total);
    QFETCH(quint64, offset);
    QFETCH(int, len);
    DatagramReassembler r(10000, 1s);
    const QByteArray d = payload(3000, 4);
    QVERIFY(!r.insert({9, 3000, 0, d.left(1000)}, t0));
    QVERIFY(!r.insert({9, total, offset, payload(len, 5)}, t0));
    QCOMPARE(r.rejectedFragments(), quint64(1));
    QCOMPARE(r.bufferedBytes(), 3000);
    QVERIFY(!r.insert({9, 3000, 1000, d.mid(1000, 1000)}, t0));
    auto res = r.insert({9, 3000, 2000, d.mid(2000)}, t0);
    QVERIFY(res);
    QCOMPARE(*res, d); // the bad fragment changed nothing
}

void TestDatagrams::timeout()
{
    DatagramReassembler r(100000, 100ms);
    QVERIFY(!r.nextExpiry());
    const QByteArray d = payload(2000, 6);
    auto f = fragmentDatagram(5, d, 1000);
    QVERIFY(!r.insert(f[0], t0));
    QVERIFY(!r.insert(fragmentDatagram(6, d, 1000)[0], t0 + 50ms));
    QCOMPARE(r.nextExpiry(), std::optional<Instant>(t0 + 100ms));
    r.expire(t0 + 99ms);
    QCOMPARE(r.pendingDatagrams(), 2);
    r.expire(t0 + 100ms);
    QCOMPARE(r.pendingDatagrams(), 1);
    QCOMPARE(r.droppedDatagrams(), quint64(1));
    QCOMPARE(r.nextExpiry(), std::optional<Instant>(t0 + 150ms));
    // The rest of datagram 5 arrives too late: never delivered, not restarted.
    QVERIFY(!r.insert(f[1], t0 + 120ms));
    QCOMPARE(r.pendingDatagrams(), 1);
    QVERIFY(!r.insert(f[0], t0 + 130ms));
    // Insert also expires.
    QVERIFY(!r.insert({77, 5000, 0, payload(10, 1)}, t0 + 200ms));
    QCOMPARE(r.droppedDatagrams(), quint64(2));
    QCOMPARE(r.pendingDatagrams(), 1);
    QCOMPARE(r.bufferedBytes(), 5000);
}

void TestDatagrams::memoryBoundEvictsOldest()
{
    DatagramReassembler r(10000, 10s);
    for (uint64_t id = 1; id <= 3; ++id)
        QVERIFY(!r.insert({id, 4000, 0, payload(100, int(id))}, t0 + std::chrono::milliseconds(id)));
    // 3 x 4000 > 10000: the oldest (id 1) was evicted to admit id 3.
    QCOMPARE(r.pendingDatagrams(), 2);
    QCOMPARE(r.bufferedBytes(), 8000);
    QCOMPARE(r.droppedDatagrams(), quint64(1));
    QVERIFY(!r.insert({1, 4000, 100, payload(3900, 1)}, t0 + 5ms)); // evicted: gone for good
    // id 2 can still complete.
    const QByteArray whole = payload(4000, 2);
    QVERIFY(!r.insert({2, 4000, 0, whole.left(100)}, t0 + 6ms));
    auto res = r.insert({2, 4000, 100, whole.mid(100)}, t0 + 6ms);
    QVERIFY(res);
    QCOMPARE(res->mid(100), whole.mid(100));
    QVERIFY(r.bufferedBytes() <= 10000);
}

void TestDatagrams::tooLargeNeverBuffered()
{
    DatagramReassembler r(1000, 1s);
    QVERIFY(!r.insert({1, 5000, 0, payload(500, 1)}, t0));
    QVERIFY(!r.insert({1, 5000, 500, payload(500, 1)}, t0));
    QCOMPARE(r.bufferedBytes(), 0);
    QCOMPARE(r.droppedDatagrams(), quint64(1)); // counted once
}

void TestDatagrams::randomOrderManyDatagrams()
{
    QRandomGenerator rng(7);
    DatagramReassembler r(1 << 22, 1s);
    struct Pending {
        QByteArray data;
        bool delivered = false;
    };
    std::vector<Pending> sent;
    std::vector<DatagramFragment> wire;
    for (uint64_t id = 0; id < 300; ++id) {
        const QByteArray d = payload(qsizetype(rng.bounded(20000)), int(id));
        sent.push_back({d});
        for (auto &f : fragmentDatagram(id, d, 1 + qsizetype(rng.bounded(1400)))) {
            wire.push_back(f);
            if (rng.bounded(10) == 0)
                wire.push_back(f); // duplicate
        }
    }
    std::shuffle(wire.begin(), wire.end(), std::mt19937(11));
    for (const auto &f : wire) {
        if (auto res = r.insert(f, t0)) {
            QVERIFY(!sent[f.datagramId].delivered);
            QCOMPARE(*res, sent[f.datagramId].data);
            sent[f.datagramId].delivered = true;
        }
    }
    for (const auto &p : sent)
        QVERIFY(p.delivered);
    QCOMPARE(r.bufferedBytes(), 0);
}

QTEST_APPLESS_MAIN(TestDatagrams)
#include "tst_datagrams.moc"
