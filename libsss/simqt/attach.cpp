#include "simqt/attach.h"

#include "crypto/identity.h"
#include "platform_p.h"

#include <QCoreApplication>
#include <memory>
#include <random>
#include <sss/host.h>
#include <unordered_set>

namespace sss::sim {

namespace {

// The simulator plays the Host's event loop, so it also ends each "turn" the way QEventLoop does:
// objects the slots scheduled with deleteLater() (answered substreams, typically) are deleted now,
// which releases their streams. Without this they would live until the test returns to Qt's loop.
// Called as the last statement of every simulator callback: it may delete this platform's Host.
void endOfTurn()
{
    if (QCoreApplication::instance())
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
}

class SimPlatform final : public detail::Platform
{
public:
    SimPlatform(Simulator &sim, Socket *socket) : sim_(sim), socket_(socket), timer_(sim, [this] { fire(); })
    {
        socket_->setReceiver([this](const core::SocketAddress &from, const QByteArray &bytes) {
            deliverDatagram(from, bytes.constData(), bytes.size());
            deliverBatchEnd(now());
            endOfTurn();
        });
    }
    ~SimPlatform() override
    {
        // Nothing of ours may run after we are gone.
        for (Simulator::EventId id : posted_)
            sim_.cancel(id);
        socket_->setReceiver({});
        socket_->close();
    }

    core::Instant now() override { return sim_.now(); }
    void send(const core::Transmit *transmits, qsizetype count) override
    {
        for (qsizetype i = 0; i < count; ++i)
            socket_->send(transmits[i].to, transmits[i].bytes);
    }
    void armTimer(core::Instant at) override { timer_.start(at); }
    void post(std::function<void()> fn) override
    {
        auto id = std::make_shared<Simulator::EventId>(Simulator::kNoEvent);
        *id = sim_.post([this, id, fn = std::move(fn)] {
            posted_.erase(*id);
            fn();
            endOfTurn();
        });
        posted_.insert(*id);
    }
    core::SocketAddress localAddress() const override { return socket_->localAddress(); }
    // A fixed wall clock (2024-01-01) so handshake timestamps are deterministic.
    quint64 wallClockOffsetNs() const override { return 1'704'067'200ull * 1'000'000'000ull; }
    bool isRealTime() const override { return false; }
    // Virtual time has no nested event loops (waitFor... returns at once), so work requested inside
    // a drive can always wait for that drive.
    bool canDefer() const override { return true; }
    std::function<void(uint8_t *, size_t)> randomSource() override
    {
        auto rng = std::make_shared<std::mt19937_64>(sim_.rng()());
        return [rng](uint8_t *out, size_t n) {
            for (size_t i = 0; i < n; ++i)
                out[i] = uint8_t((*rng)());
        };
    }

private:
    void fire()
    {
        deliverTimeout();
        endOfTurn();
    }

    Simulator &sim_;
    Socket *socket_;
    Timer timer_;
    std::unordered_set<Simulator::EventId> posted_;
};

} // namespace

bool attachHost(sss::Host *host, sss::sim::Host *simHost, quint16 port)
{
    if (!host || !simHost || host->isBound())
        return false;
    Simulator &sim = simHost->network().simulator();
    if (host->identity().isNull()) {
        // Deterministic identity from the simulator's seed, so whole runs replay exactly.
        QByteArray seed(32, '\0');
        for (char &c : seed)
            c = char(sim.rng()());
        const auto sid = core::crypto::StaticIdentity::fromSeed(seed);
        host->setIdentity(Identity::fromSecretKey(sid.secretKey()));
    }
    Socket *socket = simHost->bind(port);
    if (!socket)
        return false;
    auto platform = std::make_unique<SimPlatform>(sim, socket);
    return detail::bindPlatform(host, std::move(platform));
}

} // namespace sss::sim
