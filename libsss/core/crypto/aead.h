// Packet protection (AEAD) for the three cipher suites, and suite negotiation.
#pragma once

#include <QByteArray>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

namespace sss::core::crypto {

enum class CipherSuite : uint8_t { ChaCha20Poly1305 = 1, Aes256Gcm = 2, Null = 0x7f };

// Bits of the "offered suites" mask carried in the handshake.
constexpr uint8_t kSuiteBitChaCha = 0x01;
constexpr uint8_t kSuiteBitAesGcm = 0x02;
constexpr uint8_t kSuiteBitNull = 0x80; // tests/fuzzing only; never in suiteMaskLocal()

constexpr uint8_t suiteBit(CipherSuite s)
{
    return s == CipherSuite::ChaCha20Poly1305 ? kSuiteBitChaCha
        : s == CipherSuite::Aes256Gcm         ? kSuiteBitAesGcm
        : s == CipherSuite::Null              ? kSuiteBitNull
                                              : 0;
}
bool isKnownSuite(uint8_t value);

// AES-256-GCM in libsodium 1.0.18 needs AES-NI + PCLMUL; it is offered only where available.
bool aes256GcmAvailable();
// ChaCha always; AES-256-GCM if available. Null is never included: a test must add kSuiteBitNull.
uint8_t suiteMaskLocal();
// Picks from offered & supported: AES-256-GCM, then ChaCha20-Poly1305, then Null (only if BOTH
// masks carry kSuiteBitNull). nullopt if nothing is common.
std::optional<CipherSuite> chooseSuite(uint8_t offered, uint8_t supported);

// nonce = iv XOR (64-bit packet number, big-endian, right-aligned in 12 bytes), as TLS 1.3 / QUIC.
void makeNonce(const uint8_t iv[12], uint64_t pn, uint8_t nonce[12]);

class PacketProtection
{
public:
    static constexpr int kTagSize = 16;
    static constexpr int kKeySize = 32;
    static constexpr int kIvSize = 12;

    // nullptr if the key/iv sizes are wrong or the suite is unavailable on this CPU.
    static std::unique_ptr<PacketProtection> create(CipherSuite suite, const QByteArray &key32,
                                                    const QByteArray &iv12);
    virtual ~PacketProtection();

    // Encrypts len bytes and appends the tag: out must hold len + kTagSize. out == plain is allowed.
    virtual void seal(uint64_t pn, const uint8_t *ad, size_t adLen, const uint8_t *plain, size_t len,
                      uint8_t *out) const = 0;
    // Verifies then decrypts; out must hold len - kTagSize (out == cipher allowed). Returns false if
    // len < kTagSize or authentication fails; the object never changes, but `out` is then
    // unspecified (libsodium zeroes it), so callers must treat the buffer as garbage.
    virtual bool open(uint64_t pn, const uint8_t *ad, size_t adLen, const uint8_t *cipher, size_t len,
                      uint8_t *out) const = 0;
    virtual CipherSuite suite() const = 0;

    // Convenience wrappers (allocate; for handshake/test code, not the packet fast path).
    QByteArray sealCopy(uint64_t pn, const QByteArray &ad, const QByteArray &plain) const;
    std::optional<QByteArray> openCopy(uint64_t pn, const QByteArray &ad, const QByteArray &cipher) const;

protected:
    PacketProtection() = default;
};

} // namespace sss::core::crypto
