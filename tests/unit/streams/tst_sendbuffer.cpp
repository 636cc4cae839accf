#include "streams/sendbuffer.h"

#include <QRandomGenerator>
#include <QTest>
#include <set>

using namespace sss::core;

namespace {

QByteArray pattern(qsizetype n, int seed = 0)
{
    QByteArray b(n, Qt::Uninitialized);
    for (qsizetype i = 0; i < n; ++i)
        b[i] = char((i * 7 + seed * 13 + i / 251) & 0xff);
    return b;
}

// "o:nM" = offset o, n bytes, M = messageEnd, F = fin, R = retransmission.
QString describe(const SendBuffer::Chunk &c)
{
    QString s = QStringLiteral("%1:%2").arg(c.offset).arg(c.data.size());
    if (c.messageEnd)
        s += u'M';
    if (c.fin)
        s += u'F';
    if (c.retransmission)
        s += u'R';
    return s;
}

QStringList drain(SendBuffer &b, qsizetype maxBytes, uint64_t flowLimit, int limit = 1000)
{
    QStringList out;
    while (limit-- > 0) {
        auto c = b.nextChunk(maxBytes, flowLimit);
        if (!c)
            break;
        out << describe(*c);
    }
    return out;
}

} // namespace

class TestSendBuffer : public QObject
{
    Q_OBJECT
private slots:
    void recycleIsFresh();
    void chunking_data();
    void chunking();
    void chunkBytesMatchAppends();
    void zeroCopyChunks();
    void sharedSliceSemantics();
    void flowLimit();
    void lossOfPartlyAckedRange();
    void retransmissionKeepsMessageEnd();
    void finHandling();
    void finLostWithData();
    void emptyMessageEndAfterSend();
    void memoryFreedAfterAcks();
    void malformedReportsIgnored();
    void clearDropsEverything();
    void intervalsMatchModel();
    void rangesCopyOutMatchChunks();
};

void TestSendBuffer::recycleIsFresh()
{
    // A recycled buffer (stream state reused for the next stream) behaves as a new one.
    SendBuffer b;
    b.append(QByteArray("hello"), true);
    b.finish();
    auto c = b.nextChunk(100, 1000);
    QVERIFY(c);
    b.onAcked(0, 5, true);
    b.recycle();
    QCOMPARE(b.writtenBytes(), quint64(0));
    QCOMPARE(b.sentOffset(), quint64(0));
    QCOMPARE(b.ackedPrefix(), quint64(0));
    QCOMPARE(b.heldBytes(), qint64(0));
    QVERIFY(!b.isFinished() && !b.finSent() && !b.isCleared());
    QVERIFY(!b.nextChunk(100, 1000));
    b.append(QByteArray("again"));
    c = b.nextChunk(100, 1000);
    QVERIFY(c);
    QCOMPARE(c->offset, quint64(0));
    QCOMPARE(QByteArray(c->data), QByteArray("again"));
    QVERIFY(!c->fin);
}

void TestSendBuffer::chunking_data()
{
    QTest::addColumn<QString>("appends"); // size[m] comma separated; m = end of message
    QTest::addColumn<bool>("finish");
    QTest::addColumn<int>("maxBytes");
    QTest::addColumn<QString>("expected");

    QTest::newRow("one message split") << "10m" << false << 4 << "0:4,4:4,8:2M";
    QTest::newRow("two messages") << "3m,5m" << false << 100 << "0:3M,3:5M";
    QTest::newRow("bytes then message") << "3,5m" << false << 100 << "0:8M";
    QTest::newRow("no boundary") << "3,5" << false << 100 << "0:8";
    QTest::newRow("exact fit") << "4m,4m" << false << 4 << "0:4M,4:4M";
    QTest::newRow("fin with data") << "6" << true << 4 << "0:4,4:2F";
    QTest::newRow("fin with message") << "6m" << true << 10 << "0:6MF";
    QTest::newRow("fin only") << "" << true << 10 << "0:0F";
    QTest::newRow("empty eom ignored at 0") << "0m,2m" << false << 10 << "0:2M";
    QTest::newRow("eom twice same offset") << "2m,0m,3m" << false << 10 << "0:2M,2:3M";
    QTest::newRow("many small messages") << "1m,1m,1m,1m" << false << 3 << "0:1M,1:1M,2:1M,3:1M";
    QTest::newRow("zero maxBytes") << "5" << false << 0 << "";
    QTest::newRow("zero maxBytes fin pending") << "" << true << 0 << "0:0F";
}

