// SSS handshake: Noise IK framing, mac1/mac2/cookies, tampering, replay, fixed vectors
// (docs/protocol.md) and a robustness loop over malformed input.
#include "crypto/handshake.h"

#include <QFile>
#include <QRandomGenerator>
#include <QTest>
#include <sodium.h>

using namespace sss::core;
using namespace sss::core::crypto;

namespace {

QByteArray sha256(const QByteArray &b)
{
    QByteArray out(32, '\0');
    crypto_hash_sha256(reinterpret_cast<unsigned char *>(out.data()),
                       reinterpret_cast<const unsigned char *>(b.constData()), b.size());
    return out;
}

// Deterministic "random" bytes: 0x00, 0x01, 0x02 ... continuing across calls.
RandomSource counterRandom()
{
    auto next = std::make_shared<uint8_t>(0);
    return [next](uint8_t *out, size_t len) {
        for (size_t i = 0; i < len; ++i)
            out[i] = (*next)++;
    };
}

const Instant t0 = Instant {} + std::chrono::seconds(1000);
const SocketAddress from {QHostAddress(QStringLiteral("192.0.2.1")), 4433};

struct Pair {
    StaticIdentity ini = StaticIdentity::fromSeed(QByteArray(32, '\x11'));
    StaticIdentity res = StaticIdentity::fromSeed(QByteArray(32, '\x22'));
};

void checkKeysWork(const TransportKeys &a, const TransportKeys &b)
{
    QCOMPARE(a.suite, b.suite);
    QCOMPARE(a.send.secret, b.recv.secret);
    QCOMPARE(a.send.key, b.recv.key);
    QCOMPARE(a.send.iv, b.recv.iv);
    QCOMPARE(a.recv.key, b.send.key);
    QCOMPARE(a.recv.iv, b.send.iv);
    QVERIFY(a.send.key != a.recv.key);
    QCOMPARE(a.handshakeHash, b.handshakeHash);
    QCOMPARE(a.send.key.size(), 32);
    QCOMPARE(a.send.iv.size(), 12);
    const auto sa = PacketProtection::create(a.suite, a.send.key, a.send.iv);
    const auto rb = PacketProtection::create(b.suite, b.recv.key, b.recv.iv);
    QVERIFY(sa && rb);
    QCOMPARE(rb->openCopy(5, "h", sa->sealCopy(5, "h", "data")).value_or(QByteArray()), QByteArray("data"));
}

QList<QByteArray> docLines; // "name = hex" lines that docs/protocol.md must contain

void vector(const char *name, const QByteArray &actual, const char *expectedHex)
{
    docLines.append(QByteArray(name) + " = " + actual.toHex());
    if (qEnvironmentVariableIsSet("SSS_PRINT_VECTORS"))
        qInfo("%s %s", name, actual.toHex().constData());
    QCOMPARE(actual.toHex(), QByteArray(expectedHex));
}

} // namespace

