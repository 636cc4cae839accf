// sss-bench-scale: how far one host scales, on the sans-IO core with packets exchanged in memory
// (no sockets, virtual time), and what an idle stream and an idle channel cost in heap memory.
//
//   sss-bench-scale [--streams N] [--channels N] [--busy-idle N[,N...]] [--busy-requests K]
//                   [--busy-runs R] [--busy-handshakes M] [--skip-streams] [--skip-channels] [--skip-busy]
//
// streams:  one channel; the client opens N substreams of one top-level stream, writes 1 byte on
//           each (no FIN: they stay open and idle); the server accepts every one and reads its byte.
//           Heap (mallinfo2: in-use arena + mmap) is measured after the client opened them (client
//           side only), once everything is delivered and acknowledged (both sides), and after the
//           client endpoint is destroyed (server side only).
// channels: N client Endpoints (own identities) each connect one stream to one server Endpoint and
//           go idle; heap measured the same way (both sides, then server side after the clients go).
// busy:     CPU a server spends per event while it holds N idle channels (default N = 1, 1000, 10000),
//           each a client connected as in "channels". One more client then makes R runs (default 3)
//           of K (2000) request/response transactions, each a fresh substream with 1 byte and FIN each
//           way, and M (200) fresh clients connect one after another (handshake + 1-byte stream, until
//           quiet). Only the server's own calls are timed (steady_clock), per wake-up as the Qt edge
//           makes them: handleDatagram/handleTimeout, events and the app's calls, pollTransmit until
//           empty, afterTransmit, nextTimeout. Packets go straight between the server and that one
//           client; the idle clients are never touched (the Net harness would scan them all per step).
//           Medians: of the R runs' means per request, and per new channel.
// Each figure is printed as "RESULT key=value ..." lines as well as text.
#include "benchutil.h"
#include "channel/endpoint.h"
#include "crypto/identity.h"

#include <QHash>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

using namespace sss::core;
using sss::bench::heapInUse;
using sss::bench::secondsSince;
using sss::bench::Steady;

