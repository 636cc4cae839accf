// Noise Protocol Framework (revision 34) core for Noise_IK_25519_ChaChaPoly_SHA256: SymmetricState
// and the two IK handshake messages. Checked byte for byte against the cacophony test vectors.
//
// The IK object is generic over how a static key appears on the wire: `wire` bytes are what is
// hashed (pre-message) and encrypted (the `s` token), and a StaticToDh function maps them to the
// X25519 key used for DH. Pure Noise uses the identity map; SSS sends the Ed25519 PeerId and
// converts it (docs/protocol.md §2).
#pragma once

#include "sodium.h"

#include <QByteArray>
#include <array>
#include <cstdint>
#include <optional>

namespace sss::core::crypto::noise {

inline constexpr char kProtocolName[] = "Noise_IK_25519_ChaChaPoly_SHA256";
constexpr int kDhLen = 32;
constexpr int kTagLen = 16;
constexpr int kMessage1Overhead = kDhLen + kDhLen + kTagLen + kTagLen; // e, enc(s), payload tag
constexpr int kMessage2Overhead = kDhLen + kTagLen; // e, payload tag

// X25519 with libsodium; false if the result is all zeros (small-order peer key).
bool dh(uint8_t out[32], const uint8_t secret[32], const uint8_t pub[32]);
void dhPublic(uint8_t pub[32], const uint8_t secret[32]);

// Noise CipherState encryption: ChaCha20-Poly1305 (IETF) with nonce = 4 zero bytes || LE64(n).
QByteArray encryptWithAd(const uint8_t key[32], uint64_t n, const QByteArray &ad, const QByteArray &plain);
std::optional<QByteArray> decryptWithAd(const uint8_t key[32], uint64_t n, const QByteArray &ad,
                                        const QByteArray &cipher);

class SymmetricState
{
public:
    SymmetricState(); // InitializeSymmetric(kProtocolName)
    void mixHash(const uint8_t *data, size_t len);
    void mixHash(const QByteArray &data)
    {
        mixHash(reinterpret_cast<const uint8_t *>(data.constData()), data.size());
    }
    void mixKey(const uint8_t *ikm, size_t len);
    QByteArray encryptAndHash(const QByteArray &plain);
    std::optional<QByteArray> decryptAndHash(const QByteArray &cipher);
    void split(Secret<32> &k1, Secret<32> &k2) const;
    QByteArray handshakeHash() const;

private:
    Secret<32> ck_;
    Secret<32> k_;
    std::array<uint8_t, 32> h_ {};
    uint64_t n_ = 0;
    bool hasKey_ = false;
};

using StaticToDh = bool (*)(const uint8_t *wire32, uint8_t *dh32);
bool identityStaticToDh(const uint8_t *wire32, uint8_t *dh32);

// A value type: copy it before a read so that a rejected message leaves the original untouched.
class IkHandshake
{
public:
    IkHandshake() = default;
    // Initiator knows the responder's static key (wire form and X25519 form).
    static IkHandshake initiator(const QByteArray &prologue, const uint8_t localWire[32],
                                 const uint8_t localDhSecret[32], const uint8_t remoteWire[32],
                                 const uint8_t remoteDhPublic[32]);
    static IkHandshake responder(const QByteArray &prologue, const uint8_t localWire[32],
                                 const uint8_t localDhSecret[32]);

    // Extra binding of public context (SSS mixes each message's cleartext header here).
    void mixHash(const QByteArray &data) { ss_.mixHash(data); }

    // -> e, es, s, ss, payload
    QByteArray writeMessage1(const QByteArray &payload, const uint8_t ephemeralSecret[32]);
    std::optional<QByteArray> readMessage1(const QByteArray &message, StaticToDh toDh);
    // <- e, ee, se, payload
    // `ephemeralPublic`: base * ephemeralSecret computed earlier (Endpoint::afterTransmit), or null.
    QByteArray writeMessage2(const QByteArray &payload, const uint8_t ephemeralSecret[32],
                             const uint8_t *ephemeralPublic = nullptr);
    std::optional<QByteArray> readMessage2(const QByteArray &message);

    // k1 protects initiator -> responder, k2 responder -> initiator.
    void split(Secret<32> &k1, Secret<32> &k2) const { ss_.split(k1, k2); }
    QByteArray handshakeHash() const { return ss_.handshakeHash(); }
    QByteArray remoteStaticWire() const
    {
        return QByteArray(reinterpret_cast<const char *>(rsWire_.data()), kDhLen);
    }

private:
    SymmetricState ss_;
    std::array<uint8_t, 32> sWire_ {};
    Secret<32> sSecret_;
    std::array<uint8_t, 32> rsWire_ {};
    std::array<uint8_t, 32> rsDh_ {};
    Secret<32> eSecret_;
    std::array<uint8_t, 32> ePublic_ {};
    std::array<uint8_t, 32> re_ {};
};

} // namespace sss::core::crypto::noise
