// Server: accepts top-level streams for one named service on a Host.
#pragma once

#include <QObject>
#include <QString>
#include <memory>
#include <sss/global.h>

namespace sss {

class Host;
class Stream;
class ServerPrivate;

class SSS_EXPORT Server : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Server)
public:
    explicit Server(Host *host, QObject *parent = nullptr);
    ~Server() override;

    bool listen(const QString &service, const QString &protocol);
    bool isListening() const;
    void close();

    QString serviceName() const;
    QString protocolName() const;
    Host *host() const;

    bool hasPendingConnections() const;
    Stream *nextPendingConnection();

    QString errorString() const;

Q_SIGNALS:
    void newConnection();

private:
    Q_DECLARE_PRIVATE_D(d_impl, Server)
    std::unique_ptr<ServerPrivate> d_impl;
    friend class HostPrivate;
};

} // namespace sss
