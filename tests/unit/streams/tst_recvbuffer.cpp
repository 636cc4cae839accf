#include "streams/recvbuffer.h"

#include <QTest>
#include <random>
#include <set>
#include <vector>

using namespace sss::core;
using R = RecvBuffer::Result;

Q_DECLARE_METATYPE(RecvBuffer::Result)

namespace {
const QByteArray kText = "The quick brown fox jumps over the lazy dog, 0123456789!";

// Bytes [offset, offset + len) of an endless repetition of kText.
QByteArray textAt(uint64_t offset, int len)
{
    QByteArray out(len, Qt::Uninitialized);
    for (int i = 0; i < len; ++i)
        out[i] = kText.at(qsizetype((offset + uint64_t(i)) % uint64_t(kText.size())));
    return out;
}
} // namespace

class TestRecvBuffer : public QObject
{
    Q_OBJECT
private slots:
    void recycleIsFresh();
    void reassembly_data();
    void reassembly();
    void conflictingDataDoesNotRewrite();
    void partialReads();
    void messages();
    void readConsumesBoundaries();
    void outOfOrderMessages();
    void finalSize_data();
    void finalSize();
    void errorsHaveNoSideEffects();
    void zeroCopyInOrderRead();
    void clearDiscards();
    void randomAgainstModel();
    void longRunNeverDrained();
};

void TestRecvBuffer::recycleIsFresh()
{
    RecvBuffer b;
    QCOMPARE(b.insert(0, QByteArray("abc"), true, true, 1000), RecvBuffer::Result::Ok);
    char buf[8];
    QCOMPARE(b.read(buf, 2), qint64(2));
    b.recycle();
    QCOMPARE(b.readOffset(), quint64(0));
    QCOMPARE(b.bufferedBytes(), qint64(0));
    QCOMPARE(b.pendingMessageCount(), 0);
    QVERIFY(!b.finalSize() && !b.atEnd());
    QCOMPARE(b.insert(0, QByteArray("xy"), false, false, 1000), RecvBuffer::Result::Ok);
    QCOMPARE(b.read(buf, 8), qint64(2));
    QCOMPARE(QByteArray(buf, 2), QByteArray("xy"));
}

void TestRecvBuffer::reassembly_data()
{
    // Segments "offset+len" over kText, inserted in order; expected results and final state.
    QTest::addColumn<QString>("segments");
    QTest::addColumn<QString>("results"); // O = Ok, D = Duplicate
    QTest::addColumn<int>("available");
    QTest::addColumn<int>("buffered");

    QTest::newRow("in order") << "0+10,10+10,20+5"
                              << "OOO" << 25 << 25;
    QTest::newRow("reverse") << "20+5,10+10,0+10"
                             << "OOO" << 25 << 25;
    QTest::newRow("gap") << "0+10,20+5"
                         << "OO" << 10 << 15;
    QTest::newRow("exact duplicate") << "0+10,0+10"
                                     << "OD" << 10 << 10;
    QTest::newRow("contained") << "0+20,5+5"
                               << "OD" << 20 << 20;
    QTest::newRow("overlap tail") << "0+10,5+10"
                                  << "OO" << 15 << 15;
    QTest::newRow("overlap head") << "5+10,0+10"
                                  << "OO" << 15 << 15;
    QTest::newRow("bridges two") << "0+5,10+5,20+5,3+20"
                                 << "OOOO" << 25 << 25;
    QTest::newRow("covers many") << "2+2,6+2,10+2,0+15"
                                 << "OOOO" << 15 << 15;
    QTest::newRow("dup of out of order") << "30+5,30+5,31+2"
                                         << "ODD" << 0 << 5;
    QTest::newRow("empty") << "3+0"
                           << "D" << 0 << 0;
}