namespace {

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
        do {
            while (std::optional<Transmit> t = e->pollTransmit(now_))
                q_.push_back({from, t->to, std::move(t->bytes)});
        } while (e->afterTransmit()); // (held-back ACKs may free window)
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

SocketAddress clientAddress(int i)
{
    return {QHostAddress(quint32(0x0a010000u + quint32(i))), 5000};
}

// Client Endpoints number first .. first + n - 1, each with its own identity and address, added to `net`.
std::vector<std::unique_ptr<Endpoint>> makeClients(Net &net, int first, int n)
{
    std::vector<std::unique_ptr<Endpoint>> clients;
    clients.reserve(size_t(n));
    for (int i = first; i < first + n; ++i) {
        clients.push_back(std::make_unique<Endpoint>(
            crypto::StaticIdentity::fromSeed(seed(quint64(i) + 100, 'c')), benchConfig(64)));
        seedRandom(*clients.back(), 1000 + quint64(i));
        net.add(clientAddress(i), clients.back().get());
    }
    return clients;
}

// Every client connects one stream to the server and writes 1 byte on it, all at once; runs the
// network until it is quiet (timers not included). Returns each client's stream handle.
template<typename F>
std::vector<StreamHandle> connectClients(Net &net, const std::vector<std::unique_ptr<Endpoint>> &clients,
                                         const QByteArray &serverId, const SocketAddress &sa, F &&onAny)
{
    std::vector<StreamHandle> streams;
    streams.reserve(clients.size());
    for (const auto &c : clients) {
        streams.push_back(c->connectStream(net.now(), serverId, sa, "scale", "1"));
        c->write(net.now(), streams.back(), "x", 1);
        net.drain(c.get());
    }
    net.run(onAny);
    return streams;
}

const SocketAddress kServerAddress {QHostAddress("10.0.0.1"), 443};

// A server Endpoint listening on scale/1 at kServerAddress, with the identity `tag` and random seed `rng`.
std::unique_ptr<Endpoint> makeServer(Net &net, quint64 tag, quint64 rng)
{
    auto server
        = std::make_unique<Endpoint>(crypto::StaticIdentity::fromSeed(seed(tag, 's')), benchConfig(64));
    seedRandom(*server, rng);
    net.add(kServerAddress, server.get());
    server->listen("scale", "1");
    return server;
}

bool benchChannels(int n)
{
    std::printf("== %d channels to one host\n", n);
    const qint64 h0 = heapInUse();
    Net net;
    const SocketAddress sa = kServerAddress;
    std::unique_ptr<Endpoint> server = makeServer(net, 2, 21);
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
    std::vector<std::unique_ptr<Endpoint>> clients = makeClients(net, 0, n);
    const double keySecs = secondsSince(tk);
    const qint64 h1 = heapInUse();
    const auto t0 = Steady::now();
    connectClients(net, clients, server->peerId(), sa, onAny);
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

// What the server did: time spent inside its own calls, by kind, and how often it was driven.
struct ServerWork {
    using ns = std::chrono::nanoseconds;
    ns input {}; // handleDatagram (a receive batch) or handleTimeout
    ns app {}; // pollEvent and the application's calls on the events (accept, read, write, release)
    ns transmit {}; // pollTransmit until it has nothing
    ns after {}; // afterTransmit
    ns timer {}; // nextTimeout
    quint64 drives = 0, datagramsIn = 0, datagramsOut = 0, timeouts = 0;

    ns total() const { return input + app + transmit + after + timer; }
    ServerWork operator-(const ServerWork &o) const
    {
        return {input - o.input,
                app - o.app,
                transmit - o.transmit,
                after - o.after,
                timer - o.timer,
                drives - o.drives,
                datagramsIn - o.datagramsIn,
                datagramsOut - o.datagramsOut,
                timeouts - o.timeouts};
    }
};

// The server and ONE client driven by hand, each packet handed straight to the other end after kHop
// of virtual time. Not the Net harness: it looks at every endpoint on each step, and with thousands
// of idle clients that would be the harness's cost, not the server's. Only the server's calls are
// timed, grouped as the Qt edge makes them per wake-up (HostPrivate::drive): one receive batch of
// datagrams or the timeout, then its events, pollTransmit until empty, afterTransmit, and nextTimeout
// to arm the timer; again (at most 4 rounds) while that left events.
class Duo
{
public:
    static constexpr Duration kHop = std::chrono::microseconds(10);

    Duo(Endpoint &server, const SocketAddress &serverAddress, Instant now, std::function<void()> serverEvents)
        : server_(server), serverAddress_(serverAddress), now_(now), serverEvents_(std::move(serverEvents)),
          serverNext_(server.nextTimeout()) // untimed, once: from here on each drive returns it
    { }

    // The client's events are the caller's (untimed); it polls them itself.
    void setClient(Endpoint *client, const SocketAddress &address, std::function<void()> clientEvents)
    {
        client_ = client;
        clientAddress_ = address;
        clientEvents_ = std::move(clientEvents);
    }
    Instant now() const { return now_; }
    const ServerWork &work() const { return work_; }

    // Collects what the caller's calls on the client queued.
    void flushClient()
    {
        toServer_ = drain(*client_, clientBatch_, 0);
        while (client_->afterTransmit()) // (held-back ACKs may free window)
            toServer_ = drain(*client_, clientBatch_, toServer_);
    }

    // Hands the client's pending datagrams to the server: one timed drive. False if there were none.
    bool serverReceive()
    {
        if (toServer_ == 0)
            return false;
        now_ += kHop;
        serverDrive(false);
        return true;
    }

    // Exchanges packets and fires both ends' timers until nothing is in flight, no timer is due and
    // done() holds; with `settle`, also through the timers that come due within `horizon`. False if
    // done() did not hold by then.
    bool run(const std::function<bool()> &done, Duration horizon, bool settle = false)
    {
        const Instant end = now_ + horizon;
        for (;;) {
            if (serverReceive())
                continue;
            if (toClient_ > 0) {
                now_ += kHop;
                for (size_t i = 0; i < toClient_; ++i)
                    client_->handleDatagram(now_, serverAddress_, serverBatch_[i].bytes);
                toClient_ = 0;
                clientDrive();
                continue;
            }
            if (serverNext_ <= now_) {
                serverDrive(true);
                continue;
            }
            if (client_->nextTimeout() <= now_) {
                client_->handleTimeout(now_);
                clientDrive();
                continue;
            }
            const bool ok = done();
            if (ok && !settle)
                return true;
            const Instant next = std::min(serverNext_, client_->nextTimeout());
            if (next > end)
                return ok;
            now_ = next;
        }
    }

private:
    // Polls into the kept batch (refilled in place, as the edge does) from index n; returns the count.
    size_t drain(Endpoint &e, std::vector<Transmit> &batch, size_t n)
    {
        for (;;) {
            if (n == batch.size())
                batch.emplace_back();
            if (!e.pollTransmit(now_, batch[n]))
                return n;
            ++n;
        }
    }

    void serverDrive(bool timeout)
    {
        auto t = Steady::now();
        auto lap = [&t](ServerWork::ns &into) {
            const auto t1 = Steady::now();
            into += t1 - t;
            t = t1;
        };
        if (timeout) {
            server_.handleTimeout(now_);
        } else {
            for (size_t i = 0; i < toServer_; ++i)
                server_.handleDatagram(now_, clientAddress_, clientBatch_[i].bytes);
        }
        lap(work_.input);
        size_t sent = 0;
        for (int round = 0; round < 4; ++round) {
            serverEvents_();
            lap(work_.app);
            sent = drain(server_, serverBatch_, sent);
            lap(work_.transmit);
            const bool again = server_.afterTransmit(); // (held-back ACKs may free window)
            lap(work_.after);
            serverNext_ = server_.nextTimeout();
            const bool more = again || server_.hasPendingEvents();
            lap(work_.timer);
            if (!more)
                break;
        }
        ++work_.drives;
        work_.timeouts += timeout ? 1 : 0;
        work_.datagramsIn += timeout ? 0 : toServer_;
        work_.datagramsOut += sent;
        toServer_ = 0;
        toClient_ = sent;
    }

    void clientDrive()
    {
        clientEvents_();
        flushClient();
    }

    Endpoint &server_;
    Endpoint *client_ = nullptr;
    SocketAddress serverAddress_, clientAddress_;
    Instant now_;
    std::function<void()> serverEvents_, clientEvents_;
    Instant serverNext_;
    std::vector<Transmit> serverBatch_, clientBatch_;
    size_t toServer_ = 0, toClient_ = 0;
    ServerWork work_;
};

double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

double micros(std::chrono::nanoseconds d)
{
    return double(d.count()) / 1e3;
}

// "us total: in, app, transmit, afterTransmit, nextTimeout; counts" for `w` spread over n.
std::string breakdown(const ServerWork &w, double n)
{
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "%.2f us: handleDatagram/Timeout %.2f, events+app %.2f, pollTransmit %.2f, afterTransmit "
                  "%.2f, nextTimeout %.2f; %.2f drives, %.2f datagrams in, %.2f out, %.3f timeouts",
                  micros(w.total()) / n, micros(w.input) / n, micros(w.app) / n, micros(w.transmit) / n,
                  micros(w.after) / n, micros(w.timer) / n, double(w.drives) / n, double(w.datagramsIn) / n,
                  double(w.datagramsOut) / n, double(w.timeouts) / n);
    return buf;
}

struct BusyOptions {
    std::vector<int> idle {1, 1000, 10000};
    int requests = 2000; // per run
    int runs = 3;
    int handshakes = 200;
};

// One server holding `idle` idle channels (a client each, one idle stream each, as benchChannels
// leaves them): what it costs the server to serve one more, active, client, and to accept new ones.
bool benchBusyHost(int idle, const BusyOptions &o)
{
    std::printf("== busy host: one server with %d idle channels\n", idle);
    Net net;
    const SocketAddress sa = kServerAddress;
    std::unique_ptr<Endpoint> server = makeServer(net, 3, 31);

    // The server answers like a request/response server: every substream of the active client's
    // top-level stream carries a 1-byte request and FIN; it answers 1 byte and FIN and drops the
    // stream once the request is read to its end. Top-level streams get their byte read.
    QByteArray activeId;
    StreamHandle serverParent = 0;
    const Duo *timed = nullptr; // the clock once the Duo drives
    auto now = [&] { return timed ? timed->now() : net.now(); };
    std::unordered_set<StreamHandle> open; // the app's streams (what the Qt edge keeps as Stream objects)
    quint64 accepted = 0, errors = 0, answered = 0;
    Event sev;
    auto serve = [&](StreamHandle h) {
        char buf[64];
        qint64 got = 0, n;
        while ((n = server->read(h, buf, sizeof buf)) > 0)
            got += n;
        if (got > 0) { // the whole request is one byte: this happens once per stream
            server->write(now(), h, "r", 1);
            server->shutdownWrite(now(), h);
            ++answered;
        }
        if (server->atEnd(h)) {
            server->release(now(), h);
            open.erase(h);
        }
    };
    auto onServer = [&] {
        while (server->pollEvent(sev)) {
            switch (sev.type) {
            case Event::Type::NewConnection: {
                ++accepted;
                char c;
                server->read(sev.stream, &c, 1);
                if (sev.peerId == activeId) {
                    serverParent = sev.stream;
                    server->setAcceptSubstreams(serverParent, true);
                }
                break;
            }
            case Event::Type::NewSubstream:
                while (const StreamHandle h = server->acceptSubstream(sev.parent)) {
                    open.insert(h);
                    serve(h);
                }
                break;
            case Event::Type::Readable:
            case Event::Type::Finished:
                if (open.count(sev.stream))
                    serve(sev.stream);
                break;
            case Event::Type::Error:
                ++errors;
                break;
            default:
                break;
            }
        }
    };
    int connected = 0;
    auto onSetup = [&](Endpoint *e) {
        if (e == server.get()) {
            onServer();
            return;
        }
        while (std::optional<Event> ev = e->pollEvent()) {
            if (ev->type == Event::Type::Connected)
                ++connected;
            else if (ev->type == Event::Type::Error)
                ++errors;
        }
    };

    // Setup (not measured): the idle clients and the active one (the last) connect and go idle.
    const auto t0 = Steady::now();
    std::vector<std::unique_ptr<Endpoint>> clients = makeClients(net, 0, idle + 1);
    Endpoint *active = clients.back().get();
    activeId = active->peerId();
    const StreamHandle clientParent = connectClients(net, clients, server->peerId(), sa, onSetup).back();
    {
        std::vector<Endpoint *> all;
        for (auto &c : clients)
            all.push_back(c.get());
        all.push_back(server.get());
        net.settle(all, onSetup, std::chrono::milliseconds(200));
    }
    const double setupSecs = secondsSince(t0);
    if (connected != idle + 1 || accepted != quint64(idle) + 1 || !serverParent || errors
        || server->sessionCount() != quint64(idle) + 1) {
        std::printf("  FAILED: setup connected %d accepted %llu errors %llu of %d\n", connected,
                    (unsigned long long)accepted, (unsigned long long)errors, idle + 1);
        return false;
    }
    std::printf("  setup: %d clients (%d idle + the active one) connected, then idle, in %.3f s (harness "
                "and both ends' crypto: not measured)\n",
                idle + 1, idle, setupSecs);

    // Request/response on the active client's channel; the idle clients are never looked at.
    Duo duo(*server, sa, net.now(), onServer);
    timed = &duo;
    StreamHandle req = 0;
    bool gotAnswer = false;
    Event cev;
    auto onActive = [&] {
        while (active->pollEvent(cev)) {
            if ((cev.type == Event::Type::Readable || cev.type == Event::Type::Finished)
                && cev.stream == req) {
                char c;
                if (active->read(req, &c, 1) == 1)
                    gotAnswer = true;
                if (active->atEnd(req)) {
                    active->release(duo.now(), req);
                    req = 0;
                }
            } else if (cev.type == Event::Type::Error) {
                ++errors;
            }
        }
    };
    duo.setClient(active, clientAddress(idle), onActive);
    auto transaction = [&] {
        req = active->openSubstream(duo.now(), clientParent);
        gotAnswer = false;
        if (!req || active->write(duo.now(), req, "q", 1) != 1 || !active->shutdownWrite(duo.now(), req))
            return false;
        duo.flushClient();
        return duo.run([&] { return gotAnswer && req == 0; }, std::chrono::seconds(1));
    };
    bool ok = true;
    for (int i = 0; i < o.requests / 10 && ok; ++i) // warm-up: first allocations, stream credit
        ok = transaction();
    const ServerWork r0 = duo.work();
    const quint64 answered0 = answered;
    std::vector<double> rrUs;
    for (int r = 0; r < o.runs && ok; ++r) {
        const ServerWork w0 = duo.work();
        for (int k = 0; k < o.requests && ok; ++k)
            ok = transaction();
        rrUs.push_back(micros((duo.work() - w0).total()) / o.requests);
    }
    const ServerWork rr = duo.work() - r0;
    const double nrr = double(o.requests) * o.runs;
    ok = ok && errors == 0 && answered - answered0 == quint64(nrr);
    if (!ok) {
        std::printf("  FAILED: request/response stalled or failed (errors %llu)\n",
                    (unsigned long long)errors);
        return false;
    }
    const double rrMedian = median(rrUs);
    std::printf(
        "  request/response on one more channel, %d runs x %d requests (each a fresh substream, 1 byte "
        "each way):\n"
        "    server %.2f us per request (median of the runs' means; runs %.2f..%.2f)\n"
        "    per request (mean over all runs) %s\n",
        o.runs, o.requests, rrMedian, *std::min_element(rrUs.begin(), rrUs.end()),
        *std::max_element(rrUs.begin(), rrUs.end()), breakdown(rr, nrr).c_str());

    // New channels one after another: handshake, a 1-byte stream, the acks and timers until quiet.
    std::vector<std::unique_ptr<Endpoint>> fresh = makeClients(net, idle + 1, o.handshakes);
    std::vector<double> hsUs, initUs;
    bool clientConnected = false;
    auto onFresh = [&](Endpoint *c) {
        while (c->pollEvent(cev)) {
            if (cev.type == Event::Type::Connected)
                clientConnected = true;
            else if (cev.type == Event::Type::Error)
                ++errors;
        }
    };
    const ServerWork h0 = duo.work();
    for (int j = 0; j < o.handshakes && ok; ++j) {
        Endpoint *c = fresh[size_t(j)].get();
        duo.setClient(c, clientAddress(idle + 1 + j), [&onFresh, c] { onFresh(c); });
        clientConnected = false;
        const quint64 acceptedBefore = accepted;
        const ServerWork w0 = duo.work();
        const StreamHandle s = c->connectStream(duo.now(), server->peerId(), sa, "scale", "1");
        c->write(duo.now(), s, "x", 1);
        duo.flushClient();
        duo.serverReceive(); // the initiation, alone in its drive
        initUs.push_back(micros((duo.work() - w0).total()));
        ok = duo.run([&] { return clientConnected && accepted == acceptedBefore + 1; },
                     std::chrono::milliseconds(200), true);
        hsUs.push_back(micros((duo.work() - w0).total()));
    }
    const ServerWork hs = duo.work() - h0;
    ok = ok && errors == 0 && server->sessionCount() == quint64(idle) + 1 + quint64(o.handshakes);
    if (!ok) {
        std::printf("  FAILED: new channel %zu did not connect (errors %llu)\n", hsUs.size(),
                    (unsigned long long)errors);
        return false;
    }
    const double nhs = o.handshakes;
    const double hsMedian = median(hsUs), initMedian = median(initUs);
    std::printf("  %d new channels, one after another (handshake + 1-byte stream, run until quiet; "
                "channels %d -> %d):\n"
                "    server %.1f us per new channel (median), of which %.1f us in the drive answering the "
                "initiation (median)\n"
                "    per new channel (mean) %s\n",
                o.handshakes, idle + 1, idle + 1 + o.handshakes, hsMedian, initMedian,
                breakdown(hs, nhs).c_str());
    std::printf("RESULT bench=busy idle=%d rr_server_us=%.2f handshake_server_us=%.1f init_server_us=%.1f "
                "rr_in_us=%.2f rr_app_us=%.2f rr_tx_us=%.2f rr_after_us=%.2f rr_timer_us=%.2f rr_drives=%.2f "
                "handshake_drives=%.2f ok=1\n",
                idle, rrMedian, hsMedian, initMedian, micros(rr.input) / nrr, micros(rr.app) / nrr,
                micros(rr.transmit) / nrr, micros(rr.after) / nrr, micros(rr.timer) / nrr,
                double(rr.drives) / nrr, double(hs.drives) / nhs);
    return true;
}

} // namespace

