// sss-perf client: runs one test against a server and reports it (text or one JSON object).
#include "perfclient.h"

#include "perfcommon.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QPointer>
#include <QtEndian>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sss/stream.h>
#include <vector>

namespace sssperf {

using sss::Stream;

namespace {

// Percentiles by selection, not a full sort: each nth_element works on what the previous one left
// above its rank, so the whole is linear in the samples. (rr-critical-path.sh counts this on the
// client, as it runs before the connection's last packets go out; a sort's n log n does not cancel
// between its two run lengths: it showed up as ~100 instructions per request.)
void addPercentiles(QJsonObject &out, std::vector<double> us)
{
    out["min_us"] = us.empty() ? 0.0 : *std::min_element(us.begin(), us.end());
    size_t from = 0; // [0, from) holds nothing above the ranks already selected
    auto percentile = [&](double p) { // (in increasing p)
        if (us.empty())
            return 0.0;
        const double rank = p / 100.0 * double(us.size() - 1);
        const size_t lo = size_t(std::floor(rank));
        if (lo >= from)
            std::nth_element(us.begin() + qsizetype(from), us.begin() + qsizetype(lo), us.end());
        from = std::max(from, lo + 1);
        const double a = us[lo];
        const double b = lo + 1 < us.size() ? *std::min_element(us.begin() + qsizetype(lo + 1), us.end()) : a;
        return a + (b - a) * (rank - double(lo));
    };
    out["p50_us"] = percentile(50);
    out["p90_us"] = percentile(90);
    out["p99_us"] = percentile(99);
}

} // namespace

PerfClient::PerfClient(const ClientOptions &options) : o_(options) { }

PerfClient::~PerfClient() = default;

bool PerfClient::fail(const QString &why)
{
    if (error_.isEmpty())
        error_ = why;
    return false;
}

bool PerfClient::openControl()
{
    host_ = std::make_unique<sss::Host>();
    if (!host_->bind(o_.address.protocol() == QAbstractSocket::IPv6Protocol
                         ? QHostAddress(QHostAddress::AnyIPv6)
                         : QHostAddress(QHostAddress::AnyIPv4)))
        return fail("bind: " + host_->errorString());
    ctl_ = new Stream(host_.get(), host_.get());
    if (!ctl_->connectTo(o_.peer, kService, kProtocol, o_.address, o_.port))
        return fail("connectTo: " + ctl_->errorString());
    ctl_->listen(Stream::ListenMode::AcceptSubstreams);
    return true;
}

QJsonObject PerfClient::control(const QJsonObject &request, const QString &expectOp, int timeoutMs)
{
    ctl_->writeMessage(encode(request));
    QJsonObject answer;
    const bool ok = spinUntil(
        [&] {
            if (ctl_->hasPendingMessages()) {
                answer = decode(ctl_->readMessage());
                if (answer.isEmpty())
                    answer = {{"op", "error"}, {"message", "malformed control message"}};
                return true;
            }
            return ctl_->state() == Stream::State::Closed;
        },
        timeoutMs);
    if (!ok)
        fail(QStringLiteral("no '%1' from the server within %2 ms").arg(expectOp).arg(timeoutMs));
    else if (answer.isEmpty())
        fail("control stream closed: " + ctl_->errorString());
    else if (answer.value("op").toString() != expectOp)
        fail("server said: " + answer.value("message").toString(answer.value("op").toString()));
    else
        return answer;
    return {};
}

void PerfClient::addChannelStats(QJsonObject &out) const
{
    for (const sss::ChannelInfo &c : host_->channels()) {
        if (c.peerId != o_.peer)
            continue;
        out["cipher"] = c.cipher;
        out["congestion"] = c.congestionAlgorithm;
        out["retransmitted_bytes"] = double(c.retransmittedBytes);
        out["packets_lost"] = double(c.packetsLost);
        out["packets_sent"] = double(c.packetsSent);
        out["packets_received"] = double(c.packetsReceived);
        out["srtt_us"] = double(c.srtt.count());
        out["cwnd"] = double(c.congestionWindow);
        out["datagram_size"] = c.maxDatagramSize; // what path MTU discovery reached
        out["mtu_probes"] = double(c.mtuProbesSent);
        return;
    }
}

bool PerfClient::run()
{
    result_ = {};
    result_["mode"] = o_.mode;
    if (o_.mode == "connect")
        return runConnect();
    if (!openControl())
        return false;
    QJsonObject start {{"op", "start"},
                       {"mode", o_.mode},
                       {"download", o_.download},
                       {"bytes", double(o_.bytes)},
                       {"seconds", o_.seconds},
                       {"streams", o_.streams},
                       {"transactions", o_.transactions},
                       {"zero_copy_reads", o_.zeroCopyReads},
                       {"copy_writes", o_.copyWrites}};
    const double cpu0 = cpuSeconds();
    QElapsedTimer handshake;
    handshake.start();
    if (control(start, "ready", 15000).isEmpty())
        return false;
    result_["handshake_ms"] = double(handshake.nsecsElapsed()) / 1e6;
    const double cpuTest0 = cpuSeconds();
    bool ok = false;
    if (o_.mode == "bulk")
        ok = o_.download ? runDownload() : runUpload();
    else if (o_.mode == "rr")
        ok = runRequests();
    else if (o_.mode == "datagram")
        ok = runDatagrams();
    else
        return fail("unknown mode " + o_.mode);
    result_["client_cpu_s"] = cpuSeconds() - cpuTest0;
    Q_UNUSED(cpu0);
    // Data streams still alive (a failed run) hold callbacks into the finished test: drop them.
    qDeleteAll(ctl_->findChildren<Stream *>(Qt::FindDirectChildrenOnly));
    if (!ok)
        return false;
    const QJsonObject res = control({{"op", "stop"}}, "result", 15000);
    if (res.isEmpty())
        return false;
    result_["server_cpu_s"] = res.value("server_cpu_s").toDouble();
    result_["server_bytes"] = res.value("bytes").toDouble();
    if (o_.mode == "datagram") {
        const double sent = result_.value("datagrams_sent").toDouble();
        const double got = res.value("datagrams").toDouble();
        const double secs = result_.value("seconds").toDouble();
        result_["datagrams_received"] = got;
        result_["received_per_s"] = secs > 0 ? got / secs : 0.0;
        result_["loss_pct"] = sent > 0 ? std::max(0.0, (sent - got) / sent * 100.0) : 0.0;
    }
    addChannelStats(result_);
    return true;
}

// Bulk upload: K substreams, each acknowledged end-to-end by the server's 8-byte count after our FIN.
bool PerfClient::runUpload()
{
    const int k = o_.streams;
    const bool timed = o_.seconds > 0;
    QByteArray pattern(256 * 1024, Qt::Uninitialized);
    for (int i = 0; i < pattern.size(); ++i)
        pattern[i] = char((i * 131 + 7) & 0xff);
    struct Sub {
        QPointer<Stream> s;
        qint64 remaining = 0;
        qint64 written = 0;
        bool finished = false; // our FIN queued
        QByteArray ack;
        bool acked = false;
    };
    std::vector<Sub> subs(static_cast<size_t>(k));
    QElapsedTimer clock;
    clock.start();
    int acked = 0;
    bool broken = false;
    auto pump = [&](Sub &u) {
        if (u.finished || !u.s)
            return;
        while (true) {
            if (timed ? clock.elapsed() >= qint64(o_.seconds * 1000) : u.remaining == 0) {
                u.s->shutdown(Stream::ShutdownMode::Write);
                u.finished = true;
                return;
            }
            const qint64 want = timed ? pattern.size() : std::min<qint64>(u.remaining, pattern.size());
            // Stream::write(QByteArray) shares the pattern (as an application handing over its
            // buffers would); --copy-writes measures the copying QIODevice path instead.
            const qint64 n = o_.copyWrites || want < pattern.size() ? u.s->write(pattern.constData(), want)
                                                                    : u.s->write(pattern);
            if (n < 0) {
                broken = true;
                fail("write: " + u.s->errorString());
                return;
            }
            u.written += n;
            if (!timed)
                u.remaining -= n;
            if (n < want)
                return;
        }
    };
    for (int i = 0; i < k; ++i) {
        Sub &u = subs[size_t(i)];
        u.remaining = o_.bytes / k + (i < o_.bytes % k ? 1 : 0);
        u.s = ctl_->openSubstream();
        if (!u.s)
            return fail("openSubstream: " + ctl_->errorString());
        QObject::connect(u.s, &Stream::bytesWritten, u.s, [&pump, &u] { pump(u); });
        QObject::connect(u.s, &Stream::readyRead, u.s, [&u, &acked] {
            if (u.acked)
                return;
            // Read only what is there: a read past the data races the end-of-stream event.
            char b[8];
            const qint64 n = u.s->bytesAvailable() > 0 ? u.s->read(b, 8 - u.ack.size()) : 0;
            if (n > 0)
                u.ack.append(b, n);
            if (u.ack.size() >= 8) {
                u.acked = true;
                ++acked;
            }
        });
        QObject::connect(u.s, &Stream::errorOccurred, u.s, [&broken, &u, this] {
            if (u.acked)
                return; // the stream ended after its confirmation: not a failure
            broken = true;
            fail("data stream: " + u.s->errorString());
        });
    }
    for (Sub &u : subs)
        pump(u);
    QTimer tick; // a timed run must notice the deadline even while every buffer is full
    if (timed) {
        QObject::connect(&tick, &QTimer::timeout, [&] {
            for (Sub &u : subs)
                pump(u);
        });
        tick.start(5);
    }
    const int limitMs = timed ? int(o_.seconds * 1000) + 60000 : 600000;
    const bool done = spinUntil([&] { return acked == k || broken; }, limitMs);
    const double secs = double(clock.nsecsElapsed()) / 1e9;
    if (!done || broken)
        return fail(error_.isEmpty() ? QStringLiteral("upload did not complete") : error_);
    qint64 written = 0, confirmed = 0;
    for (Sub &u : subs) {
        written += u.written;
        confirmed += qint64(qFromBigEndian<quint64>(u.ack.constData()));
        delete u.s.data();
    }
    if (confirmed != written)
        return fail(QStringLiteral("server confirmed %1 bytes of %2").arg(confirmed).arg(written));
    result_["bytes"] = double(confirmed);
    result_["seconds"] = secs;
    result_["gbps"] = double(confirmed) * 8 / secs / 1e9;
    result_["streams"] = k;
    result_["download"] = false;
    result_["copy_writes"] = o_.copyWrites;
    result_["zero_copy_reads"] = o_.zeroCopyReads;
    return true;
}

// Bulk download: the server opens K substreams; done when every one reached its end.
bool PerfClient::runDownload()
{
    const int k = o_.streams;
    QElapsedTimer clock;
    clock.start(); // the server starts writing when it sent "ready": at most half an RTT before this
    qint64 received = 0;
    int ended = 0;
    bool broken = false;
    std::vector<QPointer<Stream>> subs;
    QByteArray buf(256 * 1024, Qt::Uninitialized);
    auto accept = [&] {
        while (Stream *s = ctl_->acceptSubstream()) {
            subs.emplace_back(s);
            auto drain = [&received, &buf, s, zeroCopy = o_.zeroCopyReads] {
                qint64 n = 0;
                while (s->bytesAvailable() > 0 && (n = readChunk(s, buf, zeroCopy)) > 0)
                    received += n;
            };
            QObject::connect(s, &Stream::readyRead, s, drain);
            QObject::connect(s, &Stream::readChannelFinished, s, [drain, &ended, s] {
                drain();
                s->setProperty("ended", true);
                ++ended;
            });
            QObject::connect(s, &Stream::errorOccurred, s, [&broken, s, this] {
                if (s->property("ended").toBool())
                    return;
                broken = true;
                fail("data stream: " + s->errorString());
            });
            drain();
        }
    };
    QObject::connect(ctl_, &Stream::newSubstream, ctl_, accept);
    accept();
    const int limitMs = o_.seconds > 0 ? int(o_.seconds * 1000) + 60000 : 600000;
    const bool done = spinUntil([&] { return ended == k || broken; }, limitMs);
    const double secs = double(clock.nsecsElapsed()) / 1e9;
    QObject::disconnect(ctl_, &Stream::newSubstream, ctl_, nullptr);
    for (auto &s : subs)
        delete s.data();
    if (!done || broken)
        return fail(error_.isEmpty() ? QStringLiteral("download did not complete") : error_);
    if (o_.seconds <= 0 && received != o_.bytes)
        return fail(QStringLiteral("received %1 bytes of %2").arg(received).arg(o_.bytes));
    result_["bytes"] = double(received);
    result_["seconds"] = secs;
    result_["gbps"] = double(received) * 8 / secs / 1e9;
    result_["streams"] = k;
    result_["download"] = true;
    result_["zero_copy_reads"] = o_.zeroCopyReads;
    return true;
}

// Request/response: each request on a fresh substream; --streams requests in flight.
bool PerfClient::runRequests()
{
    const bool timed = o_.seconds > 0;
    const qint64 total = timed ? std::numeric_limits<qint64>::max() : std::max<qint64>(1, o_.requests);
    std::vector<double> lat;
    lat.reserve(size_t(std::min<qint64>(total, 10'000'000)));
    qint64 started = 0, completed = 0;
    bool broken = false;
    QElapsedTimer clock;
    clock.start();
    auto noMore = [&] { return started >= total || (timed && clock.elapsed() >= qint64(o_.seconds * 1000)); };
    std::function<void()> launch = [&] {
        if (broken || noMore())
            return;
        ++started;
        Stream *s = ctl_->openSubstream();
        if (!s) {
            broken = true;
            fail("openSubstream: " + ctl_->errorString());
            return;
        }
        const qint64 t0 = clock.nsecsElapsed();
        // Per-request state in a plain flag, not a QObject dynamic property (whose lookup and
        // QVariant would be the tool's cost, not the library's).
        auto done = std::make_shared<bool>(false);
        QObject::connect(s, &Stream::readyRead, s, [&, s, t0, done] {
            char c;
            if (*done || s->read(&c, 1) != 1)
                return;
            *done = true;
            lat.push_back(double(clock.nsecsElapsed() - t0) / 1e3);
            ++completed;
            launch();
        });
        // Deleted once the server's FIN is in, right in the slot like the server does (deleteLater()
        // would cost an event-loop wake-up); stream-end signals come after the turn's packets are
        // sent, so the deletion is not on the next request's path.
        QObject::connect(s, &QIODevice::readChannelFinished, s, [s] { delete s; });
        QObject::connect(s, &Stream::errorOccurred, s, [&, s, done] {
            if (*done)
                return;
            broken = true;
            fail("request stream: " + s->errorString());
        });
        s->write("q", 1);
        s->shutdown(Stream::ShutdownMode::Write);
    };
    // --transactions: the same exchange through Stream::sendRequest; the control stream's signals
    // report every reply (two connections for the whole run, none per request).
    std::vector<std::pair<quint64, qint64>> inFlight; // (request id, start time): a few entries
    QList<QMetaObject::Connection> txConnections;
    if (o_.transactions) {
        launch = [&] {
            if (broken || noMore())
                return;
            ++started;
            const qint64 t0 = clock.nsecsElapsed();
            const quint64 id = ctl_->sendRequest(QByteArrayLiteral("q"));
            if (!id) {
                broken = true;
                fail("sendRequest: " + ctl_->errorString());
                return;
            }
            inFlight.emplace_back(id, t0);
        };
        txConnections.append(
            QObject::connect(ctl_, &Stream::replyReceived, ctl_, [&](quint64 id, const QByteArray &) {
                auto it = std::find_if(inFlight.begin(), inFlight.end(),
                                       [id](const auto &p) { return p.first == id; });
                if (it == inFlight.end())
                    return;
                lat.push_back(double(clock.nsecsElapsed() - it->second) / 1e3);
                *it = inFlight.back();
                inFlight.pop_back();
                ++completed;
                launch();
            }));
        txConnections.append(
            QObject::connect(ctl_, &Stream::requestFailed, ctl_, [&](quint64, Stream::Error e) {
                broken = true;
                fail(QStringLiteral("request failed (error %1)").arg(int(e)));
            }));
    }
    for (int i = 0; i < o_.streams; ++i)
        launch();
    const int limitMs = timed ? int(o_.seconds * 1000) + 30000 : 600000;
    auto allDone = [&] { return broken || (completed == started && noMore()); };
    const bool done = spinUntil(allDone, limitMs);
    const double secs = double(clock.nsecsElapsed()) / 1e9;
    for (const QMetaObject::Connection &c : std::as_const(txConnections))
        QObject::disconnect(c); // (they capture this function's locals)
    if (!done || broken)
        return fail(error_.isEmpty() ? QStringLiteral("requests did not complete") : error_);
    QCoreApplication::processEvents(); // let the last answers' acks go out
    result_["transactions"] = o_.transactions;
    result_["requests"] = double(completed);
    result_["seconds"] = secs;
    result_["rps"] = double(completed) / secs;
    result_["streams"] = o_.streams;
    result_["bytes"] = double(completed);
    addPercentiles(result_, std::move(lat));
    return true;
}

// Best-effort datagrams of --size bytes at --rate per second for --seconds on one substream.
bool PerfClient::runDatagrams()
{
    Stream *s = ctl_->openSubstream();
    if (!s)
        return fail("openSubstream: " + ctl_->errorString());
    const double seconds = o_.seconds > 0 ? o_.seconds : 2.0;
    QByteArray payload(std::max(8, o_.size), 'd'); // starts with a sequence number
    qint64 sent = 0, refused = 0;
    QElapsedTimer clock;
    clock.start();
    QTimer tick;
    bool finished = false;
    QObject::connect(&tick, &QTimer::timeout, [&] {
        const double t = double(clock.nsecsElapsed()) / 1e9;
        if (t >= seconds) {
            finished = true;
            tick.stop();
            return;
        }
        const qint64 due = qint64(t * o_.rate);
        while (sent + refused < due) {
            qToBigEndian<quint64>(quint64(sent), payload.data());
            if (s->writeDatagram(payload))
                ++sent;
            else
                ++refused;
        }
    });
    tick.start(1);
    spinUntil([&] { return finished; }, int(seconds * 1000) + 5000);
    // Let the tail arrive before asking for the count.
    spinUntil([] { return false; }, 200);
    const double secs = double(clock.nsecsElapsed()) / 1e9;
    result_["datagrams_sent"] = double(sent);
    result_["datagrams_refused"] = double(refused);
    result_["sent_per_s"] = double(sent) / seconds;
    result_["size"] = payload.size();
    result_["seconds"] = seconds;
    result_["bytes"] = double(sent) * double(payload.size());
    Q_UNUSED(secs);
    delete s;
    return true;
}

// Connect: N sequential fresh Hosts, each doing the handshake plus a 1-byte request/response.
bool PerfClient::runConnect()
{
    const int n = std::max(1, o_.connections);
    std::vector<double> ms;
    ms.reserve(size_t(n));
    const double cpu0 = cpuSeconds();
    QElapsedTimer wall;
    wall.start();
    QString cipher;
    for (int i = 0; i < n; ++i) {
        auto host = std::make_unique<sss::Host>();
        host->setIdentity(sss::Identity::generate()); // key generation is not part of the connect time
        if (!host->bind(o_.address.protocol() == QAbstractSocket::IPv6Protocol
                            ? QHostAddress(QHostAddress::AnyIPv6)
                            : QHostAddress(QHostAddress::AnyIPv4)))
            return fail("bind: " + host->errorString());
        auto *s = new Stream(host.get(), host.get());
        QElapsedTimer t;
        t.start();
        if (!s->connectTo(o_.peer, kConnectService, kProtocol, o_.address, o_.port))
            return fail("connectTo: " + s->errorString());
        s->write("q", 1);
        bool got = false;
        const bool ok = spinUntil(
            [&] {
                char c;
                if (s->bytesAvailable() > 0 && s->read(&c, 1) == 1)
                    got = true;
                return got || s->state() == Stream::State::Closed;
            },
            15000);
        const double elapsed = double(t.nsecsElapsed()) / 1e6;
        if (!ok || !got)
            return fail(QStringLiteral("connection %1 failed: %2").arg(i).arg(s->errorString()));
        ms.push_back(elapsed * 1000); // µs
        if (cipher.isEmpty() && !host->channels().isEmpty())
            cipher = host->channels().first().cipher;
        host.reset(); // closes the channel
    }
    const double secs = double(wall.nsecsElapsed()) / 1e9;
    result_["connections"] = n;
    result_["seconds"] = secs;
    result_["rps"] = double(n) / secs;
    result_["client_cpu_s"] = cpuSeconds() - cpu0;
    result_["cipher"] = cipher;
    addPercentiles(result_, ms);
    result_["mean_us"] = [&] {
        double sum = 0;
        for (double v : ms)
            sum += v;
        return sum / double(ms.size());
    }();
    return true;
}

} // namespace sssperf
