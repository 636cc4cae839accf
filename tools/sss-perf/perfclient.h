// sss-perf client side.
#pragma once

#include <QHostAddress>
#include <QJsonObject>
#include <QString>
#include <memory>
#include <sss/host.h>
#include <sss/peerid.h>

namespace sss {
class Stream;
}

namespace sssperf {

struct ClientOptions {
    QHostAddress address;
    quint16 port = 0;
    sss::PeerId peer;
    QString mode = QStringLiteral("bulk"); // bulk | rr | connect | datagram
    int streams = 1; // bulk: data streams; rr: requests in flight
    qint64 bytes = 0; // bulk total (ignored when seconds > 0)
    double seconds = 0; // bulk/rr/datagram duration; 0 = by count
    qint64 requests = 10000; // rr count when seconds == 0
    int connections = 100; // connect mode
    bool download = false;
    bool copyWrites = false; // bulk upload through QIODevice::write(const char *, n) (copies)
    bool zeroCopyReads = false; // the bulk receiver (either side) reads with Stream::read(qint64)
    bool transactions = false; // rr through Stream::sendRequest (no Stream object per request)
    int size = 1200; // datagram size
    double rate = 50000; // datagrams per second
};

class PerfClient
{
public:
    explicit PerfClient(const ClientOptions &options);
    ~PerfClient();

    bool run(); // false on failure; errorString() says why
    QJsonObject result() const { return result_; }
    QString errorString() const { return error_; }

private:
    bool fail(const QString &why);
    bool openControl();
    QJsonObject control(const QJsonObject &request, const QString &expectOp, int timeoutMs);
    void addChannelStats(QJsonObject &out) const;
    bool runUpload();
    bool runDownload();
    bool runRequests();
    bool runDatagrams();
    bool runConnect();

    ClientOptions o_;
    std::unique_ptr<sss::Host> host_;
    sss::Stream *ctl_ = nullptr;
    QJsonObject result_;
    QString error_;
};

} // namespace sssperf
