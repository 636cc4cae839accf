#include "udptransport.h"

#include <QMetaObject>
#include <QUdpSocket>
#include <QVariant>
#include <cstring>
#include <vector>

#ifdef Q_OS_LINUX
#include <QSocketNotifier>
#include <cerrno>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#endif

#ifdef SSS_CALLGRIND_MARKERS
#include <valgrind/callgrind.h>
#endif

namespace sss::detail {

namespace {

// Critical-path accounting for tests/bench/rr-critical-path.sh: under callgrind with
// --collect-atstart=no, count only the instructions from a receive that returned datagrams to the
// next send, i.e. the work a request/response waits for. Compiled out unless SSS_CALLGRIND_MARKERS.
#ifdef SSS_CALLGRIND_MARKERS
bool cgCollecting = false;
inline void cgMark(bool on)
{
    if (cgCollecting != on) {
        cgCollecting = on;
        CALLGRIND_TOGGLE_COLLECT;
    }
}
#else
inline void cgMark(bool) { }
#endif

constexpr int kSocketBufferBytes = 4 * 1024 * 1024; // = net.core.[rw]mem_max here; more is clamped anyway
constexpr int kRecvBudget = 256; // datagrams per wake-up: stay fair to the event loop
[[maybe_unused]] constexpr int kRecvSlots = 32;
[[maybe_unused]] constexpr int kRecvSlotBytes = 65536; // a GRO super-datagram or the largest UDP datagram
[[maybe_unused]] constexpr int kSendBatch = 64; // messages per sendmmsg

// Sources are reported as plain IPv4 when a dual-stack socket hands us ::ffff:a.b.c.d, so one peer has
// one address whichever socket family received it.
QHostAddress unmapped(const QHostAddress &h)
{
    if (h.protocol() == QAbstractSocket::IPv6Protocol) {
        bool ok = false;
        const quint32 v4 = h.toIPv4Address(&ok);
        if (ok)
            return QHostAddress(v4);
    }
    return h;
}

} // namespace

struct UdpTransport::Private {
    UdpTransport *q = nullptr;
    DatagramHandler onDatagram;
    BatchEndHandler onBatchEnd;
    Stats stats;
    QString error;
    bool gso = false;
    bool gro = false;
    bool dontFragment = false;
    bool dispatching = false;
    bool closed = true;

    // Portable backend.
    QUdpSocket *socket = nullptr;
    QByteArray portableBuf;
    bool portableRescheduled = false;
    // A readyRead not yet answered by a readDatagram() (see onPortableReadable).
    bool portableReadOwed = false;

#ifdef Q_OS_LINUX
    int fd = -1;
    int family = AF_UNSPEC;
    bool dualStack = false;
    QSocketNotifier *notifier = nullptr;

    // Receive state, allocated once at bind and reused for every wake-up.
    std::vector<char> rxData;
    std::vector<mmsghdr> rxMsgs;
    std::vector<iovec> rxIov;
    std::vector<sockaddr_storage> rxAddrs;
    std::vector<char> rxCtrl;
    static constexpr size_t kCtrlBytes = 64; // room for CMSG_SPACE(sizeof(int)) and then some
    sockaddr_storage lastFromRaw {};
    socklen_t lastFromLen = 0;
    core::SocketAddress lastFrom;

    // Send state; vectors keep their capacity between calls.
    struct MsgInfo {
        qsizetype first;
        int segments;
        bool gso;
    };
    std::vector<mmsghdr> txMsgs;
    std::vector<iovec> txIov;
    std::vector<sockaddr_storage> txAddrs;
    std::vector<char> txCtrl;
    std::vector<MsgInfo> txInfo;

    bool bindFast(const QHostAddress &address, quint16 port);
    void onReadable();
    void sendFast(const core::Transmit *t, qsizetype count);
    int submit(int n, const core::Transmit *t);
    int sendOne(const core::Transmit &t); // 0 or the errno
    bool toSockaddr(const core::SocketAddress &a, sockaddr_storage *ss, socklen_t *len) const;
    const core::SocketAddress &fromSockaddr(const sockaddr_storage &ss, socklen_t len);
    static core::SocketAddress convert(const sockaddr_storage &ss, socklen_t len);
    void setErrno(const char *what, int err)
    {
        error = QStringLiteral("%1: %2").arg(QLatin1String(what), QString::fromLocal8Bit(strerror(err)));
    }
#endif

