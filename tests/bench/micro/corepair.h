// Two sans-IO Endpoints in one process exchanging packets directly (no simulator, no sockets): A sends
// one bulk stream, every packet A emits is handed to B after a fixed one-way delay, B's packets back
// to A. Time is virtual and advances in fixed steps, so a run is deterministic given the seeds; what
// costs CPU is the whole core (framing, packet protection, acks, loss/cc, flow control, streams).
// Shared by bench_core (Google Benchmark) and sss-bench-icount (callgrind driver).
#pragma once

#include "channel/endpoint.h"
#include "crypto/identity.h"

#include <cstring>
#include <deque>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace sss::bench {

enum class PairCipher { ChaCha, Aes };

class CorePair
{
public:
    // Payload written by A is this buffer repeated, so B can check every byte cheaply (memcmp).
    static constexpr qint64 kPatternSize = 256 * 1024;

    explicit CorePair(PairCipher cipher, quint64 seed = 1)
        : idA_(core::crypto::StaticIdentity::fromSeed(seedBytes(seed, 'a'))),
          idB_(core::crypto::StaticIdentity::fromSeed(seedBytes(seed, 'b')))
    {
        core::EndpointConfig cfg;
        cfg.allowAesGcm = cipher == PairCipher::Aes;
        cfg.wallClockOffsetNs = 1'700'000'000ull * 1'000'000'000ull; // fixed: handshake timestamps
        a_ = std::make_unique<core::Endpoint>(idA_, cfg);
        b_ = std::make_unique<core::Endpoint>(idB_, cfg);
        rngA_.seed(seed * 2 + 1);
        rngB_.seed(seed * 2 + 2);
        a_->setRandomSource([this](uint8_t *out, size_t n) { fill(rngA_, out, n); });
        b_->setRandomSource([this](uint8_t *out, size_t n) { fill(rngB_, out, n); });
        addrA_ = {QHostAddress(QHostAddress::LocalHost), 4000};
        addrB_ = {QHostAddress(QHostAddress::LocalHost), 5000};

        pattern_.resize(kPatternSize);
        std::mt19937_64 prng(seed);
        for (char &c : pattern_)
            c = char(prng());
        readBuf_.resize(kPatternSize);

        b_->listen(QStringLiteral("bench"), QStringLiteral("1"));
        tx_ = a_->connectStream(now_, b_->peerId(), addrB_, QStringLiteral("bench"), QStringLiteral("1"));
        if (!tx_)
            throw std::runtime_error("connectStream failed");
    }

    // Sends `bytes` more on the stream and runs until B has read (and checked) all of them.
    // Returns false if the data was wrong or the exchange stalled.
    bool transfer(qint64 bytes)
    {
        target_ += bytes;
        int idleRounds = 0;
        while (received_ < target_) {
            if (!round()) {
                if (++idleRounds > 1000)
                    return false;
            } else {
                idleRounds = 0;
            }
            if (!ok_)
                return false;
        }
        return ok_;
    }

    qint64 received() const { return received_; }
    quint64 packets() const { return packets_; }
    core::Instant now() const { return now_; }
    core::Endpoint &a() { return *a_; }
    core::Endpoint &b() { return *b_; }

private:
    struct InFlight {
        core::Instant at;
        QByteArray bytes;
    };

    static QByteArray seedBytes(quint64 seed, char who)
    {
        QByteArray s(32, who);
        std::memcpy(s.data(), &seed, sizeof seed);
        return s;
    }
    static void fill(std::mt19937_64 &rng, uint8_t *out, size_t n)
    {
        for (size_t i = 0; i < n; ++i)
            out[i] = uint8_t(rng());
    }