void TestRecvBuffer::reassembly()
{
    QFETCH(QString, segments);
    QFETCH(QString, results);
    QFETCH(int, available);
    QFETCH(int, buffered);
    RecvBuffer b;
    QString got;
    for (const QString &s : segments.split(u',')) {
        const auto parts = s.split(u'+');
        const uint64_t off = parts[0].toULongLong();
        const R r = b.insert(off, textAt(off, parts[1].toInt()), false, false, 1000);
        got += r == R::Ok ? u'O' : r == R::Duplicate ? u'D' : u'E';
    }
    QCOMPARE(got, results);
    QCOMPARE(b.bytesAvailable(), available);
    QCOMPARE(b.bufferedBytes(), buffered);
    QCOMPARE(b.read(1000), textAt(0, available));
    QCOMPARE(b.bufferedBytes(), buffered - available);
}

void TestRecvBuffer::conflictingDataDoesNotRewrite()
{
    RecvBuffer b;
    QCOMPARE(b.insert(0, "abcdef", false, false, 100), R::Ok);
    QCOMPARE(b.insert(3, "XYZ123", false, false, 100), R::Ok); // only "123" is new
    QCOMPARE(b.read(3), QByteArray("abc"));
    QCOMPARE(b.insert(0, "------", false, false, 100), R::Duplicate); // already read / held
    QCOMPARE(b.read(100), QByteArray("def123"));
}

void TestRecvBuffer::partialReads()
{
    RecvBuffer b;
    QCOMPARE(b.insert(0, kText.left(30), false, false, 1000), R::Ok);
    QCOMPARE(b.insert(30, kText.mid(30), false, false, 1000), R::Ok);
    QByteArray got;
    char tmp[8];
    QCOMPARE(b.peek(tmp, 8), 8);
    QCOMPARE(QByteArray(tmp, 8), kText.left(8));
    for (int n = 1; b.bytesAvailable() > 0; n = n % 7 + 1) {
        const qint64 before = b.bytesAvailable();
        const QByteArray part = b.read(n);
        QCOMPARE(part.size(), qMin<qint64>(n, before));
        got += part;
        QCOMPARE(b.readOffset(), uint64_t(got.size()));
    }
    QCOMPARE(got, kText);
    QCOMPARE(b.bufferedBytes(), 0);
    QVERIFY(b.read(10).isEmpty());
    QVERIFY(b.read(-1).isEmpty());
    QCOMPARE(b.peek(tmp, 8), 0);
}

void TestRecvBuffer::messages()
{
    RecvBuffer b;
    QVERIFY(!b.hasMessage());
    QCOMPARE(b.nextMessageSize(), -1);
    QCOMPARE(b.insert(0, "hello", true, false, 100), R::Ok);
    QCOMPARE(b.insert(5, "wor", false, false, 100), R::Ok);
    QCOMPARE(b.pendingMessageCount(), 1);
    QCOMPARE(b.nextMessageSize(), 5);
    QCOMPARE(b.readMessage(), QByteArray("hello"));
    QVERIFY(!b.hasMessage());
    QVERIFY(b.readMessage().isEmpty());
    QCOMPARE(b.insert(8, "ld", true, false, 100), R::Ok);
    QCOMPARE(b.insert(10, "", true, false, 100), R::Duplicate); // boundary already known
    QCOMPARE(b.insert(10, "!", true, false, 100), R::Ok);
    QCOMPARE(b.pendingMessageCount(), 2);
    QCOMPARE(b.readMessage(), QByteArray("world"));
    QCOMPARE(b.readMessage(), QByteArray("!"));
    QCOMPARE(b.pendingMessageCount(), 0);
    // A boundary sent on its own after the bytes (empty chunk).
    QCOMPARE(b.insert(11, "abc", false, false, 100), R::Ok);
    QVERIFY(!b.hasMessage());
    QCOMPARE(b.insert(14, "", true, false, 100), R::Ok);
    QCOMPARE(b.readMessage(), QByteArray("abc"));
}

