// sss-bench-scale: how far one host scales, on the sans-IO core with packets exchanged in memory
// (no sockets, virtual time), and what an idle stream and an idle channel cost in heap memory.
//
//   sss-bench-scale [--streams N] [--channels N] [--skip-streams] [--skip-channels]
//
// streams:  one channel; the client opens N substreams of one top-level stream, writes 1 byte on
//           each (no FIN: they stay open and idle); the server accepts every one and reads its byte.
//           Heap (mallinfo2: in-use arena + mmap) is measured after the client opened them (client
//           side only), once everything is delivered and acknowledged (both sides), and after the
//           client endpoint is destroyed (server side only).
// channels: N client Endpoints (own identities) each connect one stream to one server Endpoint and
//           go idle; heap measured the same way (both sides, then server side after the clients go).
// Each figure is printed as "RESULT key=value ..." lines as well as text.
#include "channel/endpoint.h"
#include "crypto/identity.h"

#include <QHash>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <malloc.h>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace sss::core;
using Steady = std::chrono::steady_clock;

namespace {

qint64 heapInUse()
{
    const struct mallinfo2 mi = mallinfo2();
    return qint64(mi.uordblks + mi.hblkhd);
}

double secondsSince(Steady::time_point t0)
{
    return std::chrono::duration<double>(Steady::now() - t0).count();
}

QByteArray seed(quint64 n, char tag)
{
    QByteArray s(32, tag);
    std::memcpy(s.data(), &n, sizeof n);
    return s;
}

EndpointConfig benchConfig(quint64 streams)
{
    EndpointConfig c;
    c.maxIncomingStreams = streams + 16;
    c.cookieThreshold = 1 << 30; // measure plain channels: cookies would only add a round trip here
    c.wallClockOffsetNs = 1'700'000'000ull * 1'000'000'000ull;
    c.idleTimeout = std::chrono::hours(1); // idle means idle: nothing times out during the run
    c.keepAliveInterval = std::chrono::hours(1);
    return c;
}

// An in-memory network: endpoints by address, packets delivered in order after one step of virtual time.
class Net
{
public:
    void add(const SocketAddress &a, Endpoint *e)
    {
        eps_.insert(a, e);
        addrs_.insert(e, a);
    }
    void remove(Endpoint *e) { eps_.remove(addrs_.take(e)); }
    Instant now() const { return now_; }

    // Drains `e`'s transmits into the network.
    void drain(Endpoint *e)
    {
        const SocketAddress from = addrs_.value(e);
        while (std::optional<Transmit> t = e->pollTransmit(now_))
            q_.push_back({from, t->to, std::move(t->bytes)});
        e->afterTransmit();
    }

    // Delivers everything queued (and what that provokes) until the network is quiet. `touched`
    // receives each endpoint that got a datagram (so the caller can poll its events).
    template<typename F> void run(F &&onTouched)
    {
        while (!q_.empty()) {
            now_ += std::chrono::microseconds(10);
            std::deque<Packet> batch;
            batch.swap(q_);
            QHash<Endpoint *, bool> touched;
            for (Packet &p : batch) {
                Endpoint *to = eps_.value(p.to);
                if (!to)
                    continue;
                to->handleDatagram(now_, p.from, p.bytes);
                touched.insert(to, true);
            }
            for (auto it = touched.cbegin(); it != touched.cend(); ++it) {
                onTouched(it.key());
                drain(it.key());
            }
        }
    }

