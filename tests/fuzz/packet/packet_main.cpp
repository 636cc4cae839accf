// Stand-alone driver (no libFuzzer) for fuzz_packet: random bytes, short headers with the live cid, and
// mutated, truncated and replayed copies of real packets captured while the fixture connected.
// Deterministic seed; pass a number to change it. Also runs files given on the command line.
#include "../common/fuzzdriver.h"

#include <QByteArray>
#include <QList>
#include <QRandomGenerator>
#include <cstdint>
#include <cstdio>

QList<QByteArray> sssFuzzPacketCorpus();
quint64 sssFuzzPacketDrops();

namespace {
void run(quint8 mode, const QByteArray &b)
{
    const QByteArray in = QByteArray(1, char(mode)) + b;
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(in.constData()), size_t(in.size()));
}
} // namespace

int main(int argc, char **argv)
{
    const quint32 seed = sss::fuzz::replayArgumentsAndGetSeed(argc, argv);
    const QList<QByteArray> corpus = sssFuzzPacketCorpus();
    if (corpus.isEmpty()) {
        std::fprintf(stderr, "fuzz_packet: no packets captured\n");
        return 1;
    }
    QRandomGenerator rng(seed);
    int runs = 0;
    for (const QByteArray &c : corpus) { // exact replays (mode 0: as captured), from A and from elsewhere
        run(0, c), ++runs;
        run(2, c), ++runs;
        for (int n = 0; n < c.size(); n += 1 + n / 4) // truncations
            run(0, c.left(n)), ++runs;
    }
    for (int i = 0; i < 20000; ++i, ++runs) {
        const QByteArray &c = corpus[rng.bounded(int(corpus.size()))];
        QByteArray b;
        quint8 mode = quint8(rng.bounded(256)) & ~1;
        switch (i % 4) {
        case 0: // random bytes
            b.resize(rng.bounded(1400));
            for (auto &ch : b)
                ch = char(rng.bounded(256));
            mode = quint8(rng.bounded(256));
            break;
        case 1: // short header with the live cid + random packet number and ciphertext
            b.resize(4 + rng.bounded(1300));
            for (auto &ch : b)
                ch = char(rng.bounded(256));
            mode |= 1;
            break;
        case 2: // bit flips in a real packet
            b = c;
            for (int j = 0, m = 1 + rng.bounded(4); j < m && !b.isEmpty(); ++j)
                b[rng.bounded(b.size())] ^= char(1 << rng.bounded(8));
            break;
        default: // real packet with a changed length
            b = c;
            if (rng.bounded(2))
                b.append(QByteArray(rng.bounded(64), char(rng.bounded(256))));
            else
                b.chop(rng.bounded(b.size() + 1));
        }
        run(mode, b);
    }
    const quint64 drops = sssFuzzPacketDrops();
    std::printf(
        "fuzz_packet: %d inputs (%lld captured packets), %llu dropped by the channel, seed %u, no crash, "
        "no state change\n",
        runs, static_cast<long long>(corpus.size()), static_cast<unsigned long long>(drops), seed);
    if (drops < 1000) { // the short-header modes must reach the channel's authentication check
        std::fprintf(stderr, "fuzz_packet: too few inputs reached the channel\n");
        return 1;
    }
    return 0;
}
