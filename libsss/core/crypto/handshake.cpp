#include "handshake.h"

#include "common/buffer.h"

#include <cstring>
#include <sodium.h>

namespace sss::core::crypto {

namespace {

constexpr int kMaxHandshakePacket = 1500; // bounds the hashing work per received packet

const uint8_t *u8p(const QByteArray &b)
{
    return reinterpret_cast<const uint8_t *>(b.constData());
}

QByteArray blake2b(int outLen, const QByteArray &key, const uint8_t *data, size_t len)
{
    ensureInitialized();
    QByteArray out(outLen, '\0');
    crypto_generichash(reinterpret_cast<unsigned char *>(out.data()), size_t(outLen), data, len,
                       key.isEmpty() ? nullptr : u8p(key), size_t(key.size()));
    return out;
}

// Keyed BLAKE2b-128 over the first `len` bytes of packet.
QByteArray mac(const QByteArray &key, const QByteArray &packet, qsizetype len)
{
    return blake2b(kMacSize, key, u8p(packet), size_t(len));
}

bool macEquals(const QByteArray &expected, const QByteArray &packet, qsizetype offset)
{
    return sodium_memcmp(expected.constData(), packet.constData() + offset, kMacSize) == 0;
}

bool initiationShapeOk(const QByteArray &p)
{
    return p.size() >= kInitiationSize && p.size() <= kMaxHandshakePacket && uint8_t(p[0]) == kTypeInitiation
        && uint8_t(p[1]) == kHandshakeVersion;
}

bool mac1Ok(const QByteArray &packet, const QByteArray &key)
{
    const qsizetype at = packet.size() - 2 * kMacSize;
    return macEquals(mac(key, packet, at), packet, at);
}

QByteArray prologue()
{
    return QByteArray(kPrologue);
}

QByteArray randomEphemeral(const QByteArray &test, const RandomSource &random)
{
    if (test.size() == 32)
        return test;
    QByteArray e(32, '\0');
    random(reinterpret_cast<uint8_t *>(e.data()), 32);
    return e;
}

TransportKeys makeKeys(const noise::IkHandshake &hs, CipherSuite suite, bool initiator)
{
    Secret<32> k1, k2;
    hs.split(k1, k2);
    TransportKeys keys;
    keys.suite = suite;
    keys.send = deriveDirection((initiator ? k1 : k2).toByteArray());
    keys.recv = deriveDirection((initiator ? k2 : k1).toByteArray());
    keys.handshakeHash = hs.handshakeHash();
    return keys;
}

} // namespace

std::optional<uint64_t> peekCid(const QByteArray &packet)
{
    Reader r(packet);
    r.skip(2);
    const uint64_t cid = r.u64();
    return r.ok() ? std::optional(cid) : std::nullopt;
}

std::optional<uint64_t> peekResponseReceiverCid(const QByteArray &packet)
{
    Reader r(packet);
    r.skip(2 + kCidSize);
    const uint64_t cid = r.u64();
    return r.ok() ? std::optional(cid) : std::nullopt;
}

QByteArray mac1Key(const QByteArray &receiverPeerId)
{
    const QByteArray in = QByteArrayLiteral("mac1----") + receiverPeerId;
    return blake2b(32, {}, u8p(in), size_t(in.size()));
}

QByteArray cookieKey(const QByteArray &responderPeerId)
{
    const QByteArray in = QByteArrayLiteral("cookie--") + responderPeerId;
    return blake2b(32, {}, u8p(in), size_t(in.size()));
}

QByteArray addressBytes(const SocketAddress &from)
{
    QByteArray out;
    Writer w(out);
    bool isV4 = false;
    const quint32 v4 = from.host.toIPv4Address(&isV4); // also unwraps IPv4-mapped IPv6
    if (isV4) {
        w.u32(v4);
    } else if (from.host.protocol() == QAbstractSocket::IPv6Protocol) {
        const Q_IPV6ADDR a = from.host.toIPv6Address();
        w.bytes(reinterpret_cast<const char *>(a.c), 16);
    }
    w.u16(from.port);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Initiator

InitiatorHandshake::InitiatorHandshake(const StaticIdentity &local, const QByteArray &responderPeerId,
                                       uint64_t localCid, uint8_t offeredSuites, uint64_t timestamp,
                                       const QByteArray &appPayload, const QByteArray &testEphemeralSecret)
    : localPeerId_(local.publicKey()), responderPeerId_(responderPeerId), localCid_(localCid),
      offeredSuites_(offeredSuites)
{
    ensureInitialized();
    uint8_t rsDh[32];
    if (!local.isValid() || responderPeerId.size() != kPeerIdSize
        || !peerIdToX25519(u8p(responderPeerId), rsDh) || appPayload.size() > kMaxInitiationAppPayload
        || (!testEphemeralSecret.isEmpty() && testEphemeralSecret.size() != 32) || offeredSuites == 0)
        return;

    noise_ = noise::IkHandshake::initiator(prologue(), u8p(localPeerId_), local.x25519SecretData(),
                                           u8p(responderPeerId), rsDh);
    Writer w(packet_);
    w.u8(kTypeInitiation);
    w.u8(kHandshakeVersion);
    w.u64(localCid);
    noise_.mixHash(packet_); // authenticates the cleartext header

    QByteArray plain;
    Writer pw(plain);
    pw.u64(timestamp);
    pw.u8(offeredSuites);
    pw.u16(uint16_t(appPayload.size()));
    pw.bytes(appPayload);
    // Padding lives inside the AEAD so every byte of the datagram is authenticated.
    pw.zeros(kInitiationSize - kInitiationOverhead + kInitiationPayloadFixed - plain.size());

    QByteArray eph = randomEphemeral(testEphemeralSecret, systemRandom());
    packet_ += noise_.writeMessage1(plain, u8p(eph));
    secureWipe(eph);
    secureWipe(plain);
    mac1_ = mac(mac1Key(responderPeerId_), packet_, packet_.size());
    packet_ += mac1_;
    packet_.append(kMacSize, '\0');
    Q_ASSERT(packet_.size() == kInitiationSize);
    valid_ = true;
}

bool InitiatorHandshake::consumeCookieReply(const QByteArray &p)
{
    if (!valid_ || done_ || p.size() != kCookieReplySize || uint8_t(p[0]) != kTypeCookieReply
        || uint8_t(p[1]) != kHandshakeVersion || peekCid(p) != localCid_)
        return false;
    const QByteArray key = cookieKey(responderPeerId_);
    Secret<kCookieSize> cookie;
    unsigned long long len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            cookie.data(), &len, nullptr, u8p(p) + kCookieReplyCipherOffset, kCookieSize + 16, u8p(mac1_),
            kMacSize, u8p(p) + kCookieReplyNonceOffset, u8p(key))
            != 0
        || len != kCookieSize)
        return false;
    cookie_ = cookie;
    hasCookie_ = true;
    const qsizetype at = packet_.size() - kMacSize;
    const QByteArray mac2 = mac(cookie_.toByteArray(), packet_, at);
    packet_.replace(at, kMacSize, mac2);
    return true;
}