    bool bindPortable(const QHostAddress &address, quint16 port);
    void onPortableReadable();
    void deliver(const core::SocketAddress &from, const char *data, qsizetype size)
    {
        ++stats.datagramsReceived;
        if (onDatagram)
            onDatagram(from, data, size);
    }
};

UdpTransport::UdpTransport(QObject *parent) : QObject(parent), d(new Private)
{
    d->q = this;
}

UdpTransport::~UdpTransport()
{
    close();
}

bool UdpTransport::bind(const QHostAddress &address, quint16 port, Mode mode)
{
    if (isBound()) {
        d->error = QStringLiteral("already bound");
        return false;
    }
    d->error.clear();
    d->stats = {};
    d->gso = d->gro = false;
    bool ok;
#ifdef Q_OS_LINUX
    if (mode == Mode::Auto && qEnvironmentVariableIntValue("SSS_UDP_PORTABLE") != 1)
        ok = d->bindFast(address, port);
    else
        ok = d->bindPortable(address, port);
#else
    Q_UNUSED(mode);
    ok = d->bindPortable(address, port);
#endif
    d->closed = !ok;
    return ok;
}

QString UdpTransport::errorString() const
{
    return d->error;
}

bool UdpTransport::isBound() const
{
#ifdef Q_OS_LINUX
    if (d->fd >= 0)
        return true;
#endif
    return d->socket != nullptr;
}

bool UdpTransport::isFastPath() const
{
#ifdef Q_OS_LINUX
    return d->fd >= 0;
#else
    return false;
#endif
}

core::SocketAddress UdpTransport::localAddress() const
{
    if (d->socket)
        return {d->socket->localAddress(), d->socket->localPort()};
#ifdef Q_OS_LINUX
    if (d->fd >= 0) {
        sockaddr_storage ss {};
        socklen_t len = sizeof(ss);
        if (::getsockname(d->fd, reinterpret_cast<sockaddr *>(&ss), &len) != 0)
            return {};
        core::SocketAddress a = Private::convert(ss, len);
        if (d->dualStack)
            a.host = QHostAddress(QHostAddress::Any); // "::" with V6ONLY=0 means both families
        return a;
    }
#endif
    return {};
}

void UdpTransport::setHandlers(DatagramHandler onDatagram, BatchEndHandler onBatchEnd)
{
    d->onDatagram = std::move(onDatagram);
    d->onBatchEnd = std::move(onBatchEnd);
}

void UdpTransport::send(const core::Transmit *transmits, qsizetype count)
{
    if (count <= 0 || !transmits)
        return;
#ifdef Q_OS_LINUX
    if (d->fd >= 0) {
        d->sendFast(transmits, count);
        return;
    }
#endif
    if (!d->socket) {
        d->stats.sendErrors += quint64(count);
        return;
    }
    for (qsizetype i = 0; i < count; ++i) {
        const core::Transmit &t = transmits[i];
        ++d->stats.sendCalls;
        if (d->socket->writeDatagram(t.bytes.constData(), t.bytes.size(), t.to.host, t.to.port) < 0)
            ++d->stats.sendErrors;
        else
            ++d->stats.datagramsSent;
    }
}

UdpTransport::Stats UdpTransport::stats() const
{
    return d->stats;
}
bool UdpTransport::gsoEnabled() const
{
    return d->gso;
}
bool UdpTransport::groEnabled() const
{
    return d->gro;
}
bool UdpTransport::dontFragment() const
{
    return d->dontFragment;
}

void UdpTransport::close()
{
    d->closed = true;
    if (d->socket) {
        d->socket->disconnect(this);
        d->socket->close();
        // deleteLater: close() may run inside the socket's own readyRead emission.
        d->socket->deleteLater();
        d->socket = nullptr;
    }
#ifdef Q_OS_LINUX
    if (d->notifier) {
        d->notifier->setEnabled(false);
        d->notifier->disconnect(this);
        d->notifier->deleteLater();
        d->notifier = nullptr;
    }
    if (d->fd >= 0) {
        ::close(d->fd);
        d->fd = -1;
    }
    d->lastFromLen = 0;
#endif
    d->gso = d->gro = false;
}

// ---------------------------------------------------------------------------------------------
// Portable backend: QUdpSocket.

bool UdpTransport::Private::bindPortable(const QHostAddress &address, quint16 port)
{
    socket = new QUdpSocket(q);
    // DontShareAddress: without it Qt sets SO_REUSEADDR, which on Linux lets two UDP sockets share a
    // port silently.
    if (!socket->bind(address, port, QAbstractSocket::DontShareAddress)) {
        error = socket->errorString();
        delete socket;
        socket = nullptr;
        return false;
    }
    socket->setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, QVariant(kSocketBufferBytes));
    socket->setSocketOption(QAbstractSocket::SendBufferSizeSocketOption, QVariant(kSocketBufferBytes));
    // Queued: QAbstractSocket does not emit readyRead again while an emission of it is running, so a
    // slot that spins a nested event loop (Stream::waitForReadyRead inside readyRead) would never
    // hear from this socket again if the whole drive ran inside that emission.
    QObject::connect(
        socket, &QUdpSocket::readyRead, q, [this] { onPortableReadable(); }, Qt::QueuedConnection);
    return true;
}

