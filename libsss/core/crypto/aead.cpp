#include "aead.h"

#include "sodium.h"

#include <QtEndian>
#include <cstring>
#include <sodium.h>

namespace sss::core::crypto {

bool isKnownSuite(uint8_t v)
{
    return v == uint8_t(CipherSuite::ChaCha20Poly1305) || v == uint8_t(CipherSuite::Aes256Gcm)
        || v == uint8_t(CipherSuite::Null);
}

bool aes256GcmAvailable()
{
    ensureInitialized();
    return crypto_aead_aes256gcm_is_available() == 1;
}

uint8_t suiteMaskLocal()
{
    return kSuiteBitChaCha | (aes256GcmAvailable() ? kSuiteBitAesGcm : 0);
}

std::optional<CipherSuite> chooseSuite(uint8_t offered, uint8_t supported)
{
    const uint8_t common = offered & supported;
    if (common & kSuiteBitAesGcm)
        return CipherSuite::Aes256Gcm;
    if (common & kSuiteBitChaCha)
        return CipherSuite::ChaCha20Poly1305;
    if (common & kSuiteBitNull)
        return CipherSuite::Null;
    return std::nullopt;
}

void makeNonce(const uint8_t iv[12], uint64_t pn, uint8_t nonce[12])
{
    // The last 8 bytes are XORed with the big-endian packet number: one 64-bit XOR per packet.
    std::memcpy(nonce, iv, 4);
    uint64_t tail;
    std::memcpy(&tail, iv + 4, 8);
    tail ^= qToBigEndian(pn);
    std::memcpy(nonce + 4, &tail, 8);
}

namespace {

class ChaChaProtection final : public PacketProtection
{
public:
    ChaChaProtection(const QByteArray &key, const QByteArray &iv)
    {
        std::memcpy(key_, key.constData(), sizeof key_);
        std::memcpy(iv_, iv.constData(), sizeof iv_);
    }
    ~ChaChaProtection() override
    {
        sodium_memzero(key_, sizeof key_);
        sodium_memzero(iv_, sizeof iv_);
    }
    void seal(uint64_t pn, const uint8_t *ad, size_t adLen, const uint8_t *plain, size_t len,
              uint8_t *out) const override
    {
        uint8_t nonce[12];
        makeNonce(iv_, pn, nonce);
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(out, out + len, nullptr, plain, len, ad, adLen,
                                                           nullptr, nonce, key_);
    }
    bool open(uint64_t pn, const uint8_t *ad, size_t adLen, const uint8_t *cipher, size_t len,
              uint8_t *out) const override
    {
        if (len < size_t(kTagSize))
            return false;
        uint8_t nonce[12];
        makeNonce(iv_, pn, nonce);
        const size_t mlen = len - kTagSize;
        return crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, nullptr, cipher, mlen, cipher + mlen,
                                                                  ad, adLen, nonce, key_)
            == 0;
    }
    CipherSuite suite() const override { return CipherSuite::ChaCha20Poly1305; }

private:
    uint8_t key_[32];
    uint8_t iv_[12];
};

class AesGcmProtection final : public PacketProtection
{
public:
    AesGcmProtection(const QByteArray &key, const QByteArray &iv)
    {
        // Expands the key schedule once, so per-packet calls do no key setup.
        crypto_aead_aes256gcm_beforenm(&state_, reinterpret_cast<const unsigned char *>(key.constData()));
        std::memcpy(iv_, iv.constData(), sizeof iv_);
    }
    ~AesGcmProtection() override
    {
        sodium_memzero(&state_, sizeof state_);
        sodium_memzero(iv_, sizeof iv_);
    }
    void seal(uint64_t pn, const uint8_t *ad, size_t adLen, const uint8_t *plain, size_t len,
              uint8_t *out) const override
    {
        uint8_t nonce[12];
        makeNonce(iv_, pn, nonce);
        crypto_aead_aes256gcm_encrypt_detached_afternm(out, out + len, nullptr, plain, len, ad, adLen,
                                                       nullptr, nonce, &state_);
    }
    bool open(uint64_t pn, const uint8_t *ad, size_t adLen, const uint8_t *cipher, size_t len,
              uint8_t *out) const override
    {
        if (len < size_t(kTagSize))
            return false;
        uint8_t nonce[12];
        makeNonce(iv_, pn, nonce);
        const size_t mlen = len - kTagSize;
        return crypto_aead_aes256gcm_decrypt_detached_afternm(out, nullptr, cipher, mlen, cipher + mlen, ad,
                                                              adLen, nonce, &state_)
            == 0;
    }
    CipherSuite suite() const override { return CipherSuite::Aes256Gcm; }

private:
    alignas(16) crypto_aead_aes256gcm_state state_;
    uint8_t iv_[12];
};

// Identity "encryption" with a cheap 128-bit checksum over key, nonce, AD and plaintext: it catches
// corruption and bugs in tests and lets fuzzers reach the frame decoders, but is NOT secure.
class NullProtection final : public PacketProtection
{
public:
    NullProtection(const QByteArray &key, const QByteArray &iv)
    {
        std::memcpy(key_, key.constData(), sizeof key_);
        std::memcpy(iv_, iv.constData(), sizeof iv_);
    }
    void seal(uint64_t pn, const uint8_t *ad, size_t adLen, const uint8_t *plain, size_t len,
              uint8_t *out) const override
    {
        uint8_t tag[kTagSize];
        checksum(pn, ad, adLen, plain, len, tag);
        if (out != plain)
            std::memmove(out, plain, len);
        std::memcpy(out + len, tag, kTagSize);
    }
    bool open(uint64_t pn, const uint8_t *ad, size_t adLen, const uint8_t *cipher, size_t len,
              uint8_t *out) const override
    {
        if (len < size_t(kTagSize))
            return false;
        const size_t mlen = len - kTagSize;
        uint8_t tag[kTagSize];
        checksum(pn, ad, adLen, cipher, mlen, tag);
        if (std::memcmp(tag, cipher + mlen, kTagSize) != 0)
            return false;
        if (out != cipher)
            std::memmove(out, cipher, mlen);
        return true;
    }
    CipherSuite suite() const override { return CipherSuite::Null; }

private:
    // Two FNV-1a-64 lanes with different seeds; each step is a bijection of the running state, so
    // any single changed byte changes the tag.
    void checksum(uint64_t pn, const uint8_t *ad, size_t adLen, const uint8_t *p, size_t len,
                  uint8_t tag[kTagSize]) const
    {
        uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
        auto feed = [&](const uint8_t *d, size_t n) {
            for (size_t i = 0; i < n; ++i) {
                a = (a ^ d[i]) * 0x100000001b3ull;
                b = (b ^ d[i] ^ 0x5a) * 0x100000001b3ull;
            }
        };
        uint8_t nonce[12];
        makeNonce(iv_, pn, nonce);
        feed(key_, sizeof key_);
        feed(nonce, sizeof nonce);
        const uint8_t sep[8]
            = {uint8_t(adLen >> 56), uint8_t(adLen >> 48), uint8_t(adLen >> 40), uint8_t(adLen >> 32),
               uint8_t(adLen >> 24), uint8_t(adLen >> 16), uint8_t(adLen >> 8),  uint8_t(adLen)};
        feed(sep, sizeof sep); // length-prefix AD so AD/plaintext boundary shifts are detected
        feed(ad, adLen);
        feed(p, len);
        for (int i = 0; i < 8; ++i) {
            tag[i] = uint8_t(a >> (56 - 8 * i));
            tag[8 + i] = uint8_t(b >> (56 - 8 * i));
        }
    }
    uint8_t key_[32];
    uint8_t iv_[12];
};

} // namespace

