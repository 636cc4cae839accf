// Unit tests of the wire codec (common/buffer.h, wire/frames.h), RangeSet and packet-number
// reconstruction. Malformed input must be rejected, never crash and never yield a partial frame.
#include "channel/channel.h"
#include "common/buffer.h"
#include "common/rangeset.h"
#include "common/spareblocks.h"
#include "wire/frames.h"

#include <QTest>
#include <climits>
#include <cstring>
#include <random>
#include <set>
#include <vector>

using namespace sss::core;
using namespace sss::core::wire;

Q_DECLARE_METATYPE(FrameType)

class tst_Wire : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void varintBoundaries_data();
    void varintBoundaries();
    void varintTruncated();
    void varintSequences();
    void readerBounds();
    void frameRoundTrip_data();
    void frameRoundTrip();
    void streamFrameRoundTrip_data();
    void streamFrameRoundTrip();
    void datagramFrameRoundTrip();
    void ackRangesRoundTrip();
    void ackKeepsHighestRanges();
    void ackRangesLookup();
    void zigzagRoundTrip();
    void truncationsRejected();
    void paddingRunIsOneFrame();
    void unknownFrameTypes_data();
    void unknownFrameTypes();
    void malformedFields_data();
    void malformedFields();
    void parseFramesKeepsFirstFrames();
    void randomBytesNeverCrash();
    void rangeSetTable_data();
    void rangeSetTable();
    void rangeSetRandomized();
    void packetNumbers_data();
    void packetNumbers();
    void packetNumbersRoundTrip();
    void spareBlocksDeque();
};

namespace {
QByteArray hex(const char *h)
{
    return QByteArray::fromHex(h);
}

// Parses exactly one frame that must fill the whole buffer.
bool parseOne(const QByteArray &b, Frame &f)
{
    Reader r(b);
    return parseFrame(r, f) && r.atEnd();
}
constexpr quint64 kMax = kVarintMax; // quint64 spelling for QTest data columns
} // namespace

// ---- varints -------------------------------------------------------------------------------------

void tst_Wire::varintBoundaries_data()
{
    QTest::addColumn<quint64>("value");
    QTest::addColumn<int>("size");
    QTest::addColumn<QByteArray>("encoding");
    QTest::newRow("0") << quint64(0) << 1 << hex("00");
    QTest::newRow("63") << quint64(63) << 1 << hex("3f");
    QTest::newRow("64") << quint64(64) << 2 << hex("4040");
    QTest::newRow("16383") << quint64(16383) << 2 << hex("7fff");
    QTest::newRow("16384") << quint64(16384) << 4 << hex("80004000");
    QTest::newRow("2^30-1") << quint64((1u << 30) - 1) << 4 << hex("bfffffff");
    QTest::newRow("2^30") << (quint64(1) << 30) << 8 << hex("c000000040000000");
    QTest::newRow("2^62-1") << kMax << 8 << hex("ffffffffffffffff");
    QTest::newRow("rfc9000 151288809941952652")
        << quint64(151288809941952652ull) << 8 << hex("c2197c5eff14e88c");
    QTest::newRow("rfc9000 494878333") << quint64(494878333) << 4 << hex("9d7f3e7d");
    QTest::newRow("rfc9000 15293") << quint64(15293) << 2 << hex("7bbd");
    QTest::newRow("rfc9000 37") << quint64(37) << 1 << hex("25");
}

void tst_Wire::varintBoundaries()
{
    QFETCH(quint64, value);
    QFETCH(int, size);
    QFETCH(QByteArray, encoding);
    QCOMPARE(varintSize(value), size);
    QByteArray out;
    Writer w(out);
    w.varint(value);
    QCOMPARE(out, encoding);
    Reader r(out);
    QCOMPARE(quint64(r.varint()), value);
    QVERIFY(r.ok());
    QVERIFY(r.atEnd());
}

void tst_Wire::varintTruncated()
{
    // Every strict prefix of a multi-byte varint fails and poisons the reader.
    for (const QByteArray &enc : {hex("4040"), hex("80004000"), hex("c000000040000000")}) {
        for (int n = 0; n < enc.size(); ++n) {
            Reader r(enc.constData(), n);
            QCOMPARE(quint64(r.varint()), quint64(0));
            QVERIFY(!r.ok());
            QCOMPARE(r.u8(), uint8_t(0)); // later reads fail too
            QVERIFY(!r.ok());
        }
    }
}

// Mixed lengths back to back at every alignment, as in frames: each decodes to what was written.
void tst_Wire::varintSequences()
{
    std::mt19937_64 rng(77);
    for (int lead = 0; lead < 8; ++lead) {
        QByteArray out(lead, '\x5a');
        Writer w(out);
        std::vector<quint64> values;
        for (int i = 0; i < 400; ++i) {
            const int bits = int(rng() % 63); // 0..62: all four lengths, boundaries included
            const quint64 v
                = bits == 0 ? 0 : (rng() >> (64 - bits)) | (rng() % 4 ? 0 : (quint64(1) << (bits - 1)));
            values.push_back(std::min(v, kMax));
            w.varint(values.back());
        }
        Reader r(out.constData() + lead, out.size() - lead);
        for (quint64 v : values)
            QCOMPARE(quint64(r.varint()), v);
        QVERIFY(r.ok());
        QVERIFY(r.atEnd());
    }
}

