#include "crypto/identity.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>
#include <cstdio>
#include <sss/identity.h>

namespace sss {

namespace {
constexpr char kMagic[] = "sss-identity-v1";
}

/*!
    \class sss::Identity
    \brief A Host's long-term Ed25519 key pair. The public half is its PeerId.

    The file format written by save() is one line "sss-identity-v1 <base64url secret key>".
*/

Identity::~Identity() = default;

/*! Generates a new random identity. */
Identity Identity::generate()
{
    const auto sid = core::crypto::StaticIdentity::generate();
    return fromSecretKey(sid.secretKey());
}

/*! Returns the identity for a 64-byte Ed25519 secret key, or a null Identity if it is invalid. */
Identity Identity::fromSecretKey(const QByteArray &secretKey)
{
    Identity id;
    const auto sid = core::crypto::StaticIdentity::fromSecretKey(secretKey);
    if (!sid || !sid->isValid())
        return id;
    id.m_secret = sid->secretKey();
    id.m_peerId = PeerId::fromBytes(sid->publicKey());
    if (id.m_peerId.isNull())
        return Identity();
    return id;
}

/*! Returns <AppDataLocation>/identity.key (the application should set its name first). */
QString Identity::defaultPath()
{
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)
        + QStringLiteral("/identity.key");
}

/*! Loads the identity saved at \a path. On failure returns a null Identity and sets *errorString. */
Identity Identity::load(const QString &path, QString *errorString)
{
    auto fail = [errorString](const QString &text) {
        if (errorString)
            *errorString = text;
        return Identity();
    };
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return fail(QStringLiteral("Cannot open %1: %2").arg(path, f.errorString()));
    const QByteArray content = f.read(4096).trimmed();
    const QList<QByteArray> parts = content.split(' ');
    if (parts.size() != 2 || parts[0] != kMagic)
        return fail(QStringLiteral("%1 is not an SSS identity file").arg(path));
    auto decoded = QByteArray::fromBase64Encoding(
        parts[1], QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return fail(QStringLiteral("%1: the key is not valid base64url").arg(path));
    Identity id = fromSecretKey(decoded.decoded);
    if (id.isNull())
        return fail(QStringLiteral("%1: the key is invalid or corrupted").arg(path));
    if (errorString)
        errorString->clear();
    return id;
}

/*!
    Writes the identity to \a path atomically, readable and writable by the owner only (0600),
    creating missing directories. Returns false and sets *errorString on failure.
*/
bool Identity::save(const QString &path, QString *errorString) const
{
    auto fail = [errorString](const QString &text) {
        if (errorString)
            *errorString = text;
        return false;
    };
    if (isNull())
        return fail(QStringLiteral("Cannot save a null identity"));
    const QFileInfo info(path);
    if (!QDir().mkpath(info.absolutePath()))
        return fail(QStringLiteral("Cannot create directory %1").arg(info.absolutePath()));
    // The temporary file is created with 0600 from the start, so the key is never readable by others.
    const QString tmp = path + QStringLiteral(".tmp");
    QFile::remove(tmp);
    QFile f(tmp);
    if (!f.open(QIODevice::WriteOnly | QIODevice::NewOnly, QFileDevice::ReadOwner | QFileDevice::WriteOwner))
        return fail(QStringLiteral("Cannot create %1: %2").arg(tmp, f.errorString()));
    const QByteArray line = QByteArray(kMagic) + ' '
        + m_secret.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals) + '\n';
    if (f.write(line) != line.size() || !f.flush()) {
        const QString err = f.errorString();
        f.close();
        QFile::remove(tmp);
        return fail(QStringLiteral("Cannot write %1: %2").arg(tmp, err));
    }
    f.close();
    if (std::rename(QFile::encodeName(tmp).constData(), QFile::encodeName(path).constData()) != 0) {
        QFile::remove(tmp);
        return fail(QStringLiteral("Cannot replace %1").arg(path));
    }
    if (errorString)
        errorString->clear();
    return true;
}

} // namespace sss