void UdpTransport::Private::onPortableReadable()
{
    portableRescheduled = false;
    // QUdpSocket answers a read notification with readyRead only once until readDatagram() is
    // called: a notification that finds its readyRead unanswered turns notifications off. So every
    // readyRead gets at least one readDatagram(), even one whose datagrams an earlier loop already
    // took (it then fails harmlessly with a temporary error); without that the socket went deaf with
    // datagrams queued (a bulk echo in one process stalled at ~0.5 MB). One that arrives while the
    // loop below delivers is answered by that loop.
    portableReadOwed = true;
    if (!socket || dispatching)
        return;
    dispatching = true;
    int budget = kRecvBudget;
    QHostAddress host;
    quint16 port = 0;
    core::SocketAddress from;
    while (budget-- > 0 && socket && (portableReadOwed || socket->hasPendingDatagrams())) {
        portableReadOwed = false;
        const qint64 pending = socket->pendingDatagramSize();
        if (pending > portableBuf.size())
            portableBuf.resize(qMax<qint64>(pending, 2048));
        ++stats.recvCalls;
        const qint64 n = socket->readDatagram(portableBuf.data(), portableBuf.size(), &host, &port);
        if (n < 0)
            break;
        if (from.port != port || from.host != host) // QHostAddress copies share data; keep them rare
            from = {unmapped(host), port};
        deliver(from, portableBuf.constData(), n);
    }
    dispatching = false;
    // Budget spent with data left: continue after the event loop has served others.
    if (socket && budget < 0 && socket->hasPendingDatagrams() && !portableRescheduled) {
        portableRescheduled = true;
        QMetaObject::invokeMethod(
            q, [this] { onPortableReadable(); }, Qt::QueuedConnection);
    }
    if (onBatchEnd && !closed)
        onBatchEnd();
}

#ifdef Q_OS_LINUX
// ---------------------------------------------------------------------------------------------
// Linux fast path: own descriptor, recvmmsg + UDP_GRO, sendmmsg + UDP_SEGMENT.