int main(int argc, char **argv)
{
    quint64 streams = 1'000'000;
    int channels = 10'000;
    BusyOptions busy;
    bool doStreams = true, doChannels = true, doBusy = true, argsOk = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--streams" && i + 1 < argc) {
            streams = std::strtoull(argv[++i], nullptr, 10);
        } else if (a == "--channels" && i + 1 < argc) {
            channels = std::atoi(argv[++i]);
        } else if (a == "--busy-idle" && i + 1 < argc) {
            busy.idle.clear();
            for (const QByteArray &n : QByteArray(argv[++i]).split(',')) {
                busy.idle.push_back(n.toInt(&argsOk));
                if (!argsOk)
                    break;
            }
        } else if (a == "--busy-requests" && i + 1 < argc) {
            busy.requests = std::atoi(argv[++i]);
        } else if (a == "--busy-runs" && i + 1 < argc) {
            busy.runs = std::atoi(argv[++i]);
        } else if (a == "--busy-handshakes" && i + 1 < argc) {
            busy.handshakes = std::atoi(argv[++i]);
        } else if (a == "--skip-streams") {
            doStreams = false;
        } else if (a == "--skip-channels") {
            doChannels = false;
        } else if (a == "--skip-busy") {
            doBusy = false;
        } else {
            argsOk = false;
        }
        if (!argsOk) {
            std::fprintf(
                stderr,
                "usage: %s [--streams N] [--channels N] [--busy-idle N[,N...]] [--busy-requests K] "
                "[--busy-runs R] [--busy-handshakes M] [--skip-streams] [--skip-channels] [--skip-busy]\n",
                argv[0]);
            return 2;
        }
    }
    const bool idleOk = std::all_of(busy.idle.begin(), busy.idle.end(), [](int n) { return n >= 0; });
    if (streams < 1 || channels < 1 || !idleOk || busy.requests < 1 || busy.runs < 1 || busy.handshakes < 1) {
        std::fprintf(stderr, "counts must be positive (idle counts may be 0)\n");
        return 2;
    }
    bool ok = true;
    if (doStreams)
        ok &= benchStreams(streams);
    if (doChannels)
        ok &= benchChannels(channels);
    if (doBusy)
        for (int idle : busy.idle)
            ok &= benchBusyHost(idle, busy);
    return ok ? 0 : 1;
}
