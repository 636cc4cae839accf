// Property test: a SendBuffer and a RecvBuffer (with flow control) connected by a lossy,
// reordering, duplicating "network"; bytes and message boundaries must arrive exactly.
#include "streams/flowcontrol.h"
#include "streams/recvbuffer.h"
#include "streams/sendbuffer.h"

#include <QRandomGenerator>
#include <QTest>
#include <set>
#include <vector>

using namespace sss::core;

namespace {

struct Op {
    QByteArray data;
    bool endOfMessage;
};

struct Packet {
    SendBuffer::Chunk chunk;
    bool duplicate; // extra copy made by the network: its fate is never reported
};

enum class ReadMode { Messages, Bytes, Mixed };

struct Outcome {
    QByteArray bytes;
    QList<QByteArray> messages;
    QString failure;
};

} // namespace

class TestTransfer : public QObject
{
    Q_OBJECT
private slots:
    void randomized_data();
    void randomized();
};

void TestTransfer::randomized_data()
{
    QTest::addColumn<int>("firstSeed");
    QTest::addColumn<int>("seeds");
    QTest::addColumn<int>("lossPercent");
    QTest::addColumn<int>("dupPercent");
    QTest::addColumn<int>("ackLossPercent");
    QTest::newRow("clean") << 1000 << 40 << 0 << 0 << 0;
    QTest::newRow("loss 10%") << 2000 << 80 << 10 << 0 << 0;
    QTest::newRow("loss 30% dup 10% ackloss 10%") << 3000 << 80 << 30 << 10 << 10;
    QTest::newRow("heavy loss 60%") << 4000 << 30 << 60 << 5 << 20;
}

