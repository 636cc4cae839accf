// sss-bench-icount: a deterministic bulk transfer through two in-process Endpoints (see
// micro/corepair.h), meant to run under callgrind (tests/bench/callgrind.sh). Fixed seeds, virtual
// time and Endpoint::setRandomSource make the instruction count repeatable; running it for two sizes
// and subtracting cancels start-up and the handshake, leaving the per-byte cost of the core.
//   sss-bench-icount [--mb N] [--cipher chacha|aes] [--seed S]
#include "corepair.h"
#include "crypto/aead.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char **argv)
{
    qint64 mb = 10;
    quint64 seed = 1;
    auto cipher = sss::bench::PairCipher::ChaCha;
    for (int i = 1; i < argc; ++i) {
        const bool hasValue = i + 1 < argc;
        if (!std::strcmp(argv[i], "--mb") && hasValue) {
            mb = std::atoll(argv[++i]);
        } else if (!std::strcmp(argv[i], "--seed") && hasValue) {
            seed = std::strtoull(argv[++i], nullptr, 10);
        } else if (!std::strcmp(argv[i], "--cipher") && hasValue) {
            const char *c = argv[++i];
            if (!std::strcmp(c, "aes"))
                cipher = sss::bench::PairCipher::Aes;
            else if (std::strcmp(c, "chacha") != 0) {
                std::fprintf(stderr, "unknown cipher %s (chacha|aes)\n", c);
                return 2;
            }
        } else {
            std::fprintf(stderr, "usage: %s [--mb N] [--cipher chacha|aes] [--seed S]\n", argv[0]);
            return 2;
        }
    }
    if (mb <= 0) {
        std::fprintf(stderr, "--mb must be positive\n");
        return 2;
    }
    if (cipher == sss::bench::PairCipher::Aes && !sss::core::crypto::aes256GcmAvailable()) {
        std::fprintf(stderr, "AES-256-GCM unavailable on this CPU\n");
        return 3;
    }
    sss::bench::CorePair pair(cipher, seed);
    const qint64 bytes = mb * 1024 * 1024;
    if (!pair.transfer(bytes)) {
        std::fprintf(stderr, "transfer failed after %lld bytes\n", static_cast<long long>(pair.received()));
        return 1;
    }
    std::printf("transferred %lld bytes in %llu packets, virtual time %.3f s\n",
                static_cast<long long>(bytes), static_cast<unsigned long long>(pair.packets()),
                std::chrono::duration<double>(pair.now().time_since_epoch()).count() - 1.0);
    return 0;
}
