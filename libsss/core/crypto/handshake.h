// SSS handshake: Noise IK (noise.h) framed into three UDP message types, with WireGuard-style
// mac1/mac2 and stateless cookies. Sans-IO: callers pass time and addresses in, bytes out.
// Byte layouts: docs/protocol.md §2.
#pragma once

#include "aead.h"
#include "common/types.h"
#include "hkdf.h"
#include "identity.h"
#include "noise.h"
#include "sodium.h"

#include <QByteArray>
#include <cstdint>
#include <optional>

namespace sss::core::crypto {

constexpr uint8_t kHandshakeVersion = 1;
constexpr uint8_t kTypeInitiation = 0x01;
constexpr uint8_t kTypeResponse = 0x02;
constexpr uint8_t kTypeCookieReply = 0x03;

constexpr int kCidSize = 8;
constexpr int kMacSize = 16;
constexpr int kCookieSize = 16;
constexpr int kCookieNonceSize = 24;
inline constexpr char kPrologue[] = "SSS/1";

// Initiation: type | version | sender cid | e | enc(s) | enc(payload) | mac1 | mac2
constexpr int kInitiationHeaderSize = 2 + kCidSize; // 10
constexpr int kInitiationEphemeralOffset = kInitiationHeaderSize; // 10
constexpr int kInitiationStaticOffset = kInitiationEphemeralOffset + 32; // 42
constexpr int kInitiationPayloadOffset = kInitiationStaticOffset + 32 + 16; // 90
constexpr int kInitiationPayloadFixed = 8 + 1 + 2; // ts | suites | len
constexpr int kInitiationSize = 1200; // always, see doc
constexpr int kInitiationOverhead
    = kInitiationPayloadOffset + kInitiationPayloadFixed + 16 + 2 * kMacSize; // 149
constexpr int kMaxInitiationAppPayload = kInitiationSize - kInitiationOverhead; // 1051

// Response: type | version | sender cid | receiver cid | e | enc(payload) | mac1 | mac2
constexpr int kResponseHeaderSize = 2 + 2 * kCidSize; // 18
constexpr int kResponseEphemeralOffset = kResponseHeaderSize; // 18
constexpr int kResponsePayloadOffset = kResponseEphemeralOffset + 32; // 50
constexpr int kResponsePayloadFixed = 1 + 2; // suite | len
constexpr int kResponseMinSize = kResponsePayloadOffset + kResponsePayloadFixed + 16 + 2 * kMacSize; // 101
constexpr int kResponseMaxSize = kInitiationSize; // never larger than the initiation it answers
constexpr int kMaxResponseAppPayload = kResponseMaxSize - kResponseMinSize; // 1099

// Cookie reply: type | version | receiver cid | nonce | enc(cookie)
constexpr int kCookieReplyNonceOffset = 2 + kCidSize; // 10
constexpr int kCookieReplyCipherOffset = kCookieReplyNonceOffset + kCookieNonceSize; // 34
constexpr int kCookieReplySize = kCookieReplyCipherOffset + kCookieSize + 16; // 66

constexpr Duration kCookieSecretLifetime = std::chrono::seconds(120);

struct TransportKeys {
    CipherSuite suite = CipherSuite::ChaCha20Poly1305;
    DirectionKeys send, recv;
    QByteArray handshakeHash; // 32 B, identical at both ends; usable as a channel binding
};

// Reads the connection id at bytes 2..10 (sender cid of an initiation/response, receiver cid of a
// cookie reply) without authenticating anything; nullopt if too short.
std::optional<uint64_t> peekCid(const QByteArray &packet);
// Receiver cid of a response (bytes 10..18).
std::optional<uint64_t> peekResponseReceiverCid(const QByteArray &packet);

// Cookie primitives (exposed for tests and docs).
QByteArray mac1Key(const QByteArray &receiverPeerId); // BLAKE2b-256("mac1----" || pk)
QByteArray cookieKey(const QByteArray &responderPeerId); // BLAKE2b-256("cookie--" || pk)
QByteArray addressBytes(const SocketAddress &from); // ip (4 or 16 B) || port u16 BE

class InitiatorHandshake
{
public:
    // responderPeerId must be a valid PeerId and appPayload at most kMaxInitiationAppPayload bytes,
    // else isValid() is false and initiation() is empty. testEphemeralSecret (32 B) fixes the
    // ephemeral key for vectors; empty means random.
    InitiatorHandshake(const StaticIdentity &local, const QByteArray &responderPeerId, uint64_t localCid,
                       uint8_t offeredSuites, uint64_t timestamp, const QByteArray &appPayload,
                       const QByteArray &testEphemeralSecret = {});

