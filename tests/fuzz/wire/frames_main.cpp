// Stand-alone driver (no libFuzzer): builds a corpus of valid payloads (one of every frame type) and runs
// random, truncated, spliced and mutated variants through LLVMFuzzerTestOneInput. Deterministic seed; pass
// a number to change it. Also runs files given on the command line.
#include "../common/fuzzdriver.h"
#include "wire/frames.h"

#include <QRandomGenerator>
#include <cstdio>

using namespace sss::core;
using namespace sss::core::wire;

namespace {
void run(const QByteArray &b)
{
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(b.constData()), size_t(b.size()));
}

QList<QByteArray> corpus()
{
    QList<QByteArray> out;
    auto add = [&](auto &&fn) {
        QByteArray b;
        Writer w(b);
        fn(w);
        out.append(b);
    };
    add([](Writer &w) { w.varint(quint64(FrameType::Ping)); });
    add([](Writer &w) {
        RangeSet s;
        s.insert(0, 5);
        s.insert(9, 12);
        s.insert(1000, 1001);
        writeAck(w, s, 1234);
    });
    add([](Writer &w) { writeClose(w, 7, QStringLiteral("going away")); });
    add([](Writer &w) { writeSimple(w, FrameType::MaxData, 1 << 20); });
    add([](Writer &w) { writeSimple(w, FrameType::MaxStreams, 64); });
    add([](Writer &w) { writeSimple(w, FrameType::Accept, 1); });
    add([](Writer &w) { writeReset(w, 4, 2, 100); });
    add([](Writer &w) { writeSimple2(w, FrameType::StopSending, 4, 1); });
    add([](Writer &w) { writeSimple2(w, FrameType::MaxStreamData, 4, 65536); });
    add([](Writer &w) { writePriority(w, 4, -3, 1); });
    add([](Writer &w) {
        writeDatagramHeader(w, 4, 1, 10, 2, 5);
        w.bytes("12345", 5);
    });
    add([](Writer &w) { writePath(w, FrameType::PathChallenge, 42); });
    add([](Writer &w) { writePath(w, FrameType::PathResponse, 42); });
    add([](Writer &w) {
        OpenInfo o;
        o.service = QStringLiteral("svc");
        o.protocol = QStringLiteral("proto");
        writeStreamHeader(w, 1, 0, 4, false, true, &o);
        w.bytes("data", 4);
    });
    add([](Writer &w) {
        OpenInfo o;
        o.parent = 1;
        o.kind = StreamKind::Datagram;
        writeStreamHeader(w, 3, 0, 0, true, false, &o);
    });
    add([](Writer &w) {
        writeStreamHeader(w, 1, 4, 3, true, false, nullptr);
        w.bytes("end", 3);
        w.zeros(5);
    });
    QByteArray all;
    for (const QByteArray &b : out)
        all += b;
    out.append(all);
    return out;
}
} // namespace

int main(int argc, char **argv)
{
    const quint32 seed = sss::fuzz::replayArgumentsAndGetSeed(argc, argv);
    const QList<QByteArray> c = corpus();
    QRandomGenerator rng(seed);
    int runs = 0;
    for (const QByteArray &b : c)
        for (int n = 0; n <= b.size(); ++n, ++runs) // every truncation
            run(b.left(n));
    for (int i = 0; i < 50000; ++i, ++runs) {
        const QByteArray &base = c[rng.bounded(int(c.size()))];
        QByteArray b;
        switch (i % 4) {
        case 0: // random bytes, biased to small type values
            b.resize(rng.bounded(64));
            for (auto &ch : b)
                ch = char(rng.bounded(2) ? rng.bounded(0x18) : rng.bounded(256));
            break;
        case 1: // bit flips
            b = base;
            for (int j = 0, m = 1 + rng.bounded(4); j < m && !b.isEmpty(); ++j)
                b[rng.bounded(b.size())] ^= char(1 << rng.bounded(8));
            break;
        case 2: // splice
            b = base.left(rng.bounded(base.size() + 1)) + c[rng.bounded(int(c.size()))].mid(rng.bounded(8));
            break;
        default: // byte replacement with boundary values
            b = base;
            if (!b.isEmpty()) {
                static const char vals[] = {'\x00', '\x3f', '\x40', '\x7f', '\x80', '\xbf', '\xc0', '\xff'};
                b[rng.bounded(b.size())] = vals[rng.bounded(8)];
            }
        }
        run(b);
    }
    std::printf("fuzz_frames: %d inputs, seed %u, no crash, invariants hold\n", runs, seed);
    return 0;
}
