// Long-term identity: an Ed25519 key pair. The PeerId is the 32-byte Ed25519 public key; the
// handshake uses its X25519 image for Diffie-Hellman.
#pragma once

#include "sodium.h"

#include <QByteArray>
#include <optional>

namespace sss::core::crypto {

constexpr int kPeerIdSize = 32;
constexpr int kEd25519SecretSize = 64;
constexpr int kSeedSize = 32;
constexpr int kSignatureSize = 64;

class StaticIdentity
{
public:
    StaticIdentity() = default; // invalid
    static StaticIdentity generate();
    // Validates: 64 bytes, the public half matches the seed, and it converts to X25519.
    static std::optional<StaticIdentity> fromSecretKey(const QByteArray &ed25519Secret64);
    // Deterministic (tests, vectors). An invalid identity if seed32 is not 32 bytes.
    static StaticIdentity fromSeed(const QByteArray &seed32);

    QByteArray publicKey() const; // 32 B Ed25519 = PeerId bytes
    QByteArray secretKey() const; // 64 B Ed25519 (seed || public)
    QByteArray x25519Public() const;
    QByteArray x25519Secret() const;
    const uint8_t *x25519SecretData() const { return xsk_.data(); }
    const uint8_t *x25519PublicData() const { return xpk_.data(); }

    QByteArray sign(const QByteArray &msg) const; // 64 B detached signature; empty if invalid
    static bool verify(const QByteArray &publicKey, const QByteArray &msg, const QByteArray &sig);
    bool isValid() const { return valid_; }

private:
    bool initFromSecret(const uint8_t sk[64]);
    Secret<64> sk_;
    Secret<32> xsk_;
    std::array<uint8_t, 32> pk_ {};
    std::array<uint8_t, 32> xpk_ {};
    bool valid_ = false;
};

// 32 bytes and a valid Ed25519 point of the prime-order subgroup that converts to X25519.
bool isValidPeerId(const QByteArray &pk32);
// X25519 image of a PeerId into out32; false if the PeerId is invalid.
bool peerIdToX25519(const uint8_t *pk32, uint8_t *out32);

} // namespace sss::core::crypto