void TestSendBuffer::chunking()
{
    QFETCH(QString, appends);
    QFETCH(bool, finish);
    QFETCH(int, maxBytes);
    QFETCH(QString, expected);
    SendBuffer b;
    int seed = 0;
    for (const QString &a : appends.split(u',', Qt::SkipEmptyParts)) {
        const bool eom = a.endsWith(u'm');
        b.append(pattern(QStringView(a).left(a.size() - (eom ? 1 : 0)).toInt(), seed++), eom);
    }
    if (finish)
        b.finish();
    QCOMPARE(drain(b, maxBytes, UINT64_MAX).join(u','), expected);
    QCOMPARE(b.hasSendable(UINT64_MAX), maxBytes == 0 && b.sentOffset() < b.writtenBytes());
}

void TestSendBuffer::chunkBytesMatchAppends()
{
    SendBuffer b;
    QByteArray all;
    for (int i = 0; i < 50; ++i) {
        const QByteArray part = pattern(1 + (i * 37) % 3000, i);
        all += part;
        b.append(part, i % 3 == 0);
    }
    QByteArray got;
    uint64_t expectOffset = 0;
    while (auto c = b.nextChunk(1200, UINT64_MAX)) {
        QCOMPARE(c->offset, expectOffset);
        QVERIFY(c->data.size() <= 1200);
        got += c->data;
        expectOffset += uint64_t(c->data.size());
    }
    QCOMPARE(got, all);
    QCOMPARE(b.writtenBytes(), uint64_t(all.size()));
    QCOMPARE(b.sentOffset(), uint64_t(all.size()));
}

void TestSendBuffer::zeroCopyChunks()
{
    SendBuffer b;
    const QByteArray big = pattern(100000);
    b.append(big);
    auto c1 = b.nextChunk(1200, UINT64_MAX);
    auto c2 = b.nextChunk(1200, UINT64_MAX);
    QVERIFY(c1 && c2);
    // The chunks view the appended array rather than copying it.
    QCOMPARE(c1->data.constData(), big.constData());
    QCOMPARE(c2->data.constData(), big.constData() + 1200);
    QCOMPARE(c2->data, big.mid(1200, 1200));
}

void TestSendBuffer::sharedSliceSemantics()
{
    QByteArray src = pattern(64);
    const QByteArray copy = src;
    QByteArray s = sharedSlice(src, 10, 20);
    QCOMPARE(s, copy.mid(10, 20));
    QCOMPARE(s.constData(), src.constData() + 10);
    s[0] = 'X'; // detaches
    QCOMPARE(src, copy);
    QCOMPARE(s.at(0), 'X');
    QCOMPARE(s.mid(1), copy.mid(11, 19));

    // Sole owner of a slice of a dropped array: appending must behave like any QByteArray.
    QByteArray t;
    {
        QByteArray tmp = pattern(64, 3);
        t = sharedSlice(tmp, 8, 8);
    }
    t.append("tail");
    QCOMPARE(t, pattern(64, 3).mid(8, 8) + "tail");

    QCOMPARE(sharedSlice(src, 60, 100), copy.mid(60));
    QVERIFY(sharedSlice(src, 100, 5).isEmpty());
    QVERIFY(sharedSlice(src, -3, 0).isEmpty());
}

void TestSendBuffer::flowLimit()
{
    SendBuffer b;
    b.append(pattern(100), true);
    QVERIFY(!b.hasSendable(0));
    QVERIFY(!b.nextChunk(50, 0));
    QCOMPARE(drain(b, 50, 30).join(u','), "0:30");
    QVERIFY(!b.hasSendable(30));
    QVERIFY(b.hasSendable(31));
    QCOMPARE(drain(b, 50, 100).join(u','), "30:50,80:20M");
    // Retransmissions ignore the flow limit (they were within it when first sent).
    b.onLost(0, 30, false);
    QCOMPARE(drain(b, 50, 0).join(u','), "0:30R");
}