void TestRecvBuffer::readConsumesBoundaries()
{
    RecvBuffer b;
    b.insert(0, "aaa", true, false, 100);
    b.insert(3, "bbb", true, false, 100);
    b.insert(6, "ccc", true, false, 100);
    QCOMPARE(b.pendingMessageCount(), 3);
    QCOMPARE(b.read(2), QByteArray("aa")); // inside message 1: boundary stays
    QCOMPARE(b.pendingMessageCount(), 3);
    QCOMPARE(b.nextMessageSize(), 1);
    QCOMPARE(b.read(3), QByteArray("abb")); // passes the boundary at 3
    QCOMPARE(b.pendingMessageCount(), 2);
    QCOMPARE(b.readMessage(), QByteArray("b"));
    QCOMPARE(b.read(3), QByteArray("ccc")); // ends exactly at a boundary: consumed
    QCOMPARE(b.pendingMessageCount(), 0);
    QVERIFY(!b.hasMessage());
    // A boundary arriving for bytes already read is ignored.
    QCOMPARE(b.insert(7, "cc", true, false, 100), R::Duplicate);
    QVERIFY(!b.hasMessage());
}

void TestRecvBuffer::outOfOrderMessages()
{
    RecvBuffer b;
    QCOMPARE(b.insert(6, "ccc", true, false, 100), R::Ok);
    QCOMPARE(b.insert(3, "bbb", true, false, 100), R::Ok);
    QVERIFY(!b.hasMessage()); // nothing contiguous yet
    QCOMPARE(b.pendingMessageCount(), 0);
    QCOMPARE(b.insert(0, "aaa", true, false, 100), R::Ok);
    QCOMPARE(b.pendingMessageCount(), 3);
    QCOMPARE(b.receivedContiguous(), uint64_t(9));
    QCOMPARE(b.readMessage(), QByteArray("aaa"));
    QCOMPARE(b.readMessage(), QByteArray("bbb"));
    QCOMPARE(b.readMessage(), QByteArray("ccc"));
}

void TestRecvBuffer::finalSize_data()
{
    // Two inserts: (offset, len, fin) then (offset, len, fin); expected result of the second.
    QTest::addColumn<int>("o1");
    QTest::addColumn<int>("l1");
    QTest::addColumn<bool>("f1");
    QTest::addColumn<int>("o2");
    QTest::addColumn<int>("l2");
    QTest::addColumn<bool>("f2");
    QTest::addColumn<RecvBuffer::Result>("expected");

    QTest::newRow("data beyond final") << 0 << 10 << true << 5 << 10 << false << R::FinalSizeViolation;
    QTest::newRow("fin changes size") << 0 << 10 << true << 0 << 12 << true << R::FinalSizeViolation;
    QTest::newRow("fin smaller") << 0 << 10 << true << 0 << 8 << true << R::FinalSizeViolation;
    QTest::newRow("fin below received") << 0 << 10 << false << 0 << 5 << true << R::FinalSizeViolation;
    QTest::newRow("fin repeated") << 0 << 10 << true << 0 << 10 << true << R::Duplicate;
    QTest::newRow("fin only repeated") << 0 << 10 << true << 10 << 0 << true << R::Duplicate;
    QTest::newRow("fin after data") << 0 << 10 << false << 10 << 0 << true << R::Ok;
    QTest::newRow("fin at received end") << 0 << 10 << false << 5 << 5 << true << R::Ok;
    QTest::newRow("data within final") << 5 << 5 << true << 0 << 5 << false << R::Ok;
    QTest::newRow("flow violation") << 0 << 10 << false << 90 << 20 << false << R::FlowControlViolation;
}

void TestRecvBuffer::finalSize()
{
    QFETCH(int, o1);
    QFETCH(int, l1);
    QFETCH(bool, f1);
    QFETCH(int, o2);
    QFETCH(int, l2);
    QFETCH(bool, f2);
    QFETCH(RecvBuffer::Result, expected);
    RecvBuffer b;
    QCOMPARE(b.insert(uint64_t(o1), textAt(o1, l1), false, f1, 100), R::Ok);
    QCOMPARE(b.insert(uint64_t(o2), textAt(o2, l2), false, f2, 100), expected);
}