void tst_Wire::readerBounds()
{
    const QByteArray b = hex("0102030405060708090a");
    {
        Reader r(b);
        QCOMPARE(r.u8(), uint8_t(1));
        QCOMPARE(r.u16(), uint16_t(0x0203));
        QCOMPARE(r.u32(), uint32_t(0x04050607));
        QCOMPARE(r.remaining(), qsizetype(3));
        QCOMPARE(r.u64(), uint64_t(0)); // only 3 left
        QVERIFY(!r.ok());
        QVERIFY(r.atEnd());
        QCOMPARE(r.remaining(), qsizetype(0));
    }
    {
        Reader r(b);
        QVERIFY(r.bytes(-1) == nullptr);
        // A negative length is a failed read too: a decoder that checks ok() once at the end must see it.
        QVERIFY(!r.ok());
    }
    {
        Reader r(b);
        QVERIFY(r.bytes(10) != nullptr);
        QVERIFY(r.atEnd());
        QVERIFY(r.ok());
        QVERIFY(r.bytes(0) != nullptr); // zero bytes at the end is fine
        QVERIFY(r.bytes(1) == nullptr);
        QVERIFY(!r.ok());
    }
    {
        Reader r(b);
        char out[16] = {};
        QVERIFY(!r.copy(out, 11));
        QCOMPARE(out[0], char(0)); // nothing copied on failure
        QVERIFY(r.byteArray(1).isEmpty());
    }
    {
        Reader r; // default reader is empty
        QVERIFY(r.atEnd());
        QCOMPARE(r.varint(), uint64_t(0));
        QVERIFY(!r.ok());
    }
}

// ---- frames --------------------------------------------------------------------------------------

void tst_Wire::frameRoundTrip_data()
{
    QTest::addColumn<FrameType>("type");
    QTest::addColumn<quint64>("a");
    QTest::addColumn<quint64>("b");
    QTest::addColumn<quint64>("c");
    const quint64 big = kVarintMax;
    QTest::newRow("ping") << FrameType::Ping << quint64(0) << quint64(0) << quint64(0);
    QTest::newRow("padding") << FrameType::Padding << quint64(0) << quint64(0) << quint64(0);
    QTest::newRow("max-data") << FrameType::MaxData << quint64(1) << quint64(0) << quint64(0);
    QTest::newRow("max-data-big") << FrameType::MaxData << big << quint64(0) << quint64(0);
    QTest::newRow("max-streams") << FrameType::MaxStreams << quint64(4096) << quint64(0) << quint64(0);
    QTest::newRow("accept") << FrameType::Accept << quint64(17) << quint64(0) << quint64(0);
    QTest::newRow("stop-sending") << FrameType::StopSending << quint64(5) << quint64(11) << quint64(0);
    QTest::newRow("max-stream-data") << FrameType::MaxStreamData << big << big << quint64(0);
    QTest::newRow("reset") << FrameType::ResetStream << quint64(9) << quint64(2) << quint64(123456789);
    QTest::newRow("priority+") << FrameType::Priority << quint64(3) << quint64(INT_MAX) << quint64(7);
    QTest::newRow("priority-") << FrameType::Priority << quint64(3) << quint64(qint64(INT_MIN)) << quint64(0);
    QTest::newRow("path-challenge") << FrameType::PathChallenge << quint64(0xfedcba9876543210ull)
                                    << quint64(0) << quint64(0);
    QTest::newRow("path-response") << FrameType::PathResponse << ~quint64(0) << quint64(0) << quint64(0);
    QTest::newRow("close") << FrameType::Close << quint64(7) << quint64(0) << quint64(0);
}

void tst_Wire::frameRoundTrip()
{
    QFETCH(FrameType, type);
    QFETCH(quint64, a);
    QFETCH(quint64, b);
    QFETCH(quint64, c);
    QByteArray out;
    Writer w(out);
    const QString reason = QStringLiteral("bye \u00e9t\u00e9");
    switch (type) {
    case FrameType::Padding:
        w.u8(0);
        break;
    case FrameType::Ping:
        w.varint(quint64(FrameType::Ping));
        break;
    case FrameType::MaxData:
    case FrameType::MaxStreams:
    case FrameType::Accept:
        writeSimple(w, type, a);
        break;
    case FrameType::StopSending:
    case FrameType::MaxStreamData:
        writeSimple2(w, type, a, b);
        break;
    case FrameType::ResetStream:
        writeReset(w, a, b, c);
        break;
    case FrameType::Priority:
        writePriority(w, a, qint64(b), c);
        break;
    case FrameType::PathChallenge:
    case FrameType::PathResponse:
        writePath(w, type, a);
        break;
    case FrameType::Close:
        writeClose(w, a, reason);
        break;
    default:
        QFAIL("unexpected type");
    }
    Frame f;
    QVERIFY(parseOne(out, f));
    QCOMPARE(f.type, type);
    switch (type) {
    case FrameType::MaxData:
    case FrameType::MaxStreams:
    case FrameType::Accept:
    case FrameType::PathChallenge:
    case FrameType::PathResponse:
        QCOMPARE(f.a, a);
        break;
    case FrameType::StopSending:
    case FrameType::MaxStreamData:
        QCOMPARE(f.a, a);
        QCOMPARE(f.b, b);
        break;
    case FrameType::ResetStream:
        QCOMPARE(f.a, a);
        QCOMPARE(f.b, b);
        QCOMPARE(f.c, c);
        break;
    case FrameType::Priority:
        QCOMPARE(f.a, a);
        QCOMPARE(f.priority, qint64(b));
        QCOMPARE(f.b, c);
        break;
    case FrameType::Close:
        QCOMPARE(f.close.code, a);
        QCOMPARE(f.close.reason, reason);
        break;
    default:
        break;
    }
    QCOMPARE(isAckEliciting(type), type != FrameType::Padding && type != FrameType::Close);
}

