// Fuzz target for the handshake parsers: every input is fed to all four consumers. Built as a
// libFuzzer target under clang (-fsanitize=fuzzer), and as a plain executable elsewhere whose
// main() (fuzz_main.cpp) replays a built-in corpus of random, truncated and mutated packets.
#include "crypto/handshake.h"

#include <cstddef>
#include <cstdint>

using namespace sss::core;
using namespace sss::core::crypto;

namespace {

struct Fixture {
    StaticIdentity initiator = StaticIdentity::fromSeed(QByteArray(32, '\x11'));
    StaticIdentity responderId = StaticIdentity::fromSeed(QByteArray(32, '\x22'));
    Responder responder {responderId};
    SocketAddress from {QHostAddress(QStringLiteral("198.51.100.7")), 5000};
};

Fixture &fixture()
{
    static Fixture f;
    return f;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Fixture &f = fixture();
    const QByteArray in(reinterpret_cast<const char *>(data), qsizetype(size));
    const Instant now = Instant {} + std::chrono::seconds(size % 1000);

    f.responder.checkMacs(in, f.from, size & 1, now);
    f.responder.makeCookieReply(in, f.from, now);
    if (const auto inc = f.responder.consumeInitiation(in))
        f.responder.makeResponse(*inc, 1, CipherSuite::ChaCha20Poly1305, {});

    // A fresh initiator per input, so that one accepted input cannot affect the next.
    InitiatorHandshake hs(f.initiator, f.responderId.publicKey(), 0x0102030405060708ull, kSuiteBitChaCha, 1,
                          {}, QByteArray(32, '\x33'));
    hs.consumeCookieReply(in);
    hs.consumeResponse(in);
    peekCid(in);
    peekResponseReceiverCid(in);
    return 0;
}
