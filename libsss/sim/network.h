// Simulated UDP network on top of Simulator: hosts with sockets, one-way links (rate, delay, jitter,
// drop-tail queue, loss, duplication, reordering, MTU), multi-link routes that may share a bottleneck,
// and NAT boxes. Every delivery is a simulator event at its computed arrival time and every random
// choice comes from the simulator's RNG, so a run is reproducible from its seed. No real sockets.
#pragma once

#include "sim/simulator.h"

#include <QList>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace sss::sim {

using namespace std::chrono_literals;

// IPv4 + UDP header bytes counted on the wire (serialisation time, queue occupancy, MTU).
constexpr int kIpUdpOverhead = 28;

struct LinkParams {
    double bitsPerSecond = 0; // 0 = unlimited serialisation rate (and no queue)
    core::Duration delay {}; // propagation, one way
    core::Duration jitter {}; // uniform extra delay in [0, jitter]
    bool noReorderJitter = false; // if set, jitter never lets a packet overtake an earlier one
    qint64 queueBytes = 1 << 20; // drop-tail limit on bytes not yet fully serialised (incl. overhead)
    double loss = 0; // Bernoulli, applied after serialisation (a lost packet still used the link)
    double duplicate = 0; // probability that a second copy is delivered
    double reorder = 0; // probability that a packet is held back by reorderDelay
    core::Duration reorderDelay = 5ms;
    int mtu = 1500; // IP-level: datagrams with bytes + kIpUdpOverhead > mtu are dropped

    // Presets for one direction of typical paths (rates are the bottleneck in that direction).
    static LinkParams lan(); // 1 Gbit/s, 50 us
    static LinkParams dslDown(); // 15 Mbit/s, 10 ms
    static LinkParams dslUp(); // 1 Mbit/s, 10 ms, 64 KiB queue
    static LinkParams cable(); // 50 Mbit/s, 8 ms
    static LinkParams satellite(); // 10 Mbit/s, 300 ms
    static LinkParams wifi(); // 54 Mbit/s, 2 ms + 2 ms jitter, 1% loss
    static LinkParams mobile(); // 10 Mbit/s, 40 ms + 10 ms jitter, 0.5% loss, 0.5% reorder
};

// One line for logs and test names, e.g. "10 Mbit/s, 20 ms +0..5 ms, queue 1024 KiB, loss 1%".
QString describe(const LinkParams &params);

struct Packet {
    core::SocketAddress from, to;
    QByteArray bytes;
};

class Network;
class Host;
class NatBox;

// One direction of a link. Several routes may list the same Link: they then share its serialiser
// and queue, i.e. it is a common bottleneck.
class Link
{
public:
    void setParams(const LinkParams &params) { params_ = params; }
    const LinkParams &params() const { return params_; }

    // Test hook, called for every packet entering the link before any other processing: it may
    // inspect or modify the packet (tamper, truncate), drop it, or keep a copy to re-inject later
    // with Network::inject() (replay).
    enum class Verdict { Deliver, Drop };
    using Interceptor = std::function<Verdict(Packet &)>;
    void setInterceptor(Interceptor fn) { interceptor_ = std::move(fn); }

    struct Stats {
        quint64 packetsIn = 0;
        quint64 packetsDelivered = 0; // counted when a copy leaves the link (duplicates count twice)
        quint64 droppedQueue = 0;
        quint64 droppedLoss = 0;
        quint64 droppedMtu = 0;
        quint64 droppedIntercept = 0;
        quint64 duplicated = 0;
        quint64 reordered = 0;
        quint64 bytesDelivered = 0; // payload bytes, without overhead
        core::Duration busyTime {}; // time the serialiser was busy: busyTime / elapsed = utilisation
    };
    const Stats &stats() const { return stats_; }
    void resetStats() { stats_ = {}; }

    // Bytes (with overhead) queued or being serialised at `now`.
    qint64 queuedBytes(core::Instant now) const;

private:
    friend class Network;
    enum class Outcome { Sent, DroppedIntercept, DroppedMtu, DroppedQueue, DroppedLoss };
    Link(Simulator &sim, const LinkParams &params) : sim_(sim), params_(params) { }
    // Admits a packet at sim.now(); on success fills arrivals (1, or 2 when duplicated).
    Outcome transmit(Packet &packet, core::Instant arrivals[2], int *count);

    Simulator &sim_;
    LinkParams params_;
    Interceptor interceptor_;
    Stats stats_;
    core::Instant busyUntil_ = core::Instant::min();
    core::Instant lastArrival_ = core::Instant::min();
    std::deque<std::pair<core::Instant, qint64>> inService_; // (finish time, wire bytes)
    qint64 queued_ = 0;
};

class Socket
{
public:
    using Receiver = std::function<void(const core::SocketAddress &from, const QByteArray &bytes)>;

    // The host's current address (it follows Host::setAddress) and the bound port.
    core::SocketAddress localAddress() const;
    quint16 port() const { return port_; }
    Host *host() const { return host_; }