class TestCryptoHandshake : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase() { ensureInitialized(); }

    void sizes()
    {
        QCOMPARE(kInitiationOverhead, 149);
        QCOMPARE(kMaxInitiationAppPayload, 1051);
        QCOMPARE(kResponseMinSize, 101);
        QCOMPARE(kCookieReplySize, 66);
        Pair k;
        InitiatorHandshake ok(k.ini, k.res.publicKey(), 1, kSuiteBitChaCha, 1, QByteArray(1051, 'a'));
        QVERIFY(ok.isValid());
        QCOMPARE(ok.initiation().size(), kInitiationSize);
        InitiatorHandshake big(k.ini, k.res.publicKey(), 1, kSuiteBitChaCha, 1, QByteArray(1052, 'a'));
        QVERIFY(!big.isValid());
        QVERIFY(big.initiation().isEmpty());
        QVERIFY(!InitiatorHandshake(k.ini, QByteArray(32, '\0'), 1, 1, 1, {}).isValid());
        QVERIFY(!InitiatorHandshake(StaticIdentity(), k.res.publicKey(), 1, 1, 1, {}).isValid());
        QVERIFY(!InitiatorHandshake(k.ini, k.res.publicKey(), 1, 0, 1, {}).isValid());

        Responder r(k.res);
        const auto in = r.consumeInitiation(ok.initiation());
        QVERIFY(in);
        QCOMPARE(in->appPayload, QByteArray(1051, 'a'));
        const auto rep
            = r.makeResponse(*in, 2, CipherSuite::ChaCha20Poly1305, QByteArray(kMaxResponseAppPayload, 'b'));
        QVERIFY(rep);
        QCOMPARE(rep->packet.size(), kResponseMaxSize);
        QVERIFY(!r.makeResponse(*in, 2, CipherSuite::ChaCha20Poly1305,
                                QByteArray(kMaxResponseAppPayload + 1, 'b')));
        const auto res = ok.consumeResponse(rep->packet);
        QVERIFY(res);
        QCOMPARE(res->appPayload, QByteArray(kMaxResponseAppPayload, 'b'));
    }

    void fullHandshake_data()
    {
        QTest::addColumn<int>("offered");
        QTest::addColumn<int>("supported");
        QTest::newRow("chacha") << int(kSuiteBitChaCha) << int(suiteMaskLocal());
        QTest::newRow("local masks") << int(suiteMaskLocal()) << int(suiteMaskLocal());
        QTest::newRow("null both") << int(kSuiteBitNull) << int(kSuiteBitNull | kSuiteBitChaCha);
    }
    void fullHandshake()
    {
        QFETCH(int, offered);
        QFETCH(int, supported);
        const StaticIdentity a = StaticIdentity::generate(), b = StaticIdentity::generate();
        // Both directions: a initiates to b, then b initiates to a.
        for (int dir = 0; dir < 2; ++dir) {
            const StaticIdentity &ini = dir ? b : a;
            const StaticIdentity &res = dir ? a : b;
            InitiatorHandshake hs(ini, res.publicKey(), 0xAAAA, uint8_t(offered), 77, "ping");
            QVERIFY(hs.isValid());
            Responder r(res);
            QCOMPARE(r.checkMacs(hs.initiation(), from, false, t0), Responder::MacCheck::Valid);
            const auto in = r.consumeInitiation(hs.initiation());
            QVERIFY(in);
            QCOMPARE(in->initiatorPeerId, ini.publicKey());
            QCOMPARE(in->initiatorCid, 0xAAAAull);
            QCOMPARE(in->timestamp, 77ull);
            QCOMPARE(in->offeredSuites, uint8_t(offered));
            QCOMPARE(in->appPayload, QByteArray("ping"));
            const auto chosen = chooseSuite(in->offeredSuites, uint8_t(supported));
            QVERIFY(chosen);
            const auto rep = r.makeResponse(*in, 0xBBBB, *chosen, "pong");
            QVERIFY(rep);
            const auto done = hs.consumeResponse(rep->packet);
            QVERIFY(done);
            QCOMPARE(done->peerCid, 0xBBBBull);
            QCOMPARE(done->appPayload, QByteArray("pong"));
            QCOMPARE(done->keys.suite, *chosen);
            checkKeysWork(done->keys, rep->keys);
            checkKeysWork(rep->keys, done->keys);
            QVERIFY(!hs.consumeResponse(rep->packet)); // finished: duplicates are ignored
        }
    }

    void identityHiding()
    {
        Pair k;
        InitiatorHandshake hs(k.ini, k.res.publicKey(), 1, kSuiteBitChaCha, 1, {});
        const QByteArray pkt = hs.initiation();
        QVERIFY(!pkt.contains(k.ini.publicKey()));
        QVERIFY(!pkt.contains(k.ini.x25519Public()));
        QVERIFY(!pkt.contains(k.res.publicKey())); // the responder's key is not sent either
    }

    void wrongResponderKey()
    {
        Pair k;
        const StaticIdentity other = StaticIdentity::fromSeed(QByteArray(32, '\x33'));
        InitiatorHandshake hs(k.ini, other.publicKey(), 1, kSuiteBitChaCha, 1, {});
        Responder r(k.res);
        QCOMPARE(r.checkMacs(hs.initiation(), from, false, t0), Responder::MacCheck::Invalid);
        QVERIFY(!r.consumeInitiation(hs.initiation()));
        QVERIFY(r.makeCookieReply(hs.initiation(), from, t0).isEmpty());
        // Even with a mac1 forged for k.res, the Noise message was sealed for `other`.
        QByteArray forged = hs.initiation();
        crypto_generichash(reinterpret_cast<unsigned char *>(forged.data()) + forged.size() - 32, 16,
                           reinterpret_cast<const unsigned char *>(forged.constData()), forged.size() - 32,
                           reinterpret_cast<const unsigned char *>(mac1Key(k.res.publicKey()).constData()),
                           32);
        QCOMPARE(r.checkMacs(forged, from, false, t0), Responder::MacCheck::Valid);
        QVERIFY(!r.consumeInitiation(forged));
    }

    void tamperInitiation()
    {
        Pair k;
        InitiatorHandshake hs(k.ini, k.res.publicKey(), 9, kSuiteBitChaCha, 5, "abc");
        Responder r(k.res);
        const QByteArray pkt = hs.initiation();
        QVERIFY(r.consumeInitiation(pkt));
        // mac2 (last 16 bytes) is checked by checkMacs under load only; every other byte is
        // covered by mac1 and by the AEAD/handshake hash.
        for (int i = 0; i < pkt.size() - kMacSize; ++i) {
            QByteArray t = pkt;
            t[i] = char(t[i] ^ 0x04);
            QVERIFY2(!r.consumeInitiation(t), qPrintable(QString::number(i)));
        }
        QVERIFY(!r.consumeInitiation(pkt.left(pkt.size() - 1)));
        QVERIFY(!r.consumeInitiation(pkt + QByteArray(400, '\0'))); // > max packet
    }

    void tamperResponse()
    {
        Pair k;
        InitiatorHandshake hs(k.ini, k.res.publicKey(), 9, kSuiteBitChaCha, 5, "abc");
        Responder r(k.res);
        const auto in = r.consumeInitiation(hs.initiation());
        const auto rep = r.makeResponse(*in, 10, CipherSuite::ChaCha20Poly1305, "xyz");
        const QByteArray pkt = rep->packet;
        for (int i = 0; i < pkt.size(); ++i) {
            QByteArray t = pkt;
            t[i] = char(t[i] ^ 0x20);
            QVERIFY2(!hs.consumeResponse(t), qPrintable(QString::number(i)));
        }
        QVERIFY(!hs.consumeResponse(pkt.left(pkt.size() - 1)));
        QVERIFY(!hs.consumeResponse(pkt + '\0'));
        QVERIFY(hs.consumeResponse(pkt)); // failures above left no trace
    }

    void responseForAnotherInitiation()
    {
        Pair k;
        InitiatorHandshake first(k.ini, k.res.publicKey(), 9, kSuiteBitChaCha, 5, {});
        InitiatorHandshake second(k.ini, k.res.publicKey(), 9, kSuiteBitChaCha, 6, {}); // same cid
        Responder r(k.res);
        const auto rep
            = r.makeResponse(*r.consumeInitiation(first.initiation()), 1, CipherSuite::ChaCha20Poly1305, {});
        QVERIFY(!second.consumeResponse(rep->packet));
        QVERIFY(first.consumeResponse(rep->packet));
        // A different initiator identity with the same cid cannot use it either (mac1 key differs).
        InitiatorHandshake third(StaticIdentity::generate(), k.res.publicKey(), 9, kSuiteBitChaCha, 5, {});
        QVERIFY(!third.consumeResponse(rep->packet));
    }

    void suiteNotOffered()
    {
        Pair k;
        InitiatorHandshake hs(k.ini, k.res.publicKey(), 1, kSuiteBitChaCha, 1, {});
        Responder r(k.res);
        auto in = r.consumeInitiation(hs.initiation());
        QVERIFY(!r.makeResponse(*in, 2, CipherSuite::Aes256Gcm, {}));
        QVERIFY(!r.makeResponse(*in, 2, CipherSuite::Null, {}));
        in->offeredSuites |= kSuiteBitNull; // a lying responder picks a suite we never offered
        const auto rep = r.makeResponse(*in, 2, CipherSuite::Null, {});
        QVERIFY(rep);
        QVERIFY(!hs.consumeResponse(rep->packet));
    }

    void replayKeepsTimestamp()
    {
        // The handshake layer is stateless per initiation: a replay decrypts to the same timestamp,
        // and the endpoint rejects timestamps that do not increase per initiator PeerId.
        Pair k;
        InitiatorHandshake hs(k.ini, k.res.publicKey(), 1, kSuiteBitChaCha, 123456, {});
        Responder r(k.res);
        const auto a = r.consumeInitiation(hs.initiation());
        const auto b = r.consumeInitiation(hs.initiation());
        QVERIFY(a && b);
        QCOMPARE(a->timestamp, 123456ull);
        QCOMPARE(b->timestamp, a->timestamp);
        QCOMPARE(b->initiatorPeerId, a->initiatorPeerId);
    }

    void cookies()
    {
        Pair k;
        InitiatorHandshake hs(k.ini, k.res.publicKey(), 0x42, kSuiteBitChaCha, 1, {});
        Responder r(k.res);
        QVERIFY(!hs.hasCookie());
        QCOMPARE(r.checkMacs(hs.initiation(), from, false, t0), Responder::MacCheck::Valid);
        QCOMPARE(r.checkMacs(hs.initiation(), from, true, t0), Responder::MacCheck::NeedCookie);
        const QByteArray reply = r.makeCookieReply(hs.initiation(), from, t0);
        QCOMPARE(reply.size(), kCookieReplySize);
        QCOMPARE(peekCid(reply).value_or(0), 0x42ull);
        QVERIFY(!reply.contains(QByteArray(16, '\0')));

        // Wrong cid, tampering and a cookie reply bound to another initiation are rejected.
        QByteArray wrongCid = reply;
        wrongCid[9] = char(wrongCid[9] ^ 1);
        QVERIFY(!hs.consumeCookieReply(wrongCid));
        for (int i = 0; i < reply.size(); ++i) {
            QByteArray t = reply;
            t[i] = char(t[i] ^ 0x10);
            QVERIFY(!hs.consumeCookieReply(t));
        }
        InitiatorHandshake otherInit(k.ini, k.res.publicKey(), 0x42, kSuiteBitChaCha, 2, {});
        const QByteArray otherReply = r.makeCookieReply(otherInit.initiation(), from, t0);
        QVERIFY(!hs.consumeCookieReply(otherReply)); // AD = mac1 of a different initiation
        QVERIFY(!hs.hasCookie());

        const QByteArray before = hs.initiation();
        QVERIFY(hs.consumeCookieReply(reply));
        QVERIFY(hs.hasCookie());
        const QByteArray after = hs.initiation();
        QCOMPARE(after.left(after.size() - kMacSize), before.left(before.size() - kMacSize));
        QVERIFY(after.right(kMacSize) != QByteArray(kMacSize, '\0'));

        QCOMPARE(r.checkMacs(after, from, true, t0), Responder::MacCheck::Valid);
        const SocketAddress otherAddr {QHostAddress(QStringLiteral("192.0.2.1")), 4434};
        QCOMPARE(r.checkMacs(after, otherAddr, true, t0), Responder::MacCheck::NeedCookie);
        QByteArray badMac2 = after;
        badMac2[badMac2.size() - 1] = char(badMac2[badMac2.size() - 1] ^ 1);
        QCOMPARE(r.checkMacs(badMac2, from, true, t0), Responder::MacCheck::NeedCookie);
        // The Noise part is unchanged, so the DH step still succeeds.
        QVERIFY(r.consumeInitiation(after));

        // One rotation later the previous secret still validates; two rotations later it does not.
        QCOMPARE(r.checkMacs(after, from, true, t0 + std::chrono::seconds(130)), Responder::MacCheck::Valid);
        QCOMPARE(r.checkMacs(after, from, true, t0 + std::chrono::seconds(250)),
                 Responder::MacCheck::NeedCookie);
        // Fresh cookie after rotation works again.
        QVERIFY(
            hs.consumeCookieReply(r.makeCookieReply(hs.initiation(), from, t0 + std::chrono::seconds(250))));
        QCOMPARE(r.checkMacs(hs.initiation(), from, true, t0 + std::chrono::seconds(251)),
                 Responder::MacCheck::Valid);
        // Idle for a long time: both old secrets are dropped.
        QCOMPARE(r.checkMacs(hs.initiation(), from, true, t0 + std::chrono::seconds(2000)),
                 Responder::MacCheck::NeedCookie);
    }

    void addressEncoding()
    {
        QCOMPARE(addressBytes(from).toHex(), QByteArray("c00002011151"));
        const SocketAddress mapped {QHostAddress(QStringLiteral("::ffff:192.0.2.1")), 4433};
        QCOMPARE(addressBytes(mapped), addressBytes(from));
        const SocketAddress v6 {QHostAddress(QStringLiteral("2001:db8::1")), 1};
        QCOMPARE(addressBytes(v6).toHex(), QByteArray("20010db80000000000000000000000010001"));
    }

    void vectors()
    {
        // Fixed seeds, ephemerals, cids and randomness; the same hex is in docs/protocol.md.
        Pair k;
        vector("initiator_peer_id", k.ini.publicKey(),
               "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737");
        vector("responder_peer_id", k.res.publicKey(),
               "a09aa5f47a6759802ff955f8dc2d2a14a5c99d23be97f864127ff9383455a4f0");
        InitiatorHandshake hs(k.ini, k.res.publicKey(), 0x0102030405060708ull,
                              kSuiteBitChaCha | kSuiteBitAesGcm, 0x0000000100000002ull, "hello",
                              QByteArray(32, '\x33'));
        const QByteArray init = hs.initiation();
        vector(
            "initiation[0:90]", init.left(90),
            "010101020304050607087b0d47d93427f8311160781c7c733fd89f88970aef490d8aa0ee19a4cb8a1b141091867d2f6f"
            "29140626d4f2729bad5450e2ca0a8b1f52fce8353bf1783ff13b53dfeab64e75af9d565394f6dc65b2d0");
        vector("initiation_mac1", init.mid(init.size() - 32, 16), "5f1d33986612ac513ecb98d5ccc66a1d");
        vector("initiation_sha256", sha256(init),
               "fb3e19d8e5f224e65c17082d5048e56cf909e5970f76884171f5137364f60e9c");

        Responder r(k.res, counterRandom());
        const auto in = r.consumeInitiation(init);
        QVERIFY(in);
        const auto rep = r.makeResponse(*in, 0x1112131415161718ull, CipherSuite::ChaCha20Poly1305, "world",
                                        QByteArray(32, '\x44'));
        QVERIFY(rep);
        vector(
            "response", rep->packet,
            "020111121314151617180102030405060708ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff"
            "3e6befbd5c555a09e088a752b02e1793fdf8c0d304da21a492ef486155726ae6afa5a13ad233c9f3cfa5000000000000"
            "00000000000000000000");
        const auto done = hs.consumeResponse(rep->packet);
        QVERIFY(done);
        vector("handshake_hash", done->keys.handshakeHash,
               "eb50712add4bd27a11867dce21e21db22c4bb7426ddb5bb3257d3f172583e53f");
        vector("i2r_secret", done->keys.send.secret,
               "e9c2a017d15aeadcd8841aaa153002511b372e95938ad9dbab508a2fbe062f7d");
        vector("i2r_key", done->keys.send.key,
               "820a021cea366318f13f831b95962301bcb760f504466608678b7c0288c6ce7f");
        vector("i2r_iv", done->keys.send.iv, "89023ebc4843ac36b0d4eb9a");
        vector("r2i_secret", done->keys.recv.secret,
               "5e8d5dcd6bd141aa2a4d33931c424e8ad1c18f6ce06ca1d9b1cd23bcb79b349f");
        const auto prot = PacketProtection::create(CipherSuite::ChaCha20Poly1305, done->keys.send.key,
                                                   done->keys.send.iv);
        vector("i2r_packet_pn1", prot->sealCopy(1, "hdr", "payload"),
               "d13843a249b9614f0225681dc0aea95dbc54eb23546222");

        InitiatorHandshake hs2(k.ini, k.res.publicKey(), 0x0102030405060708ull, kSuiteBitChaCha,
                               0x0000000100000003ull, {}, QByteArray(32, '\x55'));
        const QByteArray cookieReply = r.makeCookieReply(hs2.initiation(), from, t0);
        vector(
            "cookie_reply", cookieReply,
            "03010102030405060708202122232425262728292a2b2c2d2e2f303132333435363702f71f1fba71ce4f6410c652de88"
            "dda6a727072a3efdd41e0630d9da75c84c9b");
        QVERIFY(hs2.consumeCookieReply(cookieReply));
        vector("initiation2_mac2", hs2.initiation().right(16), "86334c90eeb1fda129d3f47692bd780e");

        // The document carries the same vectors, so the two cannot drift apart.
        QFile doc(QStringLiteral(SSS_DOCS_DIR "/protocol.md"));
        QVERIFY(doc.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = doc.readAll().split('\n');
        QCOMPARE(docLines.size(), 14);
        for (const QByteArray &l : std::as_const(docLines))
            QVERIFY2(lines.contains(l), l.constData());
    }

    void robustness()
    {
        // Random, truncated and mutated inputs never crash and never succeed.
        Pair k;
        InitiatorHandshake hs(k.ini, k.res.publicKey(), 7, kSuiteBitChaCha, 1, "x");
        Responder r(k.res);
        const auto in = r.consumeInitiation(hs.initiation());
        const QByteArray goodResp = r.makeResponse(*in, 8, CipherSuite::ChaCha20Poly1305, {})->packet;
        const QByteArray goodCookie = r.makeCookieReply(hs.initiation(), from, t0);
        const QByteArray seeds[] = {hs.initiation(), goodResp, goodCookie};
        QRandomGenerator rng(12345);
        int n = 0;
        for (int iter = 0; iter < 3000; ++iter) {
            QByteArray b;
            const int mode = iter % 3;
            const QByteArray &seed = seeds[rng.bounded(3)];
            if (mode == 0) { // random bytes with a plausible type byte
                b.resize(rng.bounded(1400));
                for (auto &c : b)
                    c = char(rng.bounded(256));
                if (!b.isEmpty())
                    b[0] = char(rng.bounded(5));
            } else if (mode == 1) { // truncation
                b = seed.left(rng.bounded(seed.size()));
            } else { // a few random byte changes
                b = seed;
                for (int j = 0, m = 1 + rng.bounded(4); j < m; ++j) {
                    const int at = rng.bounded(b.size());
                    b[at] = char(b[at] ^ (1 + rng.bounded(255)));
                }
            }
            const bool resp = b.size() > 0 && uint8_t(b[0]) == kTypeResponse;
            // mac2 is not the DH step's business: an initiation differing only there is still valid.
            const QByteArray &init = seeds[0];
            const bool onlyMac2 = b.size() == init.size() && b != init
                && b.left(init.size() - kMacSize) == init.left(init.size() - kMacSize);
            r.checkMacs(b, from, iter & 1, t0);
            r.makeCookieReply(b, from, t0);
            QCOMPARE(bool(r.consumeInitiation(b)), onlyMac2);
            QVERIFY(!hs.consumeCookieReply(b));
            if (resp)
                ++n;
            QVERIFY(!hs.consumeResponse(b));
            peekCid(b);
            peekResponseReceiverCid(b);
        }
        QVERIFY(n > 0);
        QVERIFY(hs.consumeResponse(goodResp)); // still intact after all that
    }
};

QTEST_APPLESS_MAIN(TestCryptoHandshake)
#include "tst_crypto_handshake.moc"
