// Identity and PeerId value classes: generation, text form, save/load with 0600 permissions, errors.
#include <QDebug>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <sss/identity.h>
#include <sss/peerid.h>

using namespace sss;

class TestIdentity : public QObject
{
    Q_OBJECT
private slots:
    void generate()
    {
        const Identity a = Identity::generate(), b = Identity::generate();
        QVERIFY(!a.isNull());
        QVERIFY(a != b);
        QCOMPARE(a.peerId().bytes().size(), 32);
        QCOMPARE(a.secretKey().size(), 64);
        QCOMPARE(Identity::fromSecretKey(a.secretKey()), a);
        QVERIFY(Identity().isNull());
        QVERIFY(Identity().peerId().isNull());
    }
    void fromSecretKeyRejectsGarbage_data()
    {
        QTest::addColumn<QByteArray>("key");
        const QByteArray good = Identity::generate().secretKey();
        QByteArray flipped = good;
        flipped[40] = char(flipped[40] ^ 1); // public half no longer matches the seed
        QTest::newRow("empty") << QByteArray();
        QTest::newRow("short") << good.left(63);
        QTest::newRow("long") << good + 'x';
        QTest::newRow("mismatched public half") << flipped;
    }
    void fromSecretKeyRejectsGarbage()
    {
        QFETCH(QByteArray, key);
        QVERIFY(Identity::fromSecretKey(key).isNull());
    }
    void peerIdText()
    {
        const PeerId id = Identity::generate().peerId();
        const QString text = id.toString();
        QCOMPARE(text.size(), 43); // 32 bytes, base64url, no padding
        QVERIFY(!text.contains(u'=') && !text.contains(u'+') && !text.contains(u'/'));
        QCOMPARE(PeerId::fromString(text), id);
        QCOMPARE(PeerId::fromBytes(id.bytes()), id);
        QCOMPARE(qHash(PeerId::fromString(text)), qHash(id));
        QString dbg;
        QDebug(&dbg) << id;
        QVERIFY(dbg.contains(text));
    }
    void peerIdRejects_data()
    {
        QTest::addColumn<QString>("text");
        const QString good = Identity::generate().peerId().toString();
        QTest::newRow("empty") << QString();
        QTest::newRow("short") << good.left(42);
        QTest::newRow("padded") << good + QStringLiteral("=");
        QTest::newRow("bad char") << QString(good).replace(5, 1, QStringLiteral("*"));
        QTest::newRow("too long") << good + QStringLiteral("AAAA");
    }
    void peerIdRejects()
    {
        QFETCH(QString, text);
        QVERIFY(PeerId::fromString(text).isNull());
    }
    void peerIdFromBytesValidates()
    {
        QVERIFY(PeerId::fromBytes(QByteArray(31, 'a')).isNull());
        QVERIFY(PeerId::fromBytes(QByteArray(32, '\0')).isNull()); // identity point: not a valid key
    }
    void saveLoad()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("sub/dir/identity.key"));
        const Identity id = Identity::generate();
        QString err;
        QVERIFY2(id.save(path, &err), qPrintable(err));
        QCOMPARE(QFile::permissions(path) & 0x0777 /* user, group, other bits */,
                 QFileDevice::ReadUser | QFileDevice::WriteUser);
        QCOMPARE(QFile::permissions(path) & (QFileDevice::ReadGroup | QFileDevice::ReadOther),
                 QFileDevice::Permissions());
        const Identity back = Identity::load(path, &err);
        QVERIFY2(!back.isNull(), qPrintable(err));
        QCOMPARE(back, id);
        QCOMPARE(back.peerId(), id.peerId());
        // Overwrite works atomically and leaves no temporary file behind.
        const Identity other = Identity::generate();
        QVERIFY(other.save(path, &err));
        QCOMPARE(Identity::load(path), other);
        QVERIFY(!QFile::exists(path + QStringLiteral(".tmp")));
    }
    void loadErrors_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::newRow("empty") << QByteArray();
        QTest::newRow("wrong magic") << QByteArray("ssh-ed25519 AAAA\n");
        QTest::newRow("bad base64") << QByteArray("sss-identity-v1 ***\n");
        QTest::newRow("short key") << QByteArray("sss-identity-v1 AAAA\n");
        QTest::newRow("binary") << QByteArray(200, '\xff');
    }
    void loadErrors()
    {
        QFETCH(QByteArray, content);
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("id.key"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(content);
        f.close();
        QString err;
        QVERIFY(Identity::load(path, &err).isNull());
        QVERIFY(!err.isEmpty());
    }
    void loadMissingFile()
    {
        QString err;
        QVERIFY(Identity::load(QStringLiteral("/nonexistent/dir/id.key"), &err).isNull());
        QVERIFY(err.contains(QStringLiteral("/nonexistent/dir/id.key")));
        QVERIFY(!Identity().save(QStringLiteral("/tmp/never-written.key"), &err));
        QVERIFY(!err.isEmpty());
    }
    void defaultPath() { QVERIFY(Identity::defaultPath().endsWith(QStringLiteral("/identity.key"))); }
};

QTEST_GUILESS_MAIN(TestIdentity)
#include "tst_api_identity.moc"
