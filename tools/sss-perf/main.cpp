// sss-perf: throughput, request rate, connection rate and datagram rate of SSS, in the spirit of
// iperf3/secnetperf. See perfcommon.h for the control protocol.
//
//   sss-perf server [--port P] [--bind ADDR] [--identity FILE]
//   sss-perf client --connect HOST:PORT --peer PEERID [--mode bulk|rr|connect|datagram] [--streams N]
//                   [--bytes N | --seconds S] [--requests N] [--connections N] [--download] [--copy-writes]
//                   [--zero-copy-reads]
//                   [--transactions]
//                   [--size N]
//                   [--rate N] [--json]
#include "perfclient.h"
#include "perfserver.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFileInfo>
#include <QHostInfo>
#include <QJsonDocument>
#include <cstdio>
#include <sss/identity.h>
#ifdef Q_OS_UNIX
#include <QSocketNotifier>
#include <csignal>
#include <fcntl.h>
#include <unistd.h>
#endif

using namespace sssperf;

namespace {

int usage(const QCommandLineParser &p, const QString &msg)
{
    std::fprintf(stderr, "sss-perf: %s\n\n%s", qPrintable(msg), qPrintable(p.helpText()));
    return 2;
}

// "1G", "64M", "10k" or plain bytes; -1 on error.
qint64 parseSize(const QString &text)
{
    QString t = text.trimmed();
    qint64 mult = 1;
    if (t.endsWith('k', Qt::CaseInsensitive))
        mult = 1024;
    else if (t.endsWith('M', Qt::CaseInsensitive))
        mult = 1024 * 1024;
    else if (t.endsWith('G', Qt::CaseInsensitive))
        mult = 1024ll * 1024 * 1024;
    if (mult != 1)
        t.chop(1);
    bool ok = false;
    const qint64 v = t.toLongLong(&ok);
    return ok && v >= 0 && v <= (qint64(1) << 50) / mult ? v * mult : -1;
}

void printText(const QJsonObject &r)
{
    const QString mode = r.value("mode").toString();
    auto num = [&](const char *k) { return r.value(k).toDouble(); };
    if (mode == "bulk") {
        std::printf("bulk %s: %.0f bytes on %d stream(s) in %.3f s = %.3f Gbit/s\n",
                    r.value("download").toBool() ? "download" : "upload", num("bytes"),
                    r.value("streams").toInt(), num("seconds"), num("gbps"));
    } else if (mode == "rr") {
        std::printf(
            "rr: %.0f requests (%d in flight) in %.3f s = %.0f req/s; latency p50 %.1f us, p90 %.1f us, "
            "p99 %.1f us\n",
            num("requests"), r.value("streams").toInt(), num("seconds"), num("rps"), num("p50_us"),
            num("p90_us"), num("p99_us"));
    } else if (mode == "connect") {
        std::printf("connect: %d connections (handshake + 1-byte request/response) in %.3f s = %.0f conn/s; "
                    "p50 %.1f us, p90 %.1f us, p99 %.1f us\n",
                    r.value("connections").toInt(), num("seconds"), num("rps"), num("p50_us"), num("p90_us"),
                    num("p99_us"));
    } else if (mode == "datagram") {
        std::printf(
            "datagram: %.0f B x %.0f sent (%.0f/s), %.0f received (%.0f/s), loss %.2f%%, %.0f refused "
            "locally\n",
            num("size"), num("datagrams_sent"), num("sent_per_s"), num("datagrams_received"),
            num("received_per_s"), num("loss_pct"), num("datagrams_refused"));
    }
    std::printf(
        "cipher %s, client cpu %.3f s, server cpu %.3f s, retransmitted %.0f bytes, packets lost %.0f, "
        "srtt %.0f us, datagrams %.0f B\n",
        qPrintable(r.value("cipher").toString("?")), num("client_cpu_s"), num("server_cpu_s"),
        num("retransmitted_bytes"), num("packets_lost"), num("srtt_us"), num("datagram_size"));
}

#ifdef Q_OS_UNIX
int quitPipe[2] = {-1, -1};

void onQuitSignal(int)
{
    const char c = 0;
    [[maybe_unused]] const auto n = ::write(quitPipe[1], &c, 1); // async-signal-safe
}

// SIGINT/SIGTERM leave the event loop instead of killing the process, so the server exits
// normally: its Host closes its channels, and a profiling build (scripts/build-pgo.sh) writes
// its profile.
void quitOnSignals()
{
    if (::pipe2(quitPipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return;
    auto *n = new QSocketNotifier(quitPipe[0], QSocketNotifier::Read, qApp);
    QObject::connect(n, &QSocketNotifier::activated, qApp, [] { QCoreApplication::quit(); });
    struct sigaction sa = {};
    sa.sa_handler = onQuitSignal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
}
#else
void quitOnSignals() { }
#endif

int runServer(const QCommandLineParser &p)
{
    bool ok = true;
    const uint port = p.isSet("port") ? p.value("port").toUInt(&ok) : 0;
    if (!ok || port > 65535)
        return usage(p, "bad --port");
    QHostAddress bind(QHostAddress::Any);
    if (p.isSet("bind") && !bind.setAddress(p.value("bind")))
        return usage(p, "bad --bind address");
    sss::Identity identity;
    if (p.isSet("identity")) {
        const QString path = p.value("identity");
        QString err;
        if (QFileInfo::exists(path)) {
            identity = sss::Identity::load(path, &err);
            if (identity.isNull())
                return usage(p, "cannot load identity: " + err);
        } else {
            identity = sss::Identity::generate();
            if (!identity.save(path, &err))
                return usage(p, "cannot save identity: " + err);
        }
    }
    auto *server = new PerfServer(qApp);
    QString err;
    if (!server->start(identity, bind, quint16(port), &err)) {
        std::fprintf(stderr, "sss-perf server: %s\n", qPrintable(err));
        return 1;
    }
    std::printf("PEERID %s PORT %u\n", qPrintable(server->peerId().toString()), unsigned(server->port()));
    std::fflush(stdout);
    quitOnSignals();
    const int rc = QCoreApplication::exec();
    delete server; // (before the application object: its Host closes its channels)
    return rc;
}

int runClient(const QCommandLineParser &p)
{
    ClientOptions o;
    const QString target = p.value("connect");
    const qsizetype colon = target.lastIndexOf(':');
    if (colon <= 0)
        return usage(p, "--connect HOST:PORT is required");
    bool ok = false;
    const uint port = target.mid(colon + 1).toUInt(&ok);
    if (!ok || port == 0 || port > 65535)
        return usage(p, "bad port in --connect");
    o.port = quint16(port);
    QString host = target.left(colon);
    if (host.startsWith('[') && host.endsWith(']'))
        host = host.mid(1, host.size() - 2);
    if (!o.address.setAddress(host)) {
        const QHostInfo info = QHostInfo::fromName(host);
        if (info.addresses().isEmpty())
            return usage(p, "cannot resolve " + host);
        o.address = info.addresses().first();
    }
    o.peer = sss::PeerId::fromString(p.value("peer"));
    if (o.peer.isNull())
        return usage(p, "--peer PEERID (base64url, as printed by the server) is required");
    o.mode = p.value("mode");
    if (o.mode != "bulk" && o.mode != "rr" && o.mode != "connect" && o.mode != "datagram")
        return usage(p, "bad --mode");
    o.streams = p.value("streams").toInt(&ok);
    if (!ok || o.streams < 1 || o.streams > 10000)
        return usage(p, "bad --streams (1..10000)");
    if (p.isSet("bytes")) {
        o.bytes = parseSize(p.value("bytes"));
        if (o.bytes < 0)
            return usage(p, "bad --bytes");
    } else if (!p.isSet("seconds")) {
        o.bytes = 256ll * 1024 * 1024;
    }
    if (p.isSet("seconds")) {
        o.seconds = p.value("seconds").toDouble(&ok);
        if (!ok || o.seconds <= 0 || o.seconds > 3600)
            return usage(p, "bad --seconds");
        if (p.isSet("bytes"))
            return usage(p, "--bytes and --seconds exclude each other");
    }
    o.requests = p.value("requests").toLongLong(&ok);
    if (!ok || o.requests < 1)
        return usage(p, "bad --requests");
    o.connections = p.value("connections").toInt(&ok);
    if (!ok || o.connections < 1)
        return usage(p, "bad --connections");
    o.download = p.isSet("download");
    o.copyWrites = p.isSet("copy-writes");
    o.zeroCopyReads = p.isSet("zero-copy-reads");
    o.transactions = p.isSet("transactions");
    o.size = p.value("size").toInt(&ok);
    if (!ok || o.size < 8 || o.size > 16 * 1024 * 1024)
        return usage(p, "bad --size (8 bytes .. 16 MiB)");
    o.rate = p.value("rate").toDouble(&ok);
    if (!ok || o.rate <= 0)
        return usage(p, "bad --rate");

    PerfClient client(o);
    const bool success = client.run();
    QJsonObject r = client.result();
    if (!success) {
        r["error"] = client.errorString();
        if (p.isSet("json"))
            std::printf("%s\n", QJsonDocument(r).toJson(QJsonDocument::Compact).constData());
        std::fprintf(stderr, "sss-perf client: %s\n", qPrintable(client.errorString()));
        return 1;
    }
    if (p.isSet("json"))
        std::printf("%s\n", QJsonDocument(r).toJson(QJsonDocument::Compact).constData());
    else
        printText(r);
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName("sss-perf");
    QCommandLineParser p;
    p.setApplicationDescription("SSS performance tool (server | client)");
    p.addHelpOption();
    p.addPositionalArgument("role", "server or client");
    p.addOptions({
        {"port", "server: UDP port (default: any free port).", "P"},
        {"bind", "server: local address (default: any).", "ADDR"},
        {"identity", "server: identity key file (created if missing).", "FILE"},
        {"connect", "client: server address.", "HOST:PORT"},
        {"peer", "client: the server's PeerId.", "PEERID"},
        {"mode", "client: bulk, rr, connect or datagram.", "MODE", "bulk"},
        {"streams", "client: bulk data streams, or rr requests in flight.", "N", "1"},
        {"bytes", "client: bulk bytes in total (k/M/G suffixes; default 256M).", "N"},
        {"seconds", "client: run for S seconds instead.", "S"},
        {"requests", "client: rr request count.", "N", "10000"},
        {"connections", "client: connect mode count.", "N", "100"},
        {"download", "client: bulk from server to client."},
        {"copy-writes",
         "client: the bulk sender (this client, or the server with --download) writes with "
         "QIODevice::write(const char*, n), which copies, instead of Stream::write(QByteArray), "
         "which shares the buffer."},
        {"zero-copy-reads",
         "client: the bulk receiver (the server, or this client with --download) reads with "
         "Stream::read(n), which returns bytes of one received packet without a copy, instead of "
         "QIODevice::read(char*, n) into a reused buffer."},
        {"transactions",
         "client: rr through Stream::sendRequest/sendReply (a fresh substream per request, no Stream "
         "object per request) instead of openSubstream()/acceptSubstream()."},
        {"size", "client: datagram size in bytes.", "N", "1200"},
        {"rate", "client: datagrams per second.", "N", "50000"},
        {"json", "client: print one JSON object."},
    });
    p.process(app);
    const QStringList args = p.positionalArguments();
    if (args.size() != 1)
        return usage(p, "give exactly one role: server or client");
    if (args.first() == "server")
        return runServer(p);
    if (args.first() == "client")
        return runClient(p);
    return usage(p, "unknown role " + args.first());
}