void TestRecvBuffer::errorsHaveNoSideEffects()
{
    RecvBuffer b;
    QCOMPARE(b.insert(0, "abcdef", false, true, 100), R::Ok);
    QCOMPARE(b.finalSize(), std::optional<uint64_t>(6));
    QVERIFY(b.finReceived());
    QCOMPARE(b.insert(4, "efgh", true, false, 100), R::FinalSizeViolation);
    QCOMPARE(b.insert(UINT64_MAX - 1, "xyz", false, false, UINT64_MAX), R::FlowControlViolation);
    QCOMPARE(b.highestReceived(), uint64_t(6));
    QCOMPARE(b.bufferedBytes(), 6);
    QVERIFY(!b.hasMessage());

    RecvBuffer c;
    QCOMPARE(c.insert(0, "abc", true, false, 3), R::Ok);
    QCOMPARE(c.insert(3, "d", true, true, 3), R::FlowControlViolation);
    QVERIFY(!c.finReceived());
    QCOMPARE(c.highestReceived(), uint64_t(3));
    QCOMPARE(c.pendingMessageCount(), 1);
    QCOMPARE(c.read(10), QByteArray("abc"));
    QVERIFY(!c.atEnd());
    QCOMPARE(c.insert(3, "", false, true, 3), R::Ok);
    QVERIFY(c.atEnd());
}

void TestRecvBuffer::zeroCopyInOrderRead()
{
    RecvBuffer b;
    const QByteArray pkt(1200, 'p');
    b.insert(0, pkt, false, false, 10000);
    const QByteArray r = b.read(1200);
    QCOMPARE(r.constData(), pkt.constData());
    b.insert(1200, pkt, false, false, 10000);
    const QByteArray half = b.read(600);
    QCOMPARE(half.constData(), pkt.constData());
    QCOMPARE(b.read(600).constData(), pkt.constData() + 600);
}

void TestRecvBuffer::clearDiscards()
{
    RecvBuffer b;
    b.insert(0, "abc", true, false, 100);
    b.insert(10, "xyz", false, false, 100);
    b.clear();
    QCOMPARE(b.bufferedBytes(), 0);
    QCOMPARE(b.bytesAvailable(), 0);
    QVERIFY(!b.hasMessage());
    QCOMPARE(b.highestReceived(), uint64_t(13));
    QCOMPARE(b.insert(3, "defg", false, false, 100), R::Duplicate);
    QCOMPARE(b.bufferedBytes(), 0);
    QCOMPARE(b.insert(0, "abc", false, true, 100), R::FinalSizeViolation); // still validated
    QCOMPARE(b.insert(13, "", false, true, 100), R::Ok);
    QCOMPARE(b.finalSize(), std::optional<uint64_t>(13));
}

