#include "crypto/identity.h"

#include <QDebug>
#include <sss/peerid.h>

namespace sss {

/*!
    \class sss::PeerId
    \brief The public identity of a Host: its 32-byte Ed25519 public key.

    The text form is base64url without padding (43 characters).
*/

/*! Returns a PeerId for \a bytes, or a null PeerId if they are not a valid public key. */
PeerId PeerId::fromBytes(const QByteArray &bytes)
{
    PeerId id;
    if (bytes.size() == Size && core::crypto::isValidPeerId(bytes))
        id.m_bytes = bytes;
    return id;
}

/*! Parses the toString() form; returns a null PeerId on any error (also for non-canonical text). */
PeerId PeerId::fromString(QStringView text)
{
    const QByteArray latin = text.trimmed().toLatin1();
    auto decoded = QByteArray::fromBase64Encoding(
        latin, QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded || decoded.decoded.size() != Size)
        return {};
    PeerId id = fromBytes(decoded.decoded);
    if (!id.isNull() && id.toString().toLatin1() != latin)
        return {};
    return id;
}

/*! Returns the base64url form without padding, or an empty string for a null PeerId. */
QString PeerId::toString() const
{
    return QString::fromLatin1(
        m_bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

QDebug operator<<(QDebug debug, const PeerId &id)
{
    QDebugStateSaver saver(debug);
    debug.nospace() << "sss::PeerId(" << (id.isNull() ? QStringLiteral("null") : id.toString()) << ')';
    return debug;
}

} // namespace sss
