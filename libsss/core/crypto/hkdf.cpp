#include "hkdf.h"

#include "sodium.h"

#include <sodium.h>

namespace sss::core::crypto {

namespace {

void hmacInto(const QByteArray &key, const QByteArray &a, const QByteArray &b, uint8_t tail, bool withTail,
              uint8_t out[kHashLen])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char *>(key.constData()),
                                size_t(key.size()));
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char *>(a.constData()),
                                  size_t(a.size()));
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char *>(b.constData()),
                                  size_t(b.size()));
    if (withTail)
        crypto_auth_hmacsha256_update(&st, &tail, 1);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

} // namespace

QByteArray hmacSha256(const QByteArray &key, const QByteArray &data)
{
    ensureInitialized();
    QByteArray out(kHashLen, '\0');
    hmacInto(key, data, {}, 0, false, reinterpret_cast<uint8_t *>(out.data()));
    return out;
}

QByteArray hkdfExtract(const QByteArray &salt, const QByteArray &ikm)
{
    return hmacSha256(salt.isEmpty() ? QByteArray(kHashLen, '\0') : salt, ikm);
}

QByteArray hkdfExpand(const QByteArray &prk, const QByteArray &info, int length)
{
    ensureInitialized();
    if (prk.isEmpty() || length <= 0 || length > 255 * kHashLen)
        return {};
    QByteArray out;
    out.reserve(length);
    QByteArray t; // T(i-1)
    uint8_t block[kHashLen];
    for (int i = 1; out.size() < length; ++i) {
        hmacInto(prk, t, info, uint8_t(i), true, block);
        t = QByteArray(reinterpret_cast<const char *>(block), kHashLen);
        out.append(t.constData(), std::min<qsizetype>(kHashLen, length - out.size()));
    }
    sodium_memzero(block, sizeof block);
    secureWipe(t);
    return out;
}

DirectionKeys deriveDirection(const QByteArray &secret)
{
    DirectionKeys k;
    k.secret = secret;
    k.key = hkdfExpand(secret, QByteArrayLiteral("sss key"), kKeyLen);
    k.iv = hkdfExpand(secret, QByteArrayLiteral("sss iv"), kIvLen);
    return k;
}

QByteArray nextSecret(const QByteArray &secret)
{
    return hkdfExpand(secret, QByteArrayLiteral("sss ku"), kSecretLen);
}

} // namespace sss::core::crypto