void tst_Wire::streamFrameRoundTrip_data()
{
    QTest::addColumn<quint64>("id");
    QTest::addColumn<quint64>("offset");
    QTest::addColumn<int>("length");
    QTest::addColumn<bool>("fin");
    QTest::addColumn<bool>("msgEnd");
    QTest::addColumn<int>("open"); // 0 none, 1 top level, 2 substream
    QTest::newRow("plain") << quint64(1) << quint64(0) << 100 << false << false << 0;
    QTest::newRow("empty-fin") << quint64(2) << quint64(5000) << 0 << true << false << 0;
    QTest::newRow("msg-end") << quint64(63) << quint64(64) << 1 << false << true << 0;
    QTest::newRow("fin+msg") << quint64(64) << quint64(16383) << 1000 << true << true << 0;
    QTest::newRow("open-top") << quint64(1) << quint64(0) << 10 << false << false << 1;
    QTest::newRow("open-sub") << quint64(99999) << quint64(0) << 0 << true << true << 2;
    QTest::newRow("big-offset") << kMax << kMax - 10 << 10 << false << false << 0;
}

void tst_Wire::streamFrameRoundTrip()
{
    QFETCH(quint64, id);
    QFETCH(quint64, offset);
    QFETCH(int, length);
    QFETCH(bool, fin);
    QFETCH(bool, msgEnd);
    QFETCH(int, open);
    OpenInfo info;
    if (open == 1) {
        info.priority = -42;
        info.service = QStringLiteral("media");
        info.protocol = QStringLiteral("video/1 \u2713");
    } else if (open == 2) {
        info.parent = 7;
        info.priority = 1000000;
        info.kind = StreamKind::Datagram;
    }
    QByteArray data(length, '\0');
    for (int i = 0; i < length; ++i)
        data[i] = char(i * 7 + 3);
    QByteArray out;
    Writer w(out);
    writeStreamHeader(w, id, offset, length, fin, msgEnd, open ? &info : nullptr);
    QCOMPARE(out.size(), streamHeaderSize(id, offset, length, open ? &info : nullptr));
    w.bytes(data);
    Frame f;
    QVERIFY(parseOne(out, f));
    QCOMPARE(f.type, FrameType::Stream);
    QCOMPARE(f.stream.id, id);
    QCOMPARE(f.stream.offset, offset);
    QCOMPARE(f.stream.fin, fin);
    QCOMPARE(f.stream.messageEnd, msgEnd);
    QCOMPARE(QByteArray(f.stream.data, f.stream.length), data);
    QCOMPARE(f.stream.open.has_value(), open != 0);
    if (open) {
        QCOMPARE(f.stream.open->parent, info.parent);
        QCOMPARE(f.stream.open->priority, info.priority);
        QCOMPARE(f.stream.open->kind, info.kind);
        QCOMPARE(f.stream.open->service, info.service);
        QCOMPARE(f.stream.open->protocol, info.protocol);
    }
    // writeStreamFrame (header + room, one grow) produces the same bytes.
    QByteArray whole("x"); // not at offset 0 of the packet
    Writer wf(whole);
    char *room = writeStreamFrame(wf, id, offset, length, fin, msgEnd, open ? &info : nullptr);
    QCOMPARE(room, whole.constData() + whole.size() - length);
    if (length)
        std::memcpy(room, data.constData(), size_t(length));
    QCOMPARE(whole.mid(1), out);
    // A reused Frame must not keep stale open info from a previous frame.
    QByteArray plain;
    Writer w2(plain);
    writeStreamHeader(w2, 5, 0, 0, false, false, nullptr);
    Reader r(plain);
    QVERIFY(parseFrame(r, f));
    QVERIFY(!f.stream.open.has_value());
}

void tst_Wire::datagramFrameRoundTrip()
{
    struct Row {
        quint64 stream, id, total, offset;
        int len;
    };
    const Row rows[] = {{1, 0, 1, 0, 1},
                        {7, 9, 100000, 99000, 1000},
                        {kVarintMax, kVarintMax, 5, 0, 5},
                        {3, 1, 1 << 20, 0, 0}};
    for (const Row &row : rows) {
        QByteArray out;
        Writer w(out);
        writeDatagramHeader(w, row.stream, row.id, row.total, row.offset, row.len);
        QCOMPARE(out.size(), datagramHeaderSize(row.stream, row.id, row.total, row.offset, row.len));
        out.append(QByteArray(row.len, 'd'));
        Frame f;
        QVERIFY(parseOne(out, f));
        QCOMPARE(f.type, FrameType::Datagram);
        QCOMPARE(f.datagram.stream, row.stream);
        QCOMPARE(f.datagram.id, row.id);
        QCOMPARE(f.datagram.totalSize, row.total);
        QCOMPARE(f.datagram.offset, row.offset);
        QCOMPARE(QByteArray(f.datagram.data, f.datagram.length), QByteArray(row.len, 'd'));
    }
}

