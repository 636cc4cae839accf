#pragma once

#include <QList>
#include <QPointer>
#include <sss/server.h>
#include <sss/stream.h>

namespace sss {

class ServerPrivate
{
    Q_DECLARE_PUBLIC(Server)
public:
    ServerPrivate(Server *q, Host *h) : q_ptr(q), host(h) { }
    static ServerPrivate *get(Server *s) { return s->d_func(); }

    Server *q_ptr;
    QPointer<Host> host;
    QString service, protocol;
    bool listening = false;
    QList<QPointer<Stream>> pending;
    QString errorString;
};

} // namespace sss
