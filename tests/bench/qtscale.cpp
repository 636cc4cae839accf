// sss-bench-qtscale: what an idle stream costs at the public API (a Stream QObject with its
// QIODevice, plus the core's state under it), on two Hosts run on the simulator in virtual time.
// sss-bench-scale measures the core alone; this measures what an application holding N open
// Stream objects pays.
//
//   sss-bench-qtscale [--streams N]      (default 100,000)
//
// The client opens N substreams of one top-level stream with Stream::openSubstream() and writes 1
// byte on each (no FIN: they stay open); the server accepts every one (Stream::acceptSubstream())
// and reads its byte, without per-stream signal connections (those are the application's own
// cost). Heap (mallinfo2: in-use arena + mmap) is measured after the client opened them (client
// side only), once everything is delivered and acknowledged (both sides), and after the client
// Host is destroyed (server side only). Prints text and one "RESULT bench=qtstreams ..." line.
#include "benchutil.h"
#include "sim/network.h"
#include "sim/simulator.h"
#include "simqt/attach.h"

#include <QCoreApplication>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sss/host.h>
#include <sss/server.h>
#include <sss/stream.h>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using sss::bench::heapInUse;
using sss::bench::secondsSince;
using sss::bench::Steady;

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    int n = 100'000;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--streams" && i + 1 < argc) {
            n = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--streams N]\n", argv[0]);
            return 2;
        }
    }
    if (n < 1) {
        std::fprintf(stderr, "--streams must be at least 1\n");
        return 2;
    }

    sss::sim::Simulator sim(1);
    sss::sim::Network net(sim);
    sss::sim::LinkParams link;
    link.bitsPerSecond = 1e9;
    link.delay = 1ms;
    net.setDefaultLink(link);
    sss::sim::Host *ha = net.addHost(QHostAddress(QStringLiteral("10.0.0.1")));
    sss::sim::Host *hb = net.addHost(QHostAddress(QStringLiteral("10.0.0.2")));
    sss::HostConfig cfg;
    cfg.maxIncomingStreams = quint64(n) + 16;
    cfg.idleTimeout = std::chrono::hours(1); // idle means idle: nothing times out during the run
    cfg.keepAliveInterval = std::chrono::hours(1);
    cfg.cookieThreshold = 1 << 30;

    auto server = std::make_unique<sss::Host>();
    server->setConfig(cfg);
    if (!sss::sim::attachHost(server.get(), hb, 4000)) {
        std::fprintf(stderr, "attach failed\n");
        return 1;
    }
    sss::Server srv(server.get());
    if (!srv.listen(QStringLiteral("scale"), QStringLiteral("1"))) {
        std::fprintf(stderr, "listen: %s\n", qPrintable(srv.errorString()));
        return 1;
    }
    std::vector<sss::Stream *> accepted;
    accepted.reserve(size_t(n));
    sss::Stream *serverTop = nullptr;
    QObject::connect(&srv, &sss::Server::newConnection, &srv, [&] {
        while (sss::Stream *s = srv.nextPendingConnection()) {
            serverTop = s;
            s->listen(sss::Stream::ListenMode::AcceptSubstreams);
            QObject::connect(s, &sss::Stream::newSubstream, s, [&, s] {
                while (sss::Stream *sub = s->acceptSubstream())
                    accepted.push_back(sub);
            });
        }
    });
    const qint64 h0 = heapInUse(); // before the client exists: the server end is measured against it

    auto client = std::make_unique<sss::Host>();
    client->setConfig(cfg);
    if (!sss::sim::attachHost(client.get(), ha, 0)) {
        std::fprintf(stderr, "attach failed\n");
        return 1;
    }
    auto *top = new sss::Stream(client.get(), client.get());
    if (!top->connectTo(server->peerId(), QStringLiteral("scale"), QStringLiteral("1"), hb->address(),
                        4000)) {
        std::fprintf(stderr, "connectTo: %s\n", qPrintable(top->errorString()));
        return 1;
    }
    top->write("t", 1);
    if (!sim.runUntil([&] { return serverTop && top->state() == sss::Stream::State::Connected; }, 10s)) {
        std::fprintf(stderr, "the top-level stream did not connect\n");
        return 1;
    }
    sim.runFor(1s); // acks and credit settle
    const qint64 h1 = heapInUse();

    const auto t0 = Steady::now();
    std::vector<sss::Stream *> opened;
    opened.reserve(size_t(n));
    for (int i = 0; i < n; ++i) {
        sss::Stream *s = top->openSubstream();
        if (!s) {
            std::fprintf(stderr, "openSubstream %d: %s\n", i, qPrintable(top->errorString()));
            return 1;
        }
        s->write("x", 1);
        opened.push_back(s);
    }
    const double openSecs = secondsSince(t0);
    const qint64 h2 = heapInUse(); // client side only: nothing sent yet (the flush is posted)

    const auto t1 = Steady::now();
    if (!sim.runUntil([&] { return int(accepted.size()) == n; }, 600s)) {
        std::fprintf(stderr, "only %zu of %d substreams arrived\n", accepted.size(), n);
        return 1;
    }
    qint64 bytesRead = 0;
    for (sss::Stream *s : accepted) {
        char c;
        bytesRead += qMax<qint64>(0, s->read(&c, 1));
    }
    sim.runFor(2s); // everything acknowledged, delayed acks out: idle
    const double deliverSecs = secondsSince(t1);
    const qint64 h3 = heapInUse();

    opened.clear();
    ha->setOnline(false); // the client's CLOSE must not reach the server: its streams stay open
    client.reset(); // the client Host and every Stream parented to it
    sim.runFor(1s);
    const qint64 h4 = heapInUse();

    const bool ok = bytesRead == n && int(accepted.size()) == n;
    std::printf("== %d substreams as Stream objects (public API, simulator)\n", n);
    std::printf("  opened in %.3f s (%.2f us each); delivered and read in %.3f s\n", openSecs,
                openSecs * 1e6 / n, deliverSecs);
    std::printf("  heap per open stream: client before sending %.0f B; both ends idle after delivery %.0f B; "
                "server end alone %.0f B (Stream object + QIODevice + core state)\n",
                double(h2 - h1) / n, double(h3 - h1) / n, double(h4 - h0) / n);
    std::printf("RESULT bench=qtstreams n=%d ok=%d open_s=%.3f client_bytes_per_stream=%.0f "
                "both_bytes_per_stream=%.0f server_bytes_per_stream=%.0f\n",
                n, ok ? 1 : 0, openSecs, double(h2 - h1) / n, double(h3 - h1) / n, double(h4 - h0) / n);
    if (!ok)
        std::printf("  FAILED: read %lld bytes from %zu streams\n", static_cast<long long>(bytesRead),
                    accepted.size());
    server.reset(); // Hosts before the simulator they run on
    return ok ? 0 : 1;
}