void tst_Wire::ackRangesRoundTrip()
{
    std::mt19937_64 rng(12345);
    for (int iter = 0; iter < 2000; ++iter) {
        RangeSet s;
        const int n = 1 + int(rng() % 32);
        // Values near 0, in the middle and near the varint limit.
        const quint64 base = iter % 3 == 0 ? 0
            : iter % 3 == 1                ? quint64(rng() % (1ull << 40))
                                           : kVarintMax - 1000000;
        for (int i = 0; i < n; ++i) {
            const quint64 lo = base + rng() % 100000;
            s.insert(lo, lo + 1 + rng() % 50);
        }
        const quint64 delay = rng() % 100000;
        QByteArray out;
        Writer w(out);
        writeAck(w, s, delay, 32);
        Frame f;
        QVERIFY(parseOne(out, f));
        QCOMPARE(f.type, FrameType::Ack);
        QCOMPARE(f.ack.ackDelayMicros, delay);
        if (!(f.ack.ranges.toRangeSet() == s))
            QFAIL(qPrintable(QStringLiteral("iteration %1: ranges differ").arg(iter)));
    }
}

void tst_Wire::ackKeepsHighestRanges()
{
    RangeSet s;
    for (quint64 i = 0; i < 50; ++i)
        s.insert(i * 10, i * 10 + 3);
    QByteArray out;
    Writer w(out);
    writeAck(w, s, 0, 32);
    Frame f;
    QVERIFY(parseOne(out, f));
    RangeSet expect = s;
    expect.keepHighest(32);
    QVERIFY(f.ack.ranges.toRangeSet() == expect);
    QCOMPARE(*f.ack.ranges.max(), quint64(492));
}

// A decoded ACK's flat ranges answer min/max/contains like the RangeSet they were encoded from.
void tst_Wire::ackRangesLookup()
{
    RangeSet s;
    s.insert(2, 5);
    s.insert(10, 11);
    s.insert(20, 40);
    QByteArray out;
    Writer w(out);
    writeAck(w, s, 0, 32);
    Frame f;
    QVERIFY(parseOne(out, f));
    QCOMPARE(f.ack.ranges.rangeCount(), 3);
    QCOMPARE(*f.ack.ranges.min(), quint64(2));
    QCOMPARE(*f.ack.ranges.max(), quint64(39));
    for (quint64 v = 0; v < 45; ++v)
        QCOMPARE(f.ack.ranges.contains(v), s.contains(v));
    QVERIFY(f.ack.ranges.toRangeSet() == s);
    quint64 last = 0;
    for (const auto &[first, end] : f.ack.ranges) { // ascending
        QVERIFY(first >= last && end > first);
        last = end;
    }
}

void tst_Wire::zigzagRoundTrip()
{
    const qint64 values[] = {0, 1, -1, 2, -2, INT_MAX, INT_MIN, LLONG_MAX, LLONG_MIN};
    const quint64 expect[] = {0, 2, 1, 4, 3};
    for (int i = 0; i < 5; ++i)
        QCOMPARE(zigzag(values[i]), expect[i]);
    for (qint64 v : values)
        QCOMPARE(unzigzag(zigzag(v)), v);
}

namespace {
// One of every frame kind, back to back; returns the offsets where frames end.
QByteArray allFrames(std::vector<qsizetype> &ends, int &nonPadding)
{
    QByteArray out;
    Writer w(out);
    nonPadding = 0;
    auto mark = [&](bool padding = false) {
        ends.push_back(out.size());
        if (!padding)
            ++nonPadding;
    };
    w.varint(quint64(FrameType::Ping));
    mark();
    RangeSet acks;
    acks.insert(0, 3);
    acks.insert(10, 20);
    acks.insert(100000, 100001);
    writeAck(w, acks, 250);
    mark();
    writeClose(w, 3, QStringLiteral("reason"));
    mark();
    writeSimple(w, FrameType::MaxData, 1 << 20);
    mark();
    writeSimple(w, FrameType::MaxStreams, 100);
    mark();
    writeReset(w, 4, 2, 9999);
    mark();
    writeSimple2(w, FrameType::StopSending, 4, 1);
    mark();
    writeSimple2(w, FrameType::MaxStreamData, 8, 70000);
    mark();
    writePriority(w, 8, -5, 2);
    mark();
    writeSimple(w, FrameType::Accept, 1);
    mark();
    writeDatagramHeader(w, 12, 3, 10, 4, 6);
    w.bytes("abcdef", 6);
    mark();
    writePath(w, FrameType::PathChallenge, 0x1122334455667788ull);
    mark();
    writePath(w, FrameType::PathResponse, 0x8877665544332211ull);
    mark();
    OpenInfo top;
    top.service = QStringLiteral("svc");
    top.protocol = QStringLiteral("p");
    writeStreamHeader(w, 1, 0, 5, false, true, &top);
    w.bytes("hello", 5);
    mark();
    OpenInfo sub;
    sub.parent = 1;
    writeStreamHeader(w, 3, 0, 0, true, false, &sub);
    mark();
    writeStreamHeader(w, 1, 5, 3, true, false, nullptr);
    w.bytes("xyz", 3);
    mark();
    w.u8(0);
    mark(true);
    w.u8(0);
    mark(true);
    return out;
}
} // namespace