std::optional<InitiatorHandshake::Result> InitiatorHandshake::consumeResponse(const QByteArray &p)
{
    if (!valid_ || done_ || p.size() < kResponseMinSize || p.size() > kResponseMaxSize
        || uint8_t(p[0]) != kTypeResponse || uint8_t(p[1]) != kHandshakeVersion)
        return std::nullopt;
    Reader hr(p);
    hr.skip(2);
    const uint64_t peerCid = hr.u64();
    const uint64_t receiverCid = hr.u64();
    if (!hr.ok() || receiverCid != localCid_)
        return std::nullopt;
    const qsizetype macAt = p.size() - 2 * kMacSize;
    if (!mac1Ok(p, mac1Key(localPeerId_)) || !sodium_is_zero(u8p(p) + macAt + kMacSize, kMacSize))
        return std::nullopt;

    noise::IkHandshake st = noise_; // work on a copy: a forged response must not disturb us
    st.mixHash(p.left(kResponseHeaderSize));
    const auto payload = st.readMessage2(p.mid(kResponseHeaderSize, macAt - kResponseHeaderSize));
    if (!payload)
        return std::nullopt;
    Reader r(*payload);
    const uint8_t suite = r.u8();
    const uint16_t len = r.u16();
    QByteArray app = r.byteArray(len);
    if (!r.ok() || !r.atEnd() || !isKnownSuite(suite) || !(suiteBit(CipherSuite(suite)) & offeredSuites_))
        return std::nullopt;

    Result res;
    res.keys = makeKeys(st, CipherSuite(suite), true);
    res.peerCid = peerCid;
    res.appPayload = app;
    done_ = true;
    noise_ = {}; // drop ephemeral and chaining key
    return res;
}

// ---------------------------------------------------------------------------------------------
// Responder

Responder::Responder(const StaticIdentity &local, RandomSource random)
    : local_(local), peerId_(local.publicKey()), mac1Key_(mac1Key(peerId_)), cookieKey_(cookieKey(peerId_)),
      random_(std::move(random))
{
    ensureInitialized();
}

void Responder::rotate(Instant now)
{
    if (!currentBirth_) {
        random_(current_.data(), current_.size());
        currentBirth_ = now;
        return;
    }
    const Duration age = now - *currentBirth_;
    if (age < kCookieSecretLifetime)
        return;
    if (age < 2 * kCookieSecretLifetime) {
        previous_ = current_;
        hasPrevious_ = true;
        currentBirth_ = *currentBirth_ + kCookieSecretLifetime;
    } else { // idle for long: both old secrets are stale
        previous_.wipe();
        hasPrevious_ = false;
        currentBirth_ = now;
    }
    random_(current_.data(), current_.size());
}

