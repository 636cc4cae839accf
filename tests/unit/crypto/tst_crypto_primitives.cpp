// HKDF (RFC 5869), key schedule, packet protection for every suite, suite choice, identities.
#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/identity.h"

#include <QTest>
#include <sodium.h>

using namespace sss::core::crypto;

namespace {
QByteArray range(int from, int to) // bytes from..to-1
{
    QByteArray b;
    for (int i = from; i < to; ++i)
        b.append(char(i));
    return b;
}
QByteArray hex(const char *s)
{
    return QByteArray::fromHex(s);
}
} // namespace

class TestCryptoPrimitives : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase() { ensureInitialized(); }

    void peerIdConversionIsCachedFaithfully()
    {
        // peerIdToX25519 keeps its last results process-wide: every answer must still be
        // libsodium's, for more keys than the cache holds, and invalid keys stay rejected.
        std::vector<QByteArray> keys;
        for (int i = 0; i < 100; ++i) {
            unsigned char pk[32], sk[64];
            crypto_sign_keypair(pk, sk);
            keys.emplace_back(reinterpret_cast<const char *>(pk), 32);
        }
        const QByteArray smallOrder(32, '\0'); // the identity-adjacent all-zero encoding
        for (int pass = 0; pass < 3; ++pass) {
            // Pass 0 converts all 100 (more than the cache holds); later passes ask again for the
            // last 40, which the cache then answers.
            for (size_t i = pass == 0 ? 0 : 60; i < keys.size(); ++i) {
                const QByteArray &k = keys[i];
                const auto *pk = reinterpret_cast<const uint8_t *>(k.constData());
                uint8_t got[32], want[32];
                QVERIFY(peerIdToX25519(pk, got));
                QCOMPARE(crypto_sign_ed25519_pk_to_curve25519(want, pk), 0);
                QCOMPARE(QByteArray(reinterpret_cast<char *>(got), 32),
                         QByteArray(reinterpret_cast<char *>(want), 32));
                uint8_t bad[32];
                QVERIFY(!peerIdToX25519(reinterpret_cast<const uint8_t *>(smallOrder.constData()), bad));
            }
        }
    }

    void rfc5869_data()
    {
        QTest::addColumn<QByteArray>("ikm");
        QTest::addColumn<QByteArray>("salt");
        QTest::addColumn<QByteArray>("info");
        QTest::addColumn<int>("length");
        QTest::addColumn<QByteArray>("prk");
        QTest::addColumn<QByteArray>("okm");
        QTest::newRow("case1")
            << QByteArray(22, '\x0b') << range(0, 13) << range(0xf0, 0xfa) << 42
            << hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
            << hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf3400720"
                   "8d5b887185865");
        QTest::newRow("case2") << range(0, 0x50) << range(0x60, 0xb0) << range(0xb0, 0x100) << 82
                               << hex("06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244")
                               << hex("b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a"
                                      "99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec"
                                      "3e87c14c01d5c1f3434f1d87");
        QTest::newRow("case3") << QByteArray(22, '\x0b') << QByteArray() << QByteArray() << 42
                               << hex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04")
                               << hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d2013"
                                      "95faa4b61a96c8");
    }
    void rfc5869()
    {
        QFETCH(QByteArray, ikm);
        QFETCH(QByteArray, salt);
        QFETCH(QByteArray, info);
        QFETCH(int, length);
        QFETCH(QByteArray, prk);
        QFETCH(QByteArray, okm);
        const QByteArray p = hkdfExtract(salt, ikm);
        QCOMPARE(p.toHex(), prk.toHex());
        QCOMPARE(hkdfExpand(p, info, length).toHex(), okm.toHex());
    }

    void hmacLongKey()
    {
        // RFC 4231 test case 6: a 131-byte key (needs the init/update/final API).
        QCOMPARE(hmacSha256(QByteArray(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")
                     .toHex(),
                 QByteArray("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
    }

    void hkdfExpandBounds()
    {
        const QByteArray prk(32, '\x01');
        QVERIFY(hkdfExpand(prk, {}, 0).isEmpty());
        QVERIFY(hkdfExpand(prk, {}, 255 * 32 + 1).isEmpty());
        QCOMPARE(hkdfExpand(prk, {}, 255 * 32).size(), 255 * 32);
        QVERIFY(hkdfExpand({}, {}, 32).isEmpty());
    }

    void keySchedule()
    {
        // Values cross-checked with Python's hmac/hashlib; also listed in docs/protocol.md.
        const QByteArray secret = range(0, 32);
        const DirectionKeys k = deriveDirection(secret);
        QCOMPARE(k.secret, secret);
        QCOMPARE(k.key.toHex(),
                 QByteArray("5c086a88948a6d96a9e915be21d3685cfd16acb1918c27ffe363c7c3d02adac6"));
        QCOMPARE(k.iv.toHex(), QByteArray("9b4e4f95b1281c5a75da2ab2"));
        QCOMPARE(nextSecret(secret).toHex(),
                 QByteArray("06b8814e78baae4f1da4903649213107295b487745e1e9dd5e8e3d1af49e4383"));
        QByteArray owned = nextSecret(secret);
        secureWipe(owned);
        QVERIFY(owned.isEmpty());
    }

    void nonceConstruction()
    {
        const QByteArray iv = hex("000102030405060708090a0b");
        uint8_t nonce[12];
        makeNonce(reinterpret_cast<const uint8_t *>(iv.constData()), 0x1122334455667788ull, nonce);
        QCOMPARE(QByteArray(reinterpret_cast<char *>(nonce), 12).toHex(),
                 QByteArray("00010203152735435d6f7d83"));
        makeNonce(reinterpret_cast<const uint8_t *>(iv.constData()), 0, nonce);
        QCOMPARE(QByteArray(reinterpret_cast<char *>(nonce), 12), iv);
    }

    void suites_data()
    {
        QTest::addColumn<int>("suite");
        QTest::newRow("chacha") << int(CipherSuite::ChaCha20Poly1305);
        QTest::newRow("aesgcm") << int(CipherSuite::Aes256Gcm);
        QTest::newRow("null") << int(CipherSuite::Null);
    }
    void suites()
    {
        QFETCH(int, suite);
        const auto s = CipherSuite(suite);
        if (s == CipherSuite::Aes256Gcm && !aes256GcmAvailable()) {
            QVERIFY(!PacketProtection::create(s, QByteArray(32, 'k'), QByteArray(12, 'i')));
            QSKIP("AES-256-GCM not available on this CPU");
        }
        const auto p = PacketProtection::create(s, range(0x20, 0x40), range(0x40, 0x4c));
        QVERIFY(p);
        QCOMPARE(p->suite(), s);
        const QByteArray ad = "header bytes";
        const QByteArray plain = range(0, 200);
        const QByteArray sealed = p->sealCopy(42, ad, plain);
        QCOMPARE(sealed.size(), plain.size() + PacketProtection::kTagSize);
        if (s != CipherSuite::Null)
            QVERIFY(!sealed.startsWith(plain.left(16)));
        QCOMPARE(p->openCopy(42, ad, sealed).value_or(QByteArray()), plain);

        // In place, both directions.
        QByteArray buf = plain;
        buf.resize(plain.size() + PacketProtection::kTagSize);
        auto *b = reinterpret_cast<uint8_t *>(buf.data());
        const auto *a = reinterpret_cast<const uint8_t *>(ad.constData());
        p->seal(42, a, ad.size(), b, plain.size(), b);
        QCOMPARE(buf, sealed);
        QVERIFY(p->open(42, a, ad.size(), b, buf.size(), b));
        QCOMPARE(buf.left(plain.size()), plain);

        // Every flipped byte of ciphertext or AD, a wrong packet number or a short input fails.
        for (int i = 0; i < sealed.size(); ++i) {
            QByteArray t = sealed;
            t[i] = char(t[i] ^ 0x01);
            QVERIFY2(!p->openCopy(42, ad, t), qPrintable(QString::number(i)));
        }
        for (int i = 0; i < ad.size(); ++i) {
            QByteArray t = ad;
            t[i] = char(t[i] ^ 0x80);
            QVERIFY(!p->openCopy(42, t, sealed));
        }
        QVERIFY(!p->openCopy(43, ad, sealed));
        QVERIFY(!p->openCopy(42, ad, sealed.left(15)));
        QVERIFY(!p->openCopy(42, ad, sealed.left(sealed.size() - 1)));
        // A different key does not open it.
        const auto other = PacketProtection::create(s, range(0x21, 0x41), range(0x40, 0x4c));
        QVERIFY(!other->openCopy(42, ad, sealed));
        // Empty plaintext still authenticates.
        const QByteArray e = p->sealCopy(7, ad, {});
        QCOMPARE(e.size(), 16);
        QCOMPARE(p->openCopy(7, ad, e).value_or(QByteArray("x")), QByteArray());
    }

    void chachaMatchesLibsodium()
    {
        // Independent path: our nonce construction + libsodium's one-shot API.
        const QByteArray key = range(0x80, 0xa0), iv = range(0xa0, 0xac);
        const auto p = PacketProtection::create(CipherSuite::ChaCha20Poly1305, key, iv);
        const QByteArray plain = "hello sss", ad = "ad";
        uint8_t nonce[12];
        makeNonce(reinterpret_cast<const uint8_t *>(iv.constData()), 0x0102030405060708ull, nonce);
        QByteArray ref(plain.size() + 16, '\0');
        unsigned long long clen;
        crypto_aead_chacha20poly1305_ietf_encrypt(
            reinterpret_cast<unsigned char *>(ref.data()), &clen,
            reinterpret_cast<const unsigned char *>(plain.data()), plain.size(),
            reinterpret_cast<const unsigned char *>(ad.data()), ad.size(), nullptr, nonce,
            reinterpret_cast<const unsigned char *>(key.data()));
        QCOMPARE(p->sealCopy(0x0102030405060708ull, ad, plain).toHex(), ref.toHex());
    }

    void createRejectsBadSizes()
    {
        QVERIFY(!PacketProtection::create(CipherSuite::ChaCha20Poly1305, QByteArray(31, 'k'),
                                          QByteArray(12, 'i')));
        QVERIFY(!PacketProtection::create(CipherSuite::ChaCha20Poly1305, QByteArray(32, 'k'),
                                          QByteArray(11, 'i')));
        QVERIFY(!PacketProtection::create(CipherSuite(9), QByteArray(32, 'k'), QByteArray(12, 'i')));
    }

    void suiteChoice_data()
    {
        QTest::addColumn<int>("offered");
        QTest::addColumn<int>("supported");
        QTest::addColumn<int>("expected"); // -1 = none
        QTest::newRow("both aes") << 3 << 3 << int(CipherSuite::Aes256Gcm);
        QTest::newRow("chacha only peer") << 1 << 3 << int(CipherSuite::ChaCha20Poly1305);
        QTest::newRow("aes only") << 2 << 2 << int(CipherSuite::Aes256Gcm);
        QTest::newRow("nothing common") << 2 << 1 << -1;
        QTest::newRow("null one side") << 0x81 << 0x01 << int(CipherSuite::ChaCha20Poly1305);
        QTest::newRow("null offered only") << 0x80 << 0x03 << -1;
        QTest::newRow("null both") << 0x80 << 0x80 << int(CipherSuite::Null);
        QTest::newRow("real beats null") << 0x81 << 0x81 << int(CipherSuite::ChaCha20Poly1305);
    }
    void suiteChoice()
    {
        QFETCH(int, offered);
        QFETCH(int, supported);
        QFETCH(int, expected);
        const auto c = chooseSuite(uint8_t(offered), uint8_t(supported));
        QCOMPARE(c ? int(*c) : -1, expected);
    }
    void localMask()
    {
        const uint8_t m = suiteMaskLocal();
        QVERIFY(m & kSuiteBitChaCha);
        QVERIFY(!(m & kSuiteBitNull));
        QCOMPARE(bool(m & kSuiteBitAesGcm), aes256GcmAvailable());
    }

    void identity()
    {
        const StaticIdentity a = StaticIdentity::generate();
        QVERIFY(a.isValid());
        QCOMPARE(a.publicKey().size(), 32);
        QCOMPARE(a.secretKey().size(), 64);
        QVERIFY(isValidPeerId(a.publicKey()));
        const QByteArray sig = a.sign("message");
        QVERIFY(StaticIdentity::verify(a.publicKey(), "message", sig));
        QVERIFY(!StaticIdentity::verify(a.publicKey(), "messagE", sig));
        QVERIFY(!StaticIdentity::verify(a.publicKey(), "message", sig.left(63)));

        const auto b = StaticIdentity::fromSecretKey(a.secretKey());
        QVERIFY(b);
        QCOMPARE(b->publicKey(), a.publicKey());
        QCOMPARE(b->x25519Secret(), a.x25519Secret());
        // X25519 public = scalarmult_base(X25519 secret): the conversions agree.
        QByteArray xpk(32, '\0');
        crypto_scalarmult_base(reinterpret_cast<unsigned char *>(xpk.data()),
                               reinterpret_cast<const unsigned char *>(a.x25519Secret().constData()));
        QCOMPARE(xpk, a.x25519Public());

        QByteArray bad = a.secretKey();
        bad[40] = char(bad[40] ^ 1); // public half no longer matches the seed
        QVERIFY(!StaticIdentity::fromSecretKey(bad));
        QVERIFY(!StaticIdentity::fromSecretKey(bad.left(63)));
        QVERIFY(!StaticIdentity::fromSeed(QByteArray(31, 's')).isValid());
        QVERIFY(StaticIdentity().publicKey().isEmpty());
        QVERIFY(StaticIdentity().sign("x").isEmpty());
    }

    void seedIsDeterministic()
    {
        // RFC 8032 test 1: seed 9d61b1...7f60 -> public d75a98...511a.
        const auto id = StaticIdentity::fromSeed(
            hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
        QCOMPARE(id.publicKey().toHex(),
                 QByteArray("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
        QCOMPARE(id.sign({}).toHex(),
                 QByteArray("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
                            "c61e39701cf9b46b"
                            "d25bf5f0595bbe24655141438e7a100b"));
    }

    void peerIdValidation_data()
    {
        QTest::addColumn<QByteArray>("pk");
        QTest::addColumn<bool>("valid");
        QTest::newRow("rfc8032") << hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                                 << true;
        QTest::newRow("short") << QByteArray(31, '\x01') << false;
        QTest::newRow("identity point")
            << hex("0100000000000000000000000000000000000000000000000000000000000000") << false;
        QTest::newRow("zero") << QByteArray(32, '\0') << false;
        QTest::newRow("order-2 point")
            << hex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f") << false;
    }
    void peerIdValidation()
    {
        QFETCH(QByteArray, pk);
        QFETCH(bool, valid);
        QCOMPARE(isValidPeerId(pk), valid);
    }
};

QTEST_APPLESS_MAIN(TestCryptoPrimitives)
#include "tst_crypto_primitives.moc"