void TestSendBuffer::lossOfPartlyAckedRange()
{
    SendBuffer b;
    b.append(pattern(100));
    QCOMPARE(drain(b, 10, UINT64_MAX).size(), 10);
    QCOMPARE(b.inFlightBytes(), 100);
    b.onAcked(20, 20, false);
    b.onAcked(60, 5, false);
    QCOMPARE(b.unackedBytes(), 75);
    b.onLost(0, 100, false); // only the not-yet-acked parts come back
    QCOMPARE(b.queuedBytes(), 75);
    QCOMPARE(b.inFlightBytes(), 0);
    QCOMPARE(drain(b, 25, UINT64_MAX).join(u','), "0:20R,40:20R,65:25R,90:10R");
    QCOMPARE(b.inFlightBytes(), 75);
    QCOMPARE(b.queuedBytes(), 0);
    // An ack of lost-but-not-yet-resent bytes cancels their retransmission.
    b.onLost(65, 35, false);
    b.onAcked(70, 30, false);
    QCOMPARE(drain(b, 100, UINT64_MAX).join(u','), "65:5R");
    b.onAcked(0, 100, false);
    QVERIFY(b.allAcked());
    QCOMPARE(b.unackedBytes(), 0);
    QCOMPARE(b.inFlightBytes(), 0);
    QCOMPARE(b.heldBytes(), 0);
    // Losses reported after the ack change nothing.
    b.onLost(0, 100, false);
    QVERIFY(!b.hasSendable(UINT64_MAX));
}

void TestSendBuffer::retransmissionKeepsMessageEnd()
{
    SendBuffer b;
    b.append(pattern(10), true);
    b.append(pattern(10), true);
    QCOMPARE(drain(b, 100, UINT64_MAX).join(u','), "0:10M,10:10M");
    b.onLost(0, 20, false);
    // Merged lost range is still cut at the boundary.
    QCOMPARE(drain(b, 100, UINT64_MAX).join(u','), "0:10MR,10:10MR");
    b.onLost(5, 5, false);
    QCOMPARE(drain(b, 100, UINT64_MAX).join(u','), "5:5MR");
}

void TestSendBuffer::finHandling()
{
    SendBuffer b;
    b.append(pattern(10));
    QCOMPARE(drain(b, 100, UINT64_MAX).join(u','), "0:10");
    b.finish();
    QVERIFY(b.isFinished());
    b.append(pattern(5)); // ignored after finish
    QCOMPARE(b.writtenBytes(), uint64_t(10));
    QVERIFY(b.hasSendable(0)); // FIN-only needs no flow credit
    QCOMPARE(drain(b, 100, 0).join(u','), "10:0F");
    b.onAcked(0, 10, false);
    QVERIFY(!b.allAcked());
    b.onLost(10, 0, true);
    QCOMPARE(drain(b, 100, UINT64_MAX).join(u','), "10:0FR");
    b.onAcked(10, 0, true);
    QVERIFY(b.allAcked());
    QVERIFY(!b.hasSendable(UINT64_MAX));
    b.onLost(10, 0, true); // late loss report of an acked FIN
    QVERIFY(!b.hasSendable(UINT64_MAX));
}

void TestSendBuffer::finLostWithData()
{
    SendBuffer b;
    b.append(pattern(30), true);
    b.finish();
    QCOMPARE(drain(b, 10, UINT64_MAX).join(u','), "0:10,10:10,20:10MF");
    b.onLost(20, 10, true);
    b.onLost(0, 10, false);
    QCOMPARE(drain(b, 100, UINT64_MAX).join(u','), "0:10R,20:10MFR");
    b.onAcked(0, 30, true);
    QVERIFY(b.allAcked());
    // Only the tail lost, FIN acked separately: no FIN on the retransmission.
    SendBuffer c;
    c.append(pattern(20));
    c.finish();
    QCOMPARE(drain(c, 10, UINT64_MAX).join(u','), "0:10,10:10F");
    c.onAcked(10, 0, true);
    c.onLost(10, 10, false);
    QCOMPARE(drain(c, 100, UINT64_MAX).join(u','), "10:10R");
}