QByteArray Responder::cookieFor(const Secret<32> &secret, const SocketAddress &from) const
{
    const QByteArray a = addressBytes(from);
    return blake2b(kCookieSize, secret.toByteArray(), u8p(a), size_t(a.size()));
}

Responder::MacCheck Responder::checkMacs(const QByteArray &initiation, const SocketAddress &from,
                                         bool underLoad, Instant now)
{
    if (!local_.isValid() || !initiationShapeOk(initiation) || !mac1Ok(initiation, mac1Key_))
        return MacCheck::Invalid;
    if (!underLoad)
        return MacCheck::Valid;
    rotate(now);
    const qsizetype at = initiation.size() - kMacSize;
    if (macEquals(mac(cookieFor(current_, from), initiation, at), initiation, at))
        return MacCheck::Valid;
    if (hasPrevious_ && macEquals(mac(cookieFor(previous_, from), initiation, at), initiation, at))
        return MacCheck::Valid;
    return MacCheck::NeedCookie;
}

QByteArray Responder::makeCookieReply(const QByteArray &initiation, const SocketAddress &from, Instant now)
{
    if (!local_.isValid() || !initiationShapeOk(initiation) || !mac1Ok(initiation, mac1Key_))
        return {};
    rotate(now);
    const QByteArray cookie = cookieFor(current_, from);
    uint8_t nonce[kCookieNonceSize];
    random_(nonce, sizeof nonce);
    QByteArray out;
    Writer w(out);
    w.u8(kTypeCookieReply);
    w.u8(kHandshakeVersion);
    w.bytes(initiation.constData() + 2, kCidSize); // the initiator's cid
    w.bytes(reinterpret_cast<const char *>(nonce), kCookieNonceSize);
    out.resize(kCookieReplySize);
    const uint8_t *mac1 = u8p(initiation) + initiation.size() - 2 * kMacSize;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        reinterpret_cast<unsigned char *>(out.data()) + kCookieReplyCipherOffset, nullptr, u8p(cookie),
        kCookieSize, mac1, kMacSize, nullptr, nonce, u8p(cookieKey_));
    return out;
}

std::optional<Responder::Incoming> Responder::consumeInitiation(const QByteArray &initiation) const
{
    if (!local_.isValid() || !initiationShapeOk(initiation) || !mac1Ok(initiation, mac1Key_))
        return std::nullopt;
    Incoming in;
    in.state = noise::IkHandshake::responder(prologue(), u8p(peerId_), local_.x25519SecretData());
    in.state.mixHash(initiation.left(kInitiationHeaderSize));
    const qsizetype macAt = initiation.size() - 2 * kMacSize;
    const auto payload = in.state.readMessage1(
        initiation.mid(kInitiationHeaderSize, macAt - kInitiationHeaderSize), &peerIdToX25519);
    if (!payload)
        return std::nullopt;
    Reader r(*payload);
    in.timestamp = r.u64();
    in.offeredSuites = r.u8();
    const uint16_t len = r.u16();
    in.appPayload = r.byteArray(len);
    if (!r.ok()) // the rest is padding (authenticated, content ignored)
        return std::nullopt;
    in.initiatorPeerId = in.state.remoteStaticWire();
    in.initiatorCid = *peekCid(initiation);
    return in;
}

std::optional<Responder::Reply> Responder::makeResponse(const Incoming &in, uint64_t localCid,
                                                        CipherSuite chosen, const QByteArray &appPayload,
                                                        const QByteArray &ephemeralSecret,
                                                        const QByteArray &ephemeralPublic)
{
    if (!local_.isValid() || !isKnownSuite(uint8_t(chosen)) || !(suiteBit(chosen) & in.offeredSuites)
        || appPayload.size() > kMaxResponseAppPayload || in.initiatorPeerId.size() != kPeerIdSize
        || (!ephemeralSecret.isEmpty() && ephemeralSecret.size() != 32)
        || (!ephemeralPublic.isEmpty() && (ephemeralPublic.size() != 32 || ephemeralSecret.isEmpty())))
        return std::nullopt;
    Reply reply;
    Writer w(reply.packet);
    w.u8(kTypeResponse);
    w.u8(kHandshakeVersion);
    w.u64(localCid);
    w.u64(in.initiatorCid);
    noise::IkHandshake st = in.state;
    st.mixHash(reply.packet);
    QByteArray plain;
    Writer pw(plain);
    pw.u8(uint8_t(chosen));
    pw.u16(uint16_t(appPayload.size()));
    pw.bytes(appPayload);
    QByteArray eph = randomEphemeral(ephemeralSecret, random_);
    reply.packet
        += st.writeMessage2(plain, u8p(eph), ephemeralPublic.size() == 32 ? u8p(ephemeralPublic) : nullptr);
    secureWipe(eph);
    reply.packet += mac(mac1Key(in.initiatorPeerId), reply.packet, reply.packet.size());
    reply.packet.append(kMacSize, '\0'); // mac2 unused in this direction
    reply.keys = makeKeys(st, chosen, false);
    return reply;
}

} // namespace sss::core::crypto
