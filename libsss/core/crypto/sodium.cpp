#include "sodium.h"

#include <cstdlib>
#include <mutex>
#include <sodium.h>

namespace sss::core::crypto {

void ensureInitialized()
{
    static std::once_flag once;
    std::call_once(once, [] {
        // sodium_init returns 1 if already initialised (by another library): that is fine.
        if (sodium_init() < 0)
            std::abort(); // no secure RNG: continuing would be worse than stopping
    });
}

RandomSource systemRandom()
{
    return [](uint8_t *out, size_t len) {
        ensureInitialized();
        randombytes_buf(out, len);
    };
}

void wipeBytes(void *p, size_t n)
{
    sodium_memzero(p, n);
}

void secureWipe(QByteArray &b)
{
    if (b.isDetached() && !b.isEmpty())
        sodium_memzero(b.data(), size_t(b.size()));
    b.clear();
}

} // namespace sss::core::crypto
