// sss-perf server: serves every mode to any number of clients until killed.
#include "perfserver.h"

#include "perfcommon.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QtEndian>
#include <cstdio>
#include <memory>
#include <sss/server.h>
#include <sss/stream.h>

namespace sssperf {

using sss::Stream;

namespace {

QByteArray fillPattern(qint64 size)
{
    QByteArray b(size, Qt::Uninitialized);
    for (qint64 i = 0; i < size; ++i)
        b[i] = char((i * 131 + 7) & 0xff);
    return b;
}

} // namespace

// One client's control stream and the test it runs.
class ServerSession : public QObject
{
public:
    ServerSession(Stream *control, QObject *parent) : QObject(parent), ctl_(control)
    {
        ctl_->setParent(this);
        ctl_->listen(Stream::ListenMode::AcceptSubstreams);
        connect(ctl_, &Stream::readyReadMessage, this, &ServerSession::onControl);
        connect(ctl_, &Stream::newSubstream, this, &ServerSession::onSubstream);
        connect(ctl_, &Stream::requestReceived, this, [this](quint64 id, const QByteArray &request) {
            received_ += request.size();
            ctl_->sendReply(id, QByteArrayLiteral("r"));
        });
        connect(ctl_, &Stream::readChannelFinished, this, &QObject::deleteLater);
        connect(ctl_, &Stream::errorOccurred, this, &QObject::deleteLater);
        onControl();
        onSubstream();
    }

private:
    void reply(const QJsonObject &o) { ctl_->writeMessage(encode(o)); }

    void onControl()
    {
        while (ctl_->hasPendingMessages()) {
            const QJsonObject m = decode(ctl_->readMessage());
            const QString op = m.value("op").toString();
            if (op == "start") {
                start(m);
            } else if (op == "stop") {
                reply({{"op", "result"},
                       {"server_cpu_s", cpuSeconds() - cpu0_},
                       {"bytes", double(received_)},
                       {"datagrams", double(datagrams_)}});
            } else {
                reply({{"op", "error"}, {"message", "bad control message"}});
            }
        }
    }

    void start(const QJsonObject &m)
    {
        mode_ = m.value("mode").toString();
        download_ = m.value("download").toBool();
        zeroCopyReads_ = m.value("zero_copy_reads").toBool();
        copyWrites_ = m.value("copy_writes").toBool();
        bytes_ = qint64(m.value("bytes").toDouble());
        seconds_ = m.value("seconds").toDouble();
        const int streams = m.value("streams").toInt(1);
        if ((mode_ != "bulk" && mode_ != "rr" && mode_ != "datagram") || streams < 1 || streams > 10000
            || bytes_ < 0) {
            reply({{"op", "error"}, {"message", "bad start parameters"}});
            mode_.clear();
            kind_ = Kind::None;
            return;
        }
        // Decided once: onSubstream() runs per request and should not compare strings.
        kind_ = mode_ == "rr" ? Kind::Requests : mode_ == "datagram" ? Kind::Datagrams : Kind::Bulk;
        ctl_->listen(kind_ == Kind::Requests && m.value("transactions").toBool()
                         ? Stream::ListenMode::AcceptRequests
                         : Stream::ListenMode::AcceptSubstreams);
        received_ = 0;
        datagrams_ = 0;
        cpu0_ = cpuSeconds();
        reply({{"op", "ready"}});
        if (mode_ == "bulk" && download_) {
            if (pattern_.isEmpty())
                pattern_ = fillPattern(256 * 1024);
            sendClock_.start();
            for (int i = 0; i < streams; ++i) {
                Stream *s = ctl_->openSubstream();
                if (!s)
                    break;
                const qint64 share = bytes_ / streams + (i < bytes_ % streams ? 1 : 0);
                s->setProperty("remaining", share);
                connect(s, &Stream::bytesWritten, this, [this, s] { pump(s); });
                pump(s);
            }
        }
    }

    // Keeps a download substream's send buffer full until its share (or the time) is done.
    void pump(Stream *s)
    {
        qint64 remaining = s->property("remaining").toLongLong();
        if (remaining < 0)
            return; // already finished
        const bool timed = seconds_ > 0;
        while (true) {
            if (timed ? sendClock_.elapsed() >= qint64(seconds_ * 1000) : remaining == 0) {
                s->shutdown(Stream::ShutdownMode::Write);
                s->setProperty("remaining", qint64(-1));
                return;
            }
            const qint64 want = timed ? pattern_.size() : std::min<qint64>(remaining, pattern_.size());
            // As the uploading client does: Stream::write(QByteArray) shares the pattern,
            // --copy-writes measures the copying QIODevice path.
            const qint64 n = copyWrites_ || want < pattern_.size() ? s->write(pattern_.constData(), want)
                                                                   : s->write(pattern_);
            if (n <= 0)
                break;
            if (!timed)
                remaining -= n;
            if (n < want)
                break;
        }
        s->setProperty("remaining", remaining);
        if (timed) // the buffer may stay full past the deadline: check again soon
            QTimer::singleShot(5, s, [this, s] { pump(s); });
    }