void tst_Wire::paddingRunIsOneFrame()
{
    // A path MTU probe: PING and ~1,400 padding bytes. The padding is one frame, so the packet
    // takes the one-parse path; a frame after the run is still found.
    QByteArray probe;
    Writer w(probe);
    w.varint(quint64(FrameType::Ping));
    w.zeros(1400);
    Frame kept[4], scratch;
    QCOMPARE(parseFrames(probe.constData(), probe.size(), kept, 4, scratch), 2);
    QCOMPARE(kept[0].type, FrameType::Ping);
    QCOMPARE(kept[1].type, FrameType::Padding);
    QByteArray mixed(7, '\0');
    Writer m(mixed);
    m.varint(quint64(FrameType::Ping));
    m.zeros(3);
    QCOMPARE(parseFrames(mixed.constData(), mixed.size(), kept, 4, scratch), 3); // pad, PING, pad
    QCOMPARE(kept[0].type, FrameType::Padding);
    QCOMPARE(kept[1].type, FrameType::Ping);
    QCOMPARE(kept[2].type, FrameType::Padding);
    int n = 0;
    forEachFrame(probe.constData(), probe.size(), [&](const Frame &) { ++n; });
    QCOMPARE(n, 1); // (forEachFrame skips padding)
}

void tst_Wire::truncationsRejected()
{
    std::vector<qsizetype> ends;
    int total = 0;
    const QByteArray all = allFrames(ends, total);
    int seen = 0;
    QVERIFY(forEachFrame(all.constData(), all.size(), [&](const Frame &) { ++seen; }));
    QCOMPARE(seen, total);
    // A cut is accepted exactly at a frame boundary (and then yields exactly the frames before it);
    // a cut inside a frame rejects the whole payload.
    for (qsizetype cut = 0; cut <= all.size(); ++cut) {
        QByteArray copy = all.left(cut); // own allocation so ASan sees reads past the cut
        int frames = 0;
        const bool ok = forEachFrame(copy.constData(), copy.size(), [&](const Frame &) { ++frames; });
        const auto it = std::find(ends.begin(), ends.end(), cut);
        const bool boundary = cut == 0 || it != ends.end();
        QVERIFY2(ok == boundary, qPrintable(QStringLiteral("cut at %1").arg(cut)));
        if (ok) {
            int expect = 0;
            for (size_t i = 0; i < ends.size() && ends[i] <= cut; ++i)
                expect += i + 2 < ends.size() ? 1 : 0; // last two are padding
            QCOMPARE(frames, expect);
        }
    }
}

void tst_Wire::unknownFrameTypes_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::newRow("0x0e") << hex("0e");
    QTest::newRow("0x0f") << hex("0f00");
    QTest::newRow("0x18") << hex("18010000");
    QTest::newRow("0x3f") << hex("3f");
    QTest::newRow("0x40 two-byte") << hex("4040");
    QTest::newRow("0x1234") << hex("5234");
    QTest::newRow("8-byte huge") << hex("ffffffffffffffff");
    QTest::newRow("after a valid ping") << hex("01"
                                               "0e");
}

void tst_Wire::unknownFrameTypes()
{
    QFETCH(QByteArray, bytes);
    int calls = 0;
    QVERIFY(!forEachFrame(bytes.constData(), bytes.size(), [&](const Frame &) { ++calls; }));
    QVERIFY(calls <= 1); // the valid ping before it may have been visited; nothing after
}

void tst_Wire::malformedFields_data()
{
    QTest::addColumn<QByteArray>("bytes");
    // ACK: largest 5, delay 0, count-1 0, first range 6 (> largest)
    QTest::newRow("ack first > largest") << hex("02 05 00 00 06");
    // ACK with 257 ranges
    QTest::newRow("ack too many ranges") << hex("02 45dc 00 4100 00");
    // ACK: largest 5, 2 ranges, first 0 -> lo 5; gap 4 -> needs lo >= 6
    QTest::newRow("ack gap underflow") << hex("02 05 00 01 00 04 00");
    // ACK: largest 10, first 0 -> lo 10; gap 0 -> hi 8; len 9 > 8
    QTest::newRow("ack range underflow") << hex("02 0a 00 01 00 00 09");
    QTest::newRow("stream id 0") << hex("10 00 00 01 41");
    QTest::newRow("stream len > remaining") << hex("10 01 00 05 4142");
    QTest::newRow("stream offset+len > 2^62-1") << hex("10 01 ffffffffffffffff 01 41");
    QTest::newRow("stream open bad kind") << hex("14 01 00 00 01 00 02");
    QTest::newRow("stream open service too long") << hex("14 01 00 00 00 00 00 4401");
    QTest::newRow("close reason too long") << hex("03 00 4401") + QByteArray(1025, 'x');
    QTest::newRow("stop-sending stream 0") << hex("07 00 00");
    QTest::newRow("max-stream-data stream 0") << hex("08 00 05");
    QTest::newRow("reset stream 0") << hex("06 00 00 00");
    QTest::newRow("priority stream 0") << hex("09 00 00 00");
    QTest::newRow("priority > INT_MAX") << hex("09 01 c000000100000000 00");
    QTest::newRow("datagram total 0") << hex("0b 01 00 00 00 00");
    QTest::newRow("datagram beyond total") << hex("0b 01 00 02 01 02 4142");
    QTest::newRow("datagram len > remaining") << hex("0b 01 00 05 00 05 41");
    QTest::newRow("path challenge short") << hex("0c 01020304050607");
}

