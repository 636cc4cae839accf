// UdpTransport: the Qt edge's UDP data path (private, one per Host, lives on the Host's thread).
//
// On Linux (Mode::Auto) it owns the socket descriptor: QSocketNotifier + recvmmsg (with UDP_GRO) on
// receive and sendmmsg with UDP_SEGMENT (GSO) on send, because QUdpSocket's per-datagram API costs
// 3.3x the CPU of recvmmsg and has no GSO (research/perf-anchors.md §1, §5). Elsewhere, in
// Mode::Portable, or with SSS_UDP_PORTABLE=1 in the environment, it falls back to QUdpSocket.
#pragma once

#include "common/types.h"

#include <QHostAddress>
#include <QObject>
#include <QString>
#include <functional>
#include <memory>

namespace sss::detail {

class UdpTransport : public QObject
{
    Q_OBJECT
public:
    enum class Mode {
        Auto, // Linux fast path when available, QUdpSocket otherwise
        Portable // QUdpSocket only
    };

    struct Stats {
        quint64 datagramsSent
            = 0; // datagrams handed to the kernel successfully (GSO segments counted one by one)
        quint64 datagramsReceived = 0; // datagrams delivered to the handler (GRO segments counted one by one)
        quint64 sendCalls = 0; // send system calls (or writeDatagram calls)
        quint64 recvCalls = 0; // receive system calls (or readDatagram calls)
        quint64 sendErrors = 0; // datagrams dropped because the kernel refused them
        quint64 gsoBatches = 0; // messages sent with UDP_SEGMENT carrying more than one segment
    };

    // The most one UDP_SEGMENT message carries: the largest UDP payload (IPv4) in all, and
    // UDP_MAX_SEGMENTS of older kernels. Callers that batch (sendInRuns()) cut their sends on these.
    static constexpr qsizetype kMaxRunBytes = 65507;
    static constexpr int kMaxRunDatagrams = 64;

    using DatagramHandler
        = std::function<void(const core::SocketAddress &from, const char *data, qsizetype size)>;
    using BatchEndHandler = std::function<void()>;

    explicit UdpTransport(QObject *parent = nullptr);
    ~UdpTransport() override;

    // Binds to an IPv4 or IPv6 address; QHostAddress::Any gives a dual-stack socket. Port 0 picks a
    // free port. Returns false (see errorString()) on failure; a transport binds at most once
    // until close().
    bool bind(const QHostAddress &address, quint16 port, Mode mode = Mode::Auto);
    QString errorString() const;
    core::SocketAddress localAddress() const;
    bool isBound() const;
    bool isFastPath() const; // true when the Linux descriptor path is in use

    // onDatagram runs for every datagram received in a wake-up (GRO super-datagrams are split into
    // their segments; IPv4-mapped IPv6 sources are reported as IPv4); data is only valid during the
    // call. onBatchEnd runs once per wake-up after the datagrams, so the driver flushes once.
    void setHandlers(DatagramHandler onDatagram, BatchEndHandler onBatchEnd);

    // Sends a batch. Runs of consecutive datagrams to one destination with equal size (the last may be
    // shorter) go out as one UDP_SEGMENT message (max 64 segments / 64 KiB), everything in as few
    // sendmmsg calls as possible. Kernel refusals count as loss (sendErrors), never as fatal errors;
    // EMSGSIZE/EIO/EINVAL on a GSO message disables GSO and resends that message per datagram.
    void send(const core::Transmit *transmits, qsizetype count);

    Stats stats() const;
    bool gsoEnabled() const;
    bool groEnabled() const;
    // Datagrams leave with "don't fragment" (Linux fast path: IP(V6)_PMTUDISC_PROBE); QUdpSocket
    // cannot set it, so the portable path says false.
    bool dontFragment() const;
    void close();

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace sss::detail
