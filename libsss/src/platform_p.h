// The small platform interface under a Host's driver: a clock, a datagram sink, ONE timer and a
// "run soon" queue. UdpPlatform implements it on real UDP + QTimer; libsss/simqt on the simulator,
// so the same driver code runs in real and in virtual time. Private API (not installed).
#pragma once

#include "common/types.h"

#include <functional>
#include <memory>
#include <sss/global.h>

namespace sss {
class Host;
class HostPrivate;
} // namespace sss

namespace sss::detail {

class SSS_EXPORT Platform
{
public:
    Platform();
    virtual ~Platform();
    Platform(const Platform &) = delete;
    Platform &operator=(const Platform &) = delete;

    virtual core::Instant now() = 0;
    virtual void send(const core::Transmit *transmits, qsizetype count) = 0;
    // (Re)arms the one timer; core::kNever stops it. On expiry the platform calls deliverTimeout().
    virtual void armTimer(core::Instant at) = 0;
    // Runs fn soon, after the current input, on the Host's thread. Dropped if the platform dies first.
    virtual void post(std::function<void()> fn) = 0;
    // True if work requested while the driver runs may wait for the driver's own loop instead of being
    // posted: the platform then calls deliverIdle() whenever the thread's event loop (a nested one
    // included) is about to block, so a slot that spins a nested loop still sees its writes go out.
    // Posting costs an event-loop wake-up (an eventfd write and an extra poll) per request.
    virtual bool canDefer() const { return false; }
    virtual core::SocketAddress localAddress() const = 0;
    // Wall-clock time at core::Instant{} in ns since the Unix epoch (handshake timestamps).
    virtual quint64 wallClockOffsetNs() const { return 0; }
    // True if datagrams leave with "don't fragment" (and a larger one than the path carries is lost):
    // only then can path MTU discovery learn anything. The simulator's links drop oversized packets.
    virtual bool dontFragment() const { return true; }
    // false for virtual time: blocking waits (waitForReadyRead...) cannot make progress there.
    virtual bool isRealTime() const { return true; }
    // A deterministic random source for the core (simulation); empty = the system CSPRNG.
    virtual std::function<void(uint8_t *out, size_t len)> randomSource() { return {}; }

protected:
    // Inputs into the Host's driver. A batch is any number of datagrams followed by one
    // deliverBatchEnd(), which flushes the core's output once; `receivedAt` is the time the batch's
    // datagrams were delivered with (now() during the batch).
    void deliverDatagram(const core::SocketAddress &from, const char *data, qsizetype size);
    void deliverBatchEnd(core::Instant receivedAt);
    void deliverTimeout();
    void deliverIdle();

private:
    friend class sss::HostPrivate;
    sss::HostPrivate *driver_ = nullptr;
};

// Binds `host` to `platform` instead of a UDP socket (simulator adapters). Returns false (and sets
// the Host's error) if the Host is already bound or its identity is invalid.
SSS_EXPORT bool bindPlatform(Host *host, std::unique_ptr<Platform> platform);

} // namespace sss::detail