void tst_Wire::parseFramesKeepsFirstFrames()
{
    // What Channel::handlePacket relies on: one validating parse leaves the first frames ready to
    // apply, counts the rest, and a malformed frame anywhere rejects the whole payload.
    QByteArray p;
    Writer w(p);
    RangeSet acked;
    acked.insert(3, 8);
    writeAck(w, acked, 25, 32);
    OpenInfo open;
    open.parent = 4;
    writeStreamHeader(w, 6, 0, 1, true, false, &open);
    w.u8('q');
    w.varint(quint64(FrameType::Ping));
    w.varint(quint64(FrameType::Ping));
    Frame kept[4];
    Frame scratch;
    QCOMPARE(parseFrames(p.constData(), p.size(), kept, 2, scratch), 4);
    QCOMPARE(kept[0].type, FrameType::Ack);
    QVERIFY(kept[0].ack.ranges.toRangeSet() == acked);
    QCOMPARE(kept[0].ack.ackDelayMicros, quint64(25));
    QCOMPARE(kept[1].type, FrameType::Stream);
    QCOMPARE(kept[1].stream.id, quint64(6));
    QVERIFY(kept[1].stream.fin);
    QVERIFY(kept[1].stream.open && kept[1].stream.open->parent == 4);
    QCOMPARE(QByteArray(kept[1].stream.data, kept[1].stream.length), QByteArray("q"));
    QCOMPARE(scratch.type, FrameType::Ping);
    QCOMPARE(parseFrames(p.constData(), p.size(), kept, 4, scratch), 4);
    QCOMPARE(kept[3].type, FrameType::Ping);
    // A bad frame after good ones, or a truncated last frame: nothing is usable.
    QByteArray bad = p;
    bad.append(char(0x3f));
    QCOMPARE(parseFrames(bad.constData(), bad.size(), kept, 2, scratch), -1);
    QCOMPARE(parseFrames(p.constData(), p.size() - 3, kept, 4, scratch), -1);
    QCOMPARE(parseFrames(p.constData(), 0, kept, 2, scratch), 0);
}

void tst_Wire::malformedFields()
{
    QFETCH(QByteArray, bytes);
    int calls = 0;
    QVERIFY(!forEachFrame(bytes.constData(), bytes.size(), [&](const Frame &) { ++calls; }));
    QCOMPARE(calls, 0);
}

void tst_Wire::randomBytesNeverCrash()
{
    // Random payloads and random mutations of a valid payload: parse must terminate without
    // touching memory outside the buffer (run under ASan for the full guarantee) and a successful
    // parse must consume exactly the buffer.
    std::mt19937_64 rng(777);
    std::vector<qsizetype> ends;
    int n = 0;
    const QByteArray valid = allFrames(ends, n);
    for (int i = 0; i < 20000; ++i) {
        QByteArray b;
        if (i % 2) {
            b.resize(qsizetype(rng() % 64));
            for (char &c : b)
                c = char(rng());
        } else {
            b = valid;
            for (int k = 0, m = 1 + int(rng() % 4); k < m; ++k)
                b[qsizetype(rng() % b.size())] = char(rng());
        }
        Reader r(b);
        Frame f;
        while (!r.atEnd() && parseFrame(r, f)) {
            QVERIFY(r.ok());
            if (f.type == FrameType::Stream) {
                QVERIFY(f.stream.length >= 0);
                QVERIFY(f.stream.data >= b.constData()
                        && f.stream.data + f.stream.length <= b.constData() + b.size());
            }
        }
    }
}

// ---- RangeSet ------------------------------------------------------------------------------------