bool UdpTransport::Private::bindFast(const QHostAddress &address, quint16 port)
{
    const bool any = address.protocol() == QAbstractSocket::AnyIPProtocol;
    sockaddr_storage ss {};
    socklen_t len = 0;
    if (any) {
        family = AF_INET6;
        fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            int off = 0;
            dualStack = ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == 0;
            auto *s6 = reinterpret_cast<sockaddr_in6 *>(&ss);
            s6->sin6_family = AF_INET6;
            s6->sin6_addr = in6addr_any;
            s6->sin6_port = htons(port);
            len = sizeof(sockaddr_in6);
        } else {
            family = AF_INET; // kernel without IPv6
        }
    } else {
        family = address.protocol() == QAbstractSocket::IPv4Protocol ? AF_INET : AF_INET6;
    }
    if (fd < 0) {
        fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            setErrno("socket", errno);
            return false;
        }
        if (family == AF_INET6) {
            int on = 1; // an explicit IPv6 address means IPv6 only, as QUdpSocket does
            ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
        }
        if (any) {
            auto *s4 = reinterpret_cast<sockaddr_in *>(&ss);
            s4->sin_family = AF_INET;
            s4->sin_addr.s_addr = htonl(INADDR_ANY);
            s4->sin_port = htons(port);
            len = sizeof(sockaddr_in);
        } else if (!toSockaddr({address, port}, &ss, &len)) {
            error = QStringLiteral("bind: unsupported address %1").arg(address.toString());
            ::close(fd);
            fd = -1;
            return false;
        }
    }
    if (::bind(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0) {
        setErrno("bind", errno);
        ::close(fd);
        fd = -1;
        dualStack = false;
        return false;
    }
    int bufBytes = kSocketBufferBytes;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufBytes, sizeof(bufBytes));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufBytes, sizeof(bufBytes));
    // "Don't fragment", and no fragmentation below a cached path MTU either (PMTUDISC_PROBE: the
    // core's path MTU discovery decides what fits; an IPv4 fragment lost is the whole packet lost).
    int probe = IP_PMTUDISC_PROBE;
    const bool df4 = ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof(probe)) == 0;
    int probe6 = IPV6_PMTUDISC_PROBE;
    const bool df6 = family == AF_INET6
        && ::setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe6, sizeof(probe6)) == 0;
    dontFragment = family == AF_INET6 ? df6 && (df4 || !dualStack) : df4;
    int on = 1;
    gro = ::setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
    int segment = 0;
    socklen_t segLen = sizeof(segment);
    gso = ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &segment, &segLen) == 0; // kernel >= 4.18 knows it

    rxData.resize(size_t(kRecvSlots) * kRecvSlotBytes);
    rxMsgs.assign(kRecvSlots, mmsghdr {});
    rxIov.assign(kRecvSlots, iovec {});
    rxAddrs.assign(kRecvSlots, sockaddr_storage {});
    rxCtrl.assign(size_t(kRecvSlots) * kCtrlBytes, 0);
    for (int i = 0; i < kRecvSlots; ++i) {
        rxIov[i] = {rxData.data() + size_t(i) * kRecvSlotBytes, size_t(kRecvSlotBytes)};
        msghdr &h = rxMsgs[i].msg_hdr;
        h.msg_iov = &rxIov[i];
        h.msg_iovlen = 1;
        h.msg_name = &rxAddrs[i];
    }
    lastFromLen = 0;

    notifier = new QSocketNotifier(fd, QSocketNotifier::Read, q);
    QObject::connect(notifier, &QSocketNotifier::activated, q, [this] { onReadable(); });
    return true;
}

void UdpTransport::Private::onReadable()
{
    if (fd < 0 || dispatching)
        return;
    dispatching = true;
    int delivered = 0;
    while (delivered < kRecvBudget && fd >= 0) {
        for (int i = 0; i < kRecvSlots; ++i) {
            msghdr &h = rxMsgs[i].msg_hdr;
            h.msg_namelen = sizeof(sockaddr_storage);
            h.msg_control = rxCtrl.data() + size_t(i) * kCtrlBytes;
            h.msg_controllen = kCtrlBytes;
            h.msg_flags = 0;
        }
        const int n = ::recvmmsg(fd, rxMsgs.data(), kRecvSlots, MSG_DONTWAIT, nullptr);
        ++stats.recvCalls;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; // EAGAIN: drained. Anything else (e.g. a queued ICMP error) is consumed by this read.
        }
        if (n > 0)
            cgMark(true);
        for (int i = 0; i < n && fd >= 0; ++i) {
            const msghdr &h = rxMsgs[i].msg_hdr;
            const size_t total = rxMsgs[i].msg_len;
            if (h.msg_flags & MSG_TRUNC)
                continue; // cannot happen with 64 KiB slots, but never deliver a partial datagram
            size_t segment = total;
            for (cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr *>(&h), c)) {
                if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
                    int s = 0;
                    std::memcpy(&s, CMSG_DATA(c), sizeof(s));
                    if (s > 0)
                        segment = size_t(s);
                }
            }
            const core::SocketAddress &from = fromSockaddr(rxAddrs[i], h.msg_namelen);
            const char *base = static_cast<const char *>(h.msg_iov->iov_base);
            if (total == 0) {
                deliver(from, base, 0);
                ++delivered;
                continue;
            }
            for (size_t off = 0; off < total && fd >= 0; off += segment) {
                deliver(from, base + off, qsizetype(qMin(segment, total - off)));
                ++delivered;
            }
        }
        if (n < kRecvSlots)
            break; // short batch: the queue is (almost certainly) empty
    }
    dispatching = false;
    // If the budget ran out, the level-triggered notifier fires again on the next loop iteration.
    if (onBatchEnd && !closed)
        onBatchEnd();
}

