// sss-bench-rr-loss: tail latency of loss recovery in virtual time (the simulator, sans-IO core).
//   rr:      per seed, one channel over a lossy link; K serial request/response transactions, each on
//            a fresh substream (100 bytes + FIN each way). Completion = request written -> answer's
//            FIN read at the client. Percentiles over every transaction of every seed.
//   connect: the setup of tst_sim_core_channel handshakeUnderLoss (20 ms each way, 30 % loss): time
//            from connectStream to Connected per seed (seeds that fail the handshake are counted).
// Seeds are those of the tests (sim::defaultSeed(0..n-1)), so a seed printed here reproduces there.
//   sss-bench-rr-loss [--mode rr|connect] [--seeds N] [--requests K] [--loss P] [--delay-ms D]
#include "coresim.h"
#include "sim/testsupport.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace sss;
using namespace sss::core;

namespace {

const QString kSvc = QStringLiteral("svc"), kProto = QStringLiteral("p");

// Built in the order of the tests' Pair/World fixtures, so the simulator's random draws (node
// identities, loss) are the same for a given seed.
struct World {
    World(uint64_t seed, const sim::LinkParams &link) : sim(seed), net(sim)
    {
        net.setDefaultLink(link);
        ha = net.addHost(QHostAddress(QStringLiteral("10.0.0.1")));
        hb = net.addHost(QHostAddress(QStringLiteral("10.0.0.2")));
        a = std::make_unique<test::CoreNode>(net, ha, 4000);
        b = std::make_unique<test::CoreNode>(net, hb, 5000);
        b->ep->listen(kSvc, kProto);
    }
    sim::Simulator sim;
    sim::Network net;
    sim::Host *ha, *hb;
    std::unique_ptr<test::CoreNode> a, b;
};

double ms(Duration d)
{
    return std::chrono::duration<double, std::milli>(d).count();
}

void printPercentiles(const char *what, std::vector<double> v)
{
    if (v.empty()) {
        std::printf("RESULT bench=%s n=0\n", what);
        return;
    }
    std::sort(v.begin(), v.end());
    auto q = [&](double p) { return v[std::min(v.size() - 1, size_t(p * double(v.size())))]; };
    std::printf("RESULT bench=%s n=%zu p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f p999_ms=%.1f max_ms=%.1f\n", what,
                v.size(), q(0.5), q(0.9), q(0.99), q(0.999), v.back());
}

// Returns false if the seed did not complete its transactions within the time limit.
bool runRr(uint64_t seed, double loss, Duration delay, int requests, std::vector<double> &times,
           Duration &worstAt)
{
    sim::LinkParams link;
    link.delay = delay;
    link.loss = loss;
    World w(seed, link);
    w.b->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::NewSubstream)
            w.b->ep->acceptSubstream(e.parent);
        if (e.type == Event::Type::NewConnection || e.type == Event::Type::Readable
            || e.type == Event::Type::Finished) {
            w.b->readAll(e.stream);
            if (e.type == Event::Type::Finished) {
                const QByteArray resp(100, 'r');
                w.b->ep->write(w.sim.now(), e.stream, resp.constData(), resp.size());
                w.b->ep->shutdownWrite(w.sim.now(), e.stream);
                w.b->ep->release(w.sim.now(), e.stream);
            }
            w.b->kick();
        }
    };
    const StreamHandle top = w.a->ep->connectStream(w.sim.now(), w.b->peerId(), w.b->address(), kSvc, kProto);
    w.a->ep->write(w.sim.now(), top, "hi", 2);
    int done = 0;
    StreamHandle current = 0;
    Instant started {};
    auto next = [&] {
        current = w.a->ep->openSubstream(w.sim.now(), top);
        const QByteArray req(100, 'q');
        w.a->ep->write(w.sim.now(), current, req.constData(), req.size());
        w.a->ep->shutdownWrite(w.sim.now(), current);
        started = w.sim.now();
        w.a->kick();
    };
    w.a->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::Connected && e.stream == top)
            next();
        if ((e.type == Event::Type::Readable || e.type == Event::Type::Finished) && e.stream == current) {
            w.a->readAll(current);
            if (w.a->ep->atEnd(current)) {
                const Duration took = w.sim.now() - started;
                times.push_back(ms(took));
                worstAt = std::max(worstAt, took);
                w.a->ep->release(w.sim.now(), current);
                current = 0; // its Finished may follow in the same drive
                if (++done < requests)
                    next();
            }
        }
    };
    w.a->kick();
    if (w.sim.runUntil([&] { return done == requests; }, 3600s))
        return true;
    std::printf("seed=%llu incomplete: %d of %d transactions after an hour\n",
                static_cast<unsigned long long>(seed), done, requests);
    return false;
}