void TestTransfer::randomized()
{
    QFETCH(int, firstSeed);
    QFETCH(int, seeds);
    QFETCH(int, lossPercent);
    QFETCH(int, dupPercent);
    QFETCH(int, ackLossPercent);

    // Coverage counters, so that a row that stops exercising its feature fails.
    quint64 chunks = 0, retransmissions = 0, markers = 0, duplicates = 0, maxWindow = 0;
    for (int seed = firstSeed; seed < firstSeed + seeds; ++seed) {
        QRandomGenerator rng {uint32_t(seed)};
        auto chance = [&](int percent) { return int(rng.bounded(100)) < percent; };
        const ReadMode mode = ReadMode(seed % 3);

        // The application's writes: messages made of 1..3 appends, sometimes ended by an empty
        // append later (after the bytes may have been sent), sometimes plain bytes.
        std::vector<Op> script;
        QByteArray expected;
        std::set<uint64_t> boundaries;
        const int messages = 1 + int(rng.bounded(40));
        for (int m = 0; m < messages; ++m) {
            const int parts = 1 + int(rng.bounded(3));
            const bool isMessage = !chance(15);
            const bool lateEnd = chance(25);
            for (int p = 0; p < parts; ++p) {
                QByteArray d(qsizetype(rng.bounded(chance(10) ? 20000 : 3000)), Qt::Uninitialized);
                for (char &c : d)
                    c = char(rng.bounded(256));
                expected += d;
                const bool last = p == parts - 1;
                script.push_back({d, isMessage && last && !lateEnd});
            }
            if (isMessage && lateEnd)
                script.push_back({QByteArray(), true});
            if (isMessage && !expected.isEmpty())
                boundaries.insert(uint64_t(expected.size()));
        }
        QList<QByteArray> expectedMessages;
        {
            uint64_t prev = 0;
            for (uint64_t b : boundaries) {
                expectedMessages << expected.mid(qsizetype(prev), qsizetype(b - prev));
                prev = b;
            }
        }

        SendBuffer snd;
        RecvBuffer rcv;
        // A reader of whole messages needs a window of at least the largest message, or nothing
        // is ever readable and the credit never grows: give that mode a large one.
        const uint64_t initialWindow
            = mode == ReadMode::Messages ? (uint64_t(1) << 24) : 1024 + rng.bounded(16384);
        ReceiveWindow window(initialWindow, 256 * 1024);
        SendCredit credit(window.limit());
        std::vector<Packet> network;
        Outcome out;
        Instant now {};
        size_t nextOp = 0;
        bool finished = false;
        int steps = 0;

        auto fail = [&](const QString &why) {
            if (out.failure.isEmpty())
                out.failure = QStringLiteral("seed %1 step %2: %3").arg(seed).arg(steps).arg(why);
        };

        while (out.failure.isEmpty()) {
            if (++steps > 400000) {
                fail(QStringLiteral("no progress (written %1 acked %2 read %3)")
                         .arg(snd.writtenBytes())
                         .arg(snd.ackedPrefix())
                         .arg(rcv.readOffset()));
                break;
            }
            now += 1ms;
            // Application writes.
            if (nextOp < script.size() && chance(40)) {
                snd.append(script[nextOp].data, script[nextOp].endOfMessage);
                ++nextOp;
            } else if (nextOp == script.size() && !finished) {
                snd.finish();
                finished = true;
            }
            // Sender emits a few chunks.
            for (int k = int(rng.bounded(4)); k > 0; --k) {
                auto c = snd.nextChunk(qsizetype(1 + rng.bounded(1500)), credit.limit());
                if (!c)
                    break;
                if (!c->retransmission && c->offset + uint64_t(c->data.size()) > credit.limit())
                    fail(QStringLiteral("chunk beyond flow limit"));
                if (c->data.size() > 1500)
                    fail(QStringLiteral("chunk too large"));
                network.push_back({*c, false});
                ++chunks;
                retransmissions += c->retransmission;
                markers += c->data.isEmpty() && c->messageEnd;
                if (chance(dupPercent)) {
                    network.push_back({*c, true});
                    ++duplicates;
                }
            }
            // Network delivers or drops one random packet (reordering).
            if (!network.empty() && chance(70)) {
                const size_t i = rng.bounded(uint32_t(network.size()));
                const Packet p = network[i];
                network[i] = network.back();
                network.pop_back();
                const auto &c = p.chunk;
                const uint64_t len = uint64_t(c.data.size());
                if (!p.duplicate && chance(lossPercent)) {
                    snd.onLost(c.offset, len, c.fin);
                } else {
                    const auto r = rcv.insert(c.offset, c.data, c.messageEnd, c.fin, window.limit());
                    if (r != RecvBuffer::Result::Ok && r != RecvBuffer::Result::Duplicate)
                        fail(QStringLiteral("insert rejected at %1+%2: %3")
                                 .arg(c.offset)
                                 .arg(len)
                                 .arg(int(r)));
                    if (!p.duplicate) {
                        if (chance(ackLossPercent))
                            snd.onLost(c.offset, len, c.fin); // spurious: the ack was lost
                        else
                            snd.onAcked(c.offset, len, c.fin);
                    }
                }
            }
            // Receiving application.
            if (chance(50)) {
                switch (mode) {
                case ReadMode::Messages:
                    while (rcv.hasMessage())
                        out.messages << rcv.readMessage();
                    break;
                case ReadMode::Bytes:
                    out.bytes += rcv.read(qint64(rng.bounded(5000)));
                    break;
                case ReadMode::Mixed:
                    if (chance(50) && rcv.hasMessage())
                        out.bytes += rcv.readMessage();
                    else
                        out.bytes += rcv.read(qint64(rng.bounded(3000)));
                    break;
                }
            }
            // A reported message must be the true next one (a boundary may legitimately still be
            // unknown to the receiver: not yet appended, or its chunk not yet delivered).
            if (rcv.hasMessage()) {
                auto b = boundaries.upper_bound(rcv.readOffset());
                if (b == boundaries.end() || *b > rcv.receivedContiguous())
                    fail(QStringLiteral("false message at read offset %1").arg(rcv.readOffset()));
                else if (rcv.nextMessageSize() != qint64(*b - rcv.readOffset()))
                    fail(QStringLiteral("wrong next message size"));
            }
            if (mode == ReadMode::Messages && !rcv.hasMessage() && rcv.finReceived()
                && rcv.receivedContiguous() == *rcv.finalSize())
                out.bytes += rcv.read(rcv.bytesAvailable()); // trailing bytes after the last message
            window.onConsumed(rcv.readOffset(), now, 20ms);
            if (auto l = window.pollUpdate(now, 20ms))
                credit.raise(*l);

            if (finished && snd.allAcked() && rcv.atEnd() && network.empty())
                break;
        }
        if (!out.failure.isEmpty())
            QFAIL(qPrintable(out.failure));

        if (mode == ReadMode::Messages) {
            if (out.messages != expectedMessages)
                QFAIL(qPrintable(QStringLiteral("seed %1: %2 messages, expected %3")
                                     .arg(seed)
                                     .arg(out.messages.size())
                                     .arg(expectedMessages.size())));
            QByteArray all = out.messages.isEmpty() ? QByteArray() : out.messages.join();
            all += out.bytes;
            out.bytes = all;
        }
        if (out.bytes != expected)
            QFAIL(qPrintable(QStringLiteral("seed %1: byte stream differs (%2 vs %3 bytes)")
                                 .arg(seed)
                                 .arg(out.bytes.size())
                                 .arg(expected.size())));
        QCOMPARE(snd.heldBytes(), 0);
        QCOMPARE(snd.inFlightBytes(), 0);
        QCOMPARE(snd.queuedBytes(), 0);
        QCOMPARE(rcv.bufferedBytes(), 0);
        QVERIFY(window.windowSize() <= window.maxWindow());
        if (mode != ReadMode::Messages)
            maxWindow = std::max<quint64>(maxWindow, window.windowSize());
    }
    qInfo("%llu chunks, %llu retransmitted, %llu message-end markers, %llu duplicated, largest window %llu",
          chunks, retransmissions, markers, duplicates, maxWindow);
    QVERIFY(markers > 0);
    QCOMPARE(retransmissions > 0, lossPercent > 0 || ackLossPercent > 0);
    QCOMPARE(duplicates > 0, dupPercent > 0);
    QVERIFY(maxWindow > 16384 + 1024); // auto-tuning happened in the byte-reading modes
}

QTEST_APPLESS_MAIN(TestTransfer)
#include "tst_transfer.moc"
