#include "noise.h"

#include "hkdf.h"

#include <cstring>
#include <sodium.h>

namespace sss::core::crypto::noise {

bool dh(uint8_t out[32], const uint8_t secret[32], const uint8_t pub[32])
{
    ensureInitialized();
    return crypto_scalarmult(out, secret, pub) == 0;
}

void dhPublic(uint8_t pub[32], const uint8_t secret[32])
{
    ensureInitialized();
    crypto_scalarmult_base(pub, secret);
}

namespace {

void noiseNonce(uint64_t n, uint8_t nonce[12])
{
    std::memset(nonce, 0, 4);
    for (int i = 0; i < 8; ++i)
        nonce[4 + i] = uint8_t(n >> (8 * i));
}

// Noise HKDF(ck, ikm, 2) == RFC 5869 Extract(salt = ck) then Expand(info = "", 64).
void hkdf2(const uint8_t ck[32], const uint8_t *ikm, size_t len, uint8_t out1[32], uint8_t out2[32])
{
    QByteArray prk = hkdfExtract(QByteArray(reinterpret_cast<const char *>(ck), 32),
                                 QByteArray(reinterpret_cast<const char *>(ikm), qsizetype(len)));
    QByteArray okm = hkdfExpand(prk, {}, 64);
    std::memcpy(out1, okm.constData(), 32);
    std::memcpy(out2, okm.constData() + 32, 32);
    secureWipe(prk);
    secureWipe(okm);
}

} // namespace

QByteArray encryptWithAd(const uint8_t key[32], uint64_t n, const QByteArray &ad, const QByteArray &plain)
{
    ensureInitialized();
    uint8_t nonce[12];
    noiseNonce(n, nonce);
    QByteArray out(plain.size() + kTagLen, '\0');
    unsigned long long clen = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(
        reinterpret_cast<unsigned char *>(out.data()), &clen,
        reinterpret_cast<const unsigned char *>(plain.constData()), size_t(plain.size()),
        reinterpret_cast<const unsigned char *>(ad.constData()), size_t(ad.size()), nullptr, nonce, key);
    return out;
}

std::optional<QByteArray> decryptWithAd(const uint8_t key[32], uint64_t n, const QByteArray &ad,
                                        const QByteArray &cipher)
{
    ensureInitialized();
    if (cipher.size() < kTagLen)
        return std::nullopt;
    uint8_t nonce[12];
    noiseNonce(n, nonce);
    QByteArray out(cipher.size() - kTagLen, '\0');
    unsigned long long mlen = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(
            reinterpret_cast<unsigned char *>(out.data()), &mlen, nullptr,
            reinterpret_cast<const unsigned char *>(cipher.constData()), size_t(cipher.size()),
            reinterpret_cast<const unsigned char *>(ad.constData()), size_t(ad.size()), nonce, key)
        != 0)
        return std::nullopt;
    return out;
}

SymmetricState::SymmetricState()
{
    // The protocol name is exactly HASHLEN (32) bytes, so h = name without hashing.
    static_assert(sizeof(kProtocolName) - 1 == 32);
    std::memcpy(h_.data(), kProtocolName, 32);
    std::memcpy(ck_.data(), kProtocolName, 32);
}

void SymmetricState::mixHash(const uint8_t *data, size_t len)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, h_.data(), 32);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, h_.data());
}

void SymmetricState::mixKey(const uint8_t *ikm, size_t len)
{
    Secret<32> ck, k;
    hkdf2(ck_.data(), ikm, len, ck.data(), k.data());
    ck_ = ck;
    k_ = k; // HASHLEN == 32, so no truncation of temp_k
    n_ = 0;
    hasKey_ = true;
}

QByteArray SymmetricState::encryptAndHash(const QByteArray &plain)
{
    QByteArray c = plain;
    if (hasKey_)
        c = encryptWithAd(k_.data(), n_++, handshakeHash(), plain);
    mixHash(c);
    return c;
}

std::optional<QByteArray> SymmetricState::decryptAndHash(const QByteArray &cipher)
{
    QByteArray p = cipher;
    if (hasKey_) {
        auto r = decryptWithAd(k_.data(), n_, handshakeHash(), cipher);
        if (!r)
            return std::nullopt;
        ++n_;
        p = *r;
    }
    mixHash(cipher);
    return p;
}

void SymmetricState::split(Secret<32> &k1, Secret<32> &k2) const
{
    hkdf2(ck_.data(), nullptr, 0, k1.data(), k2.data());
}

QByteArray SymmetricState::handshakeHash() const
{
    return QByteArray(reinterpret_cast<const char *>(h_.data()), 32);
}

bool identityStaticToDh(const uint8_t *wire32, uint8_t *dh32)
{
    std::memcpy(dh32, wire32, 32);
    return true;
}

