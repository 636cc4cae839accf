#include "udpplatform_p.h"

#include <QAbstractEventDispatcher>
#include <chrono>
#include <cmath>

namespace sss::detail {

UdpPlatform::UdpPlatform()
{
    timer_.setSingleShot(true);
    timer_.setTimerType(Qt::PreciseTimer);
    QObject::connect(&timer_, &QTimer::timeout, &context_, [this] { deliverTimeout(); });
    // One clock read per receive batch, not per datagram: the datagrams of a batch arrived together.
    transport_.setHandlers(
        [this](const core::SocketAddress &from, const char *data, qsizetype size) {
            if (!inBatch_) {
                batchNow_ = core::Clock::now();
                inBatch_ = true;
            }
            deliverDatagram(from, data, size);
        },
        [this] {
            // (A wake-up that received nothing has no batch time: read the clock.)
            const core::Instant at = inBatch_ ? batchNow_ : core::Clock::now();
            inBatch_ = false;
            deliverBatchEnd(at);
        });
    // Lets the driver keep work requested inside its own run instead of posting it (see canDefer()).
    if (auto *dispatcher = QAbstractEventDispatcher::instance()) {
        QObject::connect(dispatcher, &QAbstractEventDispatcher::aboutToBlock, &context_,
                         [this] { deliverIdle(); });
        idleHooked_ = true;
    }
}

UdpPlatform::~UdpPlatform()
{
    timer_.stop();
    transport_.setHandlers({}, {});
    transport_.close();
}

bool UdpPlatform::bind(const QHostAddress &address, quint16 port, QString *errorString)
{
    if (transport_.bind(address, port))
        return true;
    if (errorString)
        *errorString = transport_.errorString();
    return false;
}

core::Instant UdpPlatform::now()
{
    return inBatch_ ? batchNow_ : core::Clock::now();
}

void UdpPlatform::send(const core::Transmit *transmits, qsizetype count)
{
    transport_.send(transmits, count);
}

void UdpPlatform::armTimer(core::Instant at)
{
    if (at == core::kNever) {
        timer_.stop();
        armedAt_ = core::kNever;
        return;
    }
    // Restarting a QTimer re-registers it with the event dispatcher: skip that when the armed timer
    // fires no later than needed. An early expiry just finds nothing due and re-arms.
    if (timer_.isActive() && armedAt_ <= at)
        return;
    armedAt_ = at;
    // Round up: firing a little late is harmless, firing early would just re-arm.
    const auto left = at - now();
    const qint64 ns = left.count() > 0 ? left.count() : 0;
    const qint64 ms = (ns + 999'999) / 1'000'000;
    timer_.start(int(std::min<qint64>(ms, 24 * 3600 * 1000)));
}

void UdpPlatform::post(std::function<void()> fn)
{
    QMetaObject::invokeMethod(&context_, std::move(fn), Qt::QueuedConnection);
}

core::SocketAddress UdpPlatform::localAddress() const
{
    return transport_.localAddress();
}

quint64 UdpPlatform::wallClockOffsetNs() const
{
    using namespace std::chrono;
    const auto wall = duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
    const auto mono = duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
    return quint64(wall - mono);
}

} // namespace sss::detail