    // One step of virtual time. Returns true if anything moved (a packet, a read, a write).
    bool round()
    {
        bool progress = false;
        progress |= deliver(toB_, *b_, addrA_);
        progress |= deliver(toA_, *a_, addrB_);
        for (core::Endpoint *ep : {a_.get(), b_.get()})
            if (ep->nextTimeout() <= now_)
                ep->handleTimeout(now_);
        progress |= events();
        progress |= pump();
        progress |= drain(*a_, toB_);
        progress |= drain(*b_, toA_);
        progress |= events();

        if (toA_.empty() && toB_.empty() && !progress) {
            // Nothing in flight: jump to the next timer instead of spinning.
            const core::Instant next = std::min(a_->nextTimeout(), b_->nextTimeout());
            now_ = next == core::kNever ? now_ + kStep : std::max(now_ + kStep, next);
        } else {
            now_ += kStep;
        }
        return progress;
    }

    bool deliver(std::deque<InFlight> &q, core::Endpoint &to, const core::SocketAddress &from)
    {
        bool any = false;
        while (!q.empty() && q.front().at <= now_) {
            to.handleDatagram(now_, from, q.front().bytes);
            spare_.push_back(std::move(q.front().bytes)); // its allocation is reused by drain()
            q.pop_front();
            any = true;
        }
        return any;
    }

    bool drain(core::Endpoint &ep, std::deque<InFlight> &q)
    {
        bool any = false;
        // As the Qt edge does: one kept Transmit refilled in place (no allocation per packet). Its
        // bytes move into the in-flight queue and a delivered packet's buffer takes their place.
        // Again while afterTransmit() (held-back ACKs) leaves something to send.
        do {
            while (ep.pollTransmit(now_, out_)) {
                q.push_back({now_ + kDelay, std::move(out_.bytes)});
                if (!spare_.empty()) {
                    out_.bytes = std::move(spare_.back());
                    spare_.pop_back();
                }
                ++packets_;
                any = true;
            }
        } while (ep.afterTransmit());
        return any;
    }

    bool events()
    {
        bool any = false;
        while (std::optional<core::Event> e = a_->pollEvent()) {
            if (e->type == core::Event::Type::Error)
                ok_ = false;
        }
        while (std::optional<core::Event> e = b_->pollEvent()) {
            if (e->type == core::Event::Type::NewConnection)
                rx_ = e->stream;
            else if (e->type == core::Event::Type::Error)
                ok_ = false;
        }
        if (rx_)
            any |= read();
        return any;
    }

    bool read()
    {
        bool any = false;
        for (;;) {
            const qint64 off = received_ % kPatternSize;
            const qint64 n = b_->read(rx_, readBuf_.data(), kPatternSize - off);
            if (n <= 0)
                break;
            if (std::memcmp(readBuf_.constData(), pattern_.constData() + off, size_t(n)) != 0)
                ok_ = false;
            received_ += n;
            any = true;
        }
        return any;
    }

    bool pump()
    {
        bool any = false;
        while (written_ < target_) {
            const qint64 off = written_ % kPatternSize;
            const qint64 n = std::min({a_->writeCapacity(tx_), target_ - written_, kPatternSize - off});
            if (n <= 0)
                break;
            const qint64 w = a_->write(now_, tx_, pattern_.constData() + off, n);
            if (w <= 0)
                break;
            written_ += w;
            any = true;
        }
        return any;
    }

    static constexpr core::Duration kStep = std::chrono::microseconds(10);
    static constexpr core::Duration kDelay = std::chrono::microseconds(50); // one way

    core::crypto::StaticIdentity idA_, idB_;
    std::unique_ptr<core::Endpoint> a_, b_;
    std::mt19937_64 rngA_, rngB_;
    core::SocketAddress addrA_, addrB_;
    core::Instant now_ = core::Instant {} + std::chrono::seconds(1);
    std::deque<InFlight> toA_, toB_;
    core::Transmit out_;
    std::vector<QByteArray> spare_;
    QByteArray pattern_, readBuf_;
    core::StreamHandle tx_ = 0, rx_ = 0;
    qint64 target_ = 0, written_ = 0, received_ = 0;
    quint64 packets_ = 0;
    bool ok_ = true;
};

} // namespace sss::bench
