// sss-perf server side.
#pragma once

#include <QHostAddress>
#include <QObject>
#include <sss/host.h>
#include <sss/identity.h>

namespace sss {
class Server;
}

namespace sssperf {

class PerfServer : public QObject
{
public:
    explicit PerfServer(QObject *parent = nullptr);
    bool start(const sss::Identity &identity, const QHostAddress &bind, quint16 port, QString *error);
    sss::PeerId peerId() const;
    quint16 port() const;

private:
    sss::Host *host_ = nullptr;
    sss::Server *control_ = nullptr;
    sss::Server *connect_ = nullptr;
};

} // namespace sssperf