void TestSendBuffer::emptyMessageEndAfterSend()
{
    SendBuffer b;
    b.append(pattern(8));
    QCOMPARE(drain(b, 100, UINT64_MAX).join(u','), "0:8");
    b.append(QByteArray(), true);
    QCOMPARE(drain(b, 100, UINT64_MAX).join(u','), "8:0M");
    b.onAcked(0, 8, false);
    QVERIFY(!b.allAcked()); // the marker itself is not acked yet
    b.onLost(8, 0, false);
    QCOMPARE(drain(b, 100, UINT64_MAX).join(u','), "8:0M");
    b.onAcked(8, 0, false);
    QVERIFY(b.allAcked());
    // Data unsent when the message ends: the boundary rides on the data chunk.
    b.append(pattern(4));
    b.append(QByteArray(), true);
    b.finish();
    QCOMPARE(drain(b, 100, UINT64_MAX).join(u','), "8:4MF");
    // Marker then finish: FIN-only chunk still carries the boundary.
    SendBuffer c;
    c.append(pattern(3));
    QCOMPARE(drain(c, 100, UINT64_MAX).join(u','), "0:3");
    c.append(QByteArray(), true);
    c.finish();
    QCOMPARE(drain(c, 100, UINT64_MAX).join(u','), "3:0MF");
}

void TestSendBuffer::memoryFreedAfterAcks()
{
    SendBuffer b;
    for (int i = 0; i < 10; ++i)
        b.append(pattern(10000, i));
    QCOMPARE(b.heldBytes(), 100000);
    while (b.nextChunk(1000, UINT64_MAX)) { }
    b.onAcked(10000, 90000, false); // everything but the first segment: nothing can be freed
    QCOMPARE(b.heldBytes(), 100000);
    QCOMPARE(b.ackedPrefix(), uint64_t(0));
    b.onAcked(0, 5000, false);
    QCOMPARE(b.heldBytes(), 100000); // first segment only half acked
    b.onAcked(5000, 5000, false);
    QCOMPARE(b.ackedPrefix(), uint64_t(100000));
    QCOMPARE(b.heldBytes(), 0);
    QCOMPARE(b.unackedBytes(), 0);
    // Many tiny appends are coalesced; the chunk still has exactly the bytes.
    SendBuffer c;
    QByteArray all;
    for (int i = 0; i < 300; ++i) {
        const QByteArray p = pattern(7, i);
        all += p;
        c.append(p);
    }
    auto ch = c.nextChunk(5000, UINT64_MAX);
    QVERIFY(ch);
    QCOMPARE(ch->data, all);
}

void TestSendBuffer::malformedReportsIgnored()
{
    SendBuffer b;
    b.append(pattern(50));
    QCOMPARE(drain(b, 20, 40).join(u','), "0:20,20:20");
    b.onAcked(UINT64_MAX - 2, 10, false); // overflow
    b.onLost(UINT64_MAX - 2, 10, true);
    b.onAcked(40, 10, false); // never sent
    b.onLost(40, 10, false);
    b.onAcked(0, 0, true); // FIN never sent
    QCOMPARE(b.unackedBytes(), 50);
    QCOMPARE(b.inFlightBytes(), 40);
    QCOMPARE(b.queuedBytes(), 10);
    QCOMPARE(drain(b, 100, 40).join(u','), "");
    b.onAcked(30, 100, false); // partly beyond what was sent: clipped
    QCOMPARE(b.inFlightBytes(), 30);
}

void TestSendBuffer::clearDropsEverything()
{
    SendBuffer b;
    b.append(pattern(100), true);
    QCOMPARE(drain(b, 30, 60).size(), 2);
    b.onLost(0, 30, false);
    b.clear();
    QVERIFY(b.isCleared());
    QVERIFY(!b.hasSendable(UINT64_MAX));
    QVERIFY(!b.nextChunk(100, UINT64_MAX));
    QCOMPARE(b.heldBytes(), 0);
    QCOMPARE(b.queuedBytes(), 0);
    QCOMPARE(b.inFlightBytes(), 0);
    QCOMPARE(b.unackedBytes(), 0);
    QCOMPARE(b.sentOffset(), uint64_t(60));
    QCOMPARE(b.writtenBytes(), uint64_t(100));
    QVERIFY(b.allAcked());
    b.append(pattern(5));
    b.onLost(0, 60, false);
    QVERIFY(!b.hasSendable(UINT64_MAX));
}