// Returns the time to Connected, or kNever-like negative if the stream failed.
double runConnect(uint64_t seed)
{
    sim::LinkParams lossy;
    lossy.delay = 20ms;
    lossy.loss = 0.3;
    World w(seed, lossy);
    bool connected = false, failed = false;
    w.a->onEvent = [&](const Event &e) {
        if (e.type == Event::Type::Connected)
            connected = true;
        if (e.type == Event::Type::Error)
            failed = true;
    };
    const Instant start = w.sim.now();
    const StreamHandle s = w.a->ep->connectStream(w.sim.now(), w.b->peerId(), w.b->address(), kSvc, kProto);
    w.a->ep->write(w.sim.now(), s, "x", 1);
    w.a->kick();
    w.sim.runUntil([&] { return connected || failed; }, 3600s);
    return connected ? ms(w.sim.now() - start) : -1;
}

} // namespace

int main(int argc, char **argv)
{
    const char *mode = "rr";
    int seeds = 100, requests = 200, delayMs = 25;
    double loss = 0.05;
    for (int i = 1; i < argc; ++i) {
        const bool hasValue = i + 1 < argc;
        if (!std::strcmp(argv[i], "--mode") && hasValue)
            mode = argv[++i];
        else if (!std::strcmp(argv[i], "--seeds") && hasValue)
            seeds = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--requests") && hasValue)
            requests = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--loss") && hasValue)
            loss = std::atof(argv[++i]);
        else if (!std::strcmp(argv[i], "--delay-ms") && hasValue)
            delayMs = std::atoi(argv[++i]);
        else {
            std::fprintf(
                stderr,
                "usage: %s [--mode rr|connect] [--seeds N] [--requests K] [--loss P] [--delay-ms D]\n",
                argv[0]);
            return 2;
        }
    }
    if (!std::strcmp(mode, "rr")) {
        std::vector<double> times;
        int incomplete = 0;
        for (int i = 0; i < seeds; ++i) {
            const uint64_t seed = sim::defaultSeed(i);
            Duration worst {};
            if (!runRr(seed, loss, std::chrono::milliseconds(delayMs), requests, times, worst))
                ++incomplete;
            if (worst > 2s)
                std::printf("seed=%llu slowest transaction %.1f ms\n", static_cast<unsigned long long>(seed),
                            ms(worst));
        }
        std::printf("rr: %d seeds x %d requests, %.0f %% loss each way, %d ms each way, %d incomplete\n",
                    seeds, requests, loss * 100, delayMs, incomplete);
        printPercentiles("rr", times);
    } else if (!std::strcmp(mode, "connect")) {
        std::vector<double> times;
        int failed = 0;
        for (int i = 0; i < seeds; ++i) {
            const uint64_t seed = sim::defaultSeed(i);
            const double t = runConnect(seed);
            if (t < 0)
                ++failed;
            else
                times.push_back(t);
            if (t > 10000)
                std::printf("seed=%llu connected after %.1f ms\n", static_cast<unsigned long long>(seed), t);
        }
        std::printf("connect: %d seeds, 20 ms each way, 30 %% loss, %d failed the handshake\n", seeds,
                    failed);
        printPercentiles("connect", times);
    } else {
        std::fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
