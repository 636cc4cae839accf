// Shared pieces of sss-perf: the control protocol, CPU time, and waiting on the event loop.
//
// Control protocol (top-level stream service "sss-perf", protocol "1"): every control message is one
// SSS message (Stream::writeMessage) holding a compact JSON object with an "op" key.
//   client -> server  {"op":"start","mode":"bulk|rr|datagram","download":b,"bytes":N,"seconds":S,"streams":K,
//                      "transactions":b,"zero_copy_reads":b}
//   server -> client  {"op":"ready"}                (the server's CPU clock starts here)
//   ... the test runs on substreams of the control stream ...
//   client -> server  {"op":"stop"}
//   server -> client  {"op":"result","server_cpu_s":x,"bytes":N,"datagrams":N}
//   either side       {"op":"error","message":"..."}
// Data substreams (the bulk receiver reads with QIODevice::read(char *, n) into a reused buffer, or
// under "zero_copy_reads" with Stream::read(qint64)):
//   bulk upload:   client opens K substreams, writes its share, FIN; the server reads to the end and
//                  answers with an 8-byte big-endian count of the bytes it received, then FIN.
//   bulk download: the server opens K substreams, writes its share (or for S seconds), FIN.
//   rr:            client opens a substream, writes 1 byte + FIN; the server answers 1 byte + FIN.
//                  With "transactions" the same exchange goes through Stream::sendRequest and
//                  listen(AcceptRequests)/sendReply: no Stream object per request on either side.
//   datagram:      client opens one substream and sends best-effort datagrams on it.
// Connect mode uses a second service "sss-perf-connect"/"1": 1 byte in, 1 byte back, FIN.
#pragma once

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>
#include <algorithm>
#include <functional>
#include <sss/stream.h>
#include <sys/resource.h>

namespace sssperf {

inline const QString kService = QStringLiteral("sss-perf");

// One read of a bulk receiver: QIODevice::read(char *, n) copies into the reused `buf`;
// `zeroCopy`: Stream::read(qint64), dropped at once as a consumer done with it would. That shares
// bytes of one received packet, but a read of everything available spans packets and is gathered
// (a copy into a new array): per packet the same instructions (6,590-6,600 at the receiver of a 2 GiB
// upload either way), and reads of one packet's size cost more in calls (~7,400) than the copy saves.
inline qint64 readChunk(sss::Stream *s, QByteArray &buf, bool zeroCopy)
{
    if (zeroCopy)
        return s->read(buf.size()).size();
    return s->read(buf.data(), buf.size());
}
inline const QString kConnectService = QStringLiteral("sss-perf-connect");
inline const QString kProtocol = QStringLiteral("1");
constexpr qint64 kMaxControlMessage = 64 * 1024;

inline double cpuSeconds()
{
    rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
        + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

inline QByteArray encode(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

// A control message, or an empty object if `bytes` is not a JSON object with a string "op".
inline QJsonObject decode(const QByteArray &bytes)
{
    if (bytes.size() > kMaxControlMessage)
        return {};
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(bytes, &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject() || !doc.object().value("op").isString())
        return {};
    return doc.object();
}

// Runs the event loop until `done()` or the timeout; returns done().
inline bool spinUntil(const std::function<bool()> &done, int timeoutMs)
{
    if (done())
        return true;
    QDeadlineTimer deadline(timeoutMs);
    QTimer wake; // makes sure the blocking wait returns at the deadline
    wake.setSingleShot(true);
    wake.setTimerType(Qt::PreciseTimer);
    while (!done()) {
        if (deadline.hasExpired())
            return done();
        if (!wake.isActive()) // re-armed: a timer may fire a little early
            wake.start(std::max<qint64>(1, deadline.remainingTime()));
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    }
    return true;
}

} // namespace sssperf
