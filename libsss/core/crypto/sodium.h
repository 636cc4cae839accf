// libsodium glue shared by the crypto module: one-time initialisation, wiping, injectable randomness.
#pragma once

#include <QByteArray>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace sss::core::crypto {

// Calls sodium_init() exactly once (thread-safe); every entry point of this module calls it.
void ensureInitialized();

// Fills `out` with `len` random bytes. Production code uses randombytes_buf; tests inject a
// deterministic generator so that vectors are reproducible.
using RandomSource = std::function<void(uint8_t *out, size_t len)>;
RandomSource systemRandom();

// Zeroes a QByteArray's bytes if this is the only reference to them, then clears it. A shared
// QByteArray is only released: wiping would destroy the other owner's copy.
void secureWipe(QByteArray &b);

// Fixed-size secret that zeroes itself when destroyed or overwritten. Copyable on purpose: the
// handshake states are values so that a failed parse can be discarded without side effects.
template<size_t N> class Secret
{
public:
    Secret() { bytes_.fill(0); }
    Secret(const Secret &o) = default;
    Secret &operator=(const Secret &o) = default;
    ~Secret() { wipe(); }

    uint8_t *data() { return bytes_.data(); }
    const uint8_t *data() const { return bytes_.data(); }
    static constexpr size_t size() { return N; }
    QByteArray toByteArray() const { return QByteArray(reinterpret_cast<const char *>(bytes_.data()), N); }
    bool assign(const QByteArray &b)
    {
        if (size_t(b.size()) != N)
            return false;
        std::copy(b.begin(), b.end(), reinterpret_cast<char *>(bytes_.data()));
        return true;
    }
    void wipe();

private:
    std::array<uint8_t, N> bytes_;
};

void wipeBytes(void *p, size_t n);

template<size_t N> void Secret<N>::wipe()
{
    wipeBytes(bytes_.data(), N);
}

} // namespace sss::core::crypto
