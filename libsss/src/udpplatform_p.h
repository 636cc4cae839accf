// The real-network Platform: UdpTransport + one precise QTimer + steady_clock.
#pragma once

#include "platform_p.h"
#include "udptransport.h"

#include <QObject>
#include <QTimer>

namespace sss::detail {

class UdpPlatform final : public Platform
{
public:
    UdpPlatform();
    ~UdpPlatform() override;

    bool bind(const QHostAddress &address, quint16 port, QString *errorString);

    core::Instant now() override;
    void send(const core::Transmit *transmits, qsizetype count) override;
    void armTimer(core::Instant at) override;
    void post(std::function<void()> fn) override;
    bool canDefer() const override { return idleHooked_; }
    core::SocketAddress localAddress() const override;
    quint64 wallClockOffsetNs() const override;
    bool dontFragment() const override { return transport_.dontFragment(); }

private:
    QObject context_; // receiver of posted calls: they die with the platform
    UdpTransport transport_;
    QTimer timer_;
    core::Instant batchNow_ {}; // read once per receive batch (handling datagrams emits nothing)
    bool inBatch_ = false;
    core::Instant armedAt_ = core::kNever; // when timer_ fires; kNever = stopped
    bool idleHooked_ = false;
};

} // namespace sss::detail