    // send() never fails synchronously: unroutable or dropped packets are simply lost, as with UDP.
    void send(const core::SocketAddress &to, const QByteArray &bytes);
    // The receiver runs inside a simulator event; it may send, schedule or close freely.
    void setReceiver(Receiver fn) { receiver_ = std::move(fn); }

    quint64 bytesSent() const { return bytesSent_; }
    quint64 bytesReceived() const { return bytesReceived_; }
    quint64 packetsSent() const { return packetsSent_; }
    quint64 packetsReceived() const { return packetsReceived_; }

    // close() frees the port; later packets to it are dropped and send() does nothing.
    void close();
    bool isOpen() const { return open_; }

private:
    friend class Network;
    friend class Host;
    Socket(Host *host, quint16 port) : host_(host), port_(port) { }

    Host *host_;
    quint16 port_;
    bool open_ = true;
    Receiver receiver_;
    quint64 bytesSent_ = 0, bytesReceived_ = 0, packetsSent_ = 0, packetsReceived_ = 0;
};

class Host
{
public:
    QHostAddress address() const { return address_; }
    // Mobility: sockets keep their ports and send from the new address; packets still in flight to
    // the old address are lost. Returns false (and changes nothing) if the address is taken.
    bool setAddress(const QHostAddress &address);

    // bind() with 0 picks an ephemeral port (49152..65535). Returns nullptr if the port is taken.
    Socket *bind(quint16 port = 0);
    Socket *socket(quint16 port) const { return sockets_.value(port); }

    // Offline drops everything sent or arriving (a dead link), sockets stay bound.
    void setOnline(bool online) { online_ = online; }
    bool isOnline() const { return online_; }

    NatBox *nat() const { return nat_; } // nullptr for a host on the public network
    Network &network() const { return net_; }

private:
    friend class Network;
    friend class Socket;
    Host(Network &net, const QHostAddress &address, NatBox *nat) : net_(net), address_(address), nat_(nat) { }

    Network &net_;
    QHostAddress address_;
    NatBox *nat_;
    bool online_ = true;
    QHash<quint16, Socket *> sockets_;
    quint16 nextEphemeral_ = 49152;
};

// A NAT between private hosts and the public network (RFC 4787 vocabulary):
// - mapping: endpoint-independent for the cone types (one public port per inside ip:port), a new
//   public port per destination ip:port for Symmetric;
// - filtering: FullCone accepts anyone on a mapped port; PortRestrictedCone only ip:port pairs the
//   inside endpoint has sent to; Symmetric only the destination its mapping was made for;
// - mappings and permissions expire after mappingTimeout() without outbound traffic (inbound
//   traffic does not refresh them, like a strict home router).
// Inside hosts reach the NAT over uplink() and are reached over downlink() (zero-delay by default,
// shared by all inside hosts). Inside hosts talk to each other directly by private address.
class NatBox
{
public:
    enum class Type { FullCone, PortRestrictedCone, Symmetric };

    Type type() const { return type_; }
    // Changing the type flushes all mappings (like switching masquerade modes mid-run).
    void setType(Type type);
    QHostAddress publicAddress() const { return publicAddress_; }
    // Renumbering the NAT: returns false if the address is taken. Mappings survive with new address.
    bool setPublicAddress(const QHostAddress &address);
    core::Duration mappingTimeout() const { return timeout_; }
    void setMappingTimeout(core::Duration timeout) { timeout_ = timeout; }
    // Forget every mapping (conntrack -F).
    void flush();

    Link *uplink() const { return uplink_; }
    Link *downlink() const { return downlink_; }

    // Public endpoint currently mapped for inside endpoint `inside` talking to `remote`, or a null
    // address if there is no live mapping.
    core::SocketAddress mappedAddress(const core::SocketAddress &inside,
                                      const core::SocketAddress &remote) const;
    int activeMappings() const;

    struct Stats {
        quint64 translatedOut = 0;
        quint64 translatedIn = 0;
        quint64 droppedNoMapping = 0;
        quint64 droppedFiltered = 0;
        quint64 mappingsCreated = 0;
        quint64 mappingsExpired = 0;
    };
    const Stats &stats() const { return stats_; }

private:
    friend class Network;
    friend class Host;
    NatBox(Network &net, const QHostAddress &publicAddress, Type type, quint16 firstPort);

    struct Key {
        core::SocketAddress inside, remote; // remote is null except for Symmetric
        friend bool operator==(const Key &a, const Key &b)
        {
            return a.inside == b.inside && a.remote == b.remote;
        }
    };
    friend size_t qHash(const Key &k, size_t seed) noexcept { return qHashMulti(seed, k.inside, k.remote); }
    struct Mapping {
        core::SocketAddress inside;
        Key key;
        core::Instant lastOut;
        QHash<core::SocketAddress, core::Instant> permits; // remote -> last outbound packet to it
    };

    Key keyFor(const core::SocketAddress &inside, const core::SocketAddress &remote) const;
    bool expired(const Mapping &m) const;
    void erase(quint16 publicPort);
    quint16 allocatePort();
    bool translateOut(Packet &packet);
    bool translateIn(Packet &packet); // false: dropped (no mapping or filtered)