bool UdpTransport::Private::toSockaddr(const core::SocketAddress &a, sockaddr_storage *ss,
                                       socklen_t *len) const
{
    std::memset(ss, 0, sizeof(sockaddr_in6));
    bool isV4 = false;
    const quint32 v4 = a.host.toIPv4Address(&isV4); // also true for ::ffff:a.b.c.d
    if (isV4 && family == AF_INET) {
        auto *s = reinterpret_cast<sockaddr_in *>(ss);
        s->sin_family = AF_INET;
        s->sin_port = htons(a.port);
        s->sin_addr.s_addr = htonl(v4);
        *len = sizeof(sockaddr_in);
        return true;
    }
    if (family != AF_INET6)
        return false;
    auto *s = reinterpret_cast<sockaddr_in6 *>(ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(a.port);
    *len = sizeof(sockaddr_in6);
    if (isV4) {
        if (!dualStack)
            return false;
        s->sin6_addr.s6_addr[10] = 0xff;
        s->sin6_addr.s6_addr[11] = 0xff;
        const quint32 be = htonl(v4);
        std::memcpy(&s->sin6_addr.s6_addr[12], &be, 4);
        return true;
    }
    if (a.host.protocol() != QAbstractSocket::IPv6Protocol)
        return false;
    const Q_IPV6ADDR v6 = a.host.toIPv6Address();
    std::memcpy(&s->sin6_addr, v6.c, 16);
    const QString scope = a.host.scopeId();
    if (!scope.isEmpty()) {
        bool numeric = false;
        const uint id = scope.toUInt(&numeric);
        s->sin6_scope_id = numeric ? id : ::if_nametoindex(scope.toLatin1().constData());
    }
    return true;
}

core::SocketAddress UdpTransport::Private::convert(const sockaddr_storage &ss, socklen_t len)
{
    if (ss.ss_family == AF_INET && len >= socklen_t(sizeof(sockaddr_in))) {
        const auto *s = reinterpret_cast<const sockaddr_in *>(&ss);
        return {QHostAddress(ntohl(s->sin_addr.s_addr)), ntohs(s->sin_port)};
    }
    if (ss.ss_family == AF_INET6 && len >= socklen_t(sizeof(sockaddr_in6))) {
        const auto *s = reinterpret_cast<const sockaddr_in6 *>(&ss);
        if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
            quint32 be;
            std::memcpy(&be, &s->sin6_addr.s6_addr[12], 4);
            return {QHostAddress(ntohl(be)), ntohs(s->sin6_port)};
        }
        QHostAddress h(reinterpret_cast<const quint8 *>(&s->sin6_addr));
        if (s->sin6_scope_id)
            h.setScopeId(QString::number(s->sin6_scope_id));
        return {h, ntohs(s->sin6_port)};
    }
    return {};
}

const core::SocketAddress &UdpTransport::Private::fromSockaddr(const sockaddr_storage &ss, socklen_t len)
{
    // Bursts come from one peer: reuse the last converted address instead of building a QHostAddress
    // (a heap allocation) per datagram.
    if (len == lastFromLen && len > 0 && std::memcmp(&ss, &lastFromRaw, len) == 0)
        return lastFrom;
    lastFrom = convert(ss, len);
    lastFromLen = 0;
    if (!lastFrom.isNull() && len <= socklen_t(sizeof(lastFromRaw))) {
        std::memcpy(&lastFromRaw, &ss, len);
        lastFromLen = len;
    }
    return lastFrom;
}