IkHandshake IkHandshake::initiator(const QByteArray &prologue, const uint8_t localWire[32],
                                   const uint8_t localDhSecret[32], const uint8_t remoteWire[32],
                                   const uint8_t remoteDhPublic[32])
{
    IkHandshake hs;
    std::memcpy(hs.sWire_.data(), localWire, 32);
    std::memcpy(hs.sSecret_.data(), localDhSecret, 32);
    std::memcpy(hs.rsWire_.data(), remoteWire, 32);
    std::memcpy(hs.rsDh_.data(), remoteDhPublic, 32);
    hs.ss_.mixHash(prologue);
    hs.ss_.mixHash(hs.rsWire_.data(), 32); // pre-message "<- s"
    return hs;
}

IkHandshake IkHandshake::responder(const QByteArray &prologue, const uint8_t localWire[32],
                                   const uint8_t localDhSecret[32])
{
    IkHandshake hs;
    std::memcpy(hs.sWire_.data(), localWire, 32);
    std::memcpy(hs.sSecret_.data(), localDhSecret, 32);
    hs.ss_.mixHash(prologue);
    hs.ss_.mixHash(hs.sWire_.data(), 32);
    return hs;
}

QByteArray IkHandshake::writeMessage1(const QByteArray &payload, const uint8_t ephemeralSecret[32])
{
    std::memcpy(eSecret_.data(), ephemeralSecret, 32);
    dhPublic(ePublic_.data(), eSecret_.data());
    QByteArray msg(reinterpret_cast<const char *>(ePublic_.data()), 32);
    ss_.mixHash(ePublic_.data(), 32);
    Secret<32> shared;
    // A bad responder key was validated by the caller; an all-zero DH still yields a consistent
    // (and useless) state that the responder will never match.
    dh(shared.data(), eSecret_.data(), rsDh_.data()); // es
    ss_.mixKey(shared.data(), 32);
    msg += ss_.encryptAndHash(QByteArray(reinterpret_cast<const char *>(sWire_.data()), 32));
    dh(shared.data(), sSecret_.data(), rsDh_.data()); // ss
    ss_.mixKey(shared.data(), 32);
    msg += ss_.encryptAndHash(payload);
    return msg;
}

std::optional<QByteArray> IkHandshake::readMessage1(const QByteArray &message, StaticToDh toDh)
{
    if (message.size() < kMessage1Overhead)
        return std::nullopt;
    const auto *m = reinterpret_cast<const uint8_t *>(message.constData());
    std::memcpy(re_.data(), m, 32);
    ss_.mixHash(re_.data(), 32);
    Secret<32> shared;
    if (!dh(shared.data(), sSecret_.data(), re_.data())) // es
        return std::nullopt;
    ss_.mixKey(shared.data(), 32);
    auto s = ss_.decryptAndHash(message.mid(32, 48));
    if (!s || s->size() != 32)
        return std::nullopt;
    std::memcpy(rsWire_.data(), s->constData(), 32);
    if (!toDh(rsWire_.data(), rsDh_.data()))
        return std::nullopt;
    if (!dh(shared.data(), sSecret_.data(), rsDh_.data())) // ss
        return std::nullopt;
    ss_.mixKey(shared.data(), 32);
    return ss_.decryptAndHash(message.mid(80));
}

QByteArray IkHandshake::writeMessage2(const QByteArray &payload, const uint8_t ephemeralSecret[32],
                                      const uint8_t *ephemeralPublic)
{
    std::memcpy(eSecret_.data(), ephemeralSecret, 32);
    if (ephemeralPublic)
        std::memcpy(ePublic_.data(), ephemeralPublic, 32);
    else
        dhPublic(ePublic_.data(), eSecret_.data());
    QByteArray msg(reinterpret_cast<const char *>(ePublic_.data()), 32);
    ss_.mixHash(ePublic_.data(), 32);
    Secret<32> shared;
    dh(shared.data(), eSecret_.data(), re_.data()); // ee (re_ was checked non-degenerate in read 1)
    ss_.mixKey(shared.data(), 32);
    dh(shared.data(), eSecret_.data(), rsDh_.data()); // se
    ss_.mixKey(shared.data(), 32);
    msg += ss_.encryptAndHash(payload);
    return msg;
}

std::optional<QByteArray> IkHandshake::readMessage2(const QByteArray &message)
{
    if (message.size() < kMessage2Overhead)
        return std::nullopt;
    std::memcpy(re_.data(), message.constData(), 32);
    ss_.mixHash(re_.data(), 32);
    Secret<32> shared;
    if (!dh(shared.data(), eSecret_.data(), re_.data())) // ee
        return std::nullopt;
    ss_.mixKey(shared.data(), 32);
    if (!dh(shared.data(), sSecret_.data(), re_.data())) // se
        return std::nullopt;
    ss_.mixKey(shared.data(), 32);
    return ss_.decryptAndHash(message.mid(32));
}

} // namespace sss::core::crypto::noise