    void onSubstream()
    {
        while (Stream *s = ctl_->acceptSubstream()) {
            if (kind_ == Kind::Requests)
                serveRequest(s);
            else if (kind_ == Kind::Bulk && !download_)
                serveUpload(s);
            else if (kind_ == Kind::Datagrams)
                serveDatagrams(s);
            else
                s->reset(); // no test running: refuse
        }
    }

    void serveRequest(Stream *s)
    {
        // One byte in (the FIN may come with it) -> one byte back and FIN. The flag is shared by the
        // connected copy of the lambda and the direct call below.
        auto answered = std::make_shared<bool>(false);
        auto answer = [this, s, answered] {
            char buf[64];
            qint64 n = 0, got = 0;
            while (s->bytesAvailable() > 0 && (n = s->read(buf, sizeof buf)) > 0)
                got += n;
            received_ += got;
            if (got > 0 && !*answered) {
                *answered = true;
                s->write("r", 1);
                s->shutdown(Stream::ShutdownMode::Write);
            }
        };
        connect(s, &Stream::readyRead, this, answer);
        // Deleted right in the slot (safe in any Stream signal), not with deleteLater(): a posted
        // event costs an event-loop wake-up, three system calls per request.
        connect(s, &Stream::readChannelFinished, s, [s] { delete s; });
        connect(s, &Stream::errorOccurred, s, &QObject::deleteLater);
        answer();
    }

    void serveUpload(Stream *s)
    {
        s->setProperty("count", qint64(0));
        auto drain = [this, s] {
            static thread_local QByteArray buf(256 * 1024, Qt::Uninitialized);
            qint64 count = s->property("count").toLongLong();
            qint64 n = 0;
            while (s->bytesAvailable() > 0 && (n = readChunk(s, buf, zeroCopyReads_)) > 0) {
                count += n;
                received_ += n;
            }
            s->setProperty("count", count);
            if (s->property("fin").toBool() && s->bytesAvailable() == 0 && !s->property("acked").toBool()) {
                s->setProperty("acked", true);
                uchar be[8];
                qToBigEndian<quint64>(quint64(count), be);
                s->write(reinterpret_cast<const char *>(be), 8);
                s->shutdown(Stream::ShutdownMode::Write);
                QTimer::singleShot(30000, s, &QObject::deleteLater); // the client closes it long before
            }
        };
        connect(s, &Stream::readyRead, this, drain);
        connect(s, &Stream::readChannelFinished, this, [s, drain] {
            s->setProperty("fin", true);
            drain();
        });
        connect(s, &Stream::errorOccurred, s, &QObject::deleteLater);
        drain();
    }

    void serveDatagrams(Stream *s)
    {
        connect(s, &Stream::readyReadDatagram, this, [this, s] {
            while (s->hasPendingDatagrams()) {
                received_ += s->readDatagram().size();
                ++datagrams_;
            }
        });
        connect(s, &Stream::readChannelFinished, s, &QObject::deleteLater);
        connect(s, &Stream::errorOccurred, s, &QObject::deleteLater);
    }

    Stream *ctl_;
    QString mode_;
    enum class Kind { None, Bulk, Requests, Datagrams } kind_ = Kind::None;
    bool download_ = false;
    bool zeroCopyReads_ = false;
    bool copyWrites_ = false; // the bulk download's writes copy (QIODevice::write) instead of sharing
    qint64 bytes_ = 0;
    double seconds_ = 0;
    qint64 received_ = 0;
    qint64 datagrams_ = 0;
    double cpu0_ = 0;
    QByteArray pattern_;
    QElapsedTimer sendClock_;
};

PerfServer::PerfServer(QObject *parent) : QObject(parent) { }

bool PerfServer::start(const sss::Identity &identity, const QHostAddress &bind, quint16 port, QString *error)
{
    host_ = new sss::Host(this);
    if (!identity.isNull())
        host_->setIdentity(identity);
    if (!host_->bind(bind, port)) {
        *error = host_->errorString();
        return false;
    }
    control_ = new sss::Server(host_, this);
    connect_ = new sss::Server(host_, this);
    if (!control_->listen(kService, kProtocol) || !connect_->listen(kConnectService, kProtocol)) {
        *error = control_->errorString() + connect_->errorString();
        return false;
    }
    connect(control_, &sss::Server::newConnection, this, [this] {
        while (Stream *s = control_->nextPendingConnection())
            new ServerSession(s, this);
    });
    connect(connect_, &sss::Server::newConnection, this, [this] {
        while (Stream *s = connect_->nextPendingConnection()) {
            s->setParent(this);
            QPointer<Stream> p(s);
            auto serve = [p] {
                if (!p || p->property("answered").toBool())
                    return;
                char c;
                if (p->read(&c, 1) == 1) {
                    p->setProperty("answered", true);
                    p->write("r", 1);
                    p->shutdown(Stream::ShutdownMode::Write);
                }
            };
            connect(s, &Stream::readyRead, s, serve);
            connect(s, &Stream::readChannelFinished, s, &QObject::deleteLater);
            connect(s, &Stream::errorOccurred, s, &QObject::deleteLater);
            serve();
        }
    });
    return true;
}

sss::PeerId PerfServer::peerId() const
{
    return host_ ? host_->peerId() : sss::PeerId();
}

quint16 PerfServer::port() const
{
    return host_ ? host_->localPort() : 0;
}

} // namespace sssperf