PacketProtection::~PacketProtection() = default;

std::unique_ptr<PacketProtection> PacketProtection::create(CipherSuite suite, const QByteArray &key32,
                                                           const QByteArray &iv12)
{
    ensureInitialized();
    if (key32.size() != kKeySize || iv12.size() != kIvSize)
        return nullptr;
    switch (suite) {
    case CipherSuite::ChaCha20Poly1305:
        return std::make_unique<ChaChaProtection>(key32, iv12);
    case CipherSuite::Aes256Gcm:
        if (!aes256GcmAvailable())
            return nullptr;
        return std::make_unique<AesGcmProtection>(key32, iv12);
    case CipherSuite::Null:
        return std::make_unique<NullProtection>(key32, iv12);
    }
    return nullptr;
}

QByteArray PacketProtection::sealCopy(uint64_t pn, const QByteArray &ad, const QByteArray &plain) const
{
    QByteArray out(plain.size() + kTagSize, '\0');
    seal(pn, reinterpret_cast<const uint8_t *>(ad.constData()), size_t(ad.size()),
         reinterpret_cast<const uint8_t *>(plain.constData()), size_t(plain.size()),
         reinterpret_cast<uint8_t *>(out.data()));
    return out;
}

std::optional<QByteArray> PacketProtection::openCopy(uint64_t pn, const QByteArray &ad,
                                                     const QByteArray &cipher) const
{
    if (cipher.size() < kTagSize)
        return std::nullopt;
    QByteArray out(cipher.size() - kTagSize, '\0');
    if (!open(pn, reinterpret_cast<const uint8_t *>(ad.constData()), size_t(ad.size()),
              reinterpret_cast<const uint8_t *>(cipher.constData()), size_t(cipher.size()),
              reinterpret_cast<uint8_t *>(out.data())))
        return std::nullopt;
    return out;
}

} // namespace sss::core::crypto
