// PeerId: the public identity of an SSS host (its 32-byte Ed25519 public key).
#pragma once

#include <QByteArray>
#include <QMetaType>
#include <QString>
#include <sss/global.h>

QT_BEGIN_NAMESPACE
class QDebug;
QT_END_NAMESPACE

namespace sss {

class SSS_EXPORT PeerId
{
public:
    static constexpr int Size = 32;

    PeerId() = default;
    // A null PeerId unless `bytes` is a valid 32-byte Ed25519 public key.
    static PeerId fromBytes(const QByteArray &bytes);
    // Parses the toString() form (base64url without padding); a null PeerId on any error.
    static PeerId fromString(QStringView text);

    QByteArray bytes() const { return m_bytes; }
    QString toString() const;
    bool isNull() const { return m_bytes.isEmpty(); }

    friend bool operator==(const PeerId &a, const PeerId &b) { return a.m_bytes == b.m_bytes; }
    friend bool operator!=(const PeerId &a, const PeerId &b) { return a.m_bytes != b.m_bytes; }
    friend bool operator<(const PeerId &a, const PeerId &b) { return a.m_bytes < b.m_bytes; }
    friend size_t qHash(const PeerId &id, size_t seed = 0) noexcept { return qHash(id.m_bytes, seed); }

private:
    QByteArray m_bytes;
};

SSS_EXPORT QDebug operator<<(QDebug debug, const PeerId &id);

} // namespace sss

Q_DECLARE_METATYPE(sss::PeerId)
