// Stand-alone driver (no libFuzzer): builds a corpus from valid handshake packets and runs
// random, truncated and mutated variants through LLVMFuzzerTestOneInput. Deterministic seed;
// pass a number to change it. Also runs files given on the command line.
#include "../common/fuzzdriver.h"
#include "crypto/handshake.h"

#include <QRandomGenerator>
#include <cstdio>
#include <cstdlib>

using namespace sss::core;
using namespace sss::core::crypto;

namespace {
void run(const QByteArray &b)
{
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(b.constData()), size_t(b.size()));
}
} // namespace

int main(int argc, char **argv)
{
    const quint32 seed = sss::fuzz::replayArgumentsAndGetSeed(argc, argv);

    // Valid packets of each type, matching the fixture in fuzz_handshake.cpp.
    const auto ini = StaticIdentity::fromSeed(QByteArray(32, '\x11'));
    const auto res = StaticIdentity::fromSeed(QByteArray(32, '\x22'));
    InitiatorHandshake hs(ini, res.publicKey(), 0x0102030405060708ull, kSuiteBitChaCha, 1, {},
                          QByteArray(32, '\x33'));
    Responder r(res);
    const SocketAddress from {QHostAddress(QStringLiteral("198.51.100.7")), 5000};
    const auto incoming = r.consumeInitiation(hs.initiation());
    if (!incoming) {
        std::fprintf(stderr, "fuzz_handshake: corpus setup failed\n");
        return 1;
    }
    const QByteArray corpus[]
        = {hs.initiation(), r.makeResponse(*incoming, 9, CipherSuite::ChaCha20Poly1305, "hi")->packet,
           r.makeCookieReply(hs.initiation(), from, Instant {})};

    QRandomGenerator rng(seed);
    int runs = 0;
    for (const QByteArray &c : corpus) {
        run(c);
        for (int n = 0; n <= c.size(); n += 1 + n / 8) // truncations
            run(c.left(n)), ++runs;
    }
    for (int i = 0; i < 6000; ++i, ++runs) {
        const QByteArray &c = corpus[rng.bounded(3)];
        QByteArray b;
        switch (i % 4) {
        case 0: // random bytes with a valid-looking prefix
            b.resize(rng.bounded(1500));
            for (auto &ch : b)
                ch = char(rng.bounded(256));
            if (b.size() >= 2) {
                b[0] = char(1 + rng.bounded(3));
                b[1] = 1;
            }
            break;
        case 1: // bit flips
            b = c;
            for (int j = 0, m = 1 + rng.bounded(8); j < m && !b.isEmpty(); ++j)
                b[rng.bounded(b.size())] ^= char(1 << rng.bounded(8));
            break;
        case 2: // splice two corpus entries
            b = c.left(rng.bounded(c.size() + 1)) + corpus[rng.bounded(3)].mid(rng.bounded(60));
            break;
        default: // grow / shrink
            b = c;
            if (rng.bounded(2))
                b.append(QByteArray(rng.bounded(400), char(rng.bounded(256))));
            else
                b.chop(rng.bounded(b.size() + 1));
        }
        run(b);
    }
    std::printf("fuzz_handshake: %d inputs, seed %u, no crash\n", runs, seed);
    return 0;
}