    // Fires due timers (delayed acks) for the given endpoints until quiet.
    template<typename F> void settle(const std::vector<Endpoint *> &eps, F &&onTouched, Duration horizon)
    {
        const Instant end = now_ + horizon;
        while (now_ < end) {
            Instant next = kNever;
            for (Endpoint *e : eps)
                next = std::min(next, e->nextTimeout());
            if (next == kNever || next > end)
                break;
            now_ = std::max(now_, next);
            for (Endpoint *e : eps)
                if (e->nextTimeout() <= now_) {
                    e->handleTimeout(now_);
                    drain(e);
                }
            run(onTouched);
        }
    }

private:
    struct Packet {
        SocketAddress from, to;
        QByteArray bytes;
    };
    QHash<SocketAddress, Endpoint *> eps_;
    QHash<Endpoint *, SocketAddress> addrs_;
    std::deque<Packet> q_;
    Instant now_ = Instant {} + std::chrono::seconds(1);
};

void seedRandom(Endpoint &e, quint64 s)
{
    auto rng = std::make_shared<std::mt19937_64>(s);
    e.setRandomSource([rng](uint8_t *out, size_t n) {
        for (size_t i = 0; i < n; ++i)
            out[i] = uint8_t((*rng)());
    });
}

bool benchStreams(quint64 n)
{
    std::printf("== %llu streams on one channel\n", (unsigned long long)n);
    const qint64 h0 = heapInUse();
    Net net;
    auto server = std::make_unique<Endpoint>(crypto::StaticIdentity::fromSeed(seed(1, 's')), benchConfig(n));
    auto client = std::make_unique<Endpoint>(crypto::StaticIdentity::fromSeed(seed(1, 'c')), benchConfig(n));
    seedRandom(*server, 11);
    seedRandom(*client, 12);
    const SocketAddress sa {QHostAddress("10.0.0.1"), 443}, ca {QHostAddress("10.0.0.2"), 5000};
    net.add(sa, server.get());
    net.add(ca, client.get());
    server->listen("scale", "1");

    quint64 accepted = 0, bytesRead = 0, errors = 0;
    StreamHandle serverParent = 0;
    auto onServer = [&](Endpoint *e) {
        if (e != server.get())
            return;
        while (std::optional<Event> ev = e->pollEvent()) {
            if (ev->type == Event::Type::NewConnection) {
                serverParent = ev->stream;
                e->setAcceptSubstreams(serverParent, true);
            } else if (ev->type == Event::Type::NewSubstream) {
                while (StreamHandle s = e->acceptSubstream(ev->parent)) {
                    ++accepted;
                    char c;
                    if (e->read(s, &c, 1) == 1)
                        ++bytesRead;
                }
            } else if (ev->type == Event::Type::Readable && ev->stream != serverParent) {
                char c;
                while (e->read(ev->stream, &c, 1) == 1)
                    ++bytesRead;
            } else if (ev->type == Event::Type::Error) {
                ++errors;
            }
        }
    };
    auto onAny = [&](Endpoint *e) {
        if (e == server.get())
            onServer(e);
        else
            while (std::optional<Event> ev = e->pollEvent())
                if (ev->type == Event::Type::Error)
                    ++errors;
    };

    const StreamHandle parent = client->connectStream(net.now(), server->peerId(), sa, "scale", "1");
    client->write(net.now(), parent, "p", 1);
    net.drain(client.get());
    net.run(onAny);
    net.settle({client.get(), server.get()}, onAny, std::chrono::milliseconds(100));
    if (!serverParent) {
        std::printf("  FAILED: no channel\n");
        return false;
    }

    const qint64 h1 = heapInUse();
    const auto t0 = Steady::now();
    std::vector<StreamHandle> handles;
    handles.reserve(n);
    for (quint64 i = 0; i < n; ++i) {
        const StreamHandle s = client->openSubstream(net.now(), parent);
        if (!s || client->write(net.now(), s, "x", 1) != 1) {
            std::printf("  FAILED at stream %llu: %s\n", (unsigned long long)i,
                        qPrintable(client->lastErrorString()));
            return false;
        }
        handles.push_back(s);
    }
    const double openSecs = secondsSince(t0);
    const qint64 h2 = heapInUse();
    const auto t1 = Steady::now();
    net.drain(client.get());
    net.run(onAny);
    // Flow control, stream limits and acks may need timers and several rounds.
    for (int round = 0; round < 100000 && (accepted < n || bytesRead < n); ++round) {
        const quint64 before = accepted + bytesRead;
        net.drain(client.get());
        net.drain(server.get());
        net.run(onAny);
        net.settle({client.get(), server.get()}, onAny, std::chrono::milliseconds(50));
        if (accepted + bytesRead == before && round > 100)
            break;
    }
    net.settle({client.get(), server.get()}, onAny, std::chrono::milliseconds(200)); // final acks
    const double deliverSecs = secondsSince(t1);
    const qint64 h3 = heapInUse();
    const bool ok = accepted == n && bytesRead == n && errors == 0;
    handles.clear();
    handles.shrink_to_fit();
    net.remove(client.get());
    client.reset(); // the server keeps its n idle streams
    const qint64 h4 = heapInUse();
    const qint64 hs = h4 - h0;

    std::printf("  opened %llu substreams (1 byte each, no FIN) in %.3f s (%.0f ns/stream)\n",
                (unsigned long long)n, openSecs, openSecs * 1e9 / double(n));
    std::printf("  delivered/accepted %llu, bytes read %llu, errors %llu, in %.3f s (virtual %.3f s)\n",
                (unsigned long long)accepted, (unsigned long long)bytesRead, (unsigned long long)errors,
                deliverSecs, toSeconds(net.now() - Instant {}) - 1);
    std::printf("  heap per open stream: client before sending %.0f B; both ends idle after delivery %.0f B; "
                "server end alone %.0f B\n",
                double(h2 - h1) / double(n), double(h3 - h1) / double(n), double(hs) / double(n));
    std::printf("RESULT bench=streams n=%llu ok=%d open_s=%.3f deliver_s=%.3f client_bytes_per_stream=%.0f "
                "both_bytes_per_stream=%.0f server_bytes_per_stream=%.0f\n",
                (unsigned long long)n, ok ? 1 : 0, openSecs, deliverSecs, double(h2 - h1) / double(n),
                double(h3 - h1) / double(n), double(hs) / double(n));
    if (!ok)
        std::printf("  FAILED: not every stream arrived\n");
    return ok;
}

bool benchChannels(int n)
{
    std::printf("== %d channels to one host\n", n);
    const qint64 h0 = heapInUse();
    Net net;
    auto server = std::make_unique<Endpoint>(crypto::StaticIdentity::fromSeed(seed(2, 's')), benchConfig(64));
    seedRandom(*server, 21);
    const SocketAddress sa {QHostAddress("10.0.0.1"), 443};
    net.add(sa, server.get());
    server->listen("scale", "1");
    quint64 accepted = 0, errors = 0;
    int connected = 0;
    auto onAny = [&](Endpoint *e) {
        while (std::optional<Event> ev = e->pollEvent()) {
            if (ev->type == Event::Type::NewConnection) {
                ++accepted;
                char c;
                e->read(ev->stream, &c, 1);
            } else if (ev->type == Event::Type::Connected) {
                ++connected;
            } else if (ev->type == Event::Type::Error) {
                ++errors;
            }
        }
    };
    const auto tk = Steady::now();
    std::vector<std::unique_ptr<Endpoint>> clients;
    clients.reserve(size_t(n));
    for (int i = 0; i < n; ++i) {
        clients.push_back(std::make_unique<Endpoint>(
            crypto::StaticIdentity::fromSeed(seed(quint64(i) + 100, 'c')), benchConfig(64)));
        seedRandom(*clients.back(), 1000 + quint64(i));
        net.add({QHostAddress(quint32(0x0a010000u + quint32(i))), 5000}, clients.back().get());
    }
    const double keySecs = secondsSince(tk);
    const qint64 h1 = heapInUse();
    const auto t0 = Steady::now();
    for (auto &c : clients) {
        const StreamHandle s = c->connectStream(net.now(), server->peerId(), sa, "scale", "1");
        c->write(net.now(), s, "x", 1);
        net.drain(c.get());
    }
    net.run(onAny);
    const double connectSecs = secondsSince(t0);
    std::vector<Endpoint *> all;
    for (auto &c : clients)
        all.push_back(c.get());
    all.push_back(server.get());
    // Delayed acks: everyone idle afterwards. This bench loop scans every endpoint per timer, so its
    // time is the harness's, not the protocol's: reported apart.
    net.settle(all, onAny, std::chrono::milliseconds(200));
    const double settleSecs = secondsSince(t0) - connectSecs;
    const qint64 h2 = heapInUse();
    const quint64 serverChannels = quint64(server->channelStats().size());
    const bool ok = connected == n && accepted == quint64(n) && errors == 0 && serverChannels == quint64(n);
    for (auto &c : clients)
        net.remove(c.get());
    clients.clear();
    const qint64 h3 = heapInUse();
    const qint64 perClientEndpoint = (h2 - h3) / n; // a client Endpoint with its one channel and stream

    std::printf("  %d client endpoints (identities) created in %.3f s\n", n, keySecs);
    std::printf("  %d handshakes + 1-byte streams in %.3f s (%.0f us each, both ends' crypto in one thread), "
                "then %.3f s of timers to idle; server channels %llu, errors %llu\n",
                n, connectSecs, connectSecs * 1e6 / n, settleSecs, (unsigned long long)serverChannels,
                (unsigned long long)errors);
    std::printf("  heap per idle channel: both ends %.0f B (after handshake, excluding endpoint setup); "
                "server end alone %.0f B; a whole client endpoint %lld B\n",
                double(h2 - h1) / n, double(h3 - h0) / n, perClientEndpoint);
    std::printf("RESULT bench=channels n=%d ok=%d connect_s=%.3f both_bytes_per_channel=%.0f "
                "server_bytes_per_channel=%.0f client_endpoint_bytes=%lld\n",
                n, ok ? 1 : 0, connectSecs, double(h2 - h1) / n, double(h3 - h0) / n, perClientEndpoint);
    if (!ok)
        std::printf("  FAILED: connected %d accepted %llu of %d\n", connected, (unsigned long long)accepted,
                    n);
    return ok;
}

} // namespace

int main(int argc, char **argv)
{
    quint64 streams = 1'000'000;
    int channels = 10'000;
    bool doStreams = true, doChannels = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--streams" && i + 1 < argc)
            streams = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--channels" && i + 1 < argc)
            channels = std::atoi(argv[++i]);
        else if (a == "--skip-streams")
            doStreams = false;
        else if (a == "--skip-channels")
            doChannels = false;
        else {
            std::fprintf(stderr,
                         "usage: %s [--streams N] [--channels N] [--skip-streams] [--skip-channels]\n",
                         argv[0]);
            return 2;
        }
    }
    if (streams < 1 || channels < 1) {
        std::fprintf(stderr, "counts must be positive\n");
        return 2;
    }
    bool ok = true;
    if (doStreams)
        ok &= benchStreams(streams);
    if (doChannels)
        ok &= benchChannels(channels);
    return ok ? 0 : 1;
}