void tst_Wire::rangeSetTable_data()
{
    QTest::addColumn<QString>("ops"); // "+a-b" insert [a,b), "-a-b" remove [a,b), "<v" removeBelow
    QTest::addColumn<QString>("expect");
    QTest::addColumn<quint64>("lastAdded");
    QTest::newRow("single") << "+1-5"
                            << "1-5" << quint64(4);
    QTest::newRow("empty insert") << "+5-5"
                                  << "" << quint64(0);
    QTest::newRow("adjacent merge") << "+1-5 +5-9"
                                    << "1-9" << quint64(4);
    QTest::newRow("adjacent below") << "+5-9 +1-5"
                                    << "1-9" << quint64(4);
    QTest::newRow("gap kept") << "+1-5 +6-9"
                              << "1-5 6-9" << quint64(3);
    QTest::newRow("bridge") << "+1-3 +6-9 +2-7"
                            << "1-9" << quint64(3);
    QTest::newRow("cover many") << "+1-2 +3-4 +5-6 +0-10"
                                << "0-10" << quint64(7);
    QTest::newRow("contained") << "+0-10 +3-4"
                               << "0-10" << quint64(0);
    QTest::newRow("remove middle") << "+0-10 -3-5"
                                   << "0-3 5-10" << quint64(10);
    QTest::newRow("remove edge") << "+0-10 -0-3"
                                 << "3-10" << quint64(10);
    QTest::newRow("remove across") << "+0-3 +5-8 +10-12 -2-11"
                                   << "0-2 11-12" << quint64(2);
    QTest::newRow("remove all") << "+0-3 +5-8 -0-100"
                                << "" << quint64(3);
    QTest::newRow("removeBelow") << "+0-3 +5-8 <6"
                                 << "6-8" << quint64(3);
    QTest::newRow("tail overlap") << "+1-5 +3-9"
                                  << "1-9" << quint64(4);
    QTest::newRow("tail contained") << "+1-5 +7-9 +7-8"
                                    << "1-5 7-9" << quint64(0);
    QTest::newRow("tail touch") << "+1-5 +7-9 +9-10"
                                << "1-5 7-10" << quint64(1);
    QTest::newRow("huge") << "+18446744073709551000-18446744073709551615"
                          << "18446744073709551000-18446744073709551615" << quint64(615);
}

void tst_Wire::rangeSetTable()
{
    QFETCH(QString, ops);
    QFETCH(QString, expect);
    QFETCH(quint64, lastAdded);
    RangeSet s;
    quint64 added = 0;
    for (const QString &op : ops.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
        const QStringList ab = op.mid(1).split(QLatin1Char('-'));
        if (op[0] == QLatin1Char('+'))
            added = s.insert(ab[0].toULongLong(), ab[1].toULongLong());
        else if (op[0] == QLatin1Char('-'))
            s.remove(ab[0].toULongLong(), ab[1].toULongLong());
        else
            s.removeBelow(ab[0].toULongLong());
    }
    QStringList got;
    for (const auto &[a, b] : s)
        got << QStringLiteral("%1-%2").arg(a).arg(b);
    QCOMPARE(got.join(QLatin1Char(' ')), expect);
    QCOMPARE(added, lastAdded);
}

void tst_Wire::rangeSetRandomized()
{
    std::mt19937_64 rng(4242);
    constexpr quint64 kSpan = 300;
    for (int round = 0; round < 200; ++round) {
        RangeSet s;
        std::set<quint64> model;
        for (int step = 0; step < 200; ++step) {
            // A third of the operations near the highest value: the in-order fast paths.
            const quint64 top = model.empty() ? 0 : *model.rbegin();
            const quint64 a = rng() % 3 ? rng() % kSpan : top - std::min<quint64>(top, rng() % 8) + rng() % 4;
            const quint64 b = a + rng() % 40;
            const int op = int(rng() % 10);
            if (op < 6) {
                quint64 fresh = 0;
                for (quint64 v = a; v < b; ++v)
                    fresh += model.insert(v).second;
                QCOMPARE(s.insert(a, b), fresh);
            } else if (op < 9) {
                for (quint64 v = a; v < b; ++v)
                    model.erase(v);
                s.remove(a, b);
            } else if (rng() % 2) {
                model.erase(model.begin(), model.lower_bound(a));
                s.removeBelow(a);
            } else {
                // keepHighest(k) on the model: drop whole lowest runs.
                const int k = int(rng() % 4);
                std::vector<std::pair<quint64, quint64>> runs;
                for (quint64 v : model) {
                    if (!runs.empty() && runs.back().second == v)
                        ++runs.back().second;
                    else
                        runs.push_back({v, v + 1});
                }
                for (size_t i = 0; i + size_t(k) < runs.size(); ++i)
                    for (quint64 v = runs[i].first; v < runs[i].second; ++v)
                        model.erase(v);
                s.keepHighest(k);
            }
            if (step % 37 == 36) {
                // Copies and moves carry the cached highest range along; a moved-from set is empty.
                RangeSet copy(s);
                RangeSet moved(std::move(copy));
                QVERIFY(copy.isEmpty() && !copy.max() && !copy.contains(top));
                s = RangeSet();
                s = std::move(moved);
                RangeSet assigned;
                assigned = s;
                s = assigned;
            } else if (step % 61 == 60) {
                s.clear();
                model.clear();
            }
            // Invariants: sorted, non-empty, disjoint and non-adjacent ranges.
            quint64 prevEnd = 0;
            bool first = true;
            for (const auto &[lo, hi] : s) {
                QVERIFY(lo < hi);
                QVERIFY(first || lo > prevEnd);
                prevEnd = hi;
                first = false;
            }
            QCOMPARE(s.totalCount(), quint64(model.size()));
            QCOMPARE(s.isEmpty(), model.empty());
            if (!model.empty()) {
                QCOMPARE(*s.min(), *model.begin());
                QCOMPARE(*s.max(), *model.rbegin());
            } else {
                QVERIFY(!s.min() && !s.max());
            }
            for (int q = 0; q < 8; ++q) {
                const quint64 v = rng() % (kSpan + 50), w = v + rng() % 20;
                QCOMPARE(s.contains(v), model.count(v) == 1);
                bool all = true;
                for (quint64 x = v; x < w; ++x)
                    all = all && model.count(x);
                QCOMPARE(s.containsRange(v, w), all);
                quint64 end = v;
                while (model.count(end))
                    ++end;
                QCOMPARE(s.contiguousEnd(v), end);
            }
        }
    }
}

