#include "host_p.h"
#include "server_p.h"

namespace sss {

/*!
    \class sss::Server
    \brief Accepts top-level streams for a named service on a Host, like QTcpServer.

    Services are named by strings, not port numbers. A peer connecting to a (service, protocol)
    pair nobody listens on gets Stream::Error::ServiceNotFound. Accepted streams are parented to
    the Server.
*/

Server::Server(Host *host, QObject *parent)
    : QObject(parent), d_impl(std::make_unique<ServerPrivate>(this, host))
{ }

Server::~Server()
{
    Q_D(Server);
    if (d->listening)
        if (HostPrivate *hp = HostPrivate::get(d->host.data()))
            hp->unregisterServer(this);
}

/*!
    Starts accepting streams for \a service / \a protocol. Works before the Host is bound (the
    service is announced at bind()). Returns false and sets errorString() if this Server already
    listens, the Host is gone, or another Server on the Host serves the same pair.
*/
bool Server::listen(const QString &service, const QString &protocol)
{
    Q_D(Server);
    if (d->listening) {
        d->errorString = QStringLiteral("The server is already listening");
        return false;
    }
    if (service.isEmpty()) {
        d->errorString = QStringLiteral("Empty service name");
        return false;
    }
    HostPrivate *hp = HostPrivate::get(d->host.data());
    if (!hp) {
        d->errorString = QStringLiteral("The host was destroyed");
        return false;
    }
    QString err;
    if (!hp->registerServer(this, service, protocol, &err)) {
        d->errorString = err;
        return false;
    }
    d->service = service;
    d->protocol = protocol;
    d->listening = true;
    d->errorString.clear();
    return true;
}

bool Server::isListening() const
{
    return d_func()->listening;
}

/*! Stops accepting new streams. Pending and accepted streams stay open. */
void Server::close()
{
    Q_D(Server);
    if (!d->listening)
        return;
    if (HostPrivate *hp = HostPrivate::get(d->host.data()))
        hp->unregisterServer(this);
    d->listening = false;
}

QString Server::serviceName() const
{
    return d_func()->service;
}
QString Server::protocolName() const
{
    return d_func()->protocol;
}
Host *Server::host() const
{
    return d_func()->host.data();
}

bool Server::hasPendingConnections() const
{
    Q_D(const Server);
    for (const auto &s : d->pending)
        if (s)
            return true;
    return false;
}

/*! Returns the next accepted stream (a child of this Server), or nullptr. */
Stream *Server::nextPendingConnection()
{
    Q_D(Server);
    while (!d->pending.isEmpty()) {
        QPointer<Stream> s = d->pending.takeFirst();
        if (s) {
            if (HostPrivate *hp = HostPrivate::get(d->host.data()))
                hp->postCatchUp(s.data()); // for streams taken after their first signals
            return s.data();
        }
    }
    return nullptr;
}

QString Server::errorString() const
{
    return d_func()->errorString;
}

/*!
    \fn void sss::Server::newConnection()
    Emitted for every stream that arrives; take it with nextPendingConnection().
*/

} // namespace sss