    bool isValid() const { return valid_; }
    // The same bytes on every retransmit, except that mac2 changes once a cookie arrived.
    QByteArray initiation() const { return packet_; }
    // Authenticates a cookie reply (receiver cid, AD = our mac1), stores the cookie, recomputes mac2.
    bool consumeCookieReply(const QByteArray &packet);
    bool hasCookie() const { return hasCookie_; }

    struct Result {
        TransportKeys keys;
        uint64_t peerCid = 0;
        QByteArray appPayload;
    };
    // nullopt if the packet is not a valid response to THIS initiation (no state change). After one
    // success the handshake is finished and later calls return nullopt.
    std::optional<Result> consumeResponse(const QByteArray &packet);

    uint64_t localCid() const { return localCid_; }
    const QByteArray &responderPeerId() const { return responderPeerId_; }

private:
    QByteArray localPeerId_;
    QByteArray responderPeerId_;
    uint64_t localCid_ = 0;
    uint8_t offeredSuites_ = 0;
    noise::IkHandshake noise_;
    QByteArray packet_;
    QByteArray mac1_;
    Secret<kCookieSize> cookie_;
    bool hasCookie_ = false;
    bool valid_ = false;
    bool done_ = false;
};

class Responder
{
public:
    explicit Responder(const StaticIdentity &local, RandomSource random = systemRandom());

    enum class MacCheck { Valid, Invalid, NeedCookie };
    // Cheap (no DH): structure and mac1 always; under load also mac2 against the cookie for `from`.
    // Rotates the cookie secret when due, hence non-const.
    MacCheck checkMacs(const QByteArray &initiation, const SocketAddress &from, bool underLoad, Instant now);
    // Empty if the initiation is malformed or its mac1 is wrong (never answer garbage).
    QByteArray makeCookieReply(const QByteArray &initiation, const SocketAddress &from, Instant now);

    struct Incoming {
        QByteArray initiatorPeerId; // authenticated by the ss DH
        uint64_t initiatorCid = 0;
        uint64_t timestamp = 0; // the endpoint must reject a timestamp <= the last one from this peer
        uint8_t offeredSuites = 0;
        QByteArray appPayload;
        noise::IkHandshake state; // opaque: Noise state after message 1
    };
    // Checks structure and mac1, then does the DH work. Does not check mac2 (checkMacs does).
    std::optional<Incoming> consumeInitiation(const QByteArray &initiation) const;

    struct Reply {
        QByteArray packet;
        TransportKeys keys;
    };
    // nullopt if `chosen` was not offered or appPayload exceeds kMaxResponseAppPayload.
    // `ephemeralSecret`: 32 bytes chosen by the caller (its random source), or empty for the
    // system's. `ephemeralPublic`, if given, is X25519(ephemeralSecret, base) computed beforehand
    // (the endpoint does it in afterTransmit(), off the path of the next handshake).
    std::optional<Reply> makeResponse(const Incoming &in, uint64_t localCid, CipherSuite chosen,
                                      const QByteArray &appPayload, const QByteArray &ephemeralSecret = {},
                                      const QByteArray &ephemeralPublic = {});

    const QByteArray &peerId() const { return peerId_; }

private:
    void rotate(Instant now);
    QByteArray cookieFor(const Secret<32> &secret, const SocketAddress &from) const;

    StaticIdentity local_;
    QByteArray peerId_;
    QByteArray mac1Key_;
    QByteArray cookieKey_;
    RandomSource random_;
    Secret<32> current_;
    Secret<32> previous_;
    bool hasPrevious_ = false;
    std::optional<Instant> currentBirth_;
};

} // namespace sss::core::crypto
