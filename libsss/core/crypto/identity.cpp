#include "identity.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <sodium.h>

namespace sss::core::crypto {

bool StaticIdentity::initFromSecret(const uint8_t sk[64])
{
    std::memcpy(sk_.data(), sk, 64);
    std::memcpy(pk_.data(), sk + 32, 32);
    if (crypto_sign_ed25519_pk_to_curve25519(xpk_.data(), pk_.data()) != 0
        || crypto_sign_ed25519_sk_to_curve25519(xsk_.data(), sk_.data()) != 0) {
        sk_.wipe();
        xsk_.wipe();
        return false;
    }
    valid_ = true;
    return true;
}

StaticIdentity StaticIdentity::generate()
{
    ensureInitialized();
    StaticIdentity id;
    unsigned char pk[32];
    Secret<64> sk;
    // A random key converts with overwhelming probability; loop just in case.
    do {
        crypto_sign_keypair(pk, sk.data());
    } while (!id.initFromSecret(sk.data()));
    return id;
}

std::optional<StaticIdentity> StaticIdentity::fromSecretKey(const QByteArray &secret)
{
    ensureInitialized();
    if (secret.size() != kEd25519SecretSize)
        return std::nullopt;
    const auto *in = reinterpret_cast<const unsigned char *>(secret.constData());
    unsigned char pk[32];
    Secret<64> sk;
    crypto_sign_seed_keypair(pk, sk.data(), in); // the first 32 bytes are the seed
    if (sodium_memcmp(sk.data(), in, 64) != 0)
        return std::nullopt; // public half does not belong to the seed
    StaticIdentity id;
    if (!id.initFromSecret(sk.data()))
        return std::nullopt;
    return id;
}

StaticIdentity StaticIdentity::fromSeed(const QByteArray &seed)
{
    ensureInitialized();
    StaticIdentity id;
    if (seed.size() != kSeedSize)
        return id;
    unsigned char pk[32];
    Secret<64> sk;
    crypto_sign_seed_keypair(pk, sk.data(), reinterpret_cast<const unsigned char *>(seed.constData()));
    id.initFromSecret(sk.data());
    return id;
}

QByteArray StaticIdentity::publicKey() const
{
    return valid_ ? QByteArray(reinterpret_cast<const char *>(pk_.data()), 32) : QByteArray();
}
QByteArray StaticIdentity::secretKey() const
{
    return valid_ ? sk_.toByteArray() : QByteArray();
}
QByteArray StaticIdentity::x25519Public() const
{
    return valid_ ? QByteArray(reinterpret_cast<const char *>(xpk_.data()), 32) : QByteArray();
}
QByteArray StaticIdentity::x25519Secret() const
{
    return valid_ ? xsk_.toByteArray() : QByteArray();
}

QByteArray StaticIdentity::sign(const QByteArray &msg) const
{
    if (!valid_)
        return {};
    QByteArray sig(kSignatureSize, '\0');
    crypto_sign_detached(reinterpret_cast<unsigned char *>(sig.data()), nullptr,
                         reinterpret_cast<const unsigned char *>(msg.constData()), size_t(msg.size()),
                         sk_.data());
    return sig;
}

bool StaticIdentity::verify(const QByteArray &publicKey, const QByteArray &msg, const QByteArray &sig)
{
    ensureInitialized();
    if (publicKey.size() != kPeerIdSize || sig.size() != kSignatureSize)
        return false;
    return crypto_sign_verify_detached(reinterpret_cast<const unsigned char *>(sig.constData()),
                                       reinterpret_cast<const unsigned char *>(msg.constData()),
                                       size_t(msg.size()),
                                       reinterpret_cast<const unsigned char *>(publicKey.constData()))
        == 0;
}

namespace {
// Converting (and validating) an Ed25519 public key costs ~110 us here, about two X25519
// operations, and every handshake needs the peer's: a client connecting to the same server again,
// or a server seeing a returning client, would redo it. The conversion is a pure function of
// public data, so the last results are kept process-wide (Hosts may live on different threads).
struct X25519Cache {
    static constexpr int kSize = 64;
    std::mutex lock;
    std::array<std::array<uint8_t, 64>, kSize> entries {}; // Ed25519 key | X25519 key
    int used = 0, next = 0;
};
X25519Cache &x25519Cache()
{
    static X25519Cache cache;
    return cache;
}
} // namespace

bool peerIdToX25519(const uint8_t *pk32, uint8_t *out32)
{
    X25519Cache &c = x25519Cache();
    {
        std::lock_guard<std::mutex> guard(c.lock);
        for (int i = 0; i < c.used; ++i) {
            if (std::memcmp(c.entries[size_t(i)].data(), pk32, 32) == 0) {
                std::memcpy(out32, c.entries[size_t(i)].data() + 32, 32);
                return true;
            }
        }
    }
    ensureInitialized();
    // libsodium rejects small-order and non-canonical points and points outside the main subgroup.
    if (crypto_sign_ed25519_pk_to_curve25519(out32, pk32) != 0)
        return false; // invalid keys are not cached: they stay rejected by libsodium every time
    std::lock_guard<std::mutex> guard(c.lock);
    std::array<uint8_t, 64> &e = c.entries[size_t(c.next)];
    std::memcpy(e.data(), pk32, 32);
    std::memcpy(e.data() + 32, out32, 32);
    c.next = (c.next + 1) % X25519Cache::kSize;
    c.used = std::min(c.used + 1, X25519Cache::kSize);
    return true;
}

bool isValidPeerId(const QByteArray &pk32)
{
    if (pk32.size() != kPeerIdSize)
        return false;
    uint8_t x[32];
    return peerIdToX25519(reinterpret_cast<const uint8_t *>(pk32.constData()), x);
}

} // namespace sss::core::crypto