void TestSendBuffer::intervalsMatchModel()
{
    // Random add/subtract on a small domain against a std::set of values.
    QRandomGenerator rng(99);
    for (int round = 0; round < 200; ++round) {
        detail::Intervals iv;
        std::set<uint64_t> model;
        for (int op = 0; op < 60; ++op) {
            const uint64_t a = rng.bounded(120), b = a + rng.bounded(30);
            uint64_t changed = 0;
            const bool add = rng.bounded(3) != 0;
            for (uint64_t v = a; v < b; ++v)
                changed += add ? model.insert(v).second : model.erase(v);
            QCOMPARE(add ? iv.add(a, b) : iv.subtract(a, b), changed);
            QCOMPARE(iv.total(), uint64_t(model.size()));
            const uint64_t q = rng.bounded(150);
            QCOMPARE(iv.contains(q), model.count(q) == 1);
            uint64_t run = q;
            while (model.count(run))
                ++run;
            QCOMPARE(iv.runEnd(q), run);
            // Gaps of [a', b') must be exactly the values not in the model.
            const uint64_t ga = rng.bounded(120), gb = ga + rng.bounded(60);
            std::set<uint64_t> gaps;
            uint64_t lastEnd = 0;
            bool ordered = true;
            iv.forEachGap(ga, gb, [&](uint64_t s, uint64_t e) {
                ordered = ordered && s < e && s >= lastEnd;
                lastEnd = e;
                for (uint64_t v = s; v < e; ++v)
                    gaps.insert(v);
            });
            QVERIFY(ordered);
            std::set<uint64_t> expectGaps;
            for (uint64_t v = ga; v < gb; ++v)
                if (!model.count(v))
                    expectGaps.insert(v);
            QCOMPARE(gaps, expectGaps);
        }
    }
}

// nextRange() + copyOut() (the sender's path) hands out the same chunks and bytes as nextChunk(),
// through segment boundaries, acks that drop segments in front, losses and retransmissions.
void TestSendBuffer::rangesCopyOutMatchChunks()
{
    SendBuffer a, b;
    QByteArray all;
    QRandomGenerator rng(7);
    for (int i = 0; i < 40; ++i) {
        const QByteArray d = pattern(rng.bounded(1, 5000), i);
        a.append(d, i % 9 == 8);
        b.append(d, i % 9 == 8);
        all += d;
    }
    a.finish();
    b.finish();
    std::vector<std::pair<uint64_t, uint64_t>> sent;
    for (int round = 0; round < 10000; ++round) {
        const qsizetype room = rng.bounded(1, 3000);
        const auto c = a.nextChunk(room, UINT64_MAX);
        const auto r = b.nextRange(room, UINT64_MAX);
        QCOMPARE(bool(r), bool(c));
        if (!c)
            break;
        QCOMPARE(r->offset, c->offset);
        QCOMPARE(r->length, uint64_t(c->data.size()));
        QVERIFY(r->data.isEmpty());
        QCOMPARE(r->fin, c->fin);
        QCOMPARE(r->messageEnd, c->messageEnd);
        QCOMPARE(r->retransmission, c->retransmission);
        QByteArray copied(qsizetype(r->length), '\0');
        b.copyOut(r->offset, qsizetype(r->length), copied.data());
        QCOMPARE(copied, c->data);
        QCOMPARE(copied, all.mid(qsizetype(r->offset), qsizetype(r->length)));
        sent.emplace_back(r->offset, r->length);
        // Acknowledge most chunks (dropping acked segments), lose some.
        if (sent.size() > 3) {
            const size_t i = rng.bounded(quint32(sent.size()));
            const auto [o, n] = sent[i];
            const bool fin = o + n == uint64_t(all.size());
            if (rng.bounded(5) == 0) {
                a.onLost(o, n, fin);
                b.onLost(o, n, fin);
            } else {
                a.onAcked(o, n, fin);
                b.onAcked(o, n, fin);
            }
            sent.erase(sent.begin() + qsizetype(i));
        }
    }
    QCOMPARE(b.heldBytes(), a.heldBytes());
}

QTEST_APPLESS_MAIN(TestSendBuffer)
#include "tst_sendbuffer.moc"
