// Identity: the long-term key pair of a Host (Ed25519). Its public half is the PeerId.
#pragma once

#include <QByteArray>
#include <QString>
#include <sss/peerid.h>

namespace sss {

class SSS_EXPORT Identity
{
public:
    Identity() = default; // null
    ~Identity();
    Identity(const Identity &) = default;
    Identity &operator=(const Identity &) = default;
    Identity(Identity &&) noexcept = default;
    Identity &operator=(Identity &&) noexcept = default;

    static Identity generate();
    // From a 64-byte Ed25519 secret key (seed || public key); null if the key is not consistent.
    static Identity fromSecretKey(const QByteArray &secretKey);
    // Reads a file written by save(). Returns a null Identity and fills *errorString on failure.
    static Identity load(const QString &path, QString *errorString = nullptr);
    // The per-application default: <AppDataLocation>/identity.key.
    static QString defaultPath();

    // Writes the key atomically with permissions 0600 (owner read/write only), creating directories.
    bool save(const QString &path, QString *errorString = nullptr) const;

    bool isNull() const { return m_secret.isEmpty(); }
    PeerId peerId() const { return m_peerId; }
    QByteArray secretKey() const { return m_secret; }

    friend bool operator==(const Identity &a, const Identity &b) { return a.m_secret == b.m_secret; }
    friend bool operator!=(const Identity &a, const Identity &b) { return !(a == b); }

private:
    QByteArray m_secret;
    PeerId m_peerId;
};

} // namespace sss

Q_DECLARE_METATYPE(sss::Identity)
