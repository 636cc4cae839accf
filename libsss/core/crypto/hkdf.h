// HMAC-SHA256 and HKDF (RFC 5869) built on libsodium's crypto_auth_hmacsha256 streaming API (the
// one-shot API only takes 32-byte keys), plus the SSS packet-key schedule.
#pragma once

#include <QByteArray>

namespace sss::core::crypto {

constexpr int kHashLen = 32;

QByteArray hmacSha256(const QByteArray &key, const QByteArray &data);
// RFC 5869 Extract: PRK = HMAC(salt, ikm); an empty salt means HashLen zero bytes.
QByteArray hkdfExtract(const QByteArray &salt, const QByteArray &ikm);
// RFC 5869 Expand. Returns an empty array if length is not in 1..255*32 or prk is empty.
QByteArray hkdfExpand(const QByteArray &prk, const QByteArray &info, int length);

// Per-direction packet keys. `secret` is the traffic secret; key/iv feed PacketProtection.
struct DirectionKeys {
    QByteArray secret; // 32 B
    QByteArray key; // 32 B = HKDF-Expand(secret, "sss key", 32)
    QByteArray iv; // 12 B = HKDF-Expand(secret, "sss iv", 12)
};

constexpr int kSecretLen = 32;
constexpr int kKeyLen = 32;
constexpr int kIvLen = 12;

DirectionKeys deriveDirection(const QByteArray &secret);
// Key update: next traffic secret = HKDF-Expand(secret, "sss ku", 32). The caller wipes the old one
// (secureWipe) once it no longer needs it to open late packets.
QByteArray nextSecret(const QByteArray &secret);

} // namespace sss::core::crypto
