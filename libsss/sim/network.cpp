#include "network.h"

#include <algorithm>
#include <cmath>

namespace sss::sim {

// ---- LinkParams -------------------------------------------------------------------------------

LinkParams LinkParams::lan()
{
    LinkParams p;
    p.bitsPerSecond = 1e9;
    p.delay = 50us;
    return p;
}

LinkParams LinkParams::dslDown()
{
    LinkParams p;
    p.bitsPerSecond = 15e6;
    p.delay = 10ms;
    p.queueBytes = 256 << 10;
    return p;
}

LinkParams LinkParams::dslUp()
{
    LinkParams p;
    p.bitsPerSecond = 1e6;
    p.delay = 10ms;
    p.queueBytes = 64 << 10;
    return p;
}

LinkParams LinkParams::cable()
{
    LinkParams p;
    p.bitsPerSecond = 50e6;
    p.delay = 8ms;
    return p;
}

LinkParams LinkParams::satellite()
{
    LinkParams p;
    p.bitsPerSecond = 10e6;
    p.delay = 300ms;
    return p;
}

LinkParams LinkParams::wifi()
{
    LinkParams p;
    p.bitsPerSecond = 54e6;
    p.delay = 2ms;
    p.jitter = 2ms;
    p.loss = 0.01;
    return p;
}

LinkParams LinkParams::mobile()
{
    LinkParams p;
    p.bitsPerSecond = 10e6;
    p.delay = 40ms;
    p.jitter = 10ms;
    p.loss = 0.005;
    p.reorder = 0.005;
    p.reorderDelay = 20ms;
    return p;
}

static QString formatDuration(core::Duration d)
{
    const double us = double(d.count()) / 1e3;
    if (us >= 1000)
        return QStringLiteral("%1 ms").arg(us / 1000, 0, 'g', 4);
    return QStringLiteral("%1 us").arg(us, 0, 'g', 4);
}

static QString formatPercent(double p)
{
    return QStringLiteral("%1%").arg(p * 100, 0, 'g', 3);
}

QString describe(const LinkParams &p)
{
    QStringList parts;
    if (p.bitsPerSecond <= 0)
        parts << QStringLiteral("unlimited rate");
    else if (p.bitsPerSecond >= 1e9)
        parts << QStringLiteral("%1 Gbit/s").arg(p.bitsPerSecond / 1e9, 0, 'g', 4);
    else if (p.bitsPerSecond >= 1e6)
        parts << QStringLiteral("%1 Mbit/s").arg(p.bitsPerSecond / 1e6, 0, 'g', 4);
    else
        parts << QStringLiteral("%1 kbit/s").arg(p.bitsPerSecond / 1e3, 0, 'g', 4);
    QString delay = formatDuration(p.delay);
    if (p.jitter > core::Duration::zero())
        delay += QStringLiteral(" +0..%1%2")
                     .arg(formatDuration(p.jitter), p.noReorderJitter ? " (in order)" : "");
    parts << delay;
    if (p.bitsPerSecond > 0)
        parts << QStringLiteral("queue %1 KiB").arg(double(p.queueBytes) / 1024, 0, 'g', 4);
    if (p.loss > 0)
        parts << QStringLiteral("loss ") + formatPercent(p.loss);
    if (p.duplicate > 0)
        parts << QStringLiteral("dup ") + formatPercent(p.duplicate);
    if (p.reorder > 0)
        parts << QStringLiteral("reorder %1 (+%2)")
                     .arg(formatPercent(p.reorder), formatDuration(p.reorderDelay));
    if (p.mtu != 1500)
        parts << QStringLiteral("mtu %1").arg(p.mtu);
    return parts.join(QStringLiteral(", "));
}

// ---- Link -------------------------------------------------------------------------------------

qint64 Link::queuedBytes(core::Instant now) const
{
    qint64 total = 0;
    for (const auto &[finish, bytes] : inService_) {
        if (finish > now)
            total += bytes;
    }
    return total;
}

Link::Outcome Link::transmit(Packet &packet, core::Instant arrivals[2], int *count)
{
    *count = 0;
    const core::Instant now = sim_.now();
    ++stats_.packetsIn;
    if (interceptor_ && interceptor_(packet) == Verdict::Drop) {
        ++stats_.droppedIntercept;
        return Outcome::DroppedIntercept;
    }
    const qint64 wire = qint64(packet.bytes.size()) + kIpUdpOverhead;
    if (wire > params_.mtu) {
        ++stats_.droppedMtu;
        return Outcome::DroppedMtu;
    }

    core::Instant sent = now;
    if (params_.bitsPerSecond > 0) {
        while (!inService_.empty() && inService_.front().first <= now) {
            queued_ -= inService_.front().second;
            inService_.pop_front();
        }
        if (queued_ + wire > params_.queueBytes) {
            ++stats_.droppedQueue;
            return Outcome::DroppedQueue;
        }
        const auto tx = core::Duration(int64_t(std::llround(double(wire) * 8e9 / params_.bitsPerSecond)));
        const core::Instant start = std::max(now, busyUntil_);
        sent = start + tx;
        busyUntil_ = sent;
        inService_.emplace_back(sent, wire);
        queued_ += wire;
        stats_.busyTime += tx;
    }

    if (sim_.chance(params_.loss)) {
        ++stats_.droppedLoss;
        return Outcome::DroppedLoss;
    }

    auto propagate = [&] {
        core::Instant at = sent + params_.delay + sim_.uniformDuration(params_.jitter);
        if (params_.noReorderJitter) {
            at = std::max(at, lastArrival_);
            lastArrival_ = at;
        }
        return at;
    };
    arrivals[0] = propagate();
    if (sim_.chance(params_.reorder)) {
        arrivals[0] += params_.reorderDelay;
        ++stats_.reordered;
    }
    *count = 1;
    if (sim_.chance(params_.duplicate)) {
        arrivals[1] = propagate();
        ++stats_.duplicated;
        *count = 2;
    }
    return Outcome::Sent;
}

// ---- Socket / Host ----------------------------------------------------------------------------

core::SocketAddress Socket::localAddress() const
{
    return core::SocketAddress {host_->address(), port_};
}

void Socket::send(const core::SocketAddress &to, const QByteArray &bytes)
{
    if (!open_)
        return;
    bytesSent_ += quint64(bytes.size());
    ++packetsSent_;
    host_->net_.sendFrom(this, to, bytes);
}

void Socket::close()
{
    if (!open_)
        return;
    open_ = false;
    receiver_ = nullptr;
    host_->sockets_.remove(port_);
}

bool Host::setAddress(const QHostAddress &address)
{
    if (address == address_)
        return true;
    if (nat_) {
        if (nat_->inside_.contains(address))
            return false;
        nat_->inside_.remove(address_);
        nat_->inside_.insert(address, this);
    } else {
        if (net_.addressTaken(address))
            return false;
        net_.publicHosts_.remove(address_);
        net_.publicHosts_.insert(address, this);
    }
    address_ = address;
    return true;
}

Socket *Host::bind(quint16 port)
{
    if (port == 0) {
        constexpr int kFirst = 49152, kCount = 65536 - kFirst;
        for (int i = 0; i < kCount && port == 0; ++i) {
            const quint16 candidate = nextEphemeral_;
            nextEphemeral_ = candidate == 65535 ? quint16(kFirst) : quint16(candidate + 1);
            if (!sockets_.contains(candidate))
                port = candidate;
        }
        if (port == 0)
            return nullptr;
    } else if (sockets_.contains(port)) {
        return nullptr;
    }
    auto socket = std::unique_ptr<Socket>(new Socket(this, port));
    Socket *s = socket.get();
    net_.sockets_.push_back(std::move(socket));
    sockets_.insert(port, s);
    return s;
}

// ---- NatBox -----------------------------------------------------------------------------------

NatBox::NatBox(Network &net, const QHostAddress &publicAddress, Type type, quint16 firstPort)
    : net_(net), publicAddress_(publicAddress), type_(type), nextPort_(firstPort)
{ }

void NatBox::setType(Type type)
{
    type_ = type;
    flush();
}

bool NatBox::setPublicAddress(const QHostAddress &address)
{
    if (address == publicAddress_)
        return true;
    if (net_.addressTaken(address))
        return false;
    net_.natsByAddress_.remove(publicAddress_);
    net_.natsByAddress_.insert(address, this);
    publicAddress_ = address;
    return true;
}

void NatBox::flush()
{
    byPort_.clear();
    byKey_.clear();
}

NatBox::Key NatBox::keyFor(const core::SocketAddress &inside, const core::SocketAddress &remote) const
{
    return Key {inside, type_ == Type::Symmetric ? remote : core::SocketAddress {}};
}

bool NatBox::expired(const Mapping &m) const
{
    return net_.sim_.now() - m.lastOut > timeout_;
}

void NatBox::erase(quint16 publicPort)
{
    auto it = byPort_.find(publicPort);
    if (it == byPort_.end())
        return;
    byKey_.remove(it->key);
    byPort_.erase(it);
}

quint16 NatBox::allocatePort()
{
    // Sequential from a seeded start, skipping live mappings; expired ones are reclaimed.
    for (int i = 0; i < 65536; ++i) {
        const quint16 port = nextPort_;
        nextPort_ = port >= 65535 ? quint16(1024) : quint16(port + 1);
        if (port < 1024)
            continue;
        auto it = byPort_.find(port);
        if (it == byPort_.end())
            return port;
        if (expired(*it)) {
            ++stats_.mappingsExpired;
            erase(port);
            return port;
        }
    }
    return 0;
}

core::SocketAddress NatBox::mappedAddress(const core::SocketAddress &inside,
                                          const core::SocketAddress &remote) const
{
    const auto it = byKey_.find(keyFor(inside, remote));
    if (it == byKey_.end() || expired(byPort_.value(*it)))
        return {};
    return core::SocketAddress {publicAddress_, *it};
}

int NatBox::activeMappings() const
{
    return int(
        std::count_if(byPort_.begin(), byPort_.end(), [this](const Mapping &m) { return !expired(m); }));
}

bool NatBox::translateOut(Packet &packet)
{
    const Key key = keyFor(packet.from, packet.to);
    quint16 port = byKey_.value(key, 0);
    if (port != 0 && expired(byPort_[port])) {
        ++stats_.mappingsExpired;
        erase(port);
        port = 0;
    }
    if (port == 0) {
        port = allocatePort();
        if (port == 0)
            return false; // port space exhausted by live mappings
        byPort_.insert(port, Mapping {packet.from, key, {}, {}});
        byKey_.insert(key, port);
        ++stats_.mappingsCreated;
    }
    Mapping &m = byPort_[port];
    const core::Instant now = net_.sim_.now();
    m.lastOut = now;
    m.permits.insert(packet.to, now);
    packet.from = core::SocketAddress {publicAddress_, port};
    ++stats_.translatedOut;
    return true;
}

bool NatBox::translateIn(Packet &packet)
{
    auto it = byPort_.find(packet.to.port);
    if (it == byPort_.end() || expired(*it)) {
        if (it != byPort_.end()) {
            ++stats_.mappingsExpired;
            erase(packet.to.port);
        }
        ++stats_.droppedNoMapping;
        return false;
    }
    bool allowed = false;
    switch (type_) {
    case Type::FullCone:
        allowed = true;
        break;
    case Type::PortRestrictedCone:
    case Type::Symmetric: {
        // For Symmetric the mapping only ever sent to its own remote, so permits holds just that.
        const auto p = it->permits.constFind(packet.from);
        allowed = p != it->permits.cend() && net_.sim_.now() - *p <= timeout_;
        break;
    }
    }
    if (!allowed) {
        ++stats_.droppedFiltered;
        return false;
    }
    packet.to = it->inside;
    ++stats_.translatedIn;
    return true;
}

// ---- Network ----------------------------------------------------------------------------------

Network::Network(Simulator &sim) : sim_(sim) { }

Network::~Network() = default;

bool Network::addressTaken(const QHostAddress &address) const
{
    return publicHosts_.contains(address) || natsByAddress_.contains(address);
}

Host *Network::addHost(const QHostAddress &address)
{
    if (address.isNull() || addressTaken(address))
        return nullptr;
    hosts_.push_back(std::unique_ptr<Host>(new Host(*this, address, nullptr)));
    publicHosts_.insert(address, hosts_.back().get());
    return hosts_.back().get();
}

Link *Network::addLink(const LinkParams &params)
{
    links_.push_back(std::unique_ptr<Link>(new Link(sim_, params)));
    return links_.back().get();
}

NatBox *Network::addNat(const QHostAddress &publicAddress, NatBox::Type type)
{
    if (publicAddress.isNull() || addressTaken(publicAddress))
        return nullptr;
    // Seeded first public port, so that port numbers differ between seeds as on real NATs.
    const auto firstPort = quint16(20000 + sim_.rng()() % 40000);
    nats_.push_back(std::unique_ptr<NatBox>(new NatBox(*this, publicAddress, type, firstPort)));
    NatBox *nat = nats_.back().get();
    nat->uplink_ = addLink(LinkParams {});
    nat->downlink_ = addLink(LinkParams {});
    natsByAddress_.insert(publicAddress, nat);
    return nat;
}

Host *Network::addHostBehindNat(const QHostAddress &privateAddress, NatBox *nat)
{
    if (!nat || privateAddress.isNull() || nat->inside_.contains(privateAddress))
        return nullptr;
    hosts_.push_back(std::unique_ptr<Host>(new Host(*this, privateAddress, nat)));
    nat->inside_.insert(privateAddress, hosts_.back().get());
    return hosts_.back().get();
}

const void *Network::nodeOf(Host *h) const
{
    return h->nat_ ? static_cast<const void *>(h->nat_) : static_cast<const void *>(h);
}

void Network::setRouteNodes(const void *from, const void *to, const QList<Link *> &links)
{
    routes_[NodeKey {from, to}] = Route {links, false};
}

void Network::setRoute(Host *a, Host *b, const QList<Link *> &aToB)
{
    if (a->nat_ && a->nat_ == b->nat_)
        setRouteNodes(a, b, aToB);
    else
        setRouteNodes(nodeOf(a), nodeOf(b), aToB);
}

void Network::setRoute(NatBox *a, Host *b, const QList<Link *> &aToB)
{
    setRouteNodes(a, nodeOf(b), aToB);
}
void Network::setRoute(Host *a, NatBox *b, const QList<Link *> &aToB)
{
    setRouteNodes(nodeOf(a), b, aToB);
}
void Network::setRoute(NatBox *a, NatBox *b, const QList<Link *> &aToB)
{
    setRouteNodes(a, b, aToB);
}

std::pair<Link *, Link *> Network::connect(Host *a, Host *b, const LinkParams &aToB, const LinkParams &bToA)
{
    Link *ab = addLink(aToB);
    Link *ba = addLink(bToA);
    setRoute(a, b, {ab});
    setRoute(b, a, {ba});
    return {ab, ba};
}

void Network::setDefaultLink(const LinkParams &params)
{
    defaultParams_ = params;
    for (auto &[key, route] : routes_) {
        if (route.isDefault) {
            for (Link *l : route.links)
                l->setParams(params);
        }
    }
}

QList<Link *> Network::routeBetween(const void *from, const void *to)
{
    auto it = routes_.find(NodeKey {from, to});
    if (it == routes_.end())
        it = routes_.emplace(NodeKey {from, to}, Route {{addLink(defaultParams_)}, true}).first;
    return it->second.links;
}

QList<Link *> Network::route(Host *a, Host *b)
{
    if (a->nat_ && a->nat_ == b->nat_)
        return routeBetween(a, b);
    return routeBetween(nodeOf(a), nodeOf(b));
}

void Network::sendFrom(Socket *socket, const core::SocketAddress &to, const QByteArray &bytes)
{
    Host *host = socket->host_;
    Packet packet {socket->localAddress(), to, bytes};
    ++stats_.packetsSent;
    trace("send", packet);
    if (!host->online_) {
        ++stats_.droppedOffline;
        trace("drop-offline", packet);
        return;
    }
    if (NatBox *nat = host->nat_) {
        // Private peers of the same NAT are reached directly; anything else leaves through the NAT.
        if (to.host != nat->publicAddress_) {
            if (Host *peer = nat->inside_.value(to.host)) {
                forward(Transit {std::move(packet), routeBetween(host, peer), 0, Stage::AtPrivateHost, peer,
                                 nullptr});
                return;
            }
        }
        forward(Transit {std::move(packet), {nat->uplink_}, 0, Stage::AtNat, nullptr, nat});
        return;
    }
    dispatchPublic(std::move(packet), host);
}

void Network::inject(const Packet &packet)
{
    trace("inject", packet);
    const void *from = publicHosts_.value(packet.from.host);
    if (!from)
        from = natsByAddress_.value(packet.from.host);
    dispatchPublic(Packet(packet), from);
}

void Network::dispatchPublic(Packet &&packet, const void *fromNode)
{
    if (Host *host = publicHosts_.value(packet.to.host)) {
        forward(
            Transit {std::move(packet), routeBetween(fromNode, host), 0, Stage::AtPublicNode, host, nullptr});
    } else if (NatBox *nat = natsByAddress_.value(packet.to.host)) {
        forward(
            Transit {std::move(packet), routeBetween(fromNode, nat), 0, Stage::AtPublicNode, nullptr, nat});
    } else {
        ++stats_.droppedNoRoute;
        trace("drop-noroute", packet);
    }
}

void Network::forward(Transit &&t)
{
    if (t.hop >= t.links.size()) {
        // Even an empty route delivers in its own event, never re-entrantly from send().
        sim_.post([this, t = std::move(t)]() mutable { arrive(std::move(t)); });
        return;
    }
    Link *link = t.links[t.hop];
    core::Instant arrivals[2];
    int count = 0;
    switch (link->transmit(t.packet, arrivals, &count)) {
    case Link::Outcome::Sent:
        break;
    case Link::Outcome::DroppedIntercept:
        trace("drop-intercept", t.packet);
        return;
    case Link::Outcome::DroppedMtu:
        trace("drop-mtu", t.packet);
        return;
    case Link::Outcome::DroppedQueue:
        trace("drop-queue", t.packet);
        return;
    case Link::Outcome::DroppedLoss:
        trace("drop-loss", t.packet);
        return;
    }
    if (count == 2)
        trace("duplicate", t.packet);
    ++t.hop;
    auto exitAt = [this, link](core::Instant at, Transit &&transit) {
        sim_.schedule(at, [this, link, t = std::move(transit)]() mutable {
            ++link->stats_.packetsDelivered;
            link->stats_.bytesDelivered += quint64(t.packet.bytes.size());
            if (t.hop < t.links.size())
                forward(std::move(t));
            else
                arrive(std::move(t));
        });
    };
    if (count == 2) {
        Transit copy = t;
        exitAt(arrivals[0], std::move(t));
        exitAt(arrivals[1], std::move(copy));
    } else {
        exitAt(arrivals[0], std::move(t));
    }
}

void Network::arrive(Transit &&t)
{
    switch (t.stage) {
    case Stage::AtNat: {
        NatBox *nat = t.nat;
        if (!nat->translateOut(t.packet)) {
            ++stats_.droppedNat;
            trace("drop-nat", t.packet);
            return;
        }
        trace("nat-out", t.packet);
        dispatchPublic(std::move(t.packet), nat);
        return;
    }
    case Stage::AtPublicNode:
        if (t.host) {
            deliver(t.host, t.packet);
            return;
        }
        if (!t.nat->translateIn(t.packet)) {
            ++stats_.droppedNat;
            trace("drop-nat", t.packet);
            return;
        }
        trace("nat-in", t.packet);
        if (Host *inside = t.nat->inside_.value(t.packet.to.host)) {
            forward(
                Transit {std::move(t.packet), {t.nat->downlink_}, 0, Stage::AtPrivateHost, inside, nullptr});
        } else {
            ++stats_.droppedNoRoute;
            trace("drop-noroute", t.packet);
        }
        return;
    case Stage::AtPrivateHost:
        deliver(t.host, t.packet);
        return;
    }
}

void Network::deliver(Host *host, const Packet &packet)
{
    if (!host->online_) {
        ++stats_.droppedOffline;
        trace("drop-offline", packet);
        return;
    }
    if (packet.to.host != host->address_) {
        // The host moved while the packet was in flight.
        ++stats_.droppedNoRoute;
        trace("drop-noroute", packet);
        return;
    }
    Socket *socket = host->sockets_.value(packet.to.port);
    if (!socket) {
        ++stats_.droppedNoSocket;
        trace("drop-noport", packet);
        return;
    }
    ++stats_.packetsDelivered;
    ++socket->packetsReceived_;
    socket->bytesReceived_ += quint64(packet.bytes.size());
    trace("deliver", packet);
    if (socket->receiver_) {
        // Copy: the receiver may replace itself or close the socket while running.
        auto receiver = socket->receiver_;
        receiver(packet.from, packet.bytes);
    }
}

} // namespace sss::sim
