// Runs sans-IO Endpoints on the simulated network in virtual time: the same drive loop as the Qt edge
// (input -> drain transmits -> re-arm one timer -> drain events), without Qt's event loop.
#pragma once

#include "channel/endpoint.h"
#include "crypto/identity.h"
#include "sim/network.h"
#include "sim/simulator.h"

#include <QCryptographicHash>
#include <functional>
#include <memory>
#include <random>

namespace sss::test {

class CoreNode
{
public:
    CoreNode(sim::Network &net, sim::Host *host, quint16 port, const core::EndpointConfig &cfg = {},
             QByteArray seed = {})
        : sim_(net.simulator()), host_(host)
    {
        if (seed.isEmpty()) {
            seed = QByteArray(32, '\0');
            for (char &c : seed)
                c = char(sim_.rng()());
        }
        identity_ = core::crypto::StaticIdentity::fromSeed(seed);
        ep = std::make_unique<core::Endpoint>(identity_, cfg);
        // Deterministic randomness from the simulator's seed.
        rng_.seed(sim_.rng()());
        ep->setRandomSource([this](uint8_t *out, size_t n) {
            for (size_t i = 0; i < n; ++i)
                out[i] = uint8_t(rng_());
        });
        socket_ = host->bind(port);
        if (!socket_)
            qFatal("CoreNode: port %u is taken on the simulated host", unsigned(port));
        socket_->setReceiver([this](const core::SocketAddress &from, const QByteArray &bytes) {
            ep->handleDatagram(sim_.now(), from, bytes);
            kick();
        });
    }
    ~CoreNode()
    {
        sim_.cancel(timer_);
        sim_.cancel(flush_);
        if (socket_) { // frees the port: a "restarted" node may bind it again
            socket_->setReceiver({});
            socket_->close();
        }
    }

    QByteArray peerId() const { return ep->peerId(); }
    core::SocketAddress address() const { return socket_->localAddress(); }
    sim::Socket *socket() const { return socket_; }
    core::Instant now() const { return sim_.now(); }

    // Drive after commands: coalesced like the Qt edge's posted flush.
    void kick()
    {
        if (flush_ && sim_.isPending(flush_))
            return;
        flush_ = sim_.post([this] { drive(); });
    }

    std::function<void(const core::Event &)> onEvent;
    std::unique_ptr<core::Endpoint> ep;

    // Everything readable on `s` now.
    QByteArray readAll(core::StreamHandle s)
    {
        QByteArray out;
        char buf[65536];
        qint64 r;
        while ((r = ep->read(s, buf, sizeof buf)) > 0)
            out.append(buf, r);
        return out;
    }
    quint64 transmits = 0;

private:
    void drive()
    {
        flush_ = 0;
        const core::Instant now = sim_.now();
        // Like the Qt edge: transmit, deliver events, and go round again while the handlers left
        // work (commands they issued, streams whose reclaim waits for the next pollTransmit).
        for (int round = 0; round < 4; ++round) {
            while (std::optional<core::Transmit> t = ep->pollTransmit(now)) {
                ++transmits;
                socket_->send(t->to, t->bytes);
            }
            const bool more = ep->afterTransmit(); // (held-back ACKs may free window)
            bool delivered = more;
            while (std::optional<core::Event> e = ep->pollEvent()) {
                delivered = true;
                if (onEvent)
                    onEvent(*e);
            }
            if (!delivered)
                break;
        }
        const core::Instant next = ep->nextTimeout();
        if (next != armed_) {
            sim_.cancel(timer_);
            timer_ = 0;
            armed_ = next;
            if (next != core::kNever) {
                timer_ = sim_.schedule(std::max(next, now), [this] {
                    timer_ = 0;
                    armed_ = core::kNever;
                    ep->handleTimeout(sim_.now());
                    drive();
                });
            }
        }
    }

    sim::Simulator &sim_;
    sim::Host *host_;
    sim::Socket *socket_ = nullptr;
    core::crypto::StaticIdentity identity_;
    std::mt19937_64 rng_;
    sim::Simulator::EventId timer_ = 0, flush_ = 0;
    core::Instant armed_ = core::kNever;
};

} // namespace sss::test