// ---- packet numbers ------------------------------------------------------------------------------

void tst_Wire::packetNumbers_data()
{
    QTest::addColumn<quint64>("largest");
    QTest::addColumn<quint32>("truncated");
    QTest::addColumn<bool>("any");
    QTest::addColumn<quint64>("expect");
    const quint64 w = quint64(1) << 32;
    QTest::newRow("first 0") << quint64(0) << quint32(0) << false << quint64(0);
    QTest::newRow("first 5") << quint64(0) << quint32(5) << false << quint64(5);
    QTest::newRow("next") << quint64(0) << quint32(1) << true << quint64(1);
    QTest::newRow("same") << quint64(100) << quint32(100) << true << quint64(100);
    QTest::newRow("late") << quint64(100) << quint32(3) << true << quint64(3);
    QTest::newRow("wrap up") << quint64(w - 1) << quint32(0) << true << w;
    QTest::newRow("wrap up ahead") << quint64(w - 10) << quint32(20) << true << w + 20;
    QTest::newRow("wrap late") << w + 5 << quint32(0xfffffff0u) << true << w - 16;
    QTest::newRow("second epoch") << 3 * w + 7 << quint32(9) << true << 3 * w + 9;
    QTest::newRow("half window ahead") << quint64(0) << quint32(0x80000000u) << true << quint64(0x80000000u);
    QTest::newRow("just over half behind") << 2 * w << quint32(0x80000002u) << true << w + 0x80000002u;
    QTest::newRow("no underflow near 0")
        << quint64(10) << quint32(0xfffffff0u) << true << quint64(0xfffffff0u);
    QTest::newRow("top of range: no wrap past 2^62")
        << (quint64(1) << 62) - 2 << quint32(0) << true << (quint64(1) << 62) - w;
}

void tst_Wire::packetNumbers()
{
    QFETCH(quint64, largest);
    QFETCH(quint32, truncated);
    QFETCH(bool, any);
    QFETCH(quint64, expect);
    QCOMPARE(reconstructPacketNumber(largest, truncated, any), expect);
}

void tst_Wire::packetNumbersRoundTrip()
{
    // Any pn within half a window of largest+1 is recovered exactly from its low 32 bits.
    std::mt19937_64 rng(99);
    for (int i = 0; i < 100000; ++i) {
        const quint64 largest = rng() % (quint64(1) << 50);
        const qint64 delta = qint64(rng() % (quint64(1) << 32)) - (qint64(1) << 31) + 1; // (-2^31, 2^31]
        const qint64 pnSigned = qint64(largest) + 1 + delta;
        if (pnSigned < 0)
            continue;
        const quint64 pn = quint64(pnSigned);
        const quint64 got = reconstructPacketNumber(largest, quint32(pn), true);
        if (got != pn)
            QFAIL(qPrintable(QStringLiteral("largest=%1 pn=%2 got=%3").arg(largest).arg(pn).arg(got)));
    }
}

// A deque over SpareBlocks (as Channel keeps its SentPacket records) behaves as a plain deque, reuses
// its freed nodes instead of allocating, and trim() returns them.
void tst_Wire::spareBlocksDeque()
{
    struct Rec {
        quint64 pn;
        char pad[120];
    };
    SpareBlocks blocks;
    {
        std::deque<Rec, SpareBlockAllocator<Rec>> q {SpareBlockAllocator<Rec>(blocks)};
        std::deque<quint64> model;
        std::mt19937_64 rng(7);
        quint64 next = 0;
        for (int round = 0; round < 2000; ++round) {
            const int push = int(rng() % 200), pop = int(rng() % 200);
            for (int i = 0; i < push; ++i) {
                q.push_back(Rec {next, {}});
                model.push_back(next++);
            }
            for (int i = 0; i < pop && !model.empty(); ++i) {
                QCOMPARE(q.front().pn, model.front());
                q.pop_front();
                model.pop_front();
            }
            QCOMPARE(q.size(), model.size());
            if (!model.empty())
                QCOMPARE(q.back().pn, model.back());
            if (round % 100 == 99 && q.empty())
                blocks.trim(1);
        }
        const size_t before = blocks.count();
        q.clear();
        QVERIFY(blocks.count() >= before); // clear()'s nodes are kept, not freed
        blocks.trim(1);
        QCOMPARE(blocks.count(), size_t(1));
        q.push_back(Rec {1, {}}); // (any node of q's own, from the one kept or new)
        QCOMPARE(q.front().pn, quint64(1));
    }
    QVERIFY(blocks.count() >= 1); // the deque's last node came back
    blocks.trim(0);
    QCOMPARE(blocks.count(), size_t(0));
}

QTEST_APPLESS_MAIN(tst_Wire)
#include "tst_wire.moc"