    Network &net_;
    QHostAddress publicAddress_;
    Type type_;
    core::Duration timeout_ = 120s;
    quint16 nextPort_;
    QHash<quint16, Mapping> byPort_;
    QHash<Key, quint16> byKey_;
    QHash<QHostAddress, Host *> inside_;
    Link *uplink_ = nullptr;
    Link *downlink_ = nullptr;
    Stats stats_;
};

class Network
{
public:
    explicit Network(Simulator &sim);
    ~Network();
    Network(const Network &) = delete;
    Network &operator=(const Network &) = delete;

    Simulator &simulator() { return sim_; }

    // Returns nullptr if the address is already used by a public host or a NAT.
    Host *addHost(const QHostAddress &address);
    Link *addLink(const LinkParams &params);
    // Route a->b over the given links in order; each adds its own queueing, serialisation and
    // delay. A host behind a NAT is represented by its NAT unless both hosts sit behind the same
    // NAT. An empty list means instant delivery (still as a separate event).
    void setRoute(Host *a, Host *b, const QList<Link *> &aToB);
    void setRoute(NatBox *a, Host *b, const QList<Link *> &aToB);
    void setRoute(Host *a, NatBox *b, const QList<Link *> &aToB);
    void setRoute(NatBox *a, NatBox *b, const QList<Link *> &aToB);
    // Convenience: a duplex path made of one fresh link per direction; returns {a->b, b->a}.
    std::pair<Link *, Link *> connect(Host *a, Host *b, const LinkParams &aToB, const LinkParams &bToA);
    // Parameters for pairs without an explicit route: each such (direction, pair) gets its own
    // link, created on first use. Changing it also updates the default links already created.
    void setDefaultLink(const LinkParams &params);
    const LinkParams &defaultLink() const { return defaultParams_; }
    // Links a packet from a to b would cross now (creating the default link if needed), without
    // the NAT uplink/downlink.
    QList<Link *> route(Host *a, Host *b);

    NatBox *addNat(const QHostAddress &publicAddress, NatBox::Type type);
    // Returns nullptr if the private address is already used behind this NAT.
    Host *addHostBehindNat(const QHostAddress &privateAddress, NatBox *nat);

    // Public host with this address, or nullptr.
    Host *hostAt(const QHostAddress &address) const { return publicHosts_.value(address); }

    // Sends a raw packet with any source address (spoofing, replay), bypassing sockets: it starts
    // at the public host or NAT owning packet.from (else from "outside", over a default link).
    void inject(const Packet &packet);

    // Debug/trace hook, called at every step of every packet with one of: "send", "inject",
    // "drop-offline", "drop-noroute", "drop-noport", "drop-intercept", "drop-mtu", "drop-queue",
    // "drop-loss", "duplicate", "nat-out", "nat-in", "drop-nat", "deliver".
    using Tracer = std::function<void(const char *event, const Packet &packet)>;
    void setTracer(Tracer fn) { tracer_ = std::move(fn); }

    struct Stats {
        quint64 packetsSent = 0; // by sockets
        quint64 packetsDelivered = 0; // to sockets
        quint64 droppedOffline = 0;
        quint64 droppedNoRoute = 0; // unknown destination, or host moved away while in flight
        quint64 droppedNoSocket = 0;
        quint64 droppedNat = 0;
    };
    const Stats &stats() const { return stats_; }

private:
    friend class Host;
    friend class Socket;
    friend class NatBox;

    enum class Stage { AtNat, AtPublicNode, AtPrivateHost };
    struct Transit {
        Packet packet;
        QList<Link *> links;
        qsizetype hop = 0;
        Stage stage = Stage::AtPublicNode;
        Host *host = nullptr; // destination host (AtPublicNode / AtPrivateHost)
        NatBox *nat = nullptr; // destination NAT (AtNat: from inside; AtPublicNode: from outside)
    };
    using NodeKey = std::pair<const void *, const void *>;
    struct Route {
        QList<Link *> links;
        bool isDefault = false;
    };

    void trace(const char *event, const Packet &p)
    {
        if (tracer_)
            tracer_(event, p);
    }
    const void *nodeOf(Host *h) const;
    QList<Link *> routeBetween(const void *from, const void *to);
    void setRouteNodes(const void *from, const void *to, const QList<Link *> &links);
    bool addressTaken(const QHostAddress &address) const;

    void sendFrom(Socket *socket, const core::SocketAddress &to, const QByteArray &bytes);
    void dispatchPublic(Packet &&packet, const void *fromNode);
    void forward(Transit &&t);
    void arrive(Transit &&t);
    void deliver(Host *host, const Packet &packet);

    Simulator &sim_;
    LinkParams defaultParams_;
    std::vector<std::unique_ptr<Host>> hosts_;
    std::vector<std::unique_ptr<Link>> links_;
    std::vector<std::unique_ptr<NatBox>> nats_;
    std::vector<std::unique_ptr<Socket>> sockets_;
    QHash<QHostAddress, Host *> publicHosts_;
    QHash<QHostAddress, NatBox *> natsByAddress_;
    std::map<NodeKey, Route> routes_;
    Tracer tracer_;
    Stats stats_;
};

} // namespace sss::sim
