// Fuzz target for the frame decoder (wire/frames.h): arbitrary plaintext as a packet payload. Besides
// "no crash", it checks the decoder's contract: every decoded slice lies inside the input, a payload is
// accepted by forEachFrame exactly when frame-by-frame parsing consumes it all, and re-encoding an
// accepted ACK frame gives back the same ranges.
#include "wire/frames.h"

#include <cstdio>
#include <cstdlib>

using namespace sss::core;
using namespace sss::core::wire;

namespace {
void check(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz_frames: invariant violated: %s\n", what);
        std::abort();
    }
}

bool inside(const char *p, qsizetype n, const char *base, qsizetype size)
{
    return n >= 0 && (n == 0 || (p >= base && p + n <= base + size));
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // Own copy: reads beyond it are caught by ASan.
    const QByteArray in(reinterpret_cast<const char *>(data), qsizetype(size));
    const char *base = in.constData();
    Reader r(in);
    Frame f;
    bool all = true;
    int frames = 0;
    while (!r.atEnd()) {
        if (!parseFrame(r, f)) {
            all = false;
            break;
        }
        check(r.ok(), "parseFrame succeeded with a failed reader");
        switch (f.type) {
        case FrameType::Stream:
            check(f.stream.id != 0, "stream id 0 accepted");
            check(inside(f.stream.data, f.stream.length, base, in.size()), "stream data outside input");
            check(f.stream.offset + quint64(f.stream.length) <= kVarintMax, "stream end beyond 2^62");
            break;
        case FrameType::Datagram:
            check(inside(f.datagram.data, f.datagram.length, base, in.size()), "datagram data outside input");
            check(f.datagram.offset + quint64(f.datagram.length) <= f.datagram.totalSize,
                  "datagram beyond total");
            break;
        case FrameType::Ack: {
            check(!f.ack.ranges.isEmpty(), "empty ack accepted");
            check(f.ack.ranges.rangeCount() <= 256, "too many ack ranges");
            QByteArray again;
            Writer w(again);
            writeAck(w, f.ack.ranges.toRangeSet(), f.ack.ackDelayMicros, 256);
            Reader r2(again);
            Frame g;
            check(parseFrame(r2, g) && r2.atEnd() && g.ack.ranges == f.ack.ranges, "ack re-encoding differs");
            break;
        }
        default:
            break;
        }
        if (f.type != FrameType::Padding)
            ++frames;
    }
    int visited = 0;
    const bool accepted = forEachFrame(base, in.size(), [&](const Frame &) { ++visited; });
    check(accepted == all, "forEachFrame disagrees with parseFrame");
    check(!accepted || visited == frames, "forEachFrame visited a different number of frames");
    return 0;
}
