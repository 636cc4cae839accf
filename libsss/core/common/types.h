// Basic value types shared by every module of the sans-IO core.
#pragma once

#include <QByteArray>
#include <QHash>
#include <QHostAddress>
#include <QString>
#include <chrono>
#include <cstdint>
#include <optional>

namespace sss::core {

// The core never reads a clock: every input carries `now`. The edge (Qt or simulator) chooses the
// epoch; only differences matter.
using Clock = std::chrono::steady_clock;
using Instant = Clock::time_point;
using Duration = std::chrono::nanoseconds;
using namespace std::chrono_literals;

constexpr Instant kNever = Instant::max();

inline double toSeconds(Duration d)
{
    return std::chrono::duration<double>(d).count();
}
inline qint64 toMicros(Duration d)
{
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

// A UDP address. QHostAddress plus port, hashable, comparable.
struct SocketAddress {
    QHostAddress host;
    quint16 port = 0;

    bool isNull() const { return host.isNull() && port == 0; }
    QString toString() const;
    friend bool operator==(const SocketAddress &a, const SocketAddress &b)
    {
        return a.port == b.port && a.host == b.host;
    }
    friend bool operator!=(const SocketAddress &a, const SocketAddress &b) { return !(a == b); }
};

inline size_t qHash(const SocketAddress &a, size_t seed = 0) noexcept
{
    return qHashMulti(seed, a.host, a.port);
}

// A datagram to send, produced by the core and drained by the edge.
struct Transmit {
    SocketAddress to;
    QByteArray bytes;
};

} // namespace sss::core