void UdpTransport::Private::sendFast(const core::Transmit *t, qsizetype count)
{
    if (txMsgs.size() < size_t(kSendBatch)) {
        txMsgs.resize(kSendBatch);
        txAddrs.resize(kSendBatch);
        txCtrl.resize(size_t(kSendBatch) * CMSG_SPACE(sizeof(uint16_t)));
        txInfo.resize(kSendBatch);
    }
    qsizetype i = 0;
    while (i < count && fd >= 0) {
        txIov.clear();
        int n = 0;
        // Build up to kSendBatch messages; each is one datagram or a GSO run of equal-size segments.
        while (n < kSendBatch && i < count) {
            const core::Transmit &first = t[i];
            MsgInfo &info = txInfo[n];
            msghdr &h = txMsgs[n].msg_hdr;
            h = msghdr {};
            socklen_t alen = 0;
            if (n > 0 && first.to == t[txInfo[n - 1].first].to) {
                txAddrs[n] = txAddrs[n - 1];
                alen = txMsgs[n - 1].msg_hdr.msg_namelen;
            } else if (!toSockaddr(first.to, &txAddrs[n], &alen)) {
                ++stats.sendErrors; // unreachable family for this socket: a lost datagram
                ++i;
                continue;
            }
            info = {i, 1, false};
            const qsizetype segSize = first.bytes.size();
            qsizetype total = segSize;
            ++i;
            if (gso && segSize > 0) {
                while (i < count && info.segments < UdpTransport::kMaxRunDatagrams) {
                    const qsizetype sz = t[i].bytes.size();
                    if (sz <= 0 || sz > segSize || total + sz > UdpTransport::kMaxRunBytes
                        || t[i].to != first.to)
                        break;
                    ++info.segments;
                    total += sz;
                    ++i;
                    if (sz < segSize)
                        break; // a shorter segment must be the last one
                }
            }
            // iovecs point into the QByteArrays: no copy. txIov may reallocate, so pointers are fixed
            // up after the batch is built.
            for (int s = 0; s < info.segments; ++s) {
                const QByteArray &b = t[info.first + s].bytes;
                txIov.push_back({const_cast<char *>(b.constData()), size_t(b.size())});
            }
            h.msg_name = &txAddrs[n];
            h.msg_namelen = alen;
            h.msg_iovlen = size_t(info.segments);
            if (info.segments > 1) {
                info.gso = true;
                char *ctrl = txCtrl.data() + size_t(n) * CMSG_SPACE(sizeof(uint16_t));
                std::memset(ctrl, 0, CMSG_SPACE(sizeof(uint16_t)));
                h.msg_control = ctrl;
                h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
                cmsghdr *c = CMSG_FIRSTHDR(&h);
                c->cmsg_level = SOL_UDP;
                c->cmsg_type = UDP_SEGMENT;
                c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                const uint16_t seg = uint16_t(segSize);
                std::memcpy(CMSG_DATA(c), &seg, sizeof(seg));
            }
            ++n;
        }
        size_t iov = 0;
        for (int m = 0; m < n; ++m) {
            txMsgs[m].msg_hdr.msg_iov = txIov.data() + iov;
            iov += txMsgs[m].msg_hdr.msg_iovlen;
        }
        if (submit(n, t) < 0) {
            // Socket buffer full: the rest of this call is lost; congestion control will see it.
            for (qsizetype k = i; k < count; ++k)
                ++stats.sendErrors;
            return;
        }
    }
}

// Returns -1 when the socket buffer is full (EAGAIN/ENOBUFS) and the caller should stop sending.
int UdpTransport::Private::submit(int n, const core::Transmit *t)
{
    int done = 0;
    cgMark(false);
    while (done < n) {
        const int r = ::sendmmsg(fd, txMsgs.data() + done, unsigned(n - done), 0);
        ++stats.sendCalls;
        if (r > 0) {
            for (int m = done; m < done + r; ++m) {
                stats.datagramsSent += quint64(txInfo[m].segments);
                if (txInfo[m].gso)
                    ++stats.gsoBatches;
            }
            done += r;
            continue;
        }
        const int err = r < 0 ? errno : EIO;
        if (err == EINTR)
            continue;
        const MsgInfo &info = txInfo[done];
        if (info.gso && (err == EMSGSIZE || err == EIO || err == EINVAL)) {
            // Resend this run one datagram at a time. If they then go out, the device cannot
            // segment (no checksum offload...): stop using GSO. If one is refused as too big on its
            // own (a path MTU probe beyond the interface MTU), GSO was not the problem.
            int tooBig = 0;
            for (int s = 0; s < info.segments; ++s)
                tooBig += sendOne(t[info.first + s]) == EMSGSIZE ? 1 : 0;
            if (tooBig == 0)
                gso = false;
            ++done;
            continue;
        }
        if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
            for (int m = done; m < n; ++m)
                stats.sendErrors += quint64(txInfo[m].segments);
            return -1;
        }
        stats.sendErrors += quint64(info.segments); // EPERM, ENETUNREACH, ECONNREFUSED...: loss
        ++done;
    }
    return 0;
}

int UdpTransport::Private::sendOne(const core::Transmit &t)
{
    sockaddr_storage ss;
    socklen_t len = 0;
    if (!toSockaddr(t.to, &ss, &len)) {
        ++stats.sendErrors;
        return EAFNOSUPPORT;
    }
    ssize_t r;
    do {
        r = ::sendto(fd, t.bytes.constData(), size_t(t.bytes.size()), 0, reinterpret_cast<sockaddr *>(&ss),
                     len);
        ++stats.sendCalls;
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        const int err = errno;
        ++stats.sendErrors;
        return err;
    }
    ++stats.datagramsSent;
    return 0;
}
#endif

} // namespace sss::detail