namespace sss::test {

// Deterministic pseudo-random content: byte i of a transfer depends only on (seed, i).
inline void fillPattern(char *out, qint64 offset, qint64 n, quint64 seed)
{
    for (qint64 i = 0; i < n; ++i) {
        quint64 x = quint64(offset + i) * 0x9E3779B97F4A7C15ull ^ seed;
        x ^= x >> 29;
        out[i] = char(x * 0xBF58476D1CE4E5B9ull >> 56);
    }
}

// Writes `total` bytes of pattern to a stream as fast as the send buffer accepts them, then FIN.
struct BulkSender {
    CoreNode *node = nullptr;
    core::StreamHandle stream = 0;
    qint64 total = 0, written = 0;
    quint64 seed = 1;
    bool finish = true;
    QCryptographicHash hash {QCryptographicHash::Sha256};

    void pump()
    {
        QByteArray chunk;
        while (written < total) {
            const qint64 cap = node->ep->writeCapacity(stream);
            if (cap <= 0)
                break;
            const qint64 n = std::min<qint64>({cap, total - written, 256 * 1024});
            chunk.resize(n);
            fillPattern(chunk.data(), written, n, seed);
            const qint64 w = node->ep->write(node->now(), stream, chunk.constData(), n);
            if (w <= 0)
                break;
            hash.addData(QByteArrayView(chunk.constData(), w));
            written += w;
        }
        if (written == total && finish) {
            node->ep->shutdownWrite(node->now(), stream);
            finish = false;
        }
        node->kick();
    }
};

// Reads everything from a stream, hashing it and checking it against the pattern on the fly.
struct BulkReceiver {
    CoreNode *node = nullptr;
    core::StreamHandle stream = 0;
    qint64 received = 0;
    quint64 seed = 1;
    bool patternOk = true;
    QCryptographicHash hash {QCryptographicHash::Sha256};

    void drain()
    {
        static thread_local QByteArray buf(256 * 1024, '\0'), expect(256 * 1024, '\0');
        qint64 n;
        while ((n = node->ep->read(stream, buf.data(), buf.size())) > 0) {
            fillPattern(expect.data(), received, n, seed);
            if (memcmp(buf.constData(), expect.constData(), size_t(n)) != 0)
                patternOk = false;
            hash.addData(QByteArrayView(buf.constData(), n));
            received += n;
        }
        node->kick();
    }
};

inline double jainIndex(const QList<double> &x)
{
    double s = 0, s2 = 0;
    for (double v : x) {
        s += v;
        s2 += v * v;
    }
    return s2 > 0 ? s * s / (x.size() * s2) : 0;
}

} // namespace sss::test

namespace sss::test {

// A bulk transfer from node a to a service listened on node b: a's BulkSender on a fresh top-level
// stream, b's BulkReceiver on the connection it accepts. Extra per-node event hooks may be set.
struct BulkTransfer {
    BulkTransfer(CoreNode *a, CoreNode *b, const QString &service, const QString &protocol, qint64 bytes)
    {
        rx.node = b;
        b->onEvent = [this](const core::Event &e) {
            using T = core::Event::Type;
            if (e.type == T::NewConnection)
                rx.stream = e.stream;
            if ((e.type == T::Readable || e.type == T::NewConnection) && e.stream == rx.stream)
                rx.drain();
            if (e.type == T::Finished && e.stream == rx.stream)
                finished = true;
            if (onB)
                onB(e);
        };
        tx.node = a;
        tx.total = bytes;
        tx.stream = a->ep->connectStream(a->now(), b->peerId(), b->address(), service, protocol);
        a->onEvent = [this](const core::Event &e) {
            using T = core::Event::Type;
            if (e.type == T::BytesAcked || e.type == T::Connected)
                tx.pump();
            if (e.type == T::Error && error == core::StreamError::NoError)
                error = e.error;
            if (onA)
                onA(e);
        };
        tx.pump();
    }
    bool done() const { return finished && rx.received == tx.total; }
    bool byteExact() const { return done() && rx.patternOk && rx.hash.result() == tx.hash.result(); }

    BulkSender tx;
    BulkReceiver rx;
    bool finished = false;
    core::StreamError error = core::StreamError::NoError;
    std::function<void(const core::Event &)> onA, onB;
};

} // namespace sss::test