// Random overlapping, out-of-order segments with message ends, interleaved with reads, against a
// simple model (covered bytes, known boundaries): exercises the in-order run and the out-of-order
// map together, and their hand-over.
void TestRecvBuffer::randomAgainstModel()
{
    for (quint32 seed = 1; seed <= 40; ++seed) {
        std::mt19937 rng(seed);
        const int total = 4000;
        std::set<uint64_t> ends; // message ends of the stream
        for (int i = 0; i < 60; ++i)
            ends.insert(uint64_t(1 + rng() % total));
        ends.insert(total);
        RecvBuffer rb;
        std::vector<bool> covered(total, false);
        std::set<uint64_t> known; // boundaries learnt and not yet read past
        uint64_t readOff = 0;
        auto contiguous = [&] {
            uint64_t c = readOff;
            while (c < uint64_t(total) && covered[c])
                ++c;
            return c;
        };
        auto insert = [&](uint64_t off, int len) {
            // A segment ends a message exactly when its end is a message end (as the sender does).
            const bool eom = ends.count(off + uint64_t(len)) > 0;
            QVERIFY(rb.insert(off, textAt(off, len), eom, false, 1 << 20) != R::FlowControlViolation);
            for (int k = 0; k < len; ++k)
                covered[off + uint64_t(k)] = true;
            if (eom && off + uint64_t(len) > readOff)
                known.insert(off + uint64_t(len));
        };
        for (int step = 0; step < 400; ++step) {
            const int op = int(rng() % 4);
            if (op < 2) {
                // Mostly near the contiguous end (in-order or slightly ahead), sometimes anywhere.
                const uint64_t base = rng() % 3 == 0 ? uint64_t(rng() % total) : contiguous();
                const uint64_t off = std::min<uint64_t>(base + (rng() % 2 ? 0 : rng() % 300), total - 1);
                // Cut at the next message end so eom segments exist.
                auto e = ends.upper_bound(off);
                const uint64_t maxLen = std::min<uint64_t>(*e - off, 1 + rng() % 200);
                insert(off, int(maxLen));
            } else if (op == 2) {
                const qint64 want = qint64(rng() % 300);
                QByteArray got;
                if (rng() % 2) {
                    got = rb.read(want);
                } else { // straight into caller memory
                    QByteArray buf(want + 8, '#');
                    const qint64 n = rb.read(buf.data(), want);
                    QVERIFY(n >= 0 && n <= want);
                    QVERIFY(buf.sliced(n).count('#') == buf.size() - n); // nothing written past n
                    got = buf.first(n);
                }
                QCOMPARE(got, textAt(readOff, int(got.size())));
                readOff += uint64_t(got.size());
                while (!known.empty() && *known.begin() <= readOff)
                    known.erase(known.begin());
            } else {
                const QByteArray got = rb.readMessage();
                QCOMPARE(got, textAt(readOff, int(got.size())));
                if (!got.isEmpty()) {
                    readOff += uint64_t(got.size());
                    QCOMPARE(*known.begin(), readOff);
                    known.erase(known.begin());
                }
            }
            const uint64_t c = contiguous();
            QCOMPARE(rb.bytesAvailable(), qint64(c - readOff));
            QCOMPARE(rb.receivedContiguous(), c);
            int complete = 0;
            for (uint64_t b : known)
                complete += b <= c ? 1 : 0;
            QCOMPARE(rb.pendingMessageCount(), complete);
            QCOMPARE(rb.nextMessageSize(), complete ? qint64(*known.begin() - readOff) : qint64(-1));
        }
        // Deliver the rest in order and read it all.
        for (uint64_t off = 0; off < uint64_t(total); off += 100)
            insert(off, int(std::min<uint64_t>(100, total - off)));
        const QByteArray rest = rb.read(total);
        QCOMPARE(rest, textAt(readOff, int(total - readOff)));
        QCOMPARE(rb.bufferedBytes(), qint64(0));
    }
}

// A reader that keeps up with the sender but never empties the in-order run: the segments taken
// from its front are dropped now and then (not kept until it drains), and order is kept.
void TestRecvBuffer::longRunNeverDrained()
{
    RecvBuffer rb;
    uint64_t in = 0, out = 0;
    const int seg = 10;
    for (int step = 0; step < 1000; ++step) {
        for (int k = 0; k < 2 && in < 15000; ++k, in += seg)
            QCOMPARE(rb.insert(in, textAt(in, seg), false, false, 1 << 20), R::Ok);
        QByteArray got;
        if (step % 2) {
            got = rb.read(seg);
        } else {
            got = QByteArray(seg, Qt::Uninitialized);
            QCOMPARE(rb.read(got.data(), seg), qint64(seg));
        }
        QCOMPARE(got, textAt(out, seg));
        out += seg;
        QCOMPARE(rb.segmentCount(), int((in - out) / seg));
        QCOMPARE(rb.bytesAvailable(), qint64(in - out));
    }
    const QByteArray rest = rb.read(qint64(in - out));
    QCOMPARE(rest, textAt(out, int(in - out)));
    QCOMPARE(rb.segmentCount(), 0);
    QCOMPARE(rb.bytesAvailable(), qint64(0));
}

QTEST_APPLESS_MAIN(TestRecvBuffer)
#include "tst_recvbuffer.moc"
