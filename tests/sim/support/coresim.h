// Runs sans-IO Endpoints on the simulated network in virtual time: the same drive loop as the Qt edge
// (input -> drain transmits -> re-arm one timer -> drain events), without Qt's event loop.
#pragma once

#include "channel/endpoint.h"
#include "crypto/identity.h"
#include "sim/network.h"
#include "sim/simulator.h"

#include <functional>
#include <memory>
#include <random>

namespace sss::test {

class CoreNode
{
public:
    CoreNode(sim::Network &net, sim::Host *host, quint16 port, const core::EndpointConfig &cfg = {},
             QByteArray seed = {})
        : sim_(net.simulator())
        , host_(host)
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
        socket_->setReceiver([this](const core::SocketAddress &from, const QByteArray &bytes) {
            ep->handleDatagram(sim_.now(), from, bytes);
            kick();
        });
    }
    ~CoreNode()
    {
        sim_.cancel(timer_);
        sim_.cancel(flush_);
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
    quint64 transmits = 0;

private:
    void drive()
    {
        flush_ = 0;
        const core::Instant now = sim_.now();
        while (std::optional<core::Transmit> t = ep->pollTransmit(now)) {
            ++transmits;
            socket_->send(t->to, t->bytes);
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
        while (std::optional<core::Event> e = ep->pollEvent())
            if (onEvent)
                onEvent(*e);
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
